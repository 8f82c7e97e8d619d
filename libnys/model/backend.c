/* The backends' registry and their shared error path (nys_backend.h): which
 * device makes which backend, and how a failure recorded in an instance
 * reaches the caller's nys_err.  NYS_DEVICE_AUTO takes the GPU when there
 * is a usable one (and the precision is float32, the CUDA backend's),
 * saying so on stderr once per process, else the CPU. */
#include "nys_backend.h"
#include "nys_cpu.h"
#include "nys_cuda.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

nys_backend *nys_backend_new(nys_device device, nys_dtype dtype, nys_err *e)
{
	const char *env = getenv("NYS_DEVICE");
	if (device == NYS_DEVICE_AUTO && env && *env) {
		if (!strcmp(env, "cpu"))
			device = NYS_DEVICE_CPU;
		else if (!strcmp(env, "cpu-guarded"))
			device = NYS_DEVICE_CPU_GUARDED;
		else if (!strcmp(env, "cuda"))
			device = NYS_DEVICE_CUDA;
		else
			return nys_err_set(e, "NYS_DEVICE=%s: expected cpu or cpu-guarded (or cuda)", env),
			       NULL;
	}
	switch (device) {
	case NYS_DEVICE_AUTO:
		if (dtype == NYS_F32 && nys_cuda_available()) {
			nys_backend *be = nys_backend_cuda_new(dtype, e);
			static bool said;
			if (be && !said) {
				nys_warnx("using cuda: %s", nys_cuda_device_name(be));
				said = true;
			}
			return be;
		}
		return nys_backend_cpu_new(dtype, e);
	case NYS_DEVICE_CPU:
		return nys_backend_cpu_new(dtype, e);
	case NYS_DEVICE_CPU_GUARDED:
		return nys_backend_guard_new(dtype, e);
	case NYS_DEVICE_CUDA:
		return nys_backend_cuda_new(dtype, e);
	}
	return nys_err_set(e, "unknown device %d", (int)device), NULL;
}

void nys_backend_free(nys_backend *be)
{
	if (be)
		be->ops->destroy(be);
}

int nys_backend_fail(nys_backend *be, const char *fmt, ...)
{
	if (!be->failed) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(be->err.msg, sizeof be->err.msg, fmt, ap);
		va_end(ap);
		be->failed = true;
	}
	return -1;
}

int nys_backend_sync(nys_backend *be, nys_err *e)
{
	int rc = be->ops->sync(be);
	if (be->failed) {
		*e = be->err;
		be->failed = false;
		return -1;
	}
	return rc;
}
