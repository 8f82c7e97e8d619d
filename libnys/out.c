/* Checked output: temporary name, every write checked, rename when whole.
 * Temporary names are also kept in a small table that a signal handler can
 * walk, so an interrupted run leaves no half file behind. */
#include "nys.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#define OUT_BUF (256 * 1024)
#define MAX_PENDING 64

struct nys_out {
	int fd;
	bool is_std, sync;
	int slot;               /* index in the pending table, -1 if none */
	char *path, *tmp;
	char *buf;
	size_t n;
	uint64_t bytes;
	ZSTD_CStream *zc;
	char *zbuf;
	size_t zcap;
};

static char *pending[MAX_PENDING];
static volatile sig_atomic_t pending_used[MAX_PENDING];
static pthread_mutex_t pending_lock = PTHREAD_MUTEX_INITIALIZER;

static int pending_add(char *tmp)
{
	pthread_mutex_lock(&pending_lock);
	int slot = -1;
	for (int i = 0; i < MAX_PENDING; i++)
		if (!pending_used[i]) {
			pending[i] = tmp;
			pending_used[i] = 1;
			slot = i;
			break;
		}
	pthread_mutex_unlock(&pending_lock);
	return slot;
}

static void pending_del(int slot)
{
	if (slot < 0)
		return;
	pthread_mutex_lock(&pending_lock);
	pending_used[slot] = 0;
	pending[slot] = NULL;
	pthread_mutex_unlock(&pending_lock);
}

static void on_signal(int sig)
{
	for (int i = 0; i < MAX_PENDING; i++)
		if (pending_used[i] && pending[i])
			unlink(pending[i]);
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
		sigemptyset(&sa.sa_mask);
		sigaction(sigs[i], &sa, NULL);
	}
}

int nys_mkdirs(const char *path, nys_err *e)
{
	char *p = strdup(path);
	if (!p)
		return nys_err_set(e, "out of memory");
	for (char *s = p + 1;; s++) {
		if (*s != '/' && *s)
			continue;
		char c = *s;
		*s = 0;
		if (mkdir(p, 0777) && errno != EEXIST) {
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

static void out_free(nys_out *o)
{
	if (o->zc)
		ZSTD_freeCStream(o->zc);
	free(o->zbuf);
	free(o->buf);
	free(o->path);
	free(o->tmp);
	free(o);
}

nys_out *nys_out_open(const char *path, int flags, nys_err *e)
{
	nys_out *o = calloc(1, sizeof *o);
	if (!o) {
		nys_err_set(e, "out of memory");
		return NULL;
	}
	o->slot = -1;
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
		if ((flags & (NYS_OUT_ZSTD | NYS_OUT_BINARY)) && isatty(1)) {
			nys_err_set(e, "refusing to write binary data to a terminal (use -o FILE or a pipe)");
			out_free(o);
			return NULL;
		}
		return o;
	}
	size_t n = strlen(path);
	o->tmp = malloc(n + 16);
	if (!o->tmp) {
		nys_err_set(e, "out of memory");
		out_free(o);
		return NULL;
	}
	snprintf(o->tmp, n + 16, "%s.tmp.XXXXXX", path);
	o->fd = mkostemp(o->tmp, O_CLOEXEC);
	if (o->fd < 0) {
		nys_err_sys(e, "create %s", o->tmp);
		out_free(o);
		return NULL;
	}
	mode_t um = umask(0);
	umask(um);
	fchmod(o->fd, 0666 & ~um);
	o->slot = pending_add(o->tmp);
	return o;
}

static int write_all(nys_out *o, const char *p, size_t n, nys_err *e)
{
	while (n) {
		ssize_t k = write(o->fd, p, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return nys_err_sys(e, "write %s", o->is_std ? "(stdout)" : o->path);
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

/* Push the staging buffer to the file, through zstd if on; `end` finishes
 * the zstd frame. */
static int drain(nys_out *o, bool end, nys_err *e)
{
	if (!o->zc) {
		int r = write_all(o, o->buf, o->n, e);
		o->n = 0;
		return r;
	}
	ZSTD_inBuffer ib = {o->buf, o->n, 0};
	for (;;) {
		ZSTD_outBuffer ob = {o->zbuf, o->zcap, 0};
		size_t r = ZSTD_compressStream2(o->zc, &ob, &ib, end ? ZSTD_e_end : ZSTD_e_continue);
		if (ZSTD_isError(r))
			return nys_err_set(e, "%s: zstd: %s", o->path, ZSTD_getErrorName(r));
		if (write_all(o, o->zbuf, ob.pos, e))
			return -1;
		if (end ? r == 0 : ib.pos == ib.size)
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
		if (o->n == OUT_BUF && drain(o, false, e))
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

int nys_out_commit(nys_out *o, nys_err *e)
{
	int r = drain(o, o->zc != NULL, e);
	if (o->is_std) {
		out_free(o);
		return r;
	}
	if (!r && o->sync && fsync(o->fd))
		r = nys_err_sys(e, "fsync %s", o->path);
	if (close(o->fd) && !r)
		r = nys_err_sys(e, "close %s", o->path);
	if (!r && rename(o->tmp, o->path))
		r = nys_err_sys(e, "rename %s to %s", o->tmp, o->path);
	if (!r && o->sync) {
		/* the rename itself reaches the disk with the directory */
		char *dir = strdup(o->path), *slash = dir ? strrchr(dir, '/') : NULL;
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
	pending_del(o->slot);
	out_free(o);
	return r;
}

void nys_out_abort(nys_out *o)
{
	if (!o)
		return;
	if (!o->is_std) {
		close(o->fd);
		unlink(o->tmp);
		pending_del(o->slot);
	}
	out_free(o);
}
