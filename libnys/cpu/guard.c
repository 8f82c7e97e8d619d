/* The guarded CPU backend, "cpu-guarded": the CPU backend with every buffer
 * it hands out inaccessible outside the backend's own calls.  It exists to
 * prove the backend seam: code outside a backend may touch backend memory
 * only through nys_backend_set and nys_backend_get, and where it reads or
 * writes that memory directly (as it could on the CPU, where backend
 * pointers are host pointers) it faults here, the way it would read garbage
 * or crash on a device.
 *
 * Each buffer is a page-aligned anonymous mapping of its own, kept
 * PROT_NONE.  Every call into the backend (an op, set, get, zero) makes all
 * the live buffers readable and writable, runs the CPU backend's function,
 * and takes the access away again; the wrappers are generated from the one
 * op list, backend_ops.def.  The CPU backend instance inside does the work,
 * so the results are the CPU backend's to the bit (its ops do not depend on
 * where a buffer starts beyond the 64-byte alignment both give).
 *
 * Slow by design (an mprotect per buffer per call): for tests only, chosen
 * by the device NYS_DEVICE_CPU_GUARDED ("cpu-guarded").  Under
 * AddressSanitizer these mappings are the program's own, which ASan lets
 * be (it neither owns nor poisons them).
 */
#include "nys_cpu.h"
#include "nys_cpu.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

typedef struct guard_map {
	void *p;
	size_t len; /* bytes mapped, a multiple of the page size */
} guard_map;

typedef struct guard_ctx {
	nys_backend *cpu; /* the CPU backend that runs everything */
	guard_map *map;   /* the live buffers */
	size_t n, cap;
	size_t page;
} guard_ctx;

static nys_backend *guard_inner(nys_backend *be)
{
	return ((guard_ctx *)be->ctx)->cpu;
}

/* Give every live buffer the protection prot; -1 (recorded in be) when the
 * kernel refuses. */
static int guard_protect(nys_backend *be, int prot)
{
	guard_ctx *g = be->ctx;
	for (size_t i = 0; i < g->n; i++)
		if (mprotect(g->map[i].p, g->map[i].len, prot))
			return nys_backend_fail(be, "cpu-guarded: mprotect: %s", strerror(errno));
	return 0;
}

static int guard_open(nys_backend *be)
{
	return guard_protect(be, PROT_READ | PROT_WRITE);
}

/* Close the buffers after a call that returned r; a failure the CPU
 * backend recorded moves into be, where nys_backend_sync reports it. */
static int guard_close(nys_backend *be, int r)
{
	nys_backend *cpu = guard_inner(be);
	if (cpu->failed) {
		nys_backend_fail(be, "%s", cpu->err.msg);
		cpu->failed = false;
		r = -1;
	}
	if (guard_protect(be, PROT_NONE))
		r = -1;
	return r;
}

/* ---- memory and control --------------------------------------------------- */

static void *guard_alloc(nys_backend *be, size_t bytes)
{
	guard_ctx *g = be->ctx;
	if (g->n == g->cap) {
		size_t cap = g->cap ? 2 * g->cap : 16;
		guard_map *m = realloc(g->map, cap * sizeof *m);
		if (!m)
			return NULL;
		g->map = m;
		g->cap = cap;
	}
	size_t len = (bytes + g->page - 1) / g->page * g->page;
	if (!len)
		len = g->page;
	void *p = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	g->map[g->n++] = (guard_map){p, len};
	return p;
}

static void guard_release(nys_backend *be, void *p)
{
	guard_ctx *g = be->ctx;
	for (size_t i = 0; i < g->n; i++)
		if (g->map[i].p == p) {
			munmap(p, g->map[i].len);
			g->map[i] = g->map[--g->n];
			return;
		}
}

static int guard_zero(nys_backend *be, void *p, size_t bytes)
{
	if (guard_open(be))
		return -1;
	nys_backend *cpu = guard_inner(be);
	return guard_close(be, cpu->ops->zero(cpu, p, bytes));
}

static int guard_set(nys_backend *be, void *dst, const void *host, size_t bytes)
{
	if (guard_open(be))
		return -1;
	nys_backend *cpu = guard_inner(be);
	return guard_close(be, cpu->ops->set(cpu, dst, host, bytes));
}

static int guard_get(nys_backend *be, void *host, const void *src, size_t bytes)
{
	if (guard_open(be))
		return -1;
	nys_backend *cpu = guard_inner(be);
	return guard_close(be, cpu->ops->get(cpu, host, src, bytes));
}

static void guard_begin(nys_backend *be)
{
	nys_backend *cpu = guard_inner(be);
	cpu->ops->begin(cpu);
}

/* The buffers are closed already: only a failure the CPU backend
 * recorded moves into be. */
static int guard_sync(nys_backend *be)
{
	nys_backend *cpu = guard_inner(be);
	int r = cpu->ops->sync(cpu);
	if (cpu->failed) {
		nys_backend_fail(be, "%s", cpu->err.msg);
		cpu->failed = false;
	}
	return r || be->failed ? -1 : 0;
}

static void guard_destroy(nys_backend *be)
{
	guard_ctx *g = be->ctx;
	for (size_t i = 0; i < g->n; i++)
		munmap(g->map[i].p, g->map[i].len);
	nys_backend_free(g->cpu);
	free(g->map);
	free(g);
	free(be);
}

/* ---- the ops: open, run the CPU op, close --------------------------------- */

#define NYS_R void
#define NYS_REAL double
#define NYS_OP(name, params, args)                                                          \
	static int guard_##name(nys_backend *be, NYS_EXPAND params)                            \
	{                                                                                       \
		if (guard_open(be))                                                                 \
			return -1;                                                                      \
		return guard_close(be, guard_inner(be)->ops->name(guard_inner(be), NYS_EXPAND args)); \
	}
#include "backend_ops.def"
#undef NYS_OP

static const nys_backend_ops guard_ops = {
	.destroy = guard_destroy,
	.alloc = guard_alloc,
	.release = guard_release,
	.zero = guard_zero,
	.set = guard_set,
	.get = guard_get,
	.begin = guard_begin,
	.sync = guard_sync,
#define NYS_OP(name, params, args) .name = guard_##name,
#include "backend_ops.def"
#undef NYS_OP
};
#undef NYS_R
#undef NYS_REAL

nys_backend *nys_backend_guard_new(nys_dtype dtype, nys_err *e)
{
	nys_backend *cpu = nys_backend_cpu_new(dtype, e);
	if (!cpu)
		return NULL;
	nys_backend *be = calloc(1, sizeof *be);
	guard_ctx *g = calloc(1, sizeof *g);
	long page = sysconf(_SC_PAGESIZE);
	if (!be || !g || page <= 0) {
		free(be);
		free(g);
		nys_backend_free(cpu);
		nys_err_set(e, "cpu-guarded: out of memory");
		return NULL;
	}
	g->cpu = cpu;
	g->page = (size_t)page;
	*be = *cpu;
	be->ops = &guard_ops;
	be->ctx = g;
	be->name = "cpu-guarded";
	be->device = NYS_DEVICE_CPU_GUARDED;
	be->failed = false;
	return be;
}
