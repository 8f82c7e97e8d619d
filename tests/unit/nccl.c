/* The NCCL loader of kernels/nccl.c (nys_nccl.h), driven by tests/nccl.t
 * one call a process (NCCL is loaded once per process):
 *
 *   nccl load        "version V" (exit 0) or "error: MSG" (exit 1)
 *   nccl id          rank 0's ncclUniqueId: "id: 128 bytes, not all zero"
 *   nccl pick N      nys_nccl_pick_device(N), then "picked" (no GPU: nothing)
 *
 * NYS_NCCL_LIB names the file to load, so the test can point it at a
 * missing file or at a library without NCCL's functions. */
#include "nys_nccl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
	nys_err e = {0};
	if (argc == 2 && !strcmp(argv[1], "load")) {
		int v = 0;
		if (nys_nccl_load(&v, &e))
			return printf("error: %s\n", e.msg), 1;
		return printf("version %d\n", v), 0;
	}
	if (argc == 2 && !strcmp(argv[1], "id")) {
		unsigned char id[NYS_NCCL_ID_BYTES] = {0};
		if (nys_nccl_unique_id(id, &e))
			return printf("error: %s\n", e.msg), 1;
		int any = 0;
		for (size_t i = 0; i < sizeof id; i++)
			any |= id[i];
		return printf("id: %zu bytes, %s\n", sizeof id, any ? "not all zero" : "all zero"), 0;
	}
	if (argc == 3 && !strcmp(argv[1], "pick")) {
		nys_nccl_pick_device((unsigned)strtoul(argv[2], NULL, 10));
		return puts("picked"), 0;
	}
	fprintf(stderr, "usage: nccl load | id | pick N\n");
	return 2;
}
