/*
 * port.c - skyutil_find_free_port(): upstream find_free_port.
 */
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "skyutil/skyutil.h"

SKYUTIL_EXPORT int skyutil_find_free_port(int start_port, int *ret_port)
{
	int fd, port;

	if (start_port < 0 || start_port > 65535 || !ret_port)
		return -EINVAL;
	/*
	 * A failed bind() leaves the socket unbound, so one socket serves every attempt. No
	 * SO_REUSEADDR, as upstream: a port in TIME_WAIT is not reported free.
	 */
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* range(start_port, 65535) upstream: 65535 itself is never tried. */
	for (port = start_port; port < 65535; port++) {
		struct sockaddr_in sa = {
		        .sin_family = AF_INET,
		        .sin_port = htons((uint16_t)port),
		        .sin_addr.s_addr = htonl(INADDR_ANY),
		};

		if (bind(fd, (const struct sockaddr *)&sa, sizeof(sa)) == 0) {
			close(fd);
			*ret_port = port;
			return 0;
		}
	}
	close(fd);
	return -EADDRNOTAVAIL;
}
