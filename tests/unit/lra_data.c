/* LRA labelled-record shards (nys-lra(5)): round trips of one- and
 * two-document records at both id widths, sets over several shards, the
 * writer's refusals, every kind of damage a reader must name with its
 * place, the ListOps tokeniser and the greyscale weights. */
#include "nys_lra_data.h"
#include "nys_lra_read.h"
#include "tap.h"

#include <stdlib.h>
#include <string.h>

static char dir[128];

/* Record i: label i % classes, document d of length 1 + (i * 7 + d * 3) %
 * max_len, id j = (i * 31 + j * 17 + d) % vocab. */
static uint32_t rec_len(uint64_t i, unsigned d, uint32_t max)
{
	return 1 + (uint32_t)((i * 7 + d * 3) % max);
}

static int32_t rec_id(uint64_t i, unsigned d, uint32_t j, uint32_t vocab)
{
	return (int32_t)((i * 31 + j * 17 + d) % vocab);
}

static nys_lra_header kind(uint32_t docs, uint32_t vocab_size, uint32_t max_len)
{
	return (nys_lra_header){.version = 1, .task = docs == 2 ? NYS_LRA_RETRIEVAL : NYS_LRA_TEXT,
	                        .vocab = NYS_LRA_VOCAB_BYTES, .docs = docs, .max_len = max_len,
	                        .vocab_size = vocab_size, .classes = 3};
}

static int write_shard(const char *path, const nys_lra_header *h, uint64_t from, uint64_t n)
{
	nys_err e;
	nys_lra_writer *w = nys_lra_writer_open(path, h, &e);
	if (!w)
		return -1;
	int32_t a[64], b[64];
	for (uint64_t i = from; i < from + n; i++) {
		uint32_t n0 = rec_len(i, 0, h->max_len), n1 = rec_len(i, 1, h->max_len);
		for (uint32_t j = 0; j < n0; j++)
			a[j] = rec_id(i, 0, j, h->vocab_size);
		for (uint32_t j = 0; j < n1; j++)
			b[j] = rec_id(i, 1, j, h->vocab_size);
		if (nys_lra_writer_add(w, (uint32_t)(i % 3), a, n0, h->docs == 2 ? b : NULL,
		                       h->docs == 2 ? n1 : 0, &e)) {
			printf("# %s\n", e.msg);
			nys_lra_writer_abort(w);
			return -1;
		}
	}
	if (nys_lra_writer_close(w, &e)) {
		printf("# %s\n", e.msg);
		return -1;
	}
	return 0;
}

/* 0 if the set holds records from .. from+n-1 as written. */
static int check_set(const nys_lra_set *s, const nys_lra_header *h, uint64_t from, uint64_t n)
{
	int32_t ids[64];
	if (nys_lra_set_count(s) != n)
		return -1;
	for (uint64_t k = 0; k < n; k++) {
		uint64_t i = from + k;
		if (nys_lra_set_label(s, k) != i % 3)
			return -1;
		for (unsigned d = 0; d < h->docs; d++) {
			uint32_t len = nys_lra_set_ids(s, k, d, ids);
			if (len != rec_len(i, d, h->max_len) || nys_lra_set_len(s, k, d) != len)
				return -1;
			for (uint32_t j = 0; j < len; j++)
				if (ids[j] != rec_id(i, d, j, h->vocab_size))
					return -1;
		}
	}
	return 0;
}

static void test_round_trip(void)
{
	static const uint32_t vocabs[] = {257, 300};
	for (unsigned docs = 1; docs <= 2; docs++)
		for (unsigned v = 0; v < 2; v++) {
			nys_lra_header h = kind(docs, vocabs[v], 40);
			char name[64];
			snprintf(name, sizeof name, "rt-%u-%u-a.lra", docs, vocabs[v]);
			const char *pa = tap_path(dir, name);
			char pa_copy[512];
			snprintf(pa_copy, sizeof pa_copy, "%s", pa);
			snprintf(name, sizeof name, "rt-%u-%u-b.lra", docs, vocabs[v]);
			const char *pb = tap_path(dir, name);
			char msg[128];
			snprintf(msg, sizeof msg, "%u document(s), vocabulary %u: written", docs, vocabs[v]);
			tap_ok(!write_shard(pa_copy, &h, 0, 50) && !write_shard(pb, &h, 50, 7), msg);
			nys_err e;
			const char *paths[] = {pa_copy, pb};
			nys_lra_set *s = nys_lra_set_open_files(paths, 2, &e);
			snprintf(msg, sizeof msg, "%u document(s), vocabulary %u: two shards read back "
			         "as one set, every label, length and id", docs, vocabs[v]);
			tap_ok(s && !check_set(s, &h, 0, 57), msg);
			if (!s)
				printf("# %s\n", e.msg);
			const nys_lra_header *g = s ? nys_lra_set_header(s) : NULL;
			snprintf(msg, sizeof msg, "%u document(s), vocabulary %u: the set's header "
			         "(kind, width, totals)", docs, vocabs[v]);
			uint64_t ids = 0;
			for (uint64_t i = 0; i < 57; i++)
				for (unsigned d = 0; d < docs; d++)
					ids += rec_len(i, d, 40);
			tap_ok(g && g->docs == docs && g->vocab_size == vocabs[v] && g->max_len == 40 &&
			       g->classes == 3 && g->count == 57 && g->ids == ids &&
			       g->width == (vocabs[v] <= 256 ? 1u : 2u), msg);
			nys_lra_set_close(s);
		}
}

static void test_writer_refuses(void)
{
	nys_lra_header h = kind(1, 257, 8);
	nys_err e;
	nys_lra_writer *w = nys_lra_writer_open(tap_path(dir, "refuse.lra"), &h, &e);
	int32_t ok[3] = {1, 2, 3}, bad[2] = {1, 257}, neg[1] = {-1}, big[9] = {0};
	tap_ok(w && nys_lra_writer_add(w, 3, ok, 3, NULL, 0, &e) == -1 &&
	       strstr(e.msg, "label 3 outside the 3 classes"), "writer: a label past the classes");
	tap_ok(w && nys_lra_writer_add(w, 0, bad, 2, NULL, 0, &e) == -1 &&
	       strstr(e.msg, "id 257 outside the vocabulary"), "writer: an id past the vocabulary");
	tap_ok(w && nys_lra_writer_add(w, 0, neg, 1, NULL, 0, &e) == -1,
	       "writer: a negative id");
	tap_ok(w && nys_lra_writer_add(w, 0, big, 9, NULL, 0, &e) == -1 &&
	       strstr(e.msg, "document of 9 ids (1 to 8)"), "writer: a document past max_len");
	tap_ok(w && nys_lra_writer_add(w, 0, ok, 0, NULL, 0, &e) == -1, "writer: an empty document");
	tap_ok(w && nys_lra_writer_add(w, 0, ok, 3, ok, 3, &e) == -1,
	       "writer: two documents for a one-document kind");
	tap_ok(w && nys_lra_writer_count(w) == 0, "writer: nothing refused was kept");
	nys_lra_writer_abort(w);
}

/* Write a plain (decompressed) copy of a fresh shard, change it with the
 * shell command cmd (on @/dmg.lra) and return the reader's message. */
static const char *damage(const char *cmd)
{
	static char msg[1100];
	nys_lra_header h = kind(2, 257, 16);
	if (write_shard(tap_path(dir, "good.lra"), &h, 0, 5) ||
	    tap_sh(dir, "zstd -qdcf @/good.lra > @/dmg.lra") || tap_sh(dir, cmd))
		return "(setup failed)";
	nys_err e;
	const char *p = tap_path(dir, "dmg.lra");
	nys_lra_set *s = nys_lra_set_open_files(&p, 1, &e);
	if (s) {
		nys_lra_set_close(s);
		return "(read without error)";
	}
	snprintf(msg, sizeof msg, "%s", e.msg);
	const char *q = strstr(msg, "dmg.lra: ");
	return q ? q + 9 : msg;
}

/* printf '\OOO' (octal: dash's printf has no \x) at byte OFF of @/dmg.lra */
#define POKE(off, oct) "printf '\\" oct "' | dd of=@/dmg.lra bs=1 seek=" #off " conv=notrunc 2>/dev/null"

static void test_damage(void)
{
	/* the plain shard read as it is: a control for the damage below */
	tap_str(damage("true"), "(read without error)", "the decompressed shard reads");
	tap_str(damage(POKE(0, "130")), "byte 0: not an LRA shard (bad magic)", "bad magic");
	tap_str(damage(POKE(8, "002")), "byte 8: LRA shard version 2 (this program reads 1)",
	        "a newer version");
	tap_str(damage(POKE(12, "011")), "byte 12: unknown task 9", "an unknown task");
	tap_str(damage(POKE(24, "003")), "byte 24: 3 documents a record (1 or 2)",
	        "bad document count");
	tap_str(damage(POKE(40, "001")), "byte 40: id width 1 for a vocabulary of 257",
	        "a width that does not fit the vocabulary");
	tap_str(damage(POKE(60, "001")), "byte 60: reserved header bytes are not zero",
	        "reserved header bytes");
	/* record 0: label at 64, length of document 0 at 68 */
	tap_str(damage(POKE(64, "007")), "byte 64: record 0: label 7 outside the 3 classes",
	        "a label past the classes");
	tap_str(damage(POKE(68, "000")), "byte 68: record 0: document of 0 ids (1 to 16)",
	        "an empty document");
	tap_str(damage(POKE(72, "005")), "checksum mismatch at byte 294 (the shard is damaged)",
	        "a changed id: the checksum");
	tap_str(damage("truncate -s 100 @/dmg.lra"),
	        "truncated at byte 100 (a record)", "a shard cut short");
	tap_str(damage("printf x >> @/dmg.lra"), "byte 302: data after the checksum",
	        "bytes after the checksum");
}

static void test_listops_encode(void)
{
	int32_t ids[32];
	nys_err e;
	int64_t n = nys_lra_listops_encode("( ( ( [MAX 3 ) ( ( [SM 7 ) ] ) ) ] )", ids, 32, &e);
	static const int32_t want[] = {12, 4, 14, 8, 15, 15};
	tap_ok(n == 6 && !memcmp(ids, want, sizeof want),
	       "listops: ']' is X (15), parentheses dropped, [MAX 12, [SM 14, digits 1..10");
	n = nys_lra_listops_encode("[MIN 1 2 3 X", ids, 3, &e);
	tap_ok(n == 3 && ids[0] == 11 && ids[2] == 3, "listops: cut to the maximum length");
	tap_ok(nys_lra_listops_encode("[MIN 1 [FIRST 2 ]", ids, 32, &e) == -1 &&
	       strstr(e.msg, "unknown ListOps token '[FIRST'"), "listops: an unknown token");
	tap_ok(nys_lra_listops_encode("( ( ) )", ids, 32, &e) == 0, "listops: no tokens");
}

static void test_grey(void)
{
	/* TensorFlow's float32 steps, worked by hand: 255 -> 1.0 * 0.9999 *
	 * 255.5 = 255.47 -> 255; (0, 0, 255) -> 0.114 * 255.5 = 29.127 -> 29;
	 * (255, 0, 0) -> 0.2989 * 255.5 = 76.37 -> 76; (0, 255, 0) -> 0.587 *
	 * 255.5 = 149.98 -> 149 (truncated, not rounded) */
	tap_ok(nys_lra_grey(0, 0, 0) == 0 && nys_lra_grey(255, 255, 255) == 255,
	       "grey: black and white");
	tap_ok(nys_lra_grey(0, 0, 255) == 29 && nys_lra_grey(255, 0, 0) == 76 &&
	       nys_lra_grey(0, 255, 0) == 149, "grey: tf.image.rgb_to_grayscale's weights, "
	       "truncated as convert_image_dtype does");
}

static void test_kinds(void)
{
	nys_lra_header h;
	nys_lra_kind(NYS_LRA_LISTOPS, 0, &h);
	tap_ok(h.vocab_size == 17 && h.classes == 10 && h.max_len == 2000 && h.docs == 1,
	       "kind: listops 17 ids, 10 classes, 2000");
	nys_lra_kind(NYS_LRA_RETRIEVAL, 0, &h);
	tap_ok(h.vocab_size == 257 && h.classes == 2 && h.max_len == 4000 && h.docs == 2,
	       "kind: retrieval bytes, 2 documents of 4000");
	nys_lra_kind(NYS_LRA_IMAGE, 0, &h);
	tap_ok(h.vocab_size == 256 && h.classes == 10 && h.max_len == 1024 && h.width == 1,
	       "kind: image pixels, 10 classes, 1024");
	nys_lra_task t;
	nys_err e;
	tap_ok(!nys_lra_task_parse("pathfinder", &t, &e) && t == NYS_LRA_PATHFINDER &&
	       nys_lra_task_parse("path", &t, &e) == -1, "task names");
}

int main(void)
{
	static tap_test *const tests[] = {test_round_trip, test_writer_refuses, test_damage,
	                                  test_listops_encode, test_grey, test_kinds, NULL};
	return tap_main(dir, sizeof dir, "lra-data", tests);
}
