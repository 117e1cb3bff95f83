/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * spawnloop: the ceiling every server of this kind is measured against.
 * WORKERS threads each posix_spawn the handler with stdout on /dev/null and
 * waitpid() for it, COUNT times in all, with no network at all.
 *
 *   spawnloop WORKERS COUNT HANDLER     prints rate=spawns/s
 */
#include <fcntl.h>
#include <pthread.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;
static const char *handler;
static long count;
static atomic_long next;
static atomic_long failed;

static void *worker(void *arg)
{
	posix_spawn_file_actions_t fa;
	char *argv[] = { (char *)handler, NULL };

	(void)arg;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	while (atomic_fetch_add(&next, 1) < count) {
		pid_t pid;
		int status;
		if (posix_spawn(&pid, handler, &fa, NULL, argv, environ) != 0 ||
		    waitpid(pid, &status, 0) < 0 || status != 0)
			atomic_fetch_add(&failed, 1);
	}
	posix_spawn_file_actions_destroy(&fa);
	return NULL;
}

int main(int argc, char **argv)
{
	struct timespec t0, t1;

	if (argc != 4) {
		fprintf(stderr, "usage: spawnloop WORKERS COUNT HANDLER\n");
		return 2;
	}
	int workers = atoi(argv[1]);
	count = atol(argv[2]);
	handler = argv[3];
	pthread_t threads[64];
	if (workers < 1 || workers > 64 || count < 1)
		return 2;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < workers; i++)
		pthread_create(&threads[i], NULL, worker, NULL);
	for (int i = 0; i < workers; i++)
		pthread_join(threads[i], NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("n=%ld seconds=%.3f rate=%.1f failed=%ld\n", count, s, (double)count / s, atomic_load(&failed));
	return atomic_load(&failed) == 0 ? 0 : 1;
}
