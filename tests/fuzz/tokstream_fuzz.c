/* libFuzzer target for the token stream reader (nys-tokens(5)): any bytes,
 * plain or zstd, are read document by document to the end or to an error;
 * every id handed out must be inside the vocabulary and the counts must
 * add up. */
#include "fuzz.h"
#include "nys_tokstream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *path = fuzz_input_path(data, size);
	nys_err e = {{0}};
	nys_tok_reader *r = nys_tok_reader_open(path, &e);
	if (!r) {
		fuzz_check_msg(e.msg, path);
		return 0;
	}
	const nys_tok_header *h = nys_tok_reader_header(r);
	FUZZ_CHECK(h->width == 2 || h->width == 4);
	FUZZ_CHECK(h->vocab_size > 0 && h->width >= nys_tok_width(h->vocab_size));
	uint64_t docs = 0, tokens = 0;
	const uint32_t *ids;
	size_t n;
	int k;
	while ((k = nys_tok_reader_next(r, &ids, &n, &e)) == 1) {
		for (size_t i = 0; i < n; i++)
			FUZZ_CHECK(ids[i] < h->vocab_size);
		docs++;
		tokens += n;
	}
	if (k < 0)
		fuzz_check_msg(e.msg, path);
	else
		FUZZ_CHECK(nys_tok_reader_segments(r) >= 1);
	FUZZ_CHECK(nys_tok_reader_docs(r) == docs && nys_tok_reader_tokens(r) == tokens);
	nys_tok_reader_close(r);
	return 0;
}
