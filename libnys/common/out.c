/* Checked output: temporary name, every write checked, rename when whole;
 * and staging directories, for outputs of many files that appear together.
 * Temporary names are also kept in small tables that a signal handler can
 * walk, so an interrupted run leaves no half file behind. */
#include "nys.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#define OUT_BUF (256 * 1024)
#define MAX_PENDING 64
#define MAX_STAGES 8
#define MAX_LINKS 40            /* symbolic links followed, as the kernel does */
#define STAGE_DEPTH 4           /* subdirectory levels a staging directory may have */

struct nys_out {
	int fd;
	bool is_std;            /* fd is the process's, not closed here */
	bool direct;            /* written in place: stdout, a device, a FIFO */
	bool sync;
	bool failed;            /* a write failed: nothing more is flushed */
	bool finished;          /* nys_out_finish closed it: commit renames */
	int slot;               /* index in the pending table, -1 if none */
	char *path;             /* the name given, for messages */
	char *target;           /* what the temporary file is renamed to */
	char *tmp;
	char *buf;
	size_t n;
	uint64_t bytes;
	ZSTD_CStream *zc;
	char *zbuf;
	size_t zcap;
};

struct nys_stage {
	int fd;                 /* the staging directory, flock()ed while we live */
	int slot;               /* index in the stage table, -1 if none */
	char *dir;              /* DIR as given */
	char *path;             /* DIR/.TAG.tmp.XXXXXX */
	char *scratch;          /* room for a copy of dir, for the signal handler */
	size_t made;            /* DIR's components from this length on were made
	                         * by nys_stage_open; 0 if none */
};

static void *pending[MAX_PENDING];
static volatile sig_atomic_t pending_used[MAX_PENDING];
static void *stages[MAX_STAGES];
static volatile sig_atomic_t stages_used[MAX_STAGES];
static pthread_mutex_t pending_lock = PTHREAD_MUTEX_INITIALIZER;

/* The two tables the signal handler reads: temporary files (char *) and
 * stages (nys_stage *), a slot each, taken and given back under the lock. */
typedef struct registry {
	void **items;
	volatile sig_atomic_t *used;
	int n;
} registry;
static const registry pending_reg = {pending, pending_used, MAX_PENDING};
static const registry stage_reg = {stages, stages_used, MAX_STAGES};

/* The slot p now has, or -1 when the table is full. */
static int registry_add(const registry *r, void *p)
{
	pthread_mutex_lock(&pending_lock);
	int slot = -1;
	for (int i = 0; i < r->n; i++)
		if (!r->used[i]) {
			r->items[i] = p;
			r->used[i] = 1;
			slot = i;
			break;
		}
	pthread_mutex_unlock(&pending_lock);
	return slot;
}

static void registry_del(const registry *r, int slot)
{
	if (slot < 0)
		return;
	pthread_mutex_lock(&pending_lock);
	r->used[slot] = 0;
	r->items[slot] = NULL;
	pthread_mutex_unlock(&pending_lock);
}

static void stage_remove(const nys_stage *s);

/* While an output is being put into place (nys_out_hold_signals), a fatal
 * signal only takes note; the release then acts on it.  Whatever thread
 * the signal lands on, the renames are never cut half way. */
static volatile sig_atomic_t held, deferred;

static void on_signal(int sig)
{
	if (held) {
		deferred = sig;
		return;
	}
	for (int i = 0; i < MAX_PENDING; i++)
		if (pending_used[i] && pending[i])
			unlink(pending[i]);
	for (int i = 0; i < MAX_STAGES; i++)
		if (stages_used[i] && stages[i])
			stage_remove(stages[i]);
	signal(sig, SIG_DFL);
	raise(sig);
}

void nys_out_cleanup_on_signals(void)
{
	static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
	for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++) {
		struct sigaction sa;
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = on_signal;
		/* no second signal inside the handler while it cleans up */
		sigfillset(&sa.sa_mask);
		sigaction(sigs[i], &sa, NULL);
	}
}

void nys_out_hold_signals(void)
{
	held = 1;
}

void nys_out_release_signals(void)
{
	held = 0;
	int sig = deferred;
	if (sig) {
		deferred = 0;
		raise(sig);
	}
}

/* mkdir -p.  *made (if made is not NULL): the length of the leading part of
 * path that is the first directory this call made, 0 if it made none. */
static int mkdirs(const char *path, size_t *made, nys_err *e)
{
	if (made)
		*made = 0;
	char *p = strdup(path);
	if (!p)
		return nys_err_set(e, "out of memory");
	for (char *s = p + 1;; s++) {
		if (*s != '/' && *s)
			continue;
		char c = *s;
		*s = 0;
		if (!mkdir(p, 0777)) {
			if (made && !*made)
				*made = (size_t)(s - p);
		} else if (errno != EEXIST) {
			nys_err_sys(e, "mkdir %s", p);
			free(p);
			return -1;
		}
		*s = c;
		if (!c)
			break;
	}
	struct stat st;
	int r = 0;
	if (stat(p, &st) || !S_ISDIR(st.st_mode))
		r = nys_err_set(e, "%s: not a directory", p);
	free(p);
	return r;
}

int nys_mkdirs(const char *path, nys_err *e)
{
	return mkdirs(path, NULL, e);
}

/* Free o, out of the signal handler's table first (when it is in). */
static void out_free(nys_out *o)
{
	registry_del(&pending_reg, o->slot);
	if (o->zc)
		ZSTD_freeCStream(o->zc);
	free(o->zbuf);
	free(o->buf);
	free(o->path);
	free(o->target);
	free(o->tmp);
	free(o);
}

/* Where the chain of symbolic links that starts at path ends (path itself
 * if it is none), as a new string: the file that a rename must replace so
 * that the links stay.  NULL with e set. */
static char *follow_links(const char *path, nys_err *e)
{
	char *p = strdup(path);
	char link[PATH_MAX];
	for (int hops = 0; p; hops++) {
		struct stat st;
		if (lstat(p, &st) || !S_ISLNK(st.st_mode))
			return p;
		ssize_t k = hops < MAX_LINKS ? readlink(p, link, sizeof link) : -1;
		if (k < 0 || (size_t)k == sizeof link) {
			errno = hops >= MAX_LINKS ? ELOOP : k >= 0 ? ENAMETOOLONG : errno;
			nys_err_sys(e, "%s: cannot follow the symbolic link %s", path, p);
			free(p);
			return NULL;
		}
		link[k] = 0;
		/* a relative link is relative to the directory it is in */
		char *slash = strrchr(p, '/'), *next;
		if (link[0] == '/' || !slash) {
			next = strdup(link);
		} else {
			size_t d = (size_t)(slash - p) + 1;
			if ((next = malloc(d + (size_t)k + 1))) {
				memcpy(next, p, d);
				memcpy(next + d, link, (size_t)k + 1);
			}
		}
		free(p);
		p = next;
	}
	nys_err_set(e, "out of memory");
	return NULL;
}

/* The descriptor that /dev/stdout, /dev/stderr, /dev/fd/N or /proc/self/fd/N
 * stands for, else -1.  These are written through that descriptor, as the
 * shell does, so an append (>>) or a pipe behind them is kept as it is. */
static int fd_name(const char *path)
{
	if (!strcmp(path, "/dev/stdout"))
		return 1;
	if (!strcmp(path, "/dev/stderr"))
		return 2;
	const char *s = !strncmp(path, "/dev/fd/", 8) ? path + 8
	              : !strncmp(path, "/proc/self/fd/", 14) ? path + 14 : NULL;
	size_t n = s ? strlen(s) : 0;
	if (!n || n > 9 || strspn(s, "0123456789") != n)
		return -1;
	return atoi(s);
}

/* The error for a file that cannot be created at target (path, the name the
 * user gave, through its links): it names path, never the temporary name
 * that was tried beside it, and a folder that is missing is named as such,
 * as coreutils do ("cannot create ...: the directory DIR does not exist"). */
static int create_failed(nys_err *e, const char *path, const char *target)
{
	int err = errno;
	if (err == ENOENT) {
		const char *slash = strrchr(target, '/');
		size_t n = slash ? (size_t)(slash - target) : 0;
		if (slash && n == 0)
			n = 1;          /* a file in / */
		if (slash)
			return nys_err_set(e, "cannot create %s: the directory %.*s does not exist",
			                   path, (int)n, target);
	}
	errno = err;
	return nys_err_sys(e, "cannot create %s", path);
}

/* Open o->path (not stdout) as a file to write: in place when it exists and
 * is not a regular file, else under a temporary name beside the file that
 * the path (through any symbolic links) names. */
static int open_path(nys_out *o, const char *path, int flags, nys_err *e)
{
	struct stat st;
	int fd = fd_name(path);
	if (fd >= 0) {
		o->fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
		if (o->fd < 0)
			return nys_err_sys(e, "open %s", path);
		o->direct = true;
	} else if (!stat(path, &st) && !S_ISREG(st.st_mode)) {
		if (S_ISDIR(st.st_mode))
			return nys_err_set(e, "%s: is a directory", path);
		/* a device, a FIFO, a socket: renaming a file over it would
		 * replace it, so it is written into */
		o->fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY);
		if (o->fd < 0)
			return nys_err_sys(e, "open %s", path);
		o->direct = true;
	}
	if (o->direct) {
		if ((flags & (NYS_OUT_ZSTD | NYS_OUT_BINARY)) && isatty(o->fd)) {
			close(o->fd);
			return nys_err_set(e, "%s: refusing to write binary data to a terminal", path);
		}
		return 0;
	}
	if (!(o->target = follow_links(path, e)))
		return -1;
	size_t n = strlen(o->target);
	if (!(o->tmp = malloc(n + 16)))
		return nys_err_set(e, "out of memory");
	snprintf(o->tmp, n + 16, "%s.tmp.XXXXXX", o->target);
	o->fd = mkostemp(o->tmp, O_CLOEXEC);
	if (o->fd < 0)
		return create_failed(e, path, o->target);
	mode_t um = umask(0);
	umask(um);
	fchmod(o->fd, 0666 & ~um);
	o->slot = registry_add(&pending_reg, o->tmp);
	return 0;
}

nys_out *nys_out_open(const char *path, int flags, nys_err *e)
{
	nys_out *o = nys_mem_alloc(sizeof *o, e);
	if (!o)
		return NULL;
	o->slot = -1;
	o->fd = -1;
	o->is_std = !path || !strcmp(path, "-");
	o->sync = (flags & NYS_OUT_SYNC) != 0;
	o->path = strdup(o->is_std ? "(stdout)" : path);
	o->buf = malloc(OUT_BUF);
	if (!o->path || !o->buf) {
		nys_err_set(e, "out of memory");
		out_free(o);
		return NULL;
	}
	if (flags & NYS_OUT_ZSTD) {
		o->zc = ZSTD_createCStream();
		o->zcap = ZSTD_CStreamOutSize();
		o->zbuf = malloc(o->zcap);
		if (!o->zc || !o->zbuf) {
			nys_err_set(e, "out of memory");
			out_free(o);
			return NULL;
		}
		ZSTD_CCtx_setParameter(o->zc, ZSTD_c_compressionLevel, (flags & NYS_OUT_ZSTD_FAST) ? 1 : 3);
		ZSTD_CCtx_setParameter(o->zc, ZSTD_c_checksumFlag, 1);
		/* Compression would otherwise be the slowest stage of a pipeline;
		 * libzstd without thread support just refuses this. */
		long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
		if ((flags & NYS_OUT_ZSTD_MT) && ncpu > 1)
			ZSTD_CCtx_setParameter(o->zc, ZSTD_c_nbWorkers, (int)(ncpu > 8 ? 8 : ncpu));
	}
	if (o->is_std) {
		o->fd = 1;
		o->direct = true;
		if ((flags & (NYS_OUT_ZSTD | NYS_OUT_BINARY)) && isatty(1)) {
			nys_err_set(e, "refusing to write binary data to a terminal (use -o FILE or a pipe)");
			out_free(o);
			return NULL;
		}
		return o;
	}
	if (open_path(o, path, flags, e)) {
		out_free(o);
		return NULL;
	}
	return o;
}

static int write_all(nys_out *o, const char *p, size_t n, nys_err *e)
{
	while (n) {
		ssize_t k = write(o->fd, p, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			o->failed = true;
			return nys_err_sys(e, "write %s", o->path);
		}
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

/* Push the staging buffer to the file, through zstd if on: `mode` says
 * whether the zstd frame goes on (ZSTD_e_continue), is flushed so far
 * (ZSTD_e_flush) or ends (ZSTD_e_end). */
static int drain(nys_out *o, ZSTD_EndDirective mode, nys_err *e)
{
	if (!o->zc) {
		int r = write_all(o, o->buf, o->n, e);
		o->n = 0;
		return r;
	}
	ZSTD_inBuffer ib = {o->buf, o->n, 0};
	for (;;) {
		ZSTD_outBuffer ob = {o->zbuf, o->zcap, 0};
		size_t r = ZSTD_compressStream2(o->zc, &ob, &ib, mode);
		if (ZSTD_isError(r)) {
			o->failed = true;
			return nys_err_set(e, "%s: zstd: %s", o->path, ZSTD_getErrorName(r));
		}
		if (write_all(o, o->zbuf, ob.pos, e))
			return -1;
		if (mode == ZSTD_e_continue ? ib.pos == ib.size : r == 0)
			break;
	}
	o->n = 0;
	return 0;
}

int nys_out_write(nys_out *o, const void *p, size_t n, nys_err *e)
{
	const char *s = p;
	o->bytes += n;
	while (n) {
		size_t k = OUT_BUF - o->n;
		if (k > n)
			k = n;
		memcpy(o->buf + o->n, s, k);
		o->n += k;
		s += k;
		n -= k;
		if (o->n == OUT_BUF && drain(o, ZSTD_e_continue, e))
			return -1;
	}
	return 0;
}

int nys_out_puts(nys_out *o, const char *s, nys_err *e)
{
	return nys_out_write(o, s, strlen(s), e);
}

uint64_t nys_out_bytes(const nys_out *o) { return o->bytes; }
const char *nys_out_name(const nys_out *o) { return o->path; }

int nys_out_finish(nys_out *o, nys_err *e)
{
	if (o->finished)
		return 0;
	int r = o->failed ? nys_err_set(e, "%s: not complete (a write failed)", o->path)
	                  : drain(o, ZSTD_e_end, e);
	if (!r && !o->direct && o->sync && fsync(o->fd))
		r = nys_err_sys(e, "fsync %s", o->path);
	if ((!o->direct || !o->is_std) && close(o->fd) && !r)
		r = nys_err_sys(e, "close %s", o->path);
	o->fd = -1;
	o->finished = true;
	if (r)
		o->failed = true;
	return r;
}

int nys_out_commit(nys_out *o, nys_err *e)
{
	bool was_failed = o->failed && o->finished;
	int r = was_failed ? nys_err_set(e, "%s: not complete (a write failed)", o->path)
	                   : nys_out_finish(o, e);
	if (o->direct) {
		out_free(o);
		return r;
	}
	if (!r && rename(o->tmp, o->target))
		r = nys_err_sys(e, "rename %s to %s", o->tmp, o->target);
	if (!r && o->sync) {
		/* the rename itself reaches the disk with the directory */
		char *dir = strdup(o->target), *slash = dir ? strrchr(dir, '/') : NULL;
		if (slash)
			*(slash == dir ? slash + 1 : slash) = 0;
		int dfd = dir ? open(slash ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
		if (dfd >= 0) {
			fsync(dfd);
			close(dfd);
		}
		free(dir);
	}
	if (r)
		unlink(o->tmp);
	out_free(o);
	return r;
}

void nys_out_abort(nys_out *o)
{
	if (!o)
		return;
	if (o->direct) {
		/* What a stream was given cannot be taken back: it ends after the
		 * last whole write (a zstd frame flushed but not ended, so that it
		 * reads as cut). */
		nys_err ignored;
		if (!o->failed && !o->finished)
			drain(o, ZSTD_e_flush, &ignored);
		if (!o->is_std && o->fd >= 0)
			close(o->fd);
	} else {
		if (o->fd >= 0)
			close(o->fd);
		unlink(o->tmp);
	}
	out_free(o);
}

/* ---- staging directories ------------------------------------------------- */

/* Remove everything inside the directory open as fd, subdirectories down to
 * depth levels; symbolic links are removed, never followed.  System calls
 * only and no memory from the heap: the signal handler calls it. */
static void rm_inside(int fd, int depth)
{
	union {
		struct dirent64 d;
		char b[4096];
	} u;
	for (bool again = true; again;) {
		again = false;
		if (lseek(fd, 0, SEEK_SET) < 0)
			return;
		ssize_t n;
		while ((n = getdents64(fd, u.b, sizeof u.b)) > 0)
			for (ssize_t off = 0; off < n;) {
				const struct dirent64 *d = (const struct dirent64 *)(u.b + off);
				off += d->d_reclen;
				const char *s = d->d_name;
				if (s[0] == '.' && (!s[1] || (s[1] == '.' && !s[2])))
					continue;
				if (!unlinkat(fd, s, 0)) {
					again = true;
					continue;
				}
				if ((errno != EISDIR && errno != EPERM) || depth <= 0)
					continue;
				int sub = openat(fd, s, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
				if (sub >= 0) {
					rm_inside(sub, depth - 1);
					close(sub);
				}
				if (!unlinkat(fd, s, AT_REMOVEDIR))
					again = true;
			}
	}
}

/* rmdir DIR and its parents, as far as nys_stage_open made them and while
 * they are empty.  Signal-safe as rm_inside. */
static void rmdir_made(const nys_stage *s)
{
	if (!s->made)
		return;
	char *p = s->scratch;
	strcpy(p, s->dir);
	size_t n = strlen(p);
	for (;;) {
		while (n > 1 && p[n - 1] == '/')
			p[--n] = 0;
		if (n < s->made || rmdir(p))
			return;
		while (n && p[n - 1] != '/')
			n--;
		if (!n)
			return;
		p[n] = 0;
	}
}

/* The staging directory and all in it, and the directories made for it. */
static void stage_remove(const nys_stage *s)
{
	if (s->fd >= 0) {
		rm_inside(s->fd, STAGE_DEPTH);
		rmdir(s->path);
	}
	rmdir_made(s);
}

/* Remove DIR/.TAG.tmp.XXXXXX directories that no live process holds locked:
 * those of runs that died (killed, or the machine stopped). */
static int sweep(const char *dir, const char *tag, nys_err *e)
{
	DIR *d = opendir(dir);
	if (!d)
		return nys_err_sys(e, "open directory %s", dir);
	size_t k = strlen(tag);
	struct dirent *de;
	while ((de = readdir(d))) {
		const char *s = de->d_name;
		if (s[0] != '.' || strncmp(s + 1, tag, k) || strncmp(s + 1 + k, ".tmp.", 5) ||
		    strlen(s + 6 + k) != 6)
			continue;
		int fd = openat(dirfd(d), s, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			continue;
		if (!flock(fd, LOCK_EX | LOCK_NB)) {
			rm_inside(fd, STAGE_DEPTH);
			unlinkat(dirfd(d), s, AT_REMOVEDIR);
		}
		close(fd);
	}
	closedir(d);
	return 0;
}

/* Free s, out of the signal handler's table first (when it is in). */
static void stage_free(nys_stage *s)
{
	registry_del(&stage_reg, s->slot);
	if (s->fd >= 0)
		close(s->fd);
	free(s->dir);
	free(s->path);
	free(s->scratch);
	free(s);
}

nys_stage *nys_stage_open(const char *dir, const char *tag, nys_err *e)
{
	nys_stage *s = nys_mem_alloc(sizeof *s, e);
	if (!s)
		return NULL;
	s->fd = s->slot = -1;
	size_t n = strlen(dir), cap = n + strlen(tag) + 16;
	s->dir = strdup(dir);
	s->scratch = malloc(n + 1);
	s->path = malloc(cap);
	if (!s->dir || !s->scratch || !s->path) {
		nys_err_set(e, "out of memory");
		stage_free(s);
		return NULL;
	}
	if (mkdirs(dir, &s->made, e) || sweep(dir, tag, e)) {
		rmdir_made(s);
		stage_free(s);
		return NULL;
	}
	for (int tries = 0;; tries++) {
		snprintf(s->path, cap, "%s%s.%s.tmp.XXXXXX", dir, n && dir[n - 1] == '/' ? "" : "/", tag);
		if (!mkdtemp(s->path)) {
			nys_err_sys(e, "cannot create a directory in %s", dir);
			break;
		}
		s->fd = open(s->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (s->fd < 0) {
			nys_err_sys(e, "open directory %s", s->path);
			rmdir(s->path);
			break;
		}
		/* The lock marks the directory as in use; where locks are not
		 * supported it is just never swept.  A sweep by another run
		 * may take the directory between mkdtemp and flock: then the
		 * name no longer leads to it, and a new one is made. */
		struct stat a, b;
		(void)flock(s->fd, LOCK_EX);
		if (!fstat(s->fd, &a) && !stat(s->path, &b) && a.st_ino == b.st_ino && a.st_dev == b.st_dev) {
			s->slot = registry_add(&stage_reg, s);
			return s;
		}
		close(s->fd);
		s->fd = -1;
		if (tries == 3) {
			nys_err_set(e, "%s: removed as it was made", s->path);
			break;
		}
	}
	rmdir_made(s);
	stage_free(s);
	return NULL;
}

const char *nys_stage_path(const nys_stage *s) { return s->path; }

int nys_stage_install(nys_stage *s, const char *rel, nys_err *e)
{
	nys_buf from = {0}, to = {0};
	int rc = 0;
	if (nys_buf_printf(&from, "%s/%s", s->path, rel) || nys_buf_printf(&to, "%s/%s", s->dir, rel)) {
		rc = nys_err_set(e, "out of memory");
	} else {
		char *slash = strrchr(to.p, '/');
		if (strchr(rel, '/')) {
			*slash = 0;
			rc = mkdirs(to.p, NULL, e);
			*slash = '/';
		}
		if (!rc && rename(from.p, to.p))
			rc = nys_err_sys(e, "rename %s to %s", from.p, to.p);
	}
	nys_buf_free(&from);
	nys_buf_free(&to);
	return rc;
}

int nys_stage_commit(nys_stage *s, nys_err *e)
{
	int rc = 0;
	rm_inside(s->fd, STAGE_DEPTH);
	if (rmdir(s->path))
		rc = nys_err_sys(e, "remove directory %s", s->path);
	stage_free(s);
	return rc;
}

void nys_stage_abort(nys_stage *s)
{
	if (!s)
		return;
	stage_remove(s);
	stage_free(s);
}
