/*
 * path.c - the one socket path resolution shared by the daemon and every client.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

#include "sku_proto.h"

#define SUN_PATH_SIZE sizeof(((struct sockaddr_un *)NULL)->sun_path)

static bool set(const char *s)
{
	return s && s[0] != '\0';
}

int sku_socket_path(const char *explicit_path, const char *env_socket, const char *xdg_runtime_dir,
                    uid_t uid, char *buf, size_t buflen)
{
	char path[SUN_PATH_SIZE];
	int n;

	if (!buf)
		return -EINVAL;

	if (set(explicit_path))
		n = snprintf(path, sizeof(path), "%s", explicit_path);
	else if (set(env_socket))
		n = snprintf(path, sizeof(path), "%s", env_socket);
	/* The XDG base directory spec says to ignore a relative XDG_RUNTIME_DIR. */
	else if (set(xdg_runtime_dir) && xdg_runtime_dir[0] == '/')
		n = snprintf(path, sizeof(path), "%s/skyutild/skyutild.sock", xdg_runtime_dir);
	else if (uid == 0)
		n = snprintf(path, sizeof(path), "/run/skyutild/skyutild.sock");
	else
		n = snprintf(path, sizeof(path), "/tmp/skyutild-%lu/skyutild.sock",
		             (unsigned long)uid);

	/* sun_path needs room for the NUL too: not every peer accepts an unterminated path. */
	if (n < 0 || (size_t)n >= sizeof(path) || (size_t)n >= buflen)
		return -ENAMETOOLONG;
	memcpy(buf, path, (size_t)n + 1);
	return 0;
}
