/* NumPy .npy files, format version 1.0, as numpy.save writes them, so that
 * numpy.load (and anything else that reads .npy) takes what nys writes:
 *
 *   "\x93NUMPY" 1 0, u16 little-endian header length, then the header: a
 *   Python dict literal {'descr': '<f4', 'fortran_order': False,
 *   'shape': (2, 3), } padded with spaces and ended by "\n" so that the
 *   data starts at a multiple of 64 bytes; then the data, C order.
 *
 * The writer streams: the header first (the shape must be known), then the
 * elements in any number of pieces; nothing is kept in memory.
 */
#ifndef NYS_NPY_H
#define NYS_NPY_H

#include "nys.h"

#define NYS_NPY_MAX_DIMS 8

/* The whole preamble (magic, version, length, header) for a little-endian
 * float32 array of that shape into buf (cap bytes; 256 always suffice for
 * NYS_NPY_MAX_DIMS dimensions): its length, a multiple of 64, or 0 when
 * it does not fit or ndim is out of range (1..NYS_NPY_MAX_DIMS). */
size_t nys_npy_f32_header(char *buf, size_t cap, int ndim, const uint64_t *shape);

/* Write that preamble to out. */
int nys_npy_write_f32_header(nys_out *out, int ndim, const uint64_t *shape, nys_err *e);
/* Write n floats to out as little-endian float32 (byte-swapped on a
 * big-endian machine). */
int nys_npy_write_f32(nys_out *out, const float *v, size_t n, nys_err *e);

#endif
