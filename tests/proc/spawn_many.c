/*
 * spawn_many N - start N idle processes and print their pids, one per line, then "ready".
 * When stdin closes it kills and reaps them all, then exits: nothing is left for an init
 * that may not reap orphans. PR_SET_PDEATHSIG covers a spawn_many that is itself killed.
 *
 * The children share this process's memory (CLONE_VM, each on a small stack of its own)
 * and only wait for signals, so starting 20 000 of them costs no page-table copies.
 */
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#define STACK_SIZE (16 * 1024)

static pid_t parent;

static int idle(void *arg)
{
	(void)arg;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(0);
	for (;;)
		pause();
	return 0;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? strtol(argv[1], NULL, 10) : 0;
	char *stacks, c;
	pid_t *pids;

	if (n <= 0 || n > 1000000) {
		fprintf(stderr, "usage: spawn_many N\n");
		return 2;
	}
	parent = getpid();
	pids = calloc((size_t)n, sizeof(*pids));
	stacks = malloc((size_t)n * STACK_SIZE);
	if (!pids || !stacks)
		return 1;
	for (long i = 0; i < n; i++) {
		/* Stacks grow down: hand clone the top of each slot. */
		pid_t pid = clone(idle, stacks + (size_t)(i + 1) * STACK_SIZE, CLONE_VM | SIGCHLD,
		                  NULL);

		if (pid < 0) {
			perror("clone");
			n = i;
			break;
		}
		pids[i] = pid;
		printf("%d\n", (int)pid);
	}
	printf("ready\n");
	fflush(stdout);
	while (read(0, &c, 1) > 0)
		;
	for (long i = 0; i < n; i++)
		kill(pids[i], SIGKILL);
	while (wait(NULL) > 0)
		;
	free(pids);
	free(stacks);
	return 0;
}
