/*
 * The real kernel doing what bench/vm.ts asks of pagelab, timed on this machine: anonymous write
 * faults, zero-page read faults, fork of a process with the region touched and that child's exit,
 * COW copy faults, reuse faults, munmap and MADV_DONTNEED of the region.
 *
 * Usage: vmbench MIB RUNS. Prints one line per measurement: "name seconds pages" for each run.
 * Frames are warmed first (touch and free the same amount), as shared/oracle-notes.md advises.
 * libc only.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static char *map(size_t len) {
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) { perror("mmap"); exit(1); }
	madvise(p, len, MADV_NOHUGEPAGE);
	return p;
}

static void touch(char *p, size_t len, long pg) {
	for (size_t o = 0; o < len; o += pg) p[o] = 1;
}

static void report(const char *name, double t, size_t pages) {
	printf("%s %.9f %zu\n", name, t, pages);
	fflush(stdout);
}

int main(int argc, char **argv) {
	size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 1024;
	int runs = argc > 2 ? atoi(argv[2]) : 5;
	long pg = sysconf(_SC_PAGESIZE);
	size_t len = mib << 20, pages = len / pg;
	volatile char sink = 0;
	/* Warm up: make the host back the frames we are about to use. */
	char *w = map(len);
	touch(w, len, pg);
	munmap(w, len);
	for (int r = 0; r < runs; r++) {
		char *p = map(len);
		double t = now();
		touch(p, len, pg);
		report("write_fault", now() - t, pages);

		char *z = map(len);
		t = now();
		for (size_t o = 0; o < len; o += pg) sink += z[o];
		report("zero_read_fault", now() - t, pages);
		munmap(z, len);

		/* fork of a process with the region touched, and that child's exit (pages still shared). */
		int fds[2];
		if (pipe(fds)) { perror("pipe"); exit(1); }
		t = now();
		pid_t c = fork();
		if (c == 0) {
			char b;
			if (read(fds[0], &b, 1) < 0) _exit(1);
			_exit(0);
		}
		report("fork", now() - t, pages);
		t = now();
		if (write(fds[1], "x", 1) != 1) { perror("write"); exit(1); }
		waitpid(c, NULL, 0);
		report("child_exit", now() - t, pages);
		/* COW copy faults: the parent writes while a child still maps every page. */
		c = fork();
		if (c == 0) {
			char b;
			if (read(fds[0], &b, 1) < 0) _exit(1);
			_exit(0);
		}
		t = now();
		touch(p, len, pg);
		report("cow_copy_fault", now() - t, pages);
		if (write(fds[1], "x", 1) != 1) { perror("write"); exit(1); }
		waitpid(c, NULL, 0);
		close(fds[0]);
		close(fds[1]);

		/* Reuse faults: share again with a child that exits at once, then write. */
		c = fork();
		if (c == 0) _exit(0);
		waitpid(c, NULL, 0);
		t = now();
		touch(p, len, pg);
		report("reuse_fault", now() - t, pages);

		t = now();
		madvise(p, len, MADV_DONTNEED);
		report("dontneed", now() - t, pages);
		touch(p, len, pg);
		t = now();
		munmap(p, len);
		report("munmap", now() - t, pages);
	}
	return sink == 42;
}
