/*
 * pagelab oracle probe: runs the oracle subset of a scenario on the real kernel and reports what
 * /proc/<pid>/pagemap, /proc/kpagecount and /proc/kpageflags say about every page of every
 * region after each step.
 *
 * One line per command on stdin, one reply line per command on stdout ("ok ...", "err WHAT ERRNO",
 * "sig SIGSEGV"); `obs` answers with page lines and "end". The process running this file is the
 * controller: it never maps scenario memory itself. Each scenario process is a worker (a child,
 * or a child of a worker after `fork`) that executes commands the controller forwards over a pipe
 * pair of its slot. All pipe pairs are made before the first worker, so a worker forked later
 * already holds its slot's ends. The controller is a child subreaper and kills and reaps every
 * worker on quit, on error and on SIGTERM; a worker whose controller died reads EOF and exits.
 *
 * Observing never changes what is observed: the byte is read by the process itself with a plain
 * load (see w_peek), and only when pagemap says the page is present, so it never faults.
 *
 * Commands (S, C: slot numbers; NAME: region; OFF, LEN: bytes; hex numbers without 0x):
 *   spawn S | fork S C | exit S | file ID LEN BYTE|- memfd|disk | trunc ID LEN | fsync ID | quit
 *   mmap S NAME LEN PROT FLAGS [FILEID OFF]   FLAGS: private|shared[,populate]
 *   munmap|mprotect|madvise S NAME OFF LEN [PROT|ADVICE]
 *   mremap S NAME OFF OLDLEN NEWLEN FLAGS NEWNAME NEWOFF ASNAME   FLAGS: maymove,fixed,dontunmap or -;
 *                                    NEWNAME -: no new_addr; ASNAME -: the result gets no region name
 *   read S NAME OFF LEN | write S NAME OFF HEXDATA | fill S NAME OFF LEN BYTE
 *   pin S LABEL NAME OFF PAGES | unpin S LABEL      (io_uring fixed buffers: FOLL_WRITE|PIN|LONGTERM)
 *   get S LABEL NAME OFF PAGES | put S LABEL        (vmsplice into a pipe: FOLL_GET)
 *   dmaread S LABEL OFF LEN | dmawrite S LABEL OFF HEXDATA
 *   odirect S NAME OFF PAGES                        (O_DIRECT write: a short FOLL_PIN, read-only)
 *   memwrite S NAME OFF HEXDATA | memfill S NAME OFF LEN BYTE | memread S NAME OFF LEN
 *                                                   (/proc/self/mem: GUP with FOLL_FORCE)
 *   ksmscan                                         (ksmd on until it has made 3 full passes, then off)
 *   compact                                         (/proc/sys/vm/compact_memory: every zone, synchronously)
 *   uffd S FEATURES | uffdreg S NAME OFF LEN | uffdunreg S NAME OFF LEN | uffdwp S NAME OFF LEN WP DONTWAKE
 *   uffdread S -> "ok MSGS FORKS"                  (userfaultfd in write-protect mode; FEATURES in hex)
 *   ctr S -> "ok Anonymous AnonHugePages" (kB, /proc/self/smaps_rollup: exact, from the page tables)
 *   gstat -> "ok NAME=VALUE..." (/proc/vmstat's GUP-pin and THP counters, folded first)
 *   obs S NAME -> "p IDX PRESENT BYTE EXCL PFN COUNT FLAGS" per page, then "end"
 *
 * userfaultfd: a worker opens its own with the syscall (the probe runs as root, so no
 * vm.unprivileged_userfaultfd is needed) and non-blocking. A sync-mode write-protect fault would
 * park the worker's only thread, so a write first reads pagemap's uffd-wp bit (57) of each page and
 * answers "uffd" instead of writing where it is set. A fork with UFFD_FEATURE_EVENT_FORK waits
 * until the monitor reads the event: a helper thread reads it (and keeps the child's new
 * userfaultfd open, as closing it would undo the child's protection); uffdread counts it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/io_uring.h>
#include <linux/userfaultfd.h>
#include <pthread.h>
#include <sys/ioctl.h>
#include <poll.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#define MADV_POPULATE_WRITE 23
#endif
#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif
#ifndef MADV_COLD
#define MADV_COLD 20
#endif
#ifndef UFFD_FEATURE_WP_UNPOPULATED
#define UFFD_FEATURE_WP_UNPOPULATED (1 << 13)
#endif
#ifndef UFFD_FEATURE_WP_ASYNC
#define UFFD_FEATURE_WP_ASYNC (1 << 15)
#endif
#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4
#endif

#define MAXSLOT 16
#define MAXREGION 32
#define MAXHOLD 16
#define MAXFILE 8
/* File ID's memfd sits at this fd + ID in the controller, where workers forked before it find it. */
#define FILE_FD0 900
#define PAGE 4096UL
#define PMD (2UL << 20)
#define PAGES(len) (((len) + PAGE - 1) / PAGE)
#define LINE 65536
#define REPLY_TIMEOUT_MS 20000

struct region { char name[64]; uintptr_t addr; size_t len; };
struct slot { pid_t pid; int alive; int nreg; struct region reg[MAXREGION]; };

/* A pin (an io_uring instance with one registered buffer) or a get (a pipe holding page references). */
struct hold {
	char label[64];
	int kind; /* 0 free, 1 pin, 2 get */
	int fd, memfd; /* pin: ring fd, bounce memfd; get: pipe read end in fd, write end in memfd */
	uintptr_t addr;
	size_t len;
	void *sq, *cq;
	size_t sqsz, cqsz;
	struct io_uring_sqe *sqes;
	size_t sqesz;
	struct io_uring_params p;
};

static int cmd_fd[MAXSLOT][2], rep_fd[MAXSLOT][2];
static struct slot slots[MAXSLOT];
static pid_t controller;

/* ------------------------------------------------------------------ shared helpers */

static int hexval(char c) { return c <= '9' ? c - '0' : (c | 32) - 'a' + 10; }

static size_t unhex(const char *s, unsigned char *out, size_t max)
{
	size_t n = 0;
	while (s[0] && s[1] && n < max) { out[n++] = (unsigned char)(hexval(s[0]) << 4 | hexval(s[1])); s += 2; }
	return n;
}

static void tohex(const unsigned char *b, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++) sprintf(out + 2 * i, "%02x", b[i]);
	out[2 * n] = 0;
}

static int prot_of(const char *s)
{
	int p = 0;
	for (; *s; s++) p |= *s == 'r' ? PROT_READ : *s == 'w' ? PROT_WRITE : *s == 'x' ? PROT_EXEC : 0;
	return p;
}

static int advice_of(const char *s)
{
	static const struct { const char *n; int v; } t[] = {
		{"dontneed", MADV_DONTNEED}, {"hugepage", MADV_HUGEPAGE}, {"nohugepage", MADV_NOHUGEPAGE},
		{"dontfork", MADV_DONTFORK}, {"dofork", MADV_DOFORK}, {"wipeonfork", MADV_WIPEONFORK},
		{"keeponfork", MADV_KEEPONFORK}, {"normal", MADV_NORMAL}, {"mergeable", MADV_MERGEABLE},
		{"unmergeable", MADV_UNMERGEABLE}, {"pageout", MADV_PAGEOUT}, {"cold", MADV_COLD},
		{"random", MADV_RANDOM}, {"sequential", MADV_SEQUENTIAL}, {"free", MADV_FREE},
		{"dontdump", MADV_DONTDUMP}, {"dodump", MADV_DODUMP},
		{"populate_read", MADV_POPULATE_READ}, {"populate_write", MADV_POPULATE_WRITE},
		{"collapse", MADV_COLLAPSE},
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) if (!strcmp(s, t[i].n)) return t[i].v;
	return -1;
}

/* Read one line from fd, a byte at a time (pipes carry several lines; never read past one). */
static int read_line(int fd, char *buf, size_t max, int timeout_ms)
{
	size_t n = 0;
	while (n + 1 < max) {
		if (timeout_ms >= 0) {
			struct pollfd p = {fd, POLLIN, 0};
			int r = poll(&p, 1, timeout_ms);
			if (r == 0) return -ETIMEDOUT;
			if (r < 0 && errno != EINTR) return -errno;
			if (r < 0) continue;
		}
		ssize_t r = read(fd, buf + n, 1);
		if (r < 0 && errno == EINTR) continue;
		if (r <= 0) return -EPIPE;
		if (buf[n] == '\n') break;
		n++;
	}
	buf[n] = 0;
	return (int)n;
}

static void write_all(int fd, const char *s, size_t n)
{
	while (n > 0) {
		ssize_t r = write(fd, s, n);
		if (r < 0 && errno == EINTR) continue;
		if (r <= 0) return;
		s += r;
		n -= (size_t)r;
	}
}

/* ------------------------------------------------------------------ worker: a scenario process */

static int my_slot, reply_fd;
static struct region wreg[MAXREGION];
static int wnreg;
static struct hold holds[MAXHOLD];
static sigjmp_buf fault_jmp;
static volatile sig_atomic_t fault_sig;

static void on_fault(int sig) { fault_sig = sig; siglongjmp(fault_jmp, 1); }

static void reply(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void reply(const char *fmt, ...)
{
	char buf[LINE];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof buf - 1, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof buf - 2) n = (int)sizeof buf - 2;
	buf[n++] = '\n';
	write_all(reply_fd, buf, (size_t)n);
}

static void reply_err(const char *what) { reply("err %s %s", what, strerrorname_np(errno) ?: "E?"); }

static struct region *wregion(const char *name)
{
	for (int i = 0; i < wnreg; i++) if (!strcmp(wreg[i].name, name)) return &wreg[i];
	return NULL;
}

static struct hold *hold_of(const char *label, int make)
{
	for (int i = 0; i < MAXHOLD; i++)
		if (holds[i].kind && !strcmp(holds[i].label, label)) return &holds[i];
	if (!make) return NULL;
	for (int i = 0; i < MAXHOLD; i++)
		if (!holds[i].kind) { memset(&holds[i], 0, sizeof holds[i]); snprintf(holds[i].label, 64, "%s", label); return &holds[i]; }
	return NULL;
}

static int ring_setup(struct hold *h)
{
	h->fd = (int)syscall(__NR_io_uring_setup, 4, &h->p);
	if (h->fd < 0) return -1;
	h->sqsz = h->p.sq_off.array + h->p.sq_entries * sizeof(unsigned);
	h->cqsz = h->p.cq_off.cqes + h->p.cq_entries * sizeof(struct io_uring_cqe);
	if (h->p.features & IORING_FEAT_SINGLE_MMAP) h->sqsz = h->cqsz = h->sqsz > h->cqsz ? h->sqsz : h->cqsz;
	h->sq = mmap(NULL, h->sqsz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, h->fd, IORING_OFF_SQ_RING);
	h->cq = h->p.features & IORING_FEAT_SINGLE_MMAP ? h->sq
		: mmap(NULL, h->cqsz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, h->fd, IORING_OFF_CQ_RING);
	h->sqesz = h->p.sq_entries * sizeof(struct io_uring_sqe);
	h->sqes = mmap(NULL, h->sqesz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, h->fd, IORING_OFF_SQES);
	if (h->sq == MAP_FAILED || h->cq == MAP_FAILED || h->sqes == MAP_FAILED) return -1;
	return 0;
}

static void ring_free(struct hold *h)
{
	if (h->sqes && h->sqes != MAP_FAILED) munmap(h->sqes, h->sqesz);
	if (h->cq && h->cq != MAP_FAILED && h->cq != h->sq) munmap(h->cq, h->cqsz);
	if (h->sq && h->sq != MAP_FAILED) munmap(h->sq, h->sqsz);
	close(h->fd);
}

/* One fixed-buffer read or write, submitted and waited for; returns the CQE's result. */
static int ring_rw(struct hold *h, int op, void *addr, unsigned len, uint64_t off)
{
	char *sq = h->sq, *cq = h->cq;
	unsigned *tail = (unsigned *)(sq + h->p.sq_off.tail), mask = *(unsigned *)(sq + h->p.sq_off.ring_mask);
	unsigned t = *tail, idx = t & mask;
	struct io_uring_sqe *e = &h->sqes[idx];
	memset(e, 0, sizeof *e);
	e->opcode = (unsigned char)op;
	e->fd = h->memfd;
	e->addr = (uintptr_t)addr;
	e->len = len;
	e->off = off;
	e->buf_index = 0;
	((unsigned *)(sq + h->p.sq_off.array))[idx] = idx;
	__atomic_store_n(tail, t + 1, __ATOMIC_RELEASE);
	if (syscall(__NR_io_uring_enter, h->fd, 1, 1, IORING_ENTER_GETEVENTS, NULL, 0) < 0) return -errno;
	unsigned *head = (unsigned *)(cq + h->p.cq_off.head);
	unsigned hd = __atomic_load_n(head, __ATOMIC_ACQUIRE);
	unsigned cmask = *(unsigned *)(cq + h->p.cq_off.ring_mask);
	struct io_uring_cqe *c = (struct io_uring_cqe *)(cq + h->p.cq_off.cqes) + (hd & cmask);
	int res = c->res;
	__atomic_store_n(head, hd + 1, __ATOMIC_RELEASE);
	return res;
}

static void w_mmap(char **a, int n)
{
	size_t len = strtoul(a[3], NULL, 16);
	int shared = strstr(a[5], "shared") != NULL;
	int flags = (shared ? MAP_SHARED : MAP_PRIVATE) | (strstr(a[5], "populate") ? MAP_POPULATE : 0);
	int prot = prot_of(a[4]);
	void *p;
	if (n >= 8) {
		char path[64];
		snprintf(path, sizeof path, "/proc/%d/fd/%d", controller, FILE_FD0 + atoi(a[6]));
		int fd = open(path, O_RDWR);
		if (fd < 0) return reply_err("open");
		p = mmap(NULL, len, prot, flags, fd, (off_t)strtoul(a[7], NULL, 16));
		close(fd);
	} else if (len % PMD == 0) {
		/* PMD-align private anon mappings of whole 2 MiB units, as the model's THP placement does. */
		char *r = mmap(NULL, len + PMD, prot, flags | MAP_ANONYMOUS, -1, 0);
		if (r == MAP_FAILED) return reply_err("mmap");
		char *s = (char *)(((uintptr_t)r + PMD - 1) & ~(PMD - 1));
		if (s > r) munmap(r, (size_t)(s - r));
		if (s + len < r + len + PMD) munmap(s + len, (size_t)(r + len + PMD - (s + len)));
		p = s;
	} else {
		p = mmap(NULL, len, prot, flags | MAP_ANONYMOUS, -1, 0);
	}
	if (p == MAP_FAILED) return reply_err("mmap");
	struct region *r = &wreg[wnreg++];
	snprintf(r->name, sizeof r->name, "%s", a[2]);
	r->addr = (uintptr_t)p;
	r->len = len;
	reply("ok %lx", (unsigned long)p);
}

/* The address of NAME+OFF, or 0 after a reply saying why not. */
static char *waddr(const char *name, const char *off)
{
	struct region *r = wregion(name);
	if (!r) { reply("err region ENOENT"); return NULL; }
	return (char *)r->addr + strtoul(off, NULL, 16);
}

static int uffd_would_wait(const char *p, size_t len);

static void w_access(char **a, int write_it)
{
	char *p = waddr(a[2], a[3]);
	if (!p) return;
	static unsigned char buf[LINE / 2];
	size_t len = write_it == 2 ? strtoul(a[4], NULL, 16) : write_it ? unhex(a[4], buf, sizeof buf) : strtoul(a[4], NULL, 16);
	unsigned char fill = write_it == 2 ? (unsigned char)strtoul(a[5], NULL, 16) : 0;
	if (write_it && len && uffd_would_wait(p, len)) return reply("uffd wp");
	volatile unsigned char first[16] = {0};
	size_t i = 0;
	fault_sig = 0;
	if (sigsetjmp(fault_jmp, 1)) {
		reply("sig %s", fault_sig == SIGBUS ? "SIGBUS" : "SIGSEGV");
		return;
	}
	for (; i < len; i++) {
		if (write_it == 2) ((volatile unsigned char *)p)[i] = fill;
		else if (write_it) ((volatile unsigned char *)p)[i] = buf[i];
		else {
			unsigned char v = ((volatile unsigned char *)p)[i];
			if (i < 16) first[i] = v;
		}
	}
	char hex[40];
	tohex((const unsigned char *)first, len < 16 ? len : 16, hex);
	reply("ok %s", write_it ? "" : hex);
}

/*
 * The worker writes or reads its own memory through /proc/self/mem, as ptrace does: the kernel's
 * access_remote_vm with FOLL_FORCE. Opened per command: after a fork the parent's descriptor
 * would still name the parent's mm.
 */
static void w_mem(char **a, int mode)
{
	char *p = waddr(a[2], a[3]);
	if (!p) return;
	static unsigned char hexbuf[LINE / 2];
	size_t len = mode == 1 ? unhex(a[4], hexbuf, sizeof hexbuf) : strtoul(a[4], NULL, 16);
	unsigned char *buf = mode == 1 ? hexbuf : malloc(len ? len : 1);
	if (mode == 2) memset(buf, (int)strtoul(a[5], NULL, 16), len);
	int fd = open("/proc/self/mem", O_RDWR);
	ssize_t n = fd < 0 ? -1 : mode ? pwrite(fd, buf, len, (off_t)(uintptr_t)p) : pread(fd, buf, len, (off_t)(uintptr_t)p);
	int e = errno;
	if (fd >= 0) close(fd);
	char hex[40];
	tohex(buf, mode || n <= 0 ? 0 : n < 16 ? (size_t)n : 16, hex);
	if (buf != hexbuf) free(buf);
	errno = e;
	if (n <= 0) return reply_err(mode ? "memwrite" : "memread");
	reply("ok %s", hex);
}

/*
 * The value of the line starting with KEY in a /proc file of "Key: value" or "key value" lines.
 * read() into a static buffer, not stdio: fopen's malloc would grow the heap inside a step and
 * move the RssAnon the oracle compares.
 */
static long proc_field(const char *path, const char *key)
{
	static char text[1 << 15];
	int fd = open(path, O_RDONLY);
	if (fd < 0) return -1;
	ssize_t n = read(fd, text, sizeof text - 1);
	close(fd);
	if (n <= 0) return -1;
	text[n] = 0;
	size_t k = strlen(key);
	for (char *l = text; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL)
		if (!strncmp(l, key, k) && (l[k] == ':' || l[k] == ' ')) return strtol(l + k + 1, NULL, 10);
	return -1;
}

/*
 * The worker's anonymous memory, from smaps_rollup (a page-table walk, exact). /proc/self/status's
 * RssAnon is the mm's per-CPU batched counter and lags by pages, so it is not used.
 */
static void w_ctr(void)
{
	reply("ok %ld %ld", proc_field("/proc/self/smaps_rollup", "Anonymous"),
	      proc_field("/proc/self/smaps_rollup", "AnonHugePages"));
}

static void w_pin(char **a)
{
	char *p = waddr(a[3], a[4]);
	if (!p) return;
	struct hold *h = hold_of(a[2], 1);
	if (!h) return reply("err hold ENOSPC");
	size_t len = strtoul(a[5], NULL, 16) * PAGE;
	if (ring_setup(h) < 0) { reply_err("io_uring_setup"); ring_free(h); return; }
	struct iovec iov = {p, len};
	if (syscall(__NR_io_uring_register, h->fd, IORING_REGISTER_BUFFERS, &iov, 1) < 0) {
		reply_err("register");
		ring_free(h);
		return;
	}
	h->memfd = memfd_create("pagelab-dma", 0);
	ftruncate(h->memfd, (off_t)len);
	h->kind = 1;
	h->addr = (uintptr_t)p;
	h->len = len;
	reply("ok");
}

static void w_get(char **a)
{
	char *p = waddr(a[3], a[4]);
	if (!p) return;
	struct hold *h = hold_of(a[2], 1);
	if (!h) return reply("err hold ENOSPC");
	size_t len = strtoul(a[5], NULL, 16) * PAGE;
	int fds[2];
	if (pipe(fds) < 0) return reply_err("pipe");
	fcntl(fds[1], F_SETPIPE_SZ, (int)(len > 65536 ? len : 65536));
	struct iovec iov = {p, len};
	ssize_t n = vmsplice(fds[1], &iov, 1, SPLICE_F_NONBLOCK);
	if (n != (ssize_t)len) {
		reply_err("vmsplice");
		close(fds[0]);
		close(fds[1]);
		return;
	}
	*h = (struct hold){.kind = 2, .fd = fds[0], .memfd = fds[1], .addr = (uintptr_t)p, .len = len};
	snprintf(h->label, sizeof h->label, "%s", a[2]);
	reply("ok");
}

static void w_release(char **a)
{
	struct hold *h = hold_of(a[2], 0);
	if (!h) return reply("err hold ENOENT");
	if (h->kind == 1) {
		if (syscall(__NR_io_uring_register, h->fd, IORING_UNREGISTER_BUFFERS, NULL, 0) < 0) return reply_err("unregister");
		ring_free(h);
		close(h->memfd);
	} else {
		char buf[4096];
		close(h->memfd);
		while (read(h->fd, buf, sizeof buf) > 0) {}
		close(h->fd);
	}
	h->kind = 0;
	reply("ok");
}

/* What the device sees: through a pin, a fixed write into the bounce memfd; through a get, a tee of the pipe. */
static void w_dmaread(char **a)
{
	struct hold *h = hold_of(a[2], 0);
	if (!h) return reply("err hold ENOENT");
	size_t off = strtoul(a[3], NULL, 16), len = strtoul(a[4], NULL, 16);
	static unsigned char buf[1 << 16];
	if (len > sizeof buf / 2 || off + len > h->len) return reply("err range EINVAL");
	if (h->kind == 1) {
		int r = ring_rw(h, IORING_OP_WRITE_FIXED, (char *)h->addr + off, (unsigned)len, 0);
		if (r != (int)len) { errno = r < 0 ? -r : EIO; return reply_err("write_fixed"); }
		if (pread(h->memfd, buf, len, 0) != (ssize_t)len) return reply_err("pread");
	} else {
		int t[2];
		if (pipe(t) < 0) return reply_err("pipe");
		fcntl(t[1], F_SETPIPE_SZ, (int)(h->len > 65536 ? h->len : 65536));
		ssize_t n = tee(h->fd, t[1], off + len, SPLICE_F_NONBLOCK);
		size_t got = 0;
		static unsigned char all[1 << 20];
		while (n > 0 && got < off + len && got < sizeof all) {
			ssize_t r = read(t[0], all + got, off + len - got);
			if (r <= 0) break;
			got += (size_t)r;
		}
		close(t[0]);
		close(t[1]);
		if (got < off + len) return reply_err("tee");
		memcpy(buf, all + off, len);
	}
	char *hex = malloc(2 * len + 1);
	tohex(buf, len, hex);
	reply("ok %s", hex);
	free(hex);
}

static void w_dmawrite(char **a)
{
	struct hold *h = hold_of(a[2], 0);
	if (!h || h->kind != 1) return reply("err pin ENOENT");
	size_t off = strtoul(a[3], NULL, 16);
	static unsigned char buf[LINE / 2];
	size_t len = unhex(a[4], buf, sizeof buf);
	if (off + len > h->len) return reply("err range EINVAL");
	if (pwrite(h->memfd, buf, len, 0) != (ssize_t)len) return reply_err("pwrite");
	int r = ring_rw(h, IORING_OP_READ_FIXED, (char *)h->addr + off, (unsigned)len, 0);
	if (r != (int)len) { errno = r < 0 ? -r : EIO; return reply_err("read_fixed"); }
	reply("ok");
}

static void w_odirect(char **a)
{
	char *p = waddr(a[2], a[3]);
	if (!p) return;
	size_t len = strtoul(a[4], NULL, 16) * PAGE;
	char path[] = "/var/tmp/pagelab-odirect-XXXXXX";
	int fd = mkostemp(path, O_DIRECT);
	if (fd < 0) return reply_err("odirect-open");
	unlink(path);
	ssize_t n = write(fd, p, len);
	int e = errno;
	close(fd);
	if (n != (ssize_t)len) { errno = n < 0 ? e : EIO; return reply_err("odirect-write"); }
	reply("ok");
}

static int mremap_flags_of(const char *s)
{
	int f = 0;
	if (strstr(s, "maymove")) f |= MREMAP_MAYMOVE;
	if (strstr(s, "fixed")) f |= MREMAP_FIXED;
	if (strstr(s, "dontunmap")) f |= MREMAP_DONTUNMAP;
	return f;
}

/* mremap S NAME OFF OLDLEN NEWLEN FLAGS NEWNAME NEWOFF ASNAME: the result becomes region ASNAME. */
static void w_mremap(char **a, int n)
{
	if (n < 10) return reply("err mremap EINVAL");
	char *p = waddr(a[2], a[3]), *to = NULL;
	if (!p) return;
	if (strcmp(a[7], "-") && !(to = waddr(a[7], a[8]))) return;
	size_t newlen = strtoul(a[5], NULL, 16);
	void *r = mremap(p, strtoul(a[4], NULL, 16), newlen, mremap_flags_of(a[6]), to);
	if (r == MAP_FAILED) return reply_err("mremap");
	if (strcmp(a[9], "-") && wnreg < MAXREGION) {
		struct region *g = &wreg[wnreg++];
		snprintf(g->name, sizeof g->name, "%s", a[9]);
		g->addr = (uintptr_t)r;
		g->len = newlen;
	}
	reply("ok %lx", (unsigned long)r);
}

static void w_range(char **a, int what)
{
	char *p = waddr(a[2], a[3]);
	if (!p) return;
	size_t len = strtoul(a[4], NULL, 16);
	int r = what == 0 ? munmap(p, len) : what == 1 ? mprotect(p, len, prot_of(a[5])) : madvise(p, len, advice_of(a[5]));
	if (r < 0) return reply_err(what == 0 ? "munmap" : what == 1 ? "mprotect" : "madvise");
	reply("ok");
}

/*
 * The first byte of every present page of a region, read by the process itself: a plain load only
 * sets the PTE's accessed bit, where a read through /proc/<pid>/mem (GUP with FOLL_TOUCH) marks the
 * folio accessed and, the second time, queues it for activation with an extra reference, which
 * turns the next reuse into a copy. "--" for an absent page or one the load cannot read (PROT_NONE).
 */
static void w_peek(char **a)
{
	struct region *r = wregion(a[2]);
	if (!r) return reply("err region ENOENT");
	int pm = open("/proc/self/pagemap", O_RDONLY);
	if (pm < 0) return reply_err("pagemap");
	size_t n = PAGES(r->len);
	char *out = malloc(2 * n + 1);
	for (size_t i = 0; i < n; i++) {
		volatile unsigned char *p = (unsigned char *)r->addr + i * PAGE;
		uint64_t e = 0;
		memcpy(out + 2 * i, "--", 2);
		if (pread(pm, &e, 8, (off_t)((uintptr_t)p / PAGE * 8)) != 8 || !(e >> 63)) continue;
		if (sigsetjmp(fault_jmp, 1)) continue;
		sprintf(out + 2 * i, "%02x", *p);
	}
	out[2 * n] = 0;
	close(pm);
	reply("ok %s", out);
	free(out);
}

/* ------------------------------------------------------------------ userfaultfd (worker side) */

static int uffd = -1;
static uint64_t uffd_features;
static int uffd_forks_read;
static int uffd_child_fds[MAXSLOT];
static int uffd_nchild;

static void w_uffd(char **a)
{
	if (uffd >= 0) { errno = EBUSY; return reply_err("userfaultfd"); }
	int fd = (int)syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) return reply_err("userfaultfd");
	struct uffdio_api api = { .api = UFFD_API, .features = strtoull(a[2], NULL, 16) };
	if (ioctl(fd, UFFDIO_API, &api)) { int e = errno; close(fd); errno = e; return reply_err("UFFDIO_API"); }
	uffd = fd;
	/* UFFDIO_API answers with every feature the kernel has: keep the ones asked for. */
	uffd_features = strtoull(a[2], NULL, 16);
	reply("ok");
}

static void w_uffd_range(char **a, int what)
{
	char *p = waddr(a[2], a[3]);
	if (!p) return;
	if (uffd < 0) { errno = EBADF; return reply_err("userfaultfd"); }
	struct uffdio_range r = { (uintptr_t)p, strtoul(a[4], NULL, 16) };
	if (what == 0) {
		struct uffdio_register reg = { .range = r, .mode = UFFDIO_REGISTER_MODE_WP };
		if (ioctl(uffd, UFFDIO_REGISTER, &reg)) return reply_err("UFFDIO_REGISTER");
	} else if (what == 1) {
		if (ioctl(uffd, UFFDIO_UNREGISTER, &r)) return reply_err("UFFDIO_UNREGISTER");
	} else {
		struct uffdio_writeprotect wp = { .range = r };
		if (atoi(a[5])) wp.mode |= UFFDIO_WRITEPROTECT_MODE_WP;
		if (atoi(a[6])) wp.mode |= UFFDIO_WRITEPROTECT_MODE_DONTWAKE;
		if (ioctl(uffd, UFFDIO_WRITEPROTECT, &wp)) return reply_err("UFFDIO_WRITEPROTECT");
	}
	reply("ok");
}

/* Every message there is now (the descriptor is non-blocking), and the fork events a helper read. */
static void w_uffd_read(void)
{
	if (uffd < 0) { errno = EBADF; return reply_err("userfaultfd"); }
	struct uffd_msg m;
	int msgs = uffd_forks_read, forks = uffd_forks_read;
	uffd_forks_read = 0;
	while (read(uffd, &m, sizeof m) == (ssize_t)sizeof m) {
		msgs++;
		if (m.event == UFFD_EVENT_FORK) {
			forks++;
			if (uffd_nchild < MAXSLOT) uffd_child_fds[uffd_nchild++] = (int)m.arg.fork.ufd;
		}
	}
	reply("ok %d %d", msgs, forks);
}

/* The fork event's reader: fork() returns only once the monitor has read UFFD_EVENT_FORK. */
static void *uffd_fork_reader(void *arg)
{
	(void)arg;
	struct pollfd p = { uffd, POLLIN, 0 };
	for (int tries = 0; tries < 200; tries++) {
		struct uffd_msg m;
		if (poll(&p, 1, 50) <= 0) continue;
		if (read(uffd, &m, sizeof m) != (ssize_t)sizeof m || m.event != UFFD_EVENT_FORK) continue;
		if (uffd_nchild < MAXSLOT) uffd_child_fds[uffd_nchild++] = (int)m.arg.fork.ufd;
		uffd_forks_read++;
		break;
	}
	return NULL;
}

/*
 * Would a store at p park this thread on a sync-mode write-protect fault? pagemap's uffd-wp bit
 * says the entry is protected (present, swapped or a marker); WP_ASYNC and SIGBUS never wait.
 */
static int uffd_would_wait(const char *p, size_t len)
{
	if (uffd < 0 || uffd_features & (UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_SIGBUS)) return 0;
	int pm = open("/proc/self/pagemap", O_RDONLY);
	if (pm < 0) return 0;
	int wait = 0;
	for (uintptr_t v = (uintptr_t)p / PAGE; v <= ((uintptr_t)p + len - 1) / PAGE && !wait; v++) {
		uint64_t e = 0;
		if (pread(pm, &e, 8, (off_t)(v * 8)) == 8 && (e >> 57 & 1)) wait = 1;
	}
	close(pm);
	return wait;
}

static int split(char *line, char **a, int max)
{
	int n = 0;
	for (char *t = strtok(line, " "); t && n < max; t = strtok(NULL, " ")) a[n++] = t;
	return n;
}

/*
 * Fault in the worker's own memory before the scenario starts: its static buffers and a deep
 * stack. Otherwise they fault in on first use, inside a step, and that step's RssAnon change
 * (which the oracle compares) would include the probe's own pages. mlockall(MCL_CURRENT)
 * populates every mapping there is; munlockall() lets go of the lock, not of the pages.
 */
static void __attribute__((noinline)) prefault_self(void)
{
	volatile char deep[1 << 19];
	for (size_t i = 0; i < sizeof deep; i += PAGE) deep[i] = 0; /* volatile: not optimised away */
	mlockall(MCL_CURRENT);
	munlockall();
}

static void worker_loop(int slot)
{
	char line[LINE], *a[12];
	prefault_self();
	my_slot = slot;
	reply_fd = rep_fd[slot][1];
	for (;;) {
		int r = read_line(cmd_fd[my_slot][0], line, sizeof line, -1);
		if (r < 0) _exit(0); /* the controller is gone */
		int n = split(line, a, 12);
		if (n == 0) continue;
		const char *c = a[0];
		if (!strcmp(c, "fork")) {
			/* The reader runs on a static stack, prefaulted with the rest of the probe: a
			 * fresh thread stack would count in the step's Anonymous change. */
			static char reader_stack[1 << 17] __attribute__((aligned(4096)));
			pthread_t reader;
			pthread_attr_t attr;
			pthread_attr_init(&attr);
			pthread_attr_setstack(&attr, reader_stack, sizeof reader_stack);
			int forking = uffd >= 0 && (uffd_features & UFFD_FEATURE_EVENT_FORK) &&
				      !pthread_create(&reader, &attr, uffd_fork_reader, NULL);
			pid_t pid = fork();
			if (pid == 0) {
				/* The inherited descriptor is the parent's context: the child has none of its own. */
				if (uffd >= 0) close(uffd);
				uffd = -1;
				uffd_nchild = 0;
				uffd_forks_read = 0;
				my_slot = atoi(a[2]);
				reply_fd = rep_fd[my_slot][1];
				continue;
			}
			if (forking) pthread_join(reader, NULL);
			if (pid < 0) reply_err("fork");
			else reply("ok %d", pid);
		} else if (!strcmp(c, "exit")) {
			reply("ok");
			_exit(0);
		} else if (!strcmp(c, "mmap")) w_mmap(a, n);
		else if (!strcmp(c, "munmap")) w_range(a, 0);
		else if (!strcmp(c, "mprotect")) w_range(a, 1);
		else if (!strcmp(c, "madvise")) w_range(a, 2);
		else if (!strcmp(c, "mremap")) w_mremap(a, n);
		else if (!strcmp(c, "read")) w_access(a, 0);
		else if (!strcmp(c, "write")) w_access(a, 1);
		else if (!strcmp(c, "fill")) w_access(a, 2);
		else if (!strcmp(c, "pin")) w_pin(a);
		else if (!strcmp(c, "get")) w_get(a);
		else if (!strcmp(c, "unpin") || !strcmp(c, "put")) w_release(a);
		else if (!strcmp(c, "dmaread")) w_dmaread(a);
		else if (!strcmp(c, "dmawrite")) w_dmawrite(a);
		else if (!strcmp(c, "odirect")) w_odirect(a);
		else if (!strcmp(c, "memread")) w_mem(a, 0);
		else if (!strcmp(c, "memwrite")) w_mem(a, 1);
		else if (!strcmp(c, "memfill")) w_mem(a, 2);
		else if (!strcmp(c, "uffd")) w_uffd(a);
		else if (!strcmp(c, "uffdreg")) w_uffd_range(a, 0);
		else if (!strcmp(c, "uffdunreg")) w_uffd_range(a, 1);
		else if (!strcmp(c, "uffdwp")) w_uffd_range(a, 2);
		else if (!strcmp(c, "uffdread")) w_uffd_read();
		else if (!strcmp(c, "ctr")) w_ctr();
		else if (!strcmp(c, "peek")) w_peek(a);
		else reply("err command EINVAL");
	}
}

/* ------------------------------------------------------------------ controller */

static void kill_all(void)
{
	for (int i = 0; i < MAXSLOT; i++)
		if (slots[i].alive) kill(slots[i].pid, SIGKILL);
	/* Orphans of killed workers come to us (subreaper): reap until nothing is left. */
	while (waitpid(-1, NULL, 0) > 0 || errno == EINTR) {}
}

static void on_term(int sig)
{
	(void)sig;
	kill_all();
	_exit(3);
}

static void die(const char *msg)
{
	printf("fatal %s\n", msg);
	fflush(stdout);
	kill_all();
	exit(3);
}

static void start_worker(int slot)
{
	pid_t pid = fork();
	if (pid < 0) die("fork");
	if (pid == 0) {
		/* Keep only the ends a worker uses, so a dead controller means EOF on the command pipe. */
		for (int i = 0; i < MAXSLOT; i++) { close(cmd_fd[i][1]); close(rep_fd[i][0]); }
		int null = open("/dev/null", O_RDWR);
		dup2(null, 0);
		dup2(null, 1);
		close(null);
		signal(SIGCHLD, SIG_IGN); /* a worker's children are reaped as they exit */
		signal(SIGTERM, SIG_DFL);
		signal(SIGPIPE, SIG_DFL);
		struct sigaction sa = {0};
		sa.sa_handler = on_fault;
		sa.sa_flags = SA_NODEFER;
		sigaction(SIGSEGV, &sa, NULL);
		sigaction(SIGBUS, &sa, NULL);
		worker_loop(slot);
	}
	slots[slot] = (struct slot){.pid = pid, .alive = 1};
}

/* Forward a command to slot s and copy its reply to stdout; the reply is returned in `out`. */
static void forward(int s, const char *line, char *out)
{
	if (s < 0 || s >= MAXSLOT || !slots[s].alive) { snprintf(out, LINE, "err slot ESRCH"); return; }
	size_t n = strlen(line);
	char *buf = malloc(n + 2);
	memcpy(buf, line, n);
	buf[n] = '\n';
	write_all(cmd_fd[s][1], buf, n + 1);
	free(buf);
	int r = read_line(rep_fd[s][0], out, LINE, REPLY_TIMEOUT_MS);
	if (r < 0) die(r == -ETIMEDOUT ? "worker did not answer" : "worker died");
}

static int pread_u64(int fd, uint64_t idx, uint64_t *v)
{
	/* Read as two u32 halves, the way the TypeScript side is told to read these files. */
	uint32_t h[2];
	if (pread(fd, h, 8, (off_t)(idx * 8)) != 8) return -1;
	*v = (uint64_t)h[1] << 32 | h[0];
	return 0;
}

static int kflags_fd, kcount_fd;

/*
 * The THP a page belongs to, from kpageflags: its head is the nearest COMPOUND_HEAD at or below
 * (bit 15), its size the run of COMPOUND_TAIL pages (bit 16) after that. A folio is naturally
 * aligned, but its size is what tells a 64K folio from a 2M one: the comparison needs both. The
 * last folio found is kept for the pages after it; observe() forgets it, since a step may free it.
 */
static uint64_t thp_head = UINT64_MAX, thp_nr;

static void thp_folio(uint64_t pfn, uint64_t fl, uint64_t *head, uint64_t *nr)
{
	if (thp_head == UINT64_MAX || pfn < thp_head || pfn >= thp_head + thp_nr) {
		uint64_t h = pfn, f = fl, t = 0, n = 1;
		while (!(f >> 15 & 1) && h > 0 && pfn - h < 512 && !pread_u64(kflags_fd, h - 1, &f)) h--;
		while (n < 512 && !pread_u64(kflags_fd, h + n, &t) && (t >> 16 & 1)) n++;
		thp_head = h;
		thp_nr = n;
	}
	*head = thp_head;
	*nr = thp_nr;
}

static void observe(int s, const char *name)
{
	struct slot *sl = &slots[s];
	struct region *r = NULL;
	for (int i = 0; i < sl->nreg; i++) if (!strcmp(sl->reg[i].name, name)) r = &sl->reg[i];
	/* A region whose mmap failed has no pages to show. */
	if (!sl->alive || !r) { printf("end\n"); return; }
	char path[64];
	static char peek[LINE];
	snprintf(path, sizeof path, "peek %d %s", s, name);
	forward(s, path, peek);
	if (strncmp(peek, "ok ", 3) || strlen(peek + 3) < 2 * (PAGES(r->len))) die("peek failed");
	snprintf(path, sizeof path, "/proc/%d/pagemap", sl->pid);
	int pm = open(path, O_RDONLY);
	if (pm < 0) die("cannot open /proc/<pid>/pagemap");
	thp_head = UINT64_MAX;
	for (size_t i = 0; i < PAGES(r->len); i++) {
		uintptr_t va = r->addr + i * PAGE;
		uint64_t e = 0, cnt = 0, fl = 0;
		pread_u64(pm, va / PAGE, &e);
		int present = (int)(e >> 63 & 1), excl = (int)(e >> 56 & 1);
		uint64_t pfn = e & ((1ULL << 55) - 1);
		char byte[8] = "-", flags[128] = "", folio[32] = "-";
		/* PM_SWAP (bit 62): the frame field holds the swap type (5 bits) and offset instead. A
		 * PTE marker is a swap entry of the last type, SWP_PTE_MARKER; PM_UFFD_WP is bit 57. */
		if (!present && (e >> 62 & 1)) {
			if ((pfn & 31) == 31) {
				strcpy(flags, "marker,");
				pfn = 0;
			} else {
				pfn >>= 5;
				strcpy(flags, "swap,");
			}
		}
		if (e >> 57 & 1) strcat(flags, "uffd_wp,");
		if (present) {
			if (peek[3 + 2 * i] != '-') snprintf(byte, sizeof byte, "%.2s", peek + 3 + 2 * i);
			if (pfn && !pread_u64(kcount_fd, pfn, &cnt) && !pread_u64(kflags_fd, pfn, &fl)) {
				static const struct { int bit; const char *n; } names[] = {
					{12, "anon"}, {21, "ksm"}, {24, "zero"}, {22, "thp"}, {15, "head"}, {16, "tail"},
				};
				for (size_t k = 0; k < sizeof names / sizeof names[0]; k++)
					if (fl >> names[k].bit & 1) { strcat(flags, names[k].n); strcat(flags, ","); }
				/* Bit 34 (OWNER_2) is PG_anon_exclusive only on anon pages. */
				if ((fl >> 12 & 1) && (fl >> 34 & 1)) strcat(flags, "anonexcl,");
				if (fl >> 22 & 1) {
					uint64_t head, nr;
					thp_folio(pfn, fl, &head, &nr);
					snprintf(folio, sizeof folio, "%llu/%llu", (unsigned long long)(pfn - head),
						 (unsigned long long)nr);
				}
			}
		}
		if (!*flags) strcpy(flags, "-");
		else flags[strlen(flags) - 1] = 0;
		printf("p %zu %d %s %d %llx %llu %s %s\n", i, present, byte, excl, (unsigned long long)pfn,
		       (unsigned long long)cnt, flags, folio);
	}
	close(pm);
	printf("end\n");
}

/* Wait until a worker that was told to exit is gone (its memory released). */
static void wait_gone(pid_t pid)
{
	int pfd = (int)syscall(__NR_pidfd_open, pid, 0);
	if (pfd >= 0) {
		struct pollfd p = {pfd, POLLIN, 0};
		poll(&p, 1, REPLY_TIMEOUT_MS);
		close(pfd);
	}
	while (waitpid(-1, NULL, WNOHANG) > 0) {}
}

#define KSM_DIR "/sys/kernel/mm/ksm/"
/* KSM merges a page only once its checksum held for a whole pass, so three passes settle it. */
#define KSM_PASSES 3
#define KSM_WAIT_MS 3000

static long ksm_read(const char *name)
{
	char path[128], buf[32];
	snprintf(path, sizeof path, KSM_DIR "%s", name);
	int fd = open(path, O_RDONLY);
	if (fd < 0) return -1;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0) return -1;
	buf[n] = 0;
	return strtol(buf, NULL, 10);
}

static int ksm_run(const char *v)
{
	int fd = open(KSM_DIR "run", O_WRONLY);
	if (fd < 0) return -1;
	int r = write(fd, v, strlen(v)) == (ssize_t)strlen(v) ? 0 : -1;
	close(fd);
	return r;
}

/*
 * ksmscan: ksmd runs (run = 1) until full_scans has grown by KSM_PASSES, bounded by KSM_WAIT_MS,
 * then stops again (run = 0: merged pages stay merged), so merging happens at this step and no
 * other. The runner set pages_to_scan and sleep_millisecs for quick passes and puts them back.
 * ksmd makes no pass without a mergeable mm: that, like a slow ksmd, is ETIMEDOUT.
 */
static void ksm_scan_cmd(void)
{
	long start = ksm_read("full_scans");
	if (start < 0 || ksm_run("1") < 0) { printf("err ksmscan %s\n", strerrorname_np(errno)); return; }
	int ok = 0;
	for (int waited = 0; waited < KSM_WAIT_MS && !ok; waited += 5) {
		usleep(5000);
		ok = ksm_read("full_scans") >= start + KSM_PASSES;
	}
	ksm_run("0");
	printf(ok ? "ok\n" : "err ksmscan ETIMEDOUT\n");
}

/*
 * compact: the write to /proc/sys/vm/compact_memory returns once compact_nodes() has run over
 * every zone (sysctl_compaction_handler), so what moved has moved when the reply comes.
 */
static void compact_cmd(void)
{
	int fd = open("/proc/sys/vm/compact_memory", O_WRONLY);
	if (fd < 0 || write(fd, "1\n", 2) != 2) {
		printf("err compact %s\n", strerrorname_np(errno));
		if (fd >= 0) close(fd);
		return;
	}
	close(fd);
	printf("ok\n");
}

/*
 * A regular file on a disk filesystem, as the model's files are (dirty tracking, writeback): an
 * unnamed O_TMPFILE, gone when its last descriptor closes, so a run never leaves a file behind.
 * Not on tmpfs, which is shmem (that is what `memfd` is for).
 */
static int disk_file(void)
{
	const char *dirs[] = {getenv("PAGELAB_ORACLE_FILEDIR"), "/var/tmp", "."};
	for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
		if (!dirs[i]) continue;
		int fd = open(dirs[i], O_TMPFILE | O_RDWR, 0600);
		struct statfs st;
		if (fd >= 0 && fstatfs(fd, &st) == 0 && st.f_type != 0x01021994 /* TMPFS_MAGIC */) return fd;
		if (fd >= 0) close(fd);
	}
	return -1;
}

/*
 * The file's contents: BYTE repeated (or nothing: holes). A disk file's bytes go to the disk and
 * leave the page cache (fdatasync, then POSIX_FADV_DONTNEED drops the clean pages), so it starts
 * uncached like the model's; a memfd's stay in its page cache, which is all shmem has.
 */
static const char *fill_file(int fd, size_t len, int byte, int disk)
{
	if (byte < 0 || len == 0) return "ok";
	unsigned char *b = malloc(len);
	memset(b, byte, len);
	ssize_t w = pwrite(fd, b, len, 0);
	free(b);
	if (w != (ssize_t)len) return "err file EIO";
	if (disk && (fdatasync(fd) || posix_fadvise(fd, 0, (off_t)len, POSIX_FADV_DONTNEED))) return "err file EIO";
	return "ok";
}

static void controller_cmd(char *line)
{
	char copy[LINE], out[LINE], *a[12];
	snprintf(copy, sizeof copy, "%s", line);
	int n = split(copy, a, 12);
	if (n == 0) return;
	const char *c = a[0];
	int s = n > 1 ? atoi(a[1]) : -1;
	int on_file = !strcmp(c, "file") || !strcmp(c, "trunc") || !strcmp(c, "fsync");
	if (s >= MAXSLOT || (s < 0 && n > 1 && !on_file)) { printf("err slot EINVAL\n"); return; }
	if (!strcmp(c, "spawn")) {
		start_worker(s);
		printf("ok %d\n", slots[s].pid);
	} else if (!strcmp(c, "file")) {
		int id = atoi(a[1]);
		size_t len = strtoul(a[2], NULL, 16);
		int disk = n > 4 && !strcmp(a[4], "disk");
		int fd = disk ? disk_file() : memfd_create("pagelab-file", 0);
		if (id < 0 || id >= MAXFILE || fd < 0 || ftruncate(fd, (off_t)len) < 0 || dup2(fd, FILE_FD0 + id) < 0) {
			printf("err file %s\n", fd < 0 && disk ? "ENOTSUP" : "EINVAL");
			if (fd >= 0) close(fd);
			return;
		}
		close(fd);
		fd = FILE_FD0 + id;
		printf("%s\n", fill_file(fd, len, strcmp(a[3], "-") ? (int)strtoul(a[3], NULL, 16) : -1, disk));
	} else if (!strcmp(c, "trunc") || !strcmp(c, "fsync")) {
		int fd = FILE_FD0 + atoi(a[1]);
		int r = !strcmp(c, "trunc") ? ftruncate(fd, (off_t)strtoul(a[2], NULL, 16)) : fsync(fd);
		if (r < 0) printf("err %s %s\n", c, strerrorname_np(errno) ?: "E?");
		else printf("ok\n");
	} else if (!strcmp(c, "obs")) {
		observe(s, n > 2 ? a[2] : "");
	} else if (!strcmp(c, "gstat")) {
		static const char *vm[] = {"nr_foll_pin_acquired", "nr_foll_pin_released", "thp_fault_alloc",
					   "thp_split_pmd", "thp_collapse_alloc"};
		/* Node counters (the GUP-pin ones) sit in per-CPU deltas until folded: fold them now. */
		int rf = open("/proc/sys/vm/stat_refresh", O_WRONLY);
		if (rf >= 0) {
			if (write(rf, "1", 1) < 0) { /* an old kernel: the values may lag */ }
			close(rf);
		}
		char *o = out;
		o += sprintf(o, "ok");
		for (size_t i = 0; i < sizeof vm / sizeof vm[0]; i++)
			o += sprintf(o, " %s=%ld", vm[i], proc_field("/proc/vmstat", vm[i]));
		printf("%s\n", out);
	} else if (!strcmp(c, "ksmscan")) {
		ksm_scan_cmd();
	} else if (!strcmp(c, "compact")) {
		compact_cmd();
	} else {
		forward(s, line, out);
		printf("%s\n", out);
		if (strncmp(out, "ok", 2)) return;
		if (!strcmp(c, "fork")) {
			int ch = atoi(a[2]);
			slots[ch] = slots[s];
			slots[ch].pid = atoi(out + 3);
		} else if (!strcmp(c, "exit")) {
			slots[s].alive = 0;
			wait_gone(slots[s].pid);
		} else if (!strcmp(c, "mmap") && slots[s].nreg < MAXREGION) {
			struct region *r = &slots[s].reg[slots[s].nreg++];
			snprintf(r->name, sizeof r->name, "%s", a[2]);
			r->addr = strtoul(out + 3, NULL, 16);
			r->len = strtoul(a[3], NULL, 16);
		} else if (!strcmp(c, "mremap") && n >= 10 && strcmp(a[9], "-") && slots[s].nreg < MAXREGION) {
			struct region *r = &slots[s].reg[slots[s].nreg++];
			snprintf(r->name, sizeof r->name, "%s", a[9]);
			r->addr = strtoul(out + 3, NULL, 16);
			r->len = strtoul(a[5], NULL, 16);
		}
	}
}

int main(void)
{
	controller = getpid();
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	/*
	 * Every process of the run on one CPU: a new page sits in that CPU's LRU batch with an extra
	 * reference, and do_wp_page drains only the local batch before deciding to reuse. Spread over
	 * CPUs, whether a write reuses or copies such a page would depend on the scheduler.
	 */
	cpu_set_t one;
	CPU_ZERO(&one);
	CPU_SET(sched_getcpu(), &one);
	sched_setaffinity(0, sizeof one, &one);
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	signal(SIGHUP, on_term);
	signal(SIGPIPE, SIG_IGN);
	kflags_fd = open("/proc/kpageflags", O_RDONLY);
	kcount_fd = open("/proc/kpagecount", O_RDONLY);
	if (kflags_fd < 0 || kcount_fd < 0) { printf("unsupported /proc/kpageflags: %s\n", strerror(errno)); return 0; }
	for (int i = 0; i < MAXSLOT; i++)
		if (pipe2(cmd_fd[i], O_CLOEXEC) < 0 || pipe2(rep_fd[i], O_CLOEXEC) < 0) die("pipe");
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("ready %d\n", controller);
	static char line[LINE];
	while (read_line(0, line, sizeof line, -1) >= 0) {
		if (!strcmp(line, "quit")) break;
		controller_cmd(line);
		fflush(stdout);
	}
	kill_all();
	printf("bye\n");
	return 0;
}
