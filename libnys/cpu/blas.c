/* Picking OpenBLAS's kernels on CPUs it does not know.
 *
 * Debian's OpenBLAS chooses its kernels once, when it is loaded, from the
 * CPU's model number.  On models newer than the library (virtual CPUs
 * often report one), it falls back to "Prescott", the SSE3 kernels, which
 * run sgemm 5 to 8 times slower than the AVX-512 ones the CPU supports.
 * The choice can only be changed through OPENBLAS_CORETYPE before the
 * library loads, so a program that finds itself on the fallback sets it
 * from the CPU's features and executes itself again, once.
 */
#include "nys_blas.h"

#include <cblas.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

void nys_blas_tune(char **argv)
{
	if (getenv("OPENBLAS_CORETYPE") || getenv("NYS_BLAS_TUNED"))
		return;
	const char *core = openblas_get_corename();
	if (!core || strcasecmp(core, "prescott"))
		return;
	const char *want = NULL;
	__builtin_cpu_init();
	if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
	    __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq"))
		want = "SkylakeX";
	else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
		want = "Haswell";
	if (!want)
		return;
	if (setenv("OPENBLAS_CORETYPE", want, 1) || setenv("NYS_BLAS_TUNED", "1", 1))
		return;
	execv("/proc/self/exe", argv);
	/* could not: go on with the kernels we have */
	unsetenv("OPENBLAS_CORETYPE");
}
