/* libFuzzer target for the safetensors loader (libnys/model/safetensors.c): any
 * bytes, plain or compressed, as a checkpoint.  A file that loads must
 * hand out every tensor it lists, with its own dtype and shape, as data
 * inside the file (hashed below, so ASan sees every byte read), and
 * the sizes of all the tensors must fit in memory's size type. */
#include "fuzz.h"
#include "nys_safetensors.h"
#include "nys_hash.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *path = fuzz_input_path(data, size);
	nys_err e = {{0}};
	nys_st *st = nys_st_load(path, &e);
	if (!st) {
		fuzz_check_msg(e.msg, path);
		return 0;
	}
	uint64_t total = 0;
	for (size_t i = 0; i < nys_st_count(st); i++) {
		const char *name = nys_st_name(st, i);
		FUZZ_CHECK(strcmp(name, "__metadata__") != 0);
		FUZZ_CHECK(nys_st_has(st, name));
		int dt = nys_st_dtype(st, name);
		FUZZ_CHECK(dt >= 0);
		int64_t shape[NYS_ST_MAX_DIMS];
		int nd = nys_st_shape(st, name, shape);
		FUZZ_CHECK(nd >= 0 && nd <= NYS_ST_MAX_DIMS);
		uint64_t bytes = nys_dtype_size((nys_dtype)dt);
		for (int d = 0; d < nd; d++) {
			FUZZ_CHECK(shape[d] >= 0);
			FUZZ_CHECK(!__builtin_mul_overflow(bytes, (uint64_t)shape[d], &bytes));
		}
		FUZZ_CHECK(!__builtin_add_overflow(total, bytes, &total));
		const unsigned char *p = nys_st_get(st, name, (nys_dtype)dt, nd, shape, &e);
		if (!p) {
			fprintf(stderr, "a listed tensor is not handed out: %s\n", e.msg);
			abort();
		}
		nys_hash64(p, (size_t)bytes, 0); /* reads every byte */
	}
	(void)nys_st_meta(st, "nys_checksum");
	nys_st_free(st);
	return 0;
}
