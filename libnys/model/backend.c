/* The backends' registry and their shared error path (nys_backend.h): which
 * device makes which backend, and how a failure recorded in an instance
 * reaches the caller's nys_err. */
#include "nys_backend.h"
#include "nys_cpu.h"

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
		else
			return nys_err_set(e, "NYS_DEVICE=%s: expected cpu or cpu-guarded", env), NULL;
	}
	switch (device) {
	case NYS_DEVICE_AUTO:
	case NYS_DEVICE_CPU:
		return nys_backend_cpu_new(dtype, e);
	case NYS_DEVICE_CPU_GUARDED:
		return nys_backend_guard_new(dtype, e);
	case NYS_DEVICE_CUDA:
		break;
	}
	nys_err_set(e, "cuda: this build has no CUDA backend");
	return NULL;
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
