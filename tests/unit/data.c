/* nys_data.h: the shard loader (each sequence once a pass, shuffled and
 * reproducible, list order for validation, exact resumption from a
 * position, errors of the reading thread named and returned) and the
 * masked-LM masking (HuggingFace's fractions checked against binomial
 * bounds, specials never chosen, labels, determinism, and the documented
 * derivation recomputed independently), the documented orders recomputed
 * too, and the ranks of a world: each its stride of every global batch. */
#include "nys_data.h"
#include "nys_shard.h"
#include "nys_bin.h"
#include "nys_hash.h"
#include "tap.h"

#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#define V 30000u
#define CLS 2u
#define SEP 3u
#define FP UINT64_C(0x0123456789abcdef)
#define N 24u /* tokens a sequence in the loader tests */

static char name[2048];

static uint64_t mix64(uint64_t z)
{
	z += UINT64_C(0x9E3779B97F4A7C15);
	z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
	return z ^ (z >> 31);
}

/* ---- test shards ---------------------------------------------------------- */

/* Sequence q of test shard s: [CLS] 100+s 100+q filler... [SEP], so that
 * every sequence says where it came from and its content can be checked. */
static void fill_seq(uint32_t *v, unsigned n, unsigned s, unsigned q)
{
	v[0] = CLS;
	v[1] = 100 + s;
	v[2] = 100 + q;
	for (unsigned j = 3; j + 1 < n; j++)
		v[j] = 10 + (uint32_t)(mix64((uint64_t)s << 40 ^ (uint64_t)q << 20 ^ j) % (V - 10));
	v[n - 1] = SEP;
}

/* s * 100000 + q for a sequence whose content is right, else -1. */
static long seq_key(const int32_t *ids, unsigned n)
{
	if (ids[1] < 100 || ids[2] < 100)
		return -1;
	unsigned s = (unsigned)ids[1] - 100, q = (unsigned)ids[2] - 100;
	uint32_t want[64];
	fill_seq(want, n, s, q);
	for (unsigned j = 0; j < n; j++)
		if ((uint32_t)ids[j] != want[j])
			return -1;
	return (long)s * 100000 + q;
}

/* The shard image: header, ids of h->width bytes, checksum. */
static unsigned char *image(const nys_shard_header *h, unsigned no, size_t *len)
{
	size_t n = NYS_SHARD_HEADER_SIZE + (size_t)h->count * h->seq_len * h->width + 8;
	unsigned char *img = calloc(1, n);
	uint32_t v[64];
	if (!img)
		abort();
	nys_shard_header_pack(h, img);
	unsigned char *p = img + NYS_SHARD_HEADER_SIZE;
	for (unsigned q = 0; q < h->count; q++) {
		fill_seq(v, h->seq_len, no, q);
		for (unsigned j = 0; j < h->seq_len; j++, p += h->width)
			if (h->width == 2) {
				p[0] = (unsigned char)v[j];
				p[1] = (unsigned char)(v[j] >> 8);
			} else {
				nys_put_u32(p, v[j]);
			}
	}
	nys_put_u64(img + n - 8, nys_hash64(img, n - 8, 0));
	*len = n;
	return img;
}

static nys_shard_header hdr(unsigned n, unsigned count, unsigned width)
{
	return (nys_shard_header){.version = 1, .seq_len = n, .count = count, .width = width,
	                          .vocab_size = V, .cls_id = CLS, .sep_id = SEP,
	                          .fingerprint = FP};
}

/* Write test shard `no` as dir/file: zstd through the library's writer, or
 * plain (the decompressed content, which readers accept too). */
static int put_shard(const char *dir, const char *file, unsigned no, const nys_shard_header *h,
                     bool plain)
{
	size_t len;
	unsigned char *img = image(h, no, &len);
	nys_err e;
	int rc = 0;
	if (plain) {
		FILE *f = fopen(tap_path(dir, file), "wb");
		rc = !f || fwrite(img, 1, len, f) != len;
		if (f && fclose(f))
			rc = 1;
	} else {
		rc = nys_shard_write(tap_path(dir, file), h, img + NYS_SHARD_HEADER_SIZE, 1, &e);
		if (rc)
			printf("# %s\n", e.msg);
	}
	free(img);
	return rc;
}

static int put_list(const char *dir, const char *list, const char *const *names, size_t n)
{
	FILE *f = fopen(tap_path(dir, list), "w");
	if (!f)
		return -1;
	fputs("[", f);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%s\n    \"%s\"", i ? "," : "", names[i]);
	fputs(n ? "\n]" : "]", f);
	return fclose(f);
}

static void put_text(const char *dir, const char *file, const char *text)
{
	FILE *f = fopen(tap_path(dir, file), "w");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

/* ---- reading -------------------------------------------------------------- */

/* Up to n sequences into ids (n * N), the position before each into pos
 * (if not NULL): how many were read; *rc the last nys_loader_next result. */
static size_t take(nys_loader *L, size_t n, int32_t *ids, nys_loader_pos *pos, int *rc,
                   nys_err *e)
{
	size_t i;
	*rc = 1;
	for (i = 0; i < n; i++) {
		if (pos)
			pos[i] = nys_loader_tell(L);
		if ((*rc = nys_loader_next(L, ids + i * N, e)) != 1)
			break;
	}
	return i;
}

static int cmp_long(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;
	return (x > y) - (x < y);
}

/* ---- the loader tests ------------------------------------------------------ */

/* The main directory: 12 shards of various sizes (one empty, one of a
 * single sequence, one of width 4), listed out of order in train.json. */
#define NSH 12
static const unsigned counts[NSH] = {40, 57, 0, 33, 64, 1, 45, 50, 28, 61, 39, 52};
static char shard_names[NSH][32];
static const char *train_list[NSH];
static long total;       /* sequences a pass */
static long all_keys[1024]; /* the keys of every sequence, sorted */

static int make_main(const char *dir)
{
	static const unsigned list_order[NSH] = {7, 2, 11, 0, 5, 9, 3, 10, 1, 8, 4, 6};
	int rc = 0;
	total = 0;
	for (unsigned i = 0; i < NSH; i++) {
		snprintf(shard_names[i], sizeof shard_names[i], "d-%05u.shard", i);
		nys_shard_header h = hdr(N, counts[i], i == 7 ? 4 : 2);
		rc |= put_shard(dir, shard_names[i], i, &h, false);
		for (unsigned q = 0; q < counts[i]; q++)
			all_keys[total++] = (long)i * 100000 + q;
	}
	for (unsigned i = 0; i < NSH; i++)
		train_list[i] = shard_names[list_order[i]];
	qsort(all_keys, (size_t)total, sizeof *all_keys, cmp_long);
	const char *dev[] = {shard_names[3], shard_names[1], shard_names[2], shard_names[10]};
	rc |= put_list(dir, "train.json", train_list, NSH);
	rc |= put_list(dir, "dev.json", dev, 4);
	return rc;
}

/* Keys of n sequences; -1 for one whose content is wrong. */
static void keys_of(const int32_t *ids, size_t n, long *keys)
{
	for (size_t i = 0; i < n; i++)
		keys[i] = seq_key(ids + i * N, N);
}

/* Is keys[0..total) each sequence of the list exactly once? */
static bool once_each(const long *keys)
{
	long *k = malloc((size_t)total * sizeof *k);
	memcpy(k, keys, (size_t)total * sizeof *k);
	qsort(k, (size_t)total, sizeof *k, cmp_long);
	bool ok = !memcmp(k, all_keys, (size_t)total * sizeof *k);
	free(k);
	return ok;
}

/* The keys in list order, sequences in file order. */
static void list_order_keys(const char *const *list, size_t n, long *keys)
{
	size_t m = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned s = (unsigned)atoi(list[i] + 2);
		for (unsigned q = 0; q < counts[s]; q++)
			keys[m++] = (long)s * 100000 + q;
	}
}

static void test_order(const char *dir)
{
	nys_err e;
	nys_loader_opts o = {.seed = 42, .shuffle = true, .cycle = true};
	nys_loader *L = nys_loader_open(dir, "train.json", &o, &e);
	tap_ok(L != NULL, "open train.json (shuffle, cycle)");
	if (!L) {
		printf("# %s\n", e.msg);
		return;
	}
	const nys_loader_info *I = nys_loader_header(L);
	tap_ok(I->seq_len == N && I->vocab_size == V && I->cls_id == CLS && I->sep_id == SEP &&
	       I->fingerprint == FP && I->shards == NSH && I->sequences == (uint64_t)total,
	       "header: seq_len, vocabulary, [CLS], [SEP], fingerprint, shards, sequences");
	size_t np = 3, n = np * (size_t)total;
	int32_t *ids = malloc(n * N * sizeof *ids);
	long *keys = malloc(n * sizeof *keys), *ref = malloc((size_t)total * sizeof *ref);
	nys_loader_pos *pos = malloc(n * sizeof *pos);
	int rc;
	size_t got = take(L, n, ids, pos, &rc, &e);
	tap_ok(got == n, "three passes read");
	keys_of(ids, n, keys);
	bool each = true, contiguous = true, shard_order_ok = true, content = true;
	for (size_t p = 0; p < np; p++) {
		const long *k = keys + p * (size_t)total;
		each &= once_each(k);
		/* a shard's sequences come together, in the pass's shard order */
		size_t at = 0;
		for (size_t i = 0; i < NSH; i++) {
			size_t f = nys_loader_shard_at(L, p, i);
			unsigned s = (unsigned)atoi(nys_loader_shard_name(L, f) + 2);
			for (unsigned q = 0; q < counts[s]; q++, at++)
				if (k[at] / 100000 != (long)s)
					shard_order_ok = contiguous = false;
		}
		for (long i = 0; i < total; i++)
			content &= k[i] >= 0;
	}
	tap_ok(content, "every sequence arrives whole and unchanged");
	tap_ok(each, "every sequence of the list exactly once a pass, for three passes");
	tap_ok(contiguous && shard_order_ok, "a pass reads shard after shard, in nys_loader_shard_at's order");
	list_order_keys(train_list, NSH, ref);
	tap_ok(memcmp(keys, ref, (size_t)total * sizeof *ref) != 0, "pass 0 is not in list order");
	bool inner = false;
	for (long i = 1; i < total; i++)
		if (keys[i] / 100000 == keys[i - 1] / 100000 && keys[i] < keys[i - 1])
			inner = true;
	tap_ok(inner, "... and the sequences within shards are shuffled");
	bool differ01 = memcmp(keys, keys + total, (size_t)total * sizeof *keys) != 0;
	bool differ12 = memcmp(keys + total, keys + 2 * total, (size_t)total * sizeof *keys) != 0;
	bool shard_differ = false;
	for (size_t i = 0; i < NSH; i++)
		shard_differ |= nys_loader_shard_at(L, 0, i) != nys_loader_shard_at(L, 1, i);
	tap_ok(differ01 && differ12 && shard_differ, "each pass has its own order (shards and sequences)");
	/* the same shard in two passes: its own sequence order in each */
	bool seq_differ = false;
	for (unsigned s = 0; s < NSH && !seq_differ; s++) {
		long a[64], b[64];
		size_t na = 0, nb = 0;
		for (long i = 0; i < total; i++) {
			if (keys[i] / 100000 == (long)s)
				a[na++] = keys[i];
			if (keys[total + i] / 100000 == (long)s)
				b[nb++] = keys[total + i];
		}
		seq_differ = counts[s] > 2 && memcmp(a, b, na * sizeof *a);
	}
	tap_ok(seq_differ, "a shard's sequence order changes from pass to pass");
	/* the first non-empty shard of pass 0 (the empty one may come first) */
	size_t first_k = 0;
	while (!counts[atoi(nys_loader_shard_name(L, nys_loader_shard_at(L, 0, first_k)) + 2)])
		first_k++;
	tap_ok(pos[0].pass == 0 && pos[0].shard == first_k && pos[0].seq == 0 &&
	       pos[0].delivered == 0, "the first position is pass 0's first non-empty shard, 0 delivered");
	nys_loader_pos end = nys_loader_tell(L);
	tap_ok(pos[total].pass == 1 && pos[total].seq == 0 && pos[total].delivered == (uint64_t)total &&
	       end.pass == 3 && end.delivered == n, "positions count passes and sequences delivered");
	bool pos_ok = true;
	for (size_t i = 0; i + 1 < n; i++) {
		const nys_loader_pos *a = &pos[i], *b = &pos[i + 1];
		bool step = (a->pass == b->pass && a->shard == b->shard && b->seq == a->seq + 1) ||
		            (a->pass == b->pass && b->shard > a->shard && b->seq == 0) ||
		            (b->pass == a->pass + 1 && b->seq == 0);
		pos_ok &= step && b->delivered == a->delivered + 1;
	}
	tap_ok(pos_ok, "positions advance sequence by sequence, shard by shard, pass by pass");

	/* the same seed: the same passes; another seed: others */
	nys_loader *L2 = nys_loader_open(dir, "train.json", &o, &e);
	int32_t *ids2 = malloc(n * N * sizeof *ids2);
	got = L2 ? take(L2, n, ids2, NULL, &rc, &e) : 0;
	tap_ok(got == n && !memcmp(ids, ids2, n * N * sizeof *ids),
	       "a second loader with the same seed delivers the same three passes");
	nys_loader_close(L2);
	nys_loader_opts o2 = o;
	o2.seed = 43;
	L2 = nys_loader_open(dir, "train.json", &o2, &e);
	got = L2 ? take(L2, (size_t)total, ids2, NULL, &rc, &e) : 0;
	long *k2 = malloc((size_t)total * sizeof *k2);
	keys_of(ids2, (size_t)total, k2);
	tap_ok(got == (size_t)total && once_each(k2) && memcmp(k2, keys, (size_t)total * sizeof *k2),
	       "another seed: another order of the same sequences");
	nys_loader_close(L2);
	free(k2);

	/* the shard order is a uniform shuffle: which shard a pass starts with */
	long first[NSH] = {0};
	const long passes = 24000;
	for (long p = 0; p < passes; p++)
		first[nys_loader_shard_at(L, (uint64_t)p, 0)]++;
	double mean = (double)passes / NSH, sd = sqrt(passes * (1.0 / NSH) * (1 - 1.0 / NSH));
	bool uniform = true;
	for (int i = 0; i < NSH; i++) {
		uniform &= fabs(first[i] - mean) <= 5 * sd;
		if (fabs(first[i] - mean) > 5 * sd)
			printf("# list index %d first in %ld of %ld passes (%.0f +- %.0f)\n", i, first[i],
			       passes, mean, 5 * sd);
	}
	tap_ok(uniform, "over 24000 passes each shard starts a pass 1/12 of the time (5 sd)");

	nys_loader_close(L);
	free(ids);
	free(ids2);
	free(keys);
	free(ref);
	free(pos);
}

/* A shard of 3 sequences, 3000 passes: the six orders equally often. */
static void test_seq_shuffle(const char *top)
{
	char dir[200];
	tap_subdir(dir, sizeof dir, top, "three");
	nys_shard_header h = hdr(N, 3, 2);
	const char *names[] = {"t-00000.shard"};
	put_shard(dir, names[0], 0, &h, false);
	put_list(dir, "train.json", names, 1);
	nys_err e;
	nys_loader_opts o = {.seed = 7, .shuffle = true, .cycle = true};
	nys_loader *L = nys_loader_open(dir, "train.json", &o, &e);
	long perms[6] = {0};
	int32_t ids[3 * N];
	int rc;
	bool ok = L != NULL;
	const long passes = 3000;
	for (long p = 0; ok && p < passes; p++) {
		ok = take(L, 3, ids, NULL, &rc, &e) == 3;
		long a = seq_key(ids, N), b = seq_key(ids + N, N);
		if (!ok || a < 0 || a > 2 || b < 0 || b > 2) {
			ok = false;
			break;
		}
		/* the order's index from its first two elements */
		perms[a * 2 + (b > (a == 0 ? 1 : 0))]++;
	}
	double mean = passes / 6.0, sd = sqrt(passes / 6.0 * 5 / 6);
	bool uniform = ok;
	for (int i = 0; i < 6; i++)
		uniform &= fabs(perms[i] - mean) <= 5 * sd;
	tap_ok(uniform, "a shard's sequence order is a uniform shuffle (3 sequences, 3000 passes, 5 sd)");
	if (!uniform)
		printf("# %ld %ld %ld %ld %ld %ld\n", perms[0], perms[1], perms[2], perms[3], perms[4],
		       perms[5]);
	nys_loader_close(L);
}

static void test_dev(const char *dir)
{
	nys_err e;
	nys_loader_opts o = {.seed = 42};
	nys_loader *L = nys_loader_open(dir, "dev.json", &o, &e);
	tap_ok(L != NULL, "open dev.json (no shuffle, one pass)");
	if (!L)
		return;
	const char *dev[] = {shard_names[3], shard_names[1], shard_names[2], shard_names[10]};
	size_t want = counts[3] + counts[1] + counts[2] + counts[10];
	int32_t *ids = malloc((want + 5) * N * sizeof *ids);
	long *keys = malloc((want + 5) * sizeof *keys), *ref = malloc(want * sizeof *ref);
	int rc;
	size_t got = take(L, want + 5, ids, NULL, &rc, &e);
	keys_of(ids, got, keys);
	list_order_keys(dev, 4, ref);
	tap_ok(got == want && rc == 0 && !memcmp(keys, ref, want * sizeof *ref),
	       "dev: list order, sequences in file order, then the end");
	tap_ok(nys_loader_next(L, ids, &e) == 0 && nys_loader_next(L, ids, &e) == 0,
	       "... and the end again on every later call");
	nys_loader_pos p = nys_loader_tell(L);
	tap_ok(p.pass == 1 && p.shard == 0 && p.seq == 0 && p.delivered == want,
	       "the end is the position (1, 0, 0)");
	nys_loader_pos start = {0};
	tap_ok(!nys_loader_seek(L, &start, &e) && take(L, want + 5, ids, NULL, &rc, &e) == want,
	       "seek to the start (data id 0: not checked) reads the pass again");
	nys_loader_close(L);
	L = nys_loader_open(dir, "dev.json", NULL, &e);
	int32_t *ids2 = malloc((want + 5) * N * sizeof *ids2);
	got = L ? take(L, want + 5, ids2, NULL, &rc, &e) : 0;
	tap_ok(got == want && rc == 0 && !memcmp(ids, ids2, want * N * sizeof *ids),
	       "no options (NULL): the same, list order and one pass");
	free(ids2);
	nys_loader_close(L);

	/* an empty list: fine for one pass, not to cycle over */
	put_text(dir, "empty.json", "[]");
	L = nys_loader_open(dir, "empty.json", &o, &e);
	tap_ok(L && nys_loader_next(L, ids, &e) == 0 && nys_loader_header(L)->shards == 0,
	       "an empty list: the end at once");
	nys_loader_close(L);
	o.cycle = true;
	L = nys_loader_open(dir, "empty.json", &o, &e);
	tap_ok(!L && strstr(e.msg, "empty.json") && strstr(e.msg, "no sequences"),
	       "... but no list to cycle over");
	nys_loader_close(L);
	free(ids);
	free(keys);
	free(ref);
}

static void test_seek(const char *dir)
{
	nys_err e;
	nys_loader_opts o = {.seed = 1234, .shuffle = true, .cycle = true};
	nys_loader *A = nys_loader_open(dir, "train.json", &o, &e);
	size_t n = 3 * (size_t)total;
	int32_t *ids = malloc(n * N * sizeof *ids), *ids2 = malloc(n * N * sizeof *ids2);
	nys_loader_pos *pos = malloc((n + 1) * sizeof *pos);
	int rc;
	size_t got = A ? take(A, n, ids, pos, &rc, &e) : 0;
	pos[n] = A ? nys_loader_tell(A) : pos[0];
	tap_ok(got == n, "an uninterrupted loader: three passes");
	nys_loader_close(A);
	/* cut points: mid-shard of pass 0, a shard's start, the last sequence
	 * of pass 0, a pass's start, mid pass 1, deep in pass 2 */
	size_t cut[8], nc = 0;
	cut[nc++] = 17;
	for (size_t i = 30; i < n; i++)
		if (pos[i].shard != pos[i - 1].shard && pos[i].pass == 0) {
			cut[nc++] = i;
			break;
		}
	cut[nc++] = (size_t)total - 1;
	cut[nc++] = (size_t)total;
	cut[nc++] = (size_t)total + 211;
	cut[nc++] = 2 * (size_t)total + 101;
	size_t compared = 0;
	for (size_t c = 0; c < nc; c++) {
		nys_loader *B = nys_loader_open(dir, "train.json", &o, &e);
		size_t m = n - cut[c];
		bool ok = B && !nys_loader_seek(B, &pos[cut[c]], &e);
		nys_loader_pos end = {0};
		if (ok) {
			ok = take(B, m, ids2, NULL, &rc, &e) == m &&
			     !memcmp(ids2, ids + cut[c] * N, m * N * sizeof *ids);
			end = nys_loader_tell(B);
			ok &= !memcmp(&end, &pos[n], sizeof end);
		}
		compared += m * N;
		char msg[200];
		snprintf(msg, sizeof msg, "a fresh loader seeked to sequence %zu (pass %" PRIu64
		         ", shard %" PRIu64 ", seq %" PRIu64 ") continues exactly (%zu ids)", cut[c],
		         pos[cut[c]].pass, pos[cut[c]].shard, pos[cut[c]].seq, m * N);
		tap_ok(ok, msg);
		if (!ok && B)
			printf("# %s\n", e.msg);
		nys_loader_close(B);
	}
	printf("# %zu ids compared after seeks\n", compared);

	/* one loader, seeking back and forth (the shard in memory, the one read
	 * ahead, and others) */
	nys_loader *B = nys_loader_open(dir, "train.json", &o, &e);
	bool ok = B != NULL;
	size_t order[] = {cut[4], cut[0], cut[0] + 3, cut[3], cut[5], cut[1], cut[1]};
	for (size_t t = 0; ok && t < sizeof order / sizeof *order; t++) {
		size_t at = order[t], m = t + 1 < sizeof order / sizeof *order ? 40 : 500;
		ok = !nys_loader_seek(B, &pos[at], &e) && take(B, m, ids2, NULL, &rc, &e) == m &&
		     !memcmp(ids2, ids + at * N, m * N * sizeof *ids);
	}
	tap_ok(ok, "one loader seeking back and forth continues exactly each time");

	/* a shard's end given as (shard, count): the next shard's start */
	nys_loader_pos p = pos[cut[1] - 1];
	p.seq++;
	p.delivered++;
	ok = !nys_loader_seek(B, &p, &e) && take(B, 100, ids2, NULL, &rc, &e) == 100 &&
	     !memcmp(ids2, ids + cut[1] * N, 100 * N * sizeof *ids);
	nys_loader_pos q = nys_loader_tell(B);
	tap_ok(ok && q.delivered == pos[cut[1] + 100].delivered,
	       "seek to (shard, its count) goes on at the next shard");

	/* refused positions */
	p = pos[5];
	p.shard = NSH;
	tap_ok(nys_loader_seek(B, &p, &e) == -1 && strstr(e.msg, "no position"),
	       "seek refuses a shard index past the list");
	p = pos[5];
	p.seq = 1000;
	tap_ok(nys_loader_seek(B, &p, &e) == -1, "seek refuses a sequence past the shard's end");
	nys_loader_opts o2 = o;
	o2.seed = 99;
	nys_loader *C = nys_loader_open(dir, "train.json", &o2, &e);
	tap_ok(C && nys_loader_seek(C, &pos[5], &e) == -1 && strstr(e.msg, "other data"),
	       "seek refuses a position of another seed (data id)");
	nys_loader_close(C);
	nys_loader_opts od = {0};
	C = nys_loader_open(dir, "train.json", &od, &e);
	p = pos[0];
	p.pass = 2;
	p.data_id = 0;
	tap_ok(C && nys_loader_seek(C, &p, &e) == -1, "without cycle, seek refuses pass 2");
	nys_loader_close(C);
	/* seeking while the thread reads (cancel), and closing while it reads */
	ok = true;
	for (int t = 0; t < 20 && ok; t++) {
		C = nys_loader_open(dir, "train.json", &o, &e);
		ok = C && !nys_loader_seek(C, &pos[cut[t % nc]], &e) &&
		     !nys_loader_seek(C, &pos[cut[(t + 3) % nc]], &e) &&
		     take(C, 5, ids2, NULL, &rc, &e) == 5 &&
		     !memcmp(ids2, ids + cut[(t + 3) % nc] * N, 5 * N * sizeof *ids);
		nys_loader_close(C);
		C = nys_loader_open(dir, "train.json", &o, &e);
		nys_loader_close(C);
	}
	tap_ok(ok, "seeks and closes while the thread reads ahead");
	nys_loader_close(B);
	free(ids);
	free(ids2);
	free(pos);
}

/* Damage: the error comes from nys_loader_next, names the file (and the
 * byte), and the loader neither crashes nor hangs. */
static void test_errors(const char *top)
{
	char dir[200];
	tap_subdir(dir, sizeof dir, top, "bad");
	nys_err e;
	int rc;
	/* e-0: good, e-1: good, e-2: plain and cut, e-3: plain with a flipped
	 * byte, e-4: zstd of several blocks, cut, e-5: zstd of 2.9 MB with a
	 * flipped byte after the first MB (what the header read decompresses),
	 * e-6: a small zstd shard with a flipped byte, found at open */
	const char *names[] = {"e-00000.shard", "e-00001.shard", "e-00002.shard", "e-00003.shard",
	                       "e-00004.shard", "e-00005.shard", "e-00006.shard"};
	nys_shard_header h = hdr(N, 30, 2), big = hdr(N, 6000, 2), huge = hdr(N, 60000, 2);
	for (unsigned i = 0; i < 7; i++)
		put_shard(dir, names[i], 50 + i, i == 4 ? &big : i == 5 ? &huge : &h,
		          i == 2 || i == 3);
	struct stat st;
	int damaged = 0;
	damaged |= stat(tap_path(dir, names[2]), &st) ||
	           truncate(tap_path(dir, names[2]), st.st_size - 500);
	damaged |= stat(tap_path(dir, names[4]), &st) ||
	           truncate(tap_path(dir, names[4]), st.st_size * 3 / 4);
	/* e-3: the low byte of id 10 of sequence 15 (still an id of the
	 * vocabulary, so that only the checksum can tell); e-5: a byte in the
	 * middle of the zstd frame */
	for (int which = 3; which <= 6; which += 1 + (which == 3)) {
		FILE *f = fopen(tap_path(dir, names[which]), "r+b");
		long at = which == 3 ? 64 + (15 * N + 10) * 2 : 0;
		if (!f || stat(tap_path(dir, names[which]), &st)) {
			damaged = 1;
			continue;
		}
		if (!at)
			at = (long)st.st_size * (which == 5 ? 3 : 2) / 4;
		fseek(f, at, SEEK_SET);
		int c = fgetc(f);
		fseek(f, at, SEEK_SET);
		fputc(c ^ (which == 3 ? 0x01 : 0x10), f);
		damaged |= fclose(f);
	}
	tap_ok(!damaged, "damaged shards written (cut, flipped)");
	static const struct {
		int bad;
		const char *what;
		const char *want;
	} cases[] = {
		{2, "a cut shard", "truncated at byte"},
		{3, "a shard with a flipped byte", "checksum mismatch at byte"},
		{4, "a cut zstd shard", "byte"},
		{5, "a zstd shard with a flipped byte", "byte"},
	};
	int32_t *ids = malloc(100 * N * sizeof *ids);
	for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
		const char *list[] = {names[0], names[1], names[cases[c].bad]};
		put_list(dir, "dev.json", list, 3);
		nys_loader_opts o = {0};
		nys_loader *L = nys_loader_open(dir, "dev.json", &o, &e);
		snprintf(name, sizeof name, "%s: the header reads at open", cases[c].what);
		tap_ok(L != NULL, name);
		if (!L) {
			printf("# %s\n", e.msg);
			continue;
		}
		size_t got = take(L, 100, ids, NULL, &rc, &e);
		snprintf(name, sizeof name, "%s: nys_loader_next gives the good shards' 60, then -1 "
		         "naming the file and the place: %s", cases[c].what, e.msg);
		tap_ok(got == 60 && rc == -1 && strstr(e.msg, names[cases[c].bad]) &&
		       strstr(e.msg, dir) && strstr(e.msg, cases[c].want), name);
		nys_err e2;
		int again = nys_loader_next(L, ids, &e2);
		snprintf(name, sizeof name, "%s: the next call tries again and fails the same way",
		         cases[c].what);
		tap_ok(again == -1 && !strcmp(e.msg, e2.msg), name);
		nys_loader_close(L);
	}
	{
		const char *list[] = {names[0], names[6]};
		put_list(dir, "dev.json", list, 2);
		nys_loader_opts o = {0};
		nys_loader *L = nys_loader_open(dir, "dev.json", &o, &e);
		tap_ok(!L && strstr(e.msg, names[6]) && strstr(e.msg, "byte"),
		       "damage that the header read meets: open names the file and the byte");
		printf("# %s\n", e.msg);
		nys_loader_close(L);
	}

	/* training over a damaged list: the error in the first pass */
	{
		const char *list[] = {names[0], names[1], names[2], names[3]};
		put_list(dir, "train.json", list, 4);
		nys_loader_opts o = {.seed = 5, .shuffle = true, .cycle = true};
		nys_loader *L = nys_loader_open(dir, "train.json", &o, &e);
		size_t got = L ? take(L, 100, ids, NULL, &rc, &e) : 0;
		tap_ok(L && rc == -1 && got <= 60 && got % 30 == 0 &&
		       (strstr(e.msg, names[2]) || strstr(e.msg, names[3])),
		       "training (shuffled, cycling): the first damaged shard's error, in the first pass");
		nys_loader_close(L);
	}

	/* missing: at open, or removed after it */
	{
		const char *list[] = {names[0], "gone-00000.shard", names[1]};
		put_list(dir, "dev.json", list, 3);
		nys_loader_opts o = {0};
		nys_loader *L = nys_loader_open(dir, "dev.json", &o, &e);
		tap_ok(!L && strstr(e.msg, "gone-00000.shard"), "a missing shard: open names it");
		printf("# %s\n", e.msg);
		nys_loader_close(L);
		put_shard(dir, "later-00000.shard", 60, &h, false);
		const char *list2[] = {names[0], names[1], names[0], "later-00000.shard"};
		put_list(dir, "dev.json", list2, 4);
		L = nys_loader_open(dir, "dev.json", &o, &e);
		tap_ok(!L && strstr(e.msg, "twice"), "a list naming a shard twice is refused");
		nys_loader_close(L);
		const char *list3[] = {names[0], names[1], "later-00000.shard"};
		put_list(dir, "dev.json", list3, 3);
		L = nys_loader_open(dir, "dev.json", &o, &e);
		unlink(tap_path(dir, "later-00000.shard"));
		size_t got = L ? take(L, 100, ids, NULL, &rc, &e) : 0;
		tap_ok(L && got == 60 && rc == -1 && strstr(e.msg, "later-00000.shard"),
		       "a shard removed after open: nys_loader_next names it");
		printf("# %s\n", e.msg);
		nys_loader_close(L);
	}

	/* shards of different kinds */
	{
		nys_shard_header h32 = hdr(32, 10, 2), hc = hdr(N, 10, 2), hf = hdr(N, 10, 2);
		hc.cls_id = 5;
		hf.fingerprint = 77;
		put_shard(dir, "k-32.shard", 70, &h32, false);
		put_shard(dir, "k-cls.shard", 71, &hc, false);
		put_shard(dir, "k-fp.shard", 72, &hf, false);
		const char *odd[] = {"k-32.shard", "k-cls.shard", "k-fp.shard"};
		const char *what[] = {"seq_len", "[CLS] id", "fingerprint"};
		for (int i = 0; i < 3; i++) {
			const char *list[] = {names[0], names[1], odd[i]};
			put_list(dir, "dev.json", list, 3);
			nys_loader_opts o = {0};
			nys_loader *L = nys_loader_open(dir, "dev.json", &o, &e);
			snprintf(name, sizeof name, "a shard of another %s is refused at open, named: %s",
			         what[i], e.msg);
			tap_ok(!L && strstr(e.msg, odd[i]) && strstr(e.msg, names[0]), name);
			nys_loader_close(L);
		}
	}

	/* lists */
	{
		static const struct {
			const char *text, *want, *what;
		} bad[] = {
			{"{\"a\": 1}", "not a JSON list", "a JSON object"},
			{"[\"e-00000.shard\", 3]", "item 2 is not a string", "a number in the list"},
			{"[\"../bad/e-00000.shard\"]", "not a file name", "a path in the list"},
			{"[\"e-00000.shard\"", "lists.json:", "broken JSON"},
		};
		for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
			put_text(dir, "lists.json", bad[i].text);
			nys_loader_opts o = {0};
			nys_loader *L = nys_loader_open(dir, "lists.json", &o, &e);
			snprintf(name, sizeof name, "list: %s is refused (%s)", bad[i].what, e.msg);
			tap_ok(!L && strstr(e.msg, bad[i].want), name);
			nys_loader_close(L);
		}
		nys_loader_opts o = {0};
		nys_loader *L = nys_loader_open(dir, "nolist.json", &o, &e);
		tap_ok(!L && strstr(e.msg, "nolist.json"), "a missing list is named");
		nys_loader_close(L);
	}
	free(ids);
}

/* ---- masking ------------------------------------------------------------- */

/* The derivation of nys_data.h, written out again from its text. */
static uint64_t ref_mix(uint64_t z)
{
	z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
	return z ^ (z >> 31);
}

static void ref_mask(int32_t *ids, int32_t *labels, size_t n, const nys_mlm_opts *o,
                     uint64_t seed, uint64_t counter)
{
	const uint64_t G = UINT64_C(0x9E3779B97F4A7C15);
	/* k = sm(sm(seed ^ MASK) ^ counter), sm(x) = mix(x + G) */
	uint64_t k = ref_mix((ref_mix((seed ^ UINT64_C(0x6e79732e6d61736b)) + G) ^ counter) + G);
	for (size_t i = 0; i < n; i++) {
		uint64_t r[4];
		for (int t = 0; t < 4; t++)
			r[t] = ref_mix(k + (4 * i + (uint64_t)t + 1) * G);
		bool special = false;
		for (size_t s = 0; s < o->nspecial; s++)
			special |= ids[i] == o->special[s];
		double u0 = ldexp((double)(r[0] >> 11), -53), u1 = ldexp((double)(r[1] >> 11), -53),
		       u2 = ldexp((double)(r[2] >> 11), -53);
		labels[i] = -100;
		if (special || u0 >= o->prob)
			continue;
		labels[i] = ids[i];
		if (u1 < o->mask_frac) {
			ids[i] = o->mask_id;
		} else if (u2 < o->random_frac) {
			/* floor(r * vocab / 2^64), exactly, in 32-bit halves of r */
			uint64_t a = r[3] >> 32, b = r[3] & 0xffffffffu, v = o->vocab_size;
			ids[i] = (int32_t)((a * v + ((b * v) >> 32)) >> 32);
		}
	}
}

static bool within(double got, double p, double n, double k, const char *what)
{
	double sd = sqrt(p * (1 - p) / n);
	bool ok = fabs(got - p) <= k * sd;
	printf("# %s: %.5f (expected %.5f, %.1f sd = %.5f, n = %.0f)\n", what, got, p, k, k * sd, n);
	return ok;
}

static void test_mask(void)
{
	const size_t S = 2000, L = 512;
	const int32_t specials[] = {CLS, SEP, 0 /* <pad> */, 1 /* <unk> */, 4 /* [MASK] */};
	nys_mlm_opts mo = nys_mlm_defaults(4, V, specials, 5);
	nys_err e;
	tap_ok(!nys_mlm_check(&mo, &e) && mo.prob == 0.15 && mo.mask_frac == 0.8 &&
	       mo.random_frac == 0.5, "the HuggingFace defaults: 0.15, 0.8, 0.5");
	nys_mlm_opts bad = mo;
	bad.prob = 1.5;
	bool refused = nys_mlm_check(&bad, &e) == -1;
	bad = mo;
	bad.mask_id = (int32_t)V;
	refused &= nys_mlm_check(&bad, &e) == -1 && strstr(e.msg, "[MASK]");
	bad = mo;
	bad.vocab_size = 0;
	refused &= nys_mlm_check(&bad, &e) == -1;
	bad = mo;
	bad.random_frac = NAN;
	refused &= nys_mlm_check(&bad, &e) == -1;
	tap_ok(refused, "nys_mlm_check refuses bad probabilities, [MASK] and vocabulary");

	int32_t *orig = malloc(S * L * sizeof *orig), *ids = malloc(S * L * sizeof *ids),
	        *lab = malloc(S * L * sizeof *lab), *ids2 = malloc(L * sizeof *ids2),
	        *lab2 = malloc(L * sizeof *lab2);
	uint64_t r = 99;
	for (size_t s = 0; s < S; s++) {
		int32_t *v = orig + s * L;
		size_t pad = s % 3 == 0 ? L - (s % 200) : L; /* a third padded */
		for (size_t i = 0; i < L; i++) {
			r = mix64(r);
			v[i] = (int32_t)(5 + r % (V - 5));
			if (r % 97 == 0)
				v[i] = 1; /* <unk> now and then */
		}
		v[0] = CLS;
		v[pad - 1] = SEP;
		for (size_t i = pad; i < L; i++)
			v[i] = 0;
	}
	memcpy(ids, orig, S * L * sizeof *ids);
	const uint64_t seed = 2024;
	size_t returned = 0;
	for (size_t s = 0; s < S; s++)
		returned += nys_mlm_mask(ids + s * L, lab + s * L, L, &mo, seed, 1000 + s);

	size_t eligible = 0, chosen = 0, masked = 0, random = 0, same = 0, special_hit = 0,
	       label_bad = 0, rand_out = 0;
	long buckets[20] = {0};
	int32_t rmin = INT32_MAX, rmax = -1;
	for (size_t i = 0; i < S * L; i++) {
		bool sp = false;
		for (int t = 0; t < 5; t++)
			sp |= orig[i] == specials[t];
		if (sp) {
			special_hit += lab[i] != -100 || ids[i] != orig[i];
			continue;
		}
		eligible++;
		if (lab[i] == -100) {
			label_bad += ids[i] != orig[i];
			continue;
		}
		label_bad += lab[i] != orig[i];
		chosen++;
		if (ids[i] == 4) {
			masked++;
		} else if (ids[i] == orig[i]) {
			same++;
		} else {
			random++;
			if (ids[i] < 0 || (uint32_t)ids[i] >= V) {
				rand_out++;
			} else {
				buckets[(size_t)ids[i] * 20 / V]++;
				rmin = ids[i] < rmin ? ids[i] : rmin;
				rmax = ids[i] > rmax ? ids[i] : rmax;
			}
		}
	}
	printf("# %zu positions, %zu eligible, %zu chosen: %zu [MASK], %zu random, %zu unchanged\n",
	       S * L, eligible, chosen, masked, random, same);
	tap_ok(special_hit == 0, "special positions ([CLS], [SEP], <pad>, <unk>, [MASK]) are never chosen");
	tap_ok(label_bad == 0, "labels: the original id where chosen, -100 exactly elsewhere (ids kept there)");
	tap_ok(returned == chosen, "nys_mlm_mask returns the number chosen");
	tap_ok(within((double)chosen / eligible, 0.15, (double)eligible, 4.5, "chosen"),
	       "15% of the eligible positions chosen (4.5 sd)");
	/* a random id equal to [MASK] reads as masked, one equal to the
	 * original as unchanged: both 1/V of the random 10% */
	double pm = 0.8 + 0.1 / V, pu = 0.1 + 0.1 / V, pr = 0.1 * (1 - 2.0 / V);
	tap_ok(within((double)masked / chosen, pm, (double)chosen, 4.5, "[MASK] of chosen"),
	       "80% of the chosen become [MASK] (4.5 sd)");
	tap_ok(within((double)random / chosen, pr, (double)chosen, 4.5, "random of chosen"),
	       "10% of the chosen become a random id (4.5 sd)");
	tap_ok(within((double)same / chosen, pu, (double)chosen, 4.5, "unchanged of chosen"),
	       "10% of the chosen stay unchanged (4.5 sd)");
	double chi = 0, ex = (double)(random - rand_out) / 20;
	for (int b = 0; b < 20; b++)
		chi += (buckets[b] - ex) * (buckets[b] - ex) / ex;
	printf("# random ids: %zu, in [%d, %d], chi-square over 20 buckets %.1f (19 df)\n", random,
	       (int)rmin, (int)rmax, chi);
	tap_ok(rand_out == 0 && rmin < (int32_t)(V / 100) && rmax > (int32_t)(V - V / 100) &&
	       chi < 64.4, "random ids uniform over [0, vocab) (chi-square < 64.4, p = 1e-6)");

	/* independence of neighbouring sequences: chosen at the same position of
	 * counter c and c + 1 as often as 0.15^2 */
	size_t both = 0, pairs = 0;
	for (size_t s = 0; s + 1 < S; s++)
		for (size_t i = 1; i < L - 1; i++) {
			size_t a = s * L + i, b = a + L;
			bool ea = orig[a] > 4, eb = orig[b] > 4;
			if (!ea || !eb)
				continue;
			pairs++;
			both += lab[a] != -100 && lab[b] != -100;
		}
	tap_ok(within((double)both / pairs, 0.0225, (double)pairs, 4.5, "chosen in c and c+1"),
	       "consecutive counters choose independently (0.15^2, 4.5 sd)");

	/* determinism */
	bool det = true, other_counter = false, other_seed = false;
	for (size_t s = 0; s < 50; s++) {
		memcpy(ids2, orig + s * L, L * sizeof *ids2);
		nys_mlm_mask(ids2, lab2, L, &mo, seed, 1000 + s);
		det &= !memcmp(ids2, ids + s * L, L * sizeof *ids2) &&
		       !memcmp(lab2, lab + s * L, L * sizeof *lab2);
		memcpy(ids2, orig + s * L, L * sizeof *ids2);
		nys_mlm_mask(ids2, lab2, L, &mo, seed, 5000 + s);
		other_counter |= memcmp(lab2, lab + s * L, L * sizeof *lab2) != 0;
		memcpy(ids2, orig + s * L, L * sizeof *ids2);
		nys_mlm_mask(ids2, lab2, L, &mo, seed + 1, 1000 + s);
		other_seed |= memcmp(lab2, lab + s * L, L * sizeof *lab2) != 0;
	}
	tap_ok(det, "the same (seed, counter): the same masks and labels");
	tap_ok(other_counter && other_seed, "another counter or seed: other masks");

	/* the documented derivation, recomputed */
	bool same_ref = true;
	for (size_t s = 0; s < S; s++) {
		memcpy(ids2, orig + s * L, L * sizeof *ids2);
		ref_mask(ids2, lab2, L, &mo, seed, 1000 + s);
		same_ref &= !memcmp(ids2, ids + s * L, L * sizeof *ids2) &&
		            !memcmp(lab2, lab + s * L, L * sizeof *lab2);
	}
	tap_ok(same_ref, "every mask equals the derivation of nys_data.h, recomputed here");

	/* the edges of the probabilities */
	nys_mlm_opts all = mo, none = mo;
	all.prob = 1;
	all.mask_frac = 1;
	none.prob = 0;
	memcpy(ids2, orig, L * sizeof *ids2);
	size_t k_all = nys_mlm_mask(ids2, lab2, L, &all, seed, 1);
	size_t elig0 = 0;
	bool all_masked = true;
	for (size_t i = 0; i < L; i++) {
		bool sp = orig[i] <= 4;
		elig0 += !sp;
		all_masked &= sp ? ids2[i] == orig[i] && lab2[i] == -100
		                 : ids2[i] == 4 && lab2[i] == orig[i];
	}
	memcpy(ids2, orig, L * sizeof *ids2);
	size_t k_none = nys_mlm_mask(ids2, lab2, L, &none, seed, 1);
	tap_ok(k_all == elig0 && all_masked && k_none == 0 && !memcmp(ids2, orig, L * sizeof *ids2),
	       "probability 1 chooses every eligible position, 0 none");

	free(orig);
	free(ids);
	free(lab);
	free(ids2);
	free(lab2);
}

/* ---- the documented orders, and ranks -------------------------------------- */

/* Fisher-Yates over 0..n-1 from the stream out(k, 0), out(k, 1), ... as
 * nys_data.h writes it, recomputed here. */
static void ref_shuffle(size_t *a, size_t n, uint64_t k)
{
	const uint64_t G = UINT64_C(0x9E3779B97F4A7C15);
	uint64_t j = 0;
	for (size_t i = 0; i < n; i++)
		a[i] = i;
	for (size_t i = n; i-- > 1;) {
		uint64_t b = (uint64_t)i + 1, lim = (0 - b) % b, r;
		do
			r = ref_mix(k + (j++ + 1) * G);
		while (r < lim);
		size_t x = (size_t)(r % b), t = a[i];
		a[i] = a[x];
		a[x] = t;
	}
}

static uint64_t ref_sm(uint64_t x)
{
	return ref_mix(x + UINT64_C(0x9E3779B97F4A7C15));
}

/* The shard order of three passes and every shard's sequence order in the
 * first, as the derivation of nys_data.h gives them. */
static void test_documented_order(const char *dir)
{
	nys_err e;
	uint64_t seed = 42;
	nys_loader_opts o = {.seed = seed, .shuffle = true, .cycle = true};
	nys_loader *L = nys_loader_open(dir, "train.json", &o, &e);
	if (!L) {
		tap_ok(0, "open train.json for the documented order");
		printf("# %s\n", e.msg);
		return;
	}
	size_t ord[NSH], perm[64];
	bool shard_ok = true, seq_ok = true;
	for (uint64_t p = 0; p < 3; p++) {
		ref_shuffle(ord, NSH, ref_sm(ref_sm(seed ^ UINT64_C(0x6e79732e6f726472)) ^ p));
		for (size_t i = 0; i < NSH; i++)
			shard_ok &= nys_loader_shard_at(L, p, i) == ord[i];
	}
	int32_t ids[N];
	ref_shuffle(ord, NSH, ref_sm(ref_sm(seed ^ UINT64_C(0x6e79732e6f726472)) ^ 0));
	for (size_t i = 0; i < NSH; i++) {
		unsigned s = (unsigned)atoi(train_list[ord[i]] + 2);
		ref_shuffle(perm, counts[s],
		            ref_sm(ref_sm(ref_sm(seed ^ UINT64_C(0x6e79732e73657173)) ^ 0) ^ ord[i]));
		for (unsigned q = 0; q < counts[s]; q++)
			seq_ok &= nys_loader_next(L, ids, &e) == 1 &&
			          seq_key(ids, N) == (long)s * 100000 + (long)perm[q];
	}
	tap_ok(shard_ok, "the shard order of each pass is the documented Fisher-Yates");
	tap_ok(seq_ok, "each shard's sequence order is the documented Fisher-Yates");
	nys_loader_close(L);
}

/* n sequences' keys from a loader of rank r in a world of w (w 0: the
 * default, one rank), the position after into *end. */
static bool read_rank(const char *dir, const char *list, const nys_loader_opts *base,
                      unsigned r, unsigned w, size_t n, long *keys, nys_loader_pos *end)
{
	nys_err e;
	nys_loader_opts o = *base;
	o.rank = r;
	o.world = w;
	nys_loader *L = nys_loader_open(dir, list, &o, &e);
	if (!L) {
		printf("# %s\n", e.msg);
		return false;
	}
	int32_t *ids = malloc(n * N * sizeof *ids);
	int rc;
	size_t got = take(L, n, ids, NULL, &rc, &e);
	for (size_t i = 0; i < n; i++)
		keys[i] = i < got ? seq_key(ids + i * N, N) : -2;
	if (end)
		*end = nys_loader_tell(L);
	free(ids);
	nys_loader_close(L);
	return true;
}

/* World 2 and 3: each rank's stride of every global batch, disjoint, and
 * taken in turn the batch of one rank; one position for all ranks; seek on
 * a rank; one pass in list order; a rank outside its world refused. */
static void test_ranks(const char *dir)
{
	nys_loader_opts o = {.seed = 7, .shuffle = true, .cycle = true};
	const size_t b = 5, G = 200; /* sequences a rank a batch, global batches */
	long *ref = malloc(3 * b * G * sizeof *ref), *one = malloc(3 * b * G * sizeof *one);
	long *rk[3];
	for (int r = 0; r < 3; r++)
		rk[r] = malloc(b * G * sizeof *rk[r]);
	nys_loader_pos pref, p1, pr[3];
	bool ok = read_rank(dir, "train.json", &o, 0, 0, 3 * b * G, ref, NULL) &&
	          read_rank(dir, "train.json", &o, 0, 1, 3 * b * G, one, NULL);
	tap_ok(ok && !memcmp(ref, one, 3 * b * G * sizeof *ref),
	       "world 1 (rank 0) reads exactly what the default options read");
	for (unsigned w = 2; w <= 3; w++) {
		size_t B = w * b;
		ok = read_rank(dir, "train.json", &o, 0, 0, B * G, ref, &pref);
		for (unsigned r = 0; r < w; r++)
			ok = ok && read_rank(dir, "train.json", &o, r, w, b * G, rk[r], &pr[r]);
		bool same = ok, disjoint = ok, content = ok, where = ok;
		for (size_t g = 0; ok && g < G; g++)
			for (size_t i = 0; i < b; i++)
				for (unsigned r = 0; r < w; r++) {
					long k = rk[r][g * b + i];
					content &= k >= 0;
					same &= k == ref[g * B + i * w + r];
					/* within a batch of one pass, no other rank has it */
					if ((g + 1) * B <= (size_t)total)
						for (unsigned r2 = 0; r2 < w; r2++)
							for (size_t i2 = 0; r2 != r && i2 < b; i2++)
								disjoint &= rk[r2][g * b + i2] != k;
				}
		for (unsigned r = 0; ok && r < w; r++)
			where &= !memcmp(&pr[r], &pref, sizeof pref);
		char msg[160];
		snprintf(msg, sizeof msg, "world %u: %zu global batches of %zu, every sequence right",
		         w, G, B);
		tap_ok(content, msg);
		snprintf(msg, sizeof msg, "world %u: the ranks' sequences of a batch are disjoint", w);
		tap_ok(disjoint, msg);
		snprintf(msg, sizeof msg, "world %u: the ranks' sequences in turn are world 1's batches",
		         w);
		tap_ok(same, msg);
		snprintf(msg, sizeof msg, "world %u: every rank stands where world 1 does after the "
		         "same batches", w);
		tap_ok(where, msg);
	}

	/* resume on rank 1 of 3 from the position after 37 of its sequences */
	nys_err e;
	nys_loader_opts o3 = o;
	o3.rank = 1;
	o3.world = 3;
	nys_loader *L = nys_loader_open(dir, "train.json", &o3, &e);
	int32_t *ids = malloc(100 * N * sizeof *ids);
	int rc;
	bool resumed = L && take(L, 37, ids, NULL, &rc, &e) == 37;
	p1 = nys_loader_tell(L);
	nys_loader_close(L);
	L = nys_loader_open(dir, "train.json", &o3, &e);
	resumed = resumed && L && !nys_loader_seek(L, &p1, &e) &&
	          take(L, 100, ids, NULL, &rc, &e) == 100;
	for (size_t i = 0; resumed && i < 100; i++)
		resumed = seq_key(ids + i * N, N) == rk[1][37 + i];
	tap_ok(resumed, "rank 1 of 3 seeks to a position it told and reads on as before");
	nys_loader_close(L);
	free(ids);

	/* one pass in list order: the ranks' in turn are the whole list */
	nys_loader_opts lo = {0};
	size_t n1 = (size_t)total;
	ok = read_rank(dir, "train.json", &lo, 0, 0, n1 + 1, ref, NULL);
	bool ends = ok && ref[n1] == -2, all = ok;
	for (unsigned r = 0; r < 2; r++) {
		size_t mine = (n1 - r + 1) / 2;
		ok = read_rank(dir, "train.json", &lo, r, 2, mine + 1, rk[r], NULL);
		ends &= ok && rk[r][mine] == -2;
		for (size_t i = 0; ok && i < mine; i++)
			all &= rk[r][i] == ref[2 * i + r];
	}
	tap_ok(all && ends, "world 2, one pass in list order: the ranks share the list and end");

	lo.rank = 2;
	lo.world = 2;
	L = nys_loader_open(dir, "train.json", &lo, &e);
	tap_ok(!L && strstr(e.msg, "rank 2 of a world of 2"), "a rank outside its world: refused");
	nys_loader_close(L);
	for (int r = 0; r < 3; r++)
		free(rk[r]);
	free(ref);
	free(one);
}

int main(void)
{
	char top[160];
	/* a hang is a failure, not a stuck test run */
	alarm(300);
	if (!tap_scratch(top, sizeof top, "data")) {
		printf("Bail out! no scratch directory\n");
		return 1;
	}
	char dir[200];
	tap_subdir(dir, sizeof dir, top, "main");
	tap_ok(make_main(dir) == 0, "12 test shards and their lists written");
	test_order(dir);
	test_seq_shuffle(top);
	test_dev(dir);
	test_seek(dir);
	test_errors(top);
	test_mask();
	test_documented_order(dir);
	test_ranks(dir);
	char cmd[256];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", top);
	if (system(cmd))
		printf("# could not remove %s\n", top);
	return tap_done();
}
