/* .npy output (nys_npy.h). */
#include "nys_npy.h"

#include <string.h>

size_t nys_npy_f32_header(char *buf, size_t cap, int ndim, const uint64_t *shape)
{
	if (ndim < 1 || ndim > NYS_NPY_MAX_DIMS || cap < 10)
		return 0;
	/* The dict as numpy writes it: a 1-tuple keeps its comma, "(5,)". */
	char dict[256];
	size_t n = (size_t)snprintf(dict, sizeof dict,
	                            "{'descr': '<f4', 'fortran_order': False, 'shape': (");
	for (int d = 0; d < ndim; d++)
		n += (size_t)snprintf(dict + n, sizeof dict - n, "%s%llu", d ? ", " : "",
		                      (unsigned long long)shape[d]);
	n += (size_t)snprintf(dict + n, sizeof dict - n, "%s), }", ndim == 1 ? "," : "");
	if (n >= sizeof dict)
		return 0;
	/* 10 bytes of preamble, the dict, spaces, "\n": a multiple of 64. */
	size_t total = (10 + n + 1 + 63) / 64 * 64;
	if (total > cap || total - 10 > 65535)
		return 0;
	size_t hlen = total - 10;
	memcpy(buf, "\x93NUMPY\x01\x00", 8);
	buf[8] = (char)(hlen & 0xFF);
	buf[9] = (char)(hlen >> 8);
	memcpy(buf + 10, dict, n);
	memset(buf + 10 + n, ' ', total - 10 - n - 1);
	buf[total - 1] = '\n';
	return total;
}

int nys_npy_write_f32_header(nys_out *out, int ndim, const uint64_t *shape, nys_err *e)
{
	char h[256];
	size_t n = nys_npy_f32_header(h, sizeof h, ndim, shape);
	if (!n)
		return nys_err_set(e, "%s: cannot describe a %d-dimensional array in a .npy header",
		                   nys_out_name(out), ndim);
	return nys_out_write(out, h, n, e);
}

int nys_npy_write_f32(nys_out *out, const float *v, size_t n, nys_err *e)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	return nys_out_write(out, v, n * sizeof *v, e);
#else
	/* Swap through a small buffer: the data may be large. */
	unsigned char buf[4096];
	while (n) {
		size_t k = n < sizeof buf / 4 ? n : sizeof buf / 4;
		for (size_t i = 0; i < k; i++) {
			uint32_t u;
			memcpy(&u, v + i, 4);
			buf[4 * i] = (unsigned char)u;
			buf[4 * i + 1] = (unsigned char)(u >> 8);
			buf[4 * i + 2] = (unsigned char)(u >> 16);
			buf[4 * i + 3] = (unsigned char)(u >> 24);
		}
		if (nys_out_write(out, buf, 4 * k, e))
			return -1;
		v += k;
		n -= k;
	}
	return 0;
#endif
}
