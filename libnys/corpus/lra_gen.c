/* `nys-lra gen listops`: LRA's ListOps generator (nys_lra_gen.h), written
 * in C over the same random draws. */
#include "nys_lra_gen.h"
#include "nys_hash.h"
#include "nys_rng.h"

#include <stdlib.h>
#include <string.h>

void nys_lra_gen_defaults(nys_lra_gen_opts *o)
{
	*o = (nys_lra_gen_opts){.seed = 0, .train = 96000, .dev = 2000, .test = 2000,
	                        .min_len = 500, .max_len = 2000, .max_depth = 10, .max_args = 10,
	                        .name = "basic", .dir = "."};
}

/* A tree in prefix form: a value v (0..9) is v; an operator node is
 * 10 + op (MIN, MAX, MED, SM), its child count, the children, END. */
#define OP0 10
#define END 14

typedef struct tree {
	int32_t *t;
	size_t n, cap;
	uint64_t length;   /* LRA's length: values + 2 per operator */
	bool full;         /* stopped storing (too long to keep anyway) */
	uint64_t limit;    /* store no more tokens than this */
} tree;

static void put(tree *t, int32_t v)
{
	if (t->full)
		return;
	if (t->n == t->cap) {
		size_t c = t->cap ? 2 * t->cap : 4096;
		int32_t *p = realloc(t->t, c * sizeof *p);
		if (!p) {
			t->full = true; /* reported as out of memory by the caller */
			t->limit = 0;
			return;
		}
		t->t = p;
		t->cap = c;
	}
	t->t[t->n++] = v;
	if (t->n >= t->limit)
		t->full = true;
}

/* generate_tree(depth, max_depth, max_args), the draws in its order. */
static void grow(tree *t, nys_rng *r, uint32_t depth, const nys_lra_gen_opts *o)
{
	double x = depth < o->max_depth ? nys_rng_random(r) : 1.0;
	if (x > 0.25) {
		put(t, (int32_t)nys_rng_below(r, 10));
		t->length += 1;
		return;
	}
	uint32_t k = 2 + (uint32_t)nys_rng_below(r, o->max_args - 1);
	size_t at = t->n;
	bool stored = !t->full;
	put(t, 0);
	put(t, (int32_t)k);
	for (uint32_t i = 0; i < k; i++)
		grow(t, r, depth + 1, o);
	int32_t op = (int32_t)nys_rng_below(r, 4);
	if (stored && at < t->n)
		t->t[at] = OP0 + op;
	put(t, END);
	t->length += 2;
}

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;
	return (x > y) - (x < y);
}

/* The value of the node at t[*i], *i moved past it. */
static int eval(const int32_t *t, size_t *i)
{
	int32_t v = t[(*i)++];
	if (v < OP0)
		return v;
	int k = t[(*i)++];
	int *a = malloc((size_t)k * sizeof *a), sum = 0, lo = 10, hi = -1, res;
	for (int j = 0; j < k; j++) {
		int x = eval(t, i);
		if (a)
			a[j] = x;
		sum += x;
		lo = x < lo ? x : lo;
		hi = x > hi ? x : hi;
	}
	(*i)++; /* END */
	switch (v - OP0) {
	case 0: res = lo; break;
	case 1: res = hi; break;
	case 2:
		/* int(np.median): the middle value, or the mean of the middle two
		 * truncated */
		if (!a)
			return -1;
		qsort(a, (size_t)k, sizeof *a, cmp_int);
		res = k % 2 ? a[k / 2] : (a[k / 2 - 1] + a[k / 2]) / 2;
		break;
	default: res = sum % 10; break;
	}
	free(a);
	return res;
}

static int write_node(const int32_t *t, size_t *i, nys_buf *b)
{
	static const char *const ops[] = {"[MIN", "[MAX", "[MED", "[SM"};
	int32_t v = t[(*i)++];
	if (v < OP0)
		return nys_buf_addc(b, (char)('0' + v));
	int k = t[(*i)++], rc = 0;
	for (int j = 0; j <= k; j++)
		rc |= nys_buf_adds(b, "( ");
	rc |= nys_buf_adds(b, ops[v - OP0]);
	for (int j = 0; j < k; j++)
		rc |= nys_buf_addc(b, ' ') | write_node(t, i, b) | nys_buf_adds(b, " )");
	(*i)++;
	return rc | nys_buf_adds(b, " ] )");
}

/* A set of 64-bit hashes of kept trees (open addressing; 0 stands for
 * empty, so hash 0 is stored as 1). */
typedef struct hset {
	uint64_t *v;
	size_t mask;
} hset;

static bool hset_add(hset *s, uint64_t h)
{
	h = h ? h : 1;
	for (size_t i = (size_t)h & s->mask;; i = (i + 1) & s->mask) {
		if (s->v[i] == h)
			return false;
		if (!s->v[i]) {
			s->v[i] = h;
			return true;
		}
	}
}

int nys_lra_gen_listops(const nys_lra_gen_opts *o, nys_err *e)
{
	if (o->max_args < 2 || o->max_depth < 1 || o->min_len >= o->max_len)
		return nys_err_set(e, "gen: bad bounds (max args %u, max depth %u, lengths %u to %u)",
		                   o->max_args, o->max_depth, o->min_len, o->max_len);
	uint64_t total = o->train + o->dev + o->test;
	if (nys_mkdirs(o->dir, e))
		return -1;
	static const char *const split[] = {"train", "val", "test"};
	uint64_t want[3] = {o->train, o->dev, o->test};
	nys_out *out[3] = {NULL, NULL, NULL};
	nys_buf path = {0}, line = {0};
	hset set = {0};
	size_t size = 1024;
	while (size < 2 * total + 2)
		size *= 2;
	set.v = calloc(size, sizeof *set.v);
	set.mask = size - 1;
	/* an operator is stored as three ints (it, its count, END) and counts two
	 * in the length: a tree stored past 2 * max_len ints is too long anyway */
	tree t = {.limit = 2 * (uint64_t)o->max_len + 16};
	int rc = set.v ? 0 : nys_err_set(e, "out of memory");
	for (int s = 0; !rc && s < 3; s++) {
		char name[NYS_NAME_MAX + 16];
		snprintf(name, sizeof name, "%s_%s.tsv", o->name, split[s]);
		rc = nys_path_join(&path, o->dir, name, e);
		if (!rc && !(out[s] = nys_out_open(path.p, 0, e)))
			rc = -1;
		if (!rc)
			rc = nys_out_puts(out[s], "Source\tTarget\r\n", e);
	}
	nys_rng r;
	nys_rng_seed(&r, o->seed);
	/* a bound on the draws, so that bounds no tree can meet end in an
	 * error instead of a loop without end */
	uint64_t draws = 0, max_draws = 1000 * total + 10000000;
	for (uint64_t kept = 0, s = 0, in_s = 0; !rc && kept < total; draws++) {
		if (draws == max_draws) {
			rc = nys_err_set(e, "gen: only %llu of %llu trees of lengths %u to %u after "
			                 "%llu draws (depth %u, %u arguments)",
			                 (unsigned long long)kept, (unsigned long long)total,
			                 o->min_len + 1, o->max_len - 1, (unsigned long long)draws,
			                 o->max_depth, o->max_args);
			break;
		}
		t.n = 0;
		t.length = 0;
		t.full = false;
		grow(&t, &r, 1, o);
		if (!t.limit) {
			rc = nys_err_set(e, "out of memory");
			break;
		}
		if (!(t.length > o->min_len && t.length < o->max_len))
			continue;
		if (!hset_add(&set, nys_hash64(t.t, t.n * sizeof *t.t, 0)))
			continue;
		while (in_s == want[s]) {
			s++;
			in_s = 0;
		}
		size_t i = 0, j = 0;
		line.n = 0;
		int v = eval(t.t, &j);
		if (v < 0 || write_node(t.t, &i, &line) || nys_buf_printf(&line, "\t%d\r\n", v)) {
			rc = nys_err_set(e, "out of memory");
			break;
		}
		rc = nys_out_write(out[s], line.p, line.n, e);
		kept++;
		in_s++;
	}
	for (int s = 0; !rc && s < 3; s++)
		rc = nys_out_finish(out[s], e);
	for (int s = 0; s < 3; s++) {
		if (!out[s])
			continue;
		if (rc)
			nys_out_abort(out[s]);
		else if (nys_out_commit(out[s], e))
			rc = -1;
	}
	free(t.t);
	free(set.v);
	nys_buf_free(&path);
	nys_buf_free(&line);
	return rc;
}
