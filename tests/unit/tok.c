/* Token streams: round trips at both widths, concatenated segments, and
 * every kind of damage the reader must name instead of reading short. */
#include "nys_tokstream.h"
#include "nys_hash.h"
#include "tap.h"

#include <stdlib.h>
#include <unistd.h>

static char dir[128];


/* Documents i = 0..ndocs-1 of length i % 7, ids (i * 31 + j * 7) % vocab. */
static int write_stream(const char *path, uint32_t vocab, uint64_t fp, int ndocs)
{
	nys_err e;
	nys_tok_writer *w = nys_tok_writer_open(path, vocab, fp, &e);
	if (!w)
		return -1;
	uint32_t ids[16];
	for (int i = 0; i < ndocs; i++) {
		size_t n = (size_t)(i % 7);
		for (size_t j = 0; j < n; j++)
			ids[j] = (uint32_t)((i * 31 + (int)j * 7 + (vocab > 70000 ? 70000 : 0)) % (int)vocab);
		if (nys_tok_writer_doc(w, ids, n, &e)) {
			nys_tok_writer_abort(w);
			return -1;
		}
	}
	return nys_tok_writer_commit(w, &e);
}

/* Read all; 0 if every document is as written (for `copies` segments). */
static int read_check(const char *path, uint32_t vocab, int ndocs, int copies, nys_err *e)
{
	nys_tok_reader *r = nys_tok_reader_open(path, e);
	if (!r)
		return -1;
	const uint32_t *ids;
	size_t n;
	int k, i = 0, bad = 0;
	while ((k = nys_tok_reader_next(r, &ids, &n, e)) == 1) {
		int d = i % ndocs;
		bad |= n != (size_t)(d % 7);
		for (size_t j = 0; j < n && !bad; j++)
			bad |= ids[j] != (uint32_t)((d * 31 + (int)j * 7 + (vocab > 70000 ? 70000 : 0)) % (int)vocab);
		i++;
	}
	bad |= nys_tok_reader_segments(r) != (uint64_t)copies;
	nys_tok_reader_close(r);
	if (k < 0)
		return -1;
	return bad || i != ndocs * copies ? -2 : 0;
}


int main(void)
{
	if (!tap_scratch(dir, sizeof dir, "tok")) {
		puts("1..0 # SKIP no temporary directory");
		return 0;
	}
	nys_err e;
	/* the hash does not depend on how the bytes arrive */
	unsigned char data[1000];
	for (int i = 0; i < 1000; i++)
		data[i] = (unsigned char)(i * 7 + 3);
	nys_hash h;
	nys_hash_init(&h, 0);
	for (int i = 0; i < 1000; i += 13)
		nys_hash_update(&h, data + i, i + 13 > 1000 ? (size_t)(1000 - i) : 13);
	tap_ok(nys_hash_final(&h) == nys_hash64(data, 1000, 0), "hash: chunking makes no difference");
	tap_ok(nys_hash64(data, 999, 0) != nys_hash64(data, 1000, 0), "hash: length matters");
	data[500] ^= 1;
	tap_ok(nys_hash_final(&h) != nys_hash64(data, 1000, 0), "hash: one flipped bit changes it");
	tap_ok(nys_tok_width(65536) == 2 && nys_tok_width(65537) == 4, "16-bit ids up to 65536 pieces");

	tap_ok(write_stream(tap_path(dir, "a.tok"), 30000, 42, 100) == 0, "write a 16-bit stream");
	tap_ok(read_check(tap_path(dir, "a.tok"), 30000, 100, 1, &e) == 0, "16-bit stream reads back exactly");
	tap_ok(write_stream(tap_path(dir, "b.tok"), 100000, 42, 100) == 0, "write a 32-bit stream");
	tap_ok(read_check(tap_path(dir, "b.tok"), 100000, 100, 1, &e) == 0, "32-bit stream reads back exactly");
	tap_sh(dir, "cat @/a.tok @/a.tok @/a.tok > @/aaa.tok");
	tap_ok(read_check(tap_path(dir, "aaa.tok"), 30000, 100, 3, &e) == 0, "concatenated streams: three segments");
	tap_ok(write_stream(tap_path(dir, "empty.tok"), 500, 1, 0) == 0 &&
	       read_check(tap_path(dir, "empty.tok"), 500, 1, 1, &e) == -2, "a stream of no documents reads as none");

	nys_tok_writer *w = nys_tok_writer_open(tap_path(dir, "bad.tok"), 100, 0, &e);
	uint32_t big = 100;
	tap_ok(nys_tok_writer_doc(w, &big, 1, &e) == -1 && strstr(e.msg, "outside"), "writer refuses an id outside the vocabulary");
	nys_tok_writer_abort(w);
	tap_ok(access(tap_path(dir, "bad.tok"), F_OK) != 0, "an aborted stream leaves no file");

	write_stream(tap_path(dir, "c.tok"), 30000, 43, 10);
	tap_sh(dir, "cat @/a.tok @/c.tok > @/mixed.tok");
	tap_ok(read_check(tap_path(dir, "mixed.tok"), 30000, 100, 2, &e) == -1 && strstr(e.msg, "another model"), "segments of two models: error");

	/* damage: decompress, change, recompress */
	tap_sh(dir, "zstd -q -d -c @/a.tok > @/a.raw");
	tap_sh(dir, "head -c 300 @/a.raw | zstd -q -c > @/cut.tok");
	tap_ok(read_check(tap_path(dir, "cut.tok"), 30000, 100, 1, &e) == -1 && strstr(e.msg, "truncated at byte"), "truncated stream: error with the offset");
	printf("# %s\n", e.msg);
	tap_sh(dir, "python3 -c \"import sys; b = bytearray(open(sys.argv[1], 'rb').read()); b[40] ^= 1; open(sys.argv[2], 'wb').write(b)\" @/a.raw @/flip.raw");
	tap_sh(dir, "zstd -q -c @/flip.raw > @/flip.tok");
	tap_ok(read_check(tap_path(dir, "flip.tok"), 30000, 100, 1, &e) == -1 &&
	       (strstr(e.msg, "checksum mismatch") || strstr(e.msg, "damaged")), "flipped bit: checksum mismatch");
	printf("# %s\n", e.msg);
	tap_sh(dir, "head -c 12 @/a.raw | zstd -q -c > @/hdr.tok");
	tap_ok(nys_tok_reader_open(tap_path(dir, "hdr.tok"), &e) == NULL && strstr(e.msg, "truncated"), "cut header: error");
	tap_sh(dir, "printf 'NOTATOKENSTREAM.................' > @/junk.tok");
	tap_ok(nys_tok_reader_open(tap_path(dir, "junk.tok"), &e) == NULL && strstr(e.msg, "not a token stream"), "wrong magic: error");
	tap_sh(dir, ": > @/zero.tok");
	tap_ok(nys_tok_reader_open(tap_path(dir, "zero.tok"), &e) == NULL && strstr(e.msg, "empty"), "empty file: error");
	tap_sh(dir, "head -c 20 @/a.tok > @/zcut.tok");
	tap_ok(read_check(tap_path(dir, "zcut.tok"), 30000, 100, 1, &e) == -1, "cut zstd frame: error");

	tap_sh(dir, "rm -rf @");
	return tap_done();
}
