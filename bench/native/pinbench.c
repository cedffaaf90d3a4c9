/*
 * The real kernel pinning user memory, timed: io_uring IORING_REGISTER_BUFFERS on MIB of present
 * 4 KiB pages (FOLL_WRITE|FOLL_PIN|FOLL_LONGTERM on each) and IORING_UNREGISTER_BUFFERS.
 * Raw syscalls, libc only. Usage: pinbench MIB RUNS; prints "register SECONDS PAGES" and
 * "unregister SECONDS PAGES" per run, or "unsupported REASON" when io_uring is unavailable.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#ifndef __NR_io_uring_setup
#define __NR_io_uring_setup 425
#endif
#ifndef __NR_io_uring_register
#define __NR_io_uring_register 427
#endif
#define IORING_REGISTER_BUFFERS 0
#define IORING_UNREGISTER_BUFFERS 1

/* struct io_uring_params: 120 bytes; only the size matters to setup here. */
struct params { unsigned char raw[120]; };

static double now(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
	size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 256;
	int runs = argc > 2 ? atoi(argv[2]) : 5;
	size_t len = mib << 20, pg = sysconf(_SC_PAGESIZE), pages = len / pg;
	struct params p;
	memset(&p, 0, sizeof p);
	int fd = syscall(__NR_io_uring_setup, 8, &p);
	if (fd < 0) { printf("unsupported io_uring_setup: %s\n", strerror(errno)); return 0; }
	char *buf = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED) { perror("mmap"); return 1; }
	madvise(buf, len, MADV_NOHUGEPAGE);
	for (size_t o = 0; o < len; o += pg) buf[o] = 1;
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	for (int r = 0; r <= runs; r++) {
		double t = now();
		if (syscall(__NR_io_uring_register, fd, IORING_REGISTER_BUFFERS, &iov, 1) < 0) {
			printf("unsupported register: %s\n", strerror(errno));
			return 0;
		}
		double reg = now() - t;
		t = now();
		if (syscall(__NR_io_uring_register, fd, IORING_UNREGISTER_BUFFERS, NULL, 0) < 0) { perror("unregister"); return 1; }
		double unreg = now() - t;
		if (r == 0) continue; /* the first round warms the pages' metadata */
		printf("register %.9f %zu\nunregister %.9f %zu\n", reg, pages, unreg, pages);
		fflush(stdout);
	}
	close(fd);
	return 0;
}
