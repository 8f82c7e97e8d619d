/* OpenBLAS, which the CPU backend's products run on: making sure it runs
 * the kernels the CPU has (blas.c). */
#ifndef NYS_BLAS_H
#define NYS_BLAS_H

/* Programs that run the model call this first, with main's argv: where
 * OpenBLAS did not recognise the CPU and fell back to its SSE3 kernels,
 * it sets OPENBLAS_CORETYPE from the CPU's features (SkylakeX with
 * AVX-512, Haswell with AVX2) and executes the program again, once;
 * otherwise, or when OPENBLAS_CORETYPE is set already, it returns. */
void nys_blas_tune(char **argv);

#endif
