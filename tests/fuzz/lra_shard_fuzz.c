/* libFuzzer target for the LRA shard reader (nys-lra(5)): any bytes, plain
 * or zstd, read as a one-shard set; a set that opens must hold records
 * whose labels, lengths and ids its header allows, and as many as it says. */
#include "fuzz.h"
#include "nys_lra_data.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *path = fuzz_input_path(data, size);
	nys_err e = {{0}};
	nys_lra_set *s = nys_lra_set_open_files(&path, 1, &e);
	if (!s) {
		fuzz_check_msg(e.msg, path);
		return 0;
	}
	const nys_lra_header *h = nys_lra_set_header(s);
	FUZZ_CHECK(nys_lra_set_count(s) == h->count);
	int32_t *ids = malloc((size_t)h->max_len * sizeof *ids);
	uint64_t total = 0;
	for (uint64_t i = 0; ids && i < h->count; i++) {
		FUZZ_CHECK(nys_lra_set_label(s, i) < h->classes);
		for (unsigned d = 0; d < h->docs; d++) {
			uint32_t n = nys_lra_set_ids(s, i, d, ids);
			FUZZ_CHECK(n >= 1 && n <= h->max_len && n == nys_lra_set_len(s, i, d));
			for (uint32_t j = 0; j < n; j++)
				FUZZ_CHECK(ids[j] >= 0 && (uint32_t)ids[j] < h->vocab_size);
			total += n;
		}
	}
	FUZZ_CHECK(!ids || total == h->ids);
	free(ids);
	nys_lra_set_close(s);
	return 0;
}
