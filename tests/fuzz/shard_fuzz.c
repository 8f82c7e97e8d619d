/* libFuzzer target for the shard reader (nys-shard(5)): any bytes, plain
 * or zstd, are read sequence by sequence to the end or to an error; every
 * sequence handed out must hold ids of the vocabulary between [CLS] and
 * [SEP], and a shard read to its end must hold as many as its header says. */
#include "fuzz.h"
#include "nys_shard.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *path = fuzz_input_path(data, size);
	nys_err e = {{0}};
	nys_shard_reader *r = nys_shard_open(path, &e);
	if (!r) {
		fuzz_check_msg(e.msg, path);
		return 0;
	}
	const nys_shard_header *h = nys_shard_reader_header(r);
	FUZZ_CHECK(h->seq_len >= NYS_SHARD_MIN_LEN && h->seq_len <= NYS_SHARD_MAX_LEN);
	uint64_t seqs = 0;
	const uint32_t *ids;
	int k;
	while ((k = nys_shard_next(r, &ids, &e)) == 1) {
		FUZZ_CHECK(ids[0] == h->cls_id && ids[h->seq_len - 1] == h->sep_id);
		for (uint32_t i = 0; i < h->seq_len; i++)
			FUZZ_CHECK(ids[i] < h->vocab_size);
		seqs++;
	}
	if (k < 0)
		fuzz_check_msg(e.msg, path);
	else
		FUZZ_CHECK(seqs == h->count);
	FUZZ_CHECK(nys_shard_reader_seqs(r) == seqs);
	nys_shard_close(r);
	return 0;
}
