/* The training data path (nys_data.h): a loader over a shard directory's
 * list with one shard of lookahead in a background thread, each rank of a
 * world reading its stride of the one order, and masked-LM masking.  All
 * randomness is the counter-based splitmix64 scheme that nys_data.h
 * documents, so positions are plain integers. */
#include "nys_data.h"
#include "nys_rng.h"
#include "nys_shard.h"
#include "nys_shard_dir.h"
#include "nys_bin.h"
#include "nys_hash.h"

#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

typedef unsigned long long ull;

/* ---- the generator (see nys_data.h) ---------------------------------------- */

#define GOLDEN UINT64_C(0x9E3779B97F4A7C15)
#define TAG_ORDR UINT64_C(0x6e79732e6f726472) /* "nys.ordr" */
#define TAG_SEQS UINT64_C(0x6e79732e73657173) /* "nys.seqs" */
#define TAG_MASK UINT64_C(0x6e79732e6d61736b) /* "nys.mask" */


/* The first splitmix64 output from state x: how keys are chained. */
static inline uint64_t sm(uint64_t x)
{
	return nys_mix64(x + GOLDEN);
}

/* Output j of splitmix64 seeded with state k. */
static inline uint64_t out(uint64_t k, uint64_t j)
{
	return nys_splitmix64_at(k, j);
}

static inline double u53(uint64_t r)
{
	return (double)(r >> 11) * (1.0 / 9007199254740992.0);
}

/* The outputs of one key, drawn in order. */
typedef struct stream {
	uint64_t k, j;
} stream;

static uint64_t stream_next(stream *s)
{
	return out(s->k, s->j++);
}

/* Uniform in [0, b), b >= 1, without bias: the draws below 2^64 mod b
 * are skipped, leaving a whole number of copies of [0, b).  (A stream, as
 * nys_array_shuffle's source of draws.) */
static uint64_t stream_below(void *sp, uint64_t b)
{
	stream *s = sp;
	uint64_t lim = (0 - b) % b, r;
	do
		r = stream_next(s);
	while (r < lim);
	return r % b;
}

/* Permute a (n elements of `size` bytes, the identity) as nys_data.h's
 * shuffles do, from key. */
static void permute(void *a, size_t n, size_t size, uint64_t key)
{
	stream s = {key, 0};
	nys_array_shuffle(a, n, size, stream_below, &s);
}

/* floor(r * v / 2^64) for v < 2^32, in 64-bit pieces: r = hi 2^32 + lo. */
static inline uint64_t mul_hi(uint64_t r, uint64_t v)
{
	uint64_t hi = (r >> 32) * v, lo = (r & 0xFFFFFFFFu) * v;
	return (hi + (lo >> 32)) >> 32;
}

/* ---- the loader ------------------------------------------------------------- */

enum { IDLE, QUEUED, RUNNING, DONE };

/* One shard in memory.  The loader has two: `cur`, which the caller's
 * thread hands out, and `ahead`, which the background thread fills.  The
 * job (pass, k, f) is written under the lock while the slot is IDLE or
 * QUEUED; the result (rc, err, data, perm, count) by the thread while it
 * is RUNNING, read by the caller once it saw DONE under the lock. */
typedef struct slot {
	int state;
	uint64_t pass, k;   /* the shard at index k of pass `pass`'s order ... */
	size_t f;           /* ... which is list index f */
	int rc;             /* 0, -1 (err), or 1: cancelled */
	nys_err err;
	uint32_t *data;     /* count * seq_len ids, in file order */
	size_t cap;         /* ids data has room for */
	uint32_t *perm;     /* the sequence order: perm[i] is the i-th handed out */
	size_t pcap;
	uint32_t count;
} slot;

/* A shard order of one pass, cached: the caller looks at the current
 * pass and the next one (the lookahead crosses pass ends). */
typedef struct order {
	bool ok;
	uint64_t pass;
	size_t *v;
} order;

struct nys_loader {
	/* fixed once open returns; the thread reads them freely */
	char *dir;
	nys_strlist names;
	uint32_t *counts;
	nys_loader_info info;
	nys_loader_opts o;
	uint64_t world, rank; /* o's, world 0 made 1 */
	uint64_t data_id;

	/* the caller's */
	nys_loader_pos pos;
	order ord[2];
	int ord_next;
	bool cur_ok;        /* cur holds the shard (cur->pass, cur->k), loaded */

	/* shared, under mu */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool quit;
	slot slots[2];
	slot *cur, *ahead;
	atomic_bool cancel; /* the thread drops the job it is reading */

	/* the thread's */
	pthread_t th;
	bool th_ok;
	nys_buf path;
};

static const size_t *pass_order(nys_loader *L, uint64_t pass)
{
	for (int i = 0; i < 2; i++)
		if (L->ord[i].ok && L->ord[i].pass == pass)
			return L->ord[i].v;
	order *c = &L->ord[L->ord_next];
	L->ord_next ^= 1;
	size_t n = L->info.shards;
	for (size_t i = 0; i < n; i++)
		c->v[i] = i;
	if (L->o.shuffle)
		permute(c->v, n, sizeof *c->v, sm(sm(L->o.seed ^ TAG_ORDR) ^ pass));
	c->ok = true;
	c->pass = pass;
	return c->v;
}

size_t nys_loader_shard_at(nys_loader *L, uint64_t pass, size_t k)
{
	return k < L->info.shards ? pass_order(L, pass)[k] : 0;
}

const char *nys_loader_shard_name(const nys_loader *L, size_t f)
{
	return f < L->names.n ? L->names.v[f] : "";
}

const nys_loader_info *nys_loader_header(const nys_loader *L)
{
	return &L->info;
}

nys_loader_pos nys_loader_tell(const nys_loader *L)
{
	return L->pos;
}

static bool at_end(const nys_loader *L, const nys_loader_pos *p)
{
	return !L->o.cycle && p->pass >= 1;
}

/* Move p onto a sequence that exists: past the end of its shard to the
 * next non-empty shard, past the end of a pass to the next pass (with
 * cycle) or to the end, (1, 0, 0).  Terminates: with cycle, open made sure
 * some shard is not empty. */
static void settle(nys_loader *L, nys_loader_pos *p)
{
	for (;;) {
		if (at_end(L, p)) {
			p->pass = 1;
			p->shard = p->seq = 0;
			return;
		}
		if (p->shard >= L->info.shards) {
			p->pass++;
			p->shard = p->seq = 0;
			continue;
		}
		if (p->seq < L->counts[pass_order(L, p->pass)[p->shard]])
			return;
		p->shard++;
		p->seq = 0;
	}
}

/* Move p k sequences on (through settle), or to the end. */
static void advance(nys_loader *L, nys_loader_pos *p, uint64_t k)
{
	for (; k && !at_end(L, p); k--) {
		p->seq++;
		p->delivered++;
		settle(L, p);
	}
}

/* Where this rank's next sequence is: `rank` on from the group's first. */
static nys_loader_pos mine(nys_loader *L)
{
	nys_loader_pos q = L->pos;
	advance(L, &q, L->rank);
	return q;
}

/* ---- the background thread ---- */

/* Read, check and order the shard of job s (RUNNING, so the thread's). */
static int load(nys_loader *L, slot *s)
{
	nys_err *e = &s->err;
	if (nys_path_join(&L->path, L->dir, L->names.v[s->f], e))
		return -1;
	nys_shard_reader *r = nys_shard_open(L->path.p, e);
	if (!r)
		return -1;
	const nys_shard_header *h = nys_shard_reader_header(r);
	const nys_loader_info *I = &L->info;
	uint32_t want = L->counts[s->f];
	int rc = 0;
	if (h->seq_len != I->seq_len || h->vocab_size != I->vocab_size || h->cls_id != I->cls_id ||
	    h->sep_id != I->sep_id || h->fingerprint != I->fingerprint || h->count != want) {
		rc = nys_err_set(e, "%s: changed since the loader opened it (now %u sequences of %u "
		                 "tokens, vocabulary %u; it had %u sequences)", L->path.p, h->count,
		                 h->seq_len, h->vocab_size, want);
		goto out;
	}
	size_t n = I->seq_len, need = (size_t)want * n;
	if (s->cap < need) {
		uint32_t *p = realloc(s->data, need * sizeof *p);
		if (!p) {
			rc = nys_err_set(e, "%s: out of memory for %zu ids", L->path.p, need);
			goto out;
		}
		s->data = p;
		s->cap = need;
	}
	if (s->pcap < want) {
		uint32_t *p = realloc(s->perm, (size_t)want * sizeof *p);
		if (!p) {
			rc = nys_err_set(e, "out of memory");
			goto out;
		}
		s->perm = p;
		s->pcap = want;
	}
	const uint32_t *ids;
	for (uint32_t i = 0; i < want; i++) {
		if (atomic_load(&L->cancel)) {
			rc = 1;
			goto out;
		}
		int k = nys_shard_next(r, &ids, e);
		if (k != 1) {
			/* k == 0 cannot come before count sequences; be safe anyway */
			rc = k ? -1 : nys_err_set(e, "%s: ended after %u of %u sequences", L->path.p, i,
			                         want);
			goto out;
		}
		memcpy(s->data + (size_t)i * n, ids, n * sizeof *ids);
	}
	/* the checksum, and nothing after it */
	int k = nys_shard_next(r, &ids, e);
	if (k) {
		rc = k < 0 ? -1 : nys_err_set(e, "%s: more sequences than its header says",
		                              L->path.p);
		goto out;
	}
	for (uint32_t i = 0; i < want; i++)
		s->perm[i] = i;
	if (L->o.shuffle)
		permute(s->perm, want, sizeof *s->perm,
		        sm(sm(sm(L->o.seed ^ TAG_SEQS) ^ s->pass) ^ s->f));
	s->count = want;
out:
	nys_shard_close(r);
	return rc;
}

static void *worker(void *arg)
{
	nys_loader *L = arg;
	pthread_mutex_lock(&L->mu);
	for (;;) {
		while (!L->quit && L->ahead->state != QUEUED)
			pthread_cond_wait(&L->cv, &L->mu);
		if (L->quit)
			break;
		/* the caller leaves ahead alone until it sees DONE */
		slot *s = L->ahead;
		s->state = RUNNING;
		pthread_mutex_unlock(&L->mu);
		s->rc = load(L, s);
		pthread_mutex_lock(&L->mu);
		s->state = DONE;
		pthread_cond_broadcast(&L->cv);
	}
	pthread_mutex_unlock(&L->mu);
	return NULL;
}

/* Under the lock: make `ahead` the job for (pass, k), unless it already
 * is (queued, being read, or read); a different job being read is
 * cancelled first. */
static void request_locked(nys_loader *L, uint64_t pass, uint64_t k)
{
	slot *a = L->ahead;
	if (a->state != IDLE && a->pass == pass && a->k == k)
		return;
	if (a->state == RUNNING) {
		atomic_store(&L->cancel, true);
		while (a->state != DONE)
			pthread_cond_wait(&L->cv, &L->mu);
		atomic_store(&L->cancel, false);
	}
	a->pass = pass;
	a->k = k;
	a->f = pass_order(L, pass)[k];
	a->state = QUEUED;
	pthread_cond_broadcast(&L->cv);
}

static void request(nys_loader *L, uint64_t pass, uint64_t k)
{
	pthread_mutex_lock(&L->mu);
	request_locked(L, pass, k);
	pthread_mutex_unlock(&L->mu);
}

/* Start reading the shard after (pass, k), if there is one. */
static void request_successor(nys_loader *L, uint64_t pass, uint64_t k)
{
	nys_loader_pos p = {.pass = pass, .shard = k};
	p.seq = L->counts[pass_order(L, pass)[k]];
	settle(L, &p);
	if (!at_end(L, &p))
		request(L, p.pass, p.shard);
}

/* Make cur the shard (pass, k): wait for the thread's lookahead (or ask for
 * it, if the thread was reading something else), then start the next. */
static int get_shard(nys_loader *L, uint64_t pass, uint64_t k, nys_err *e)
{
	L->cur_ok = false;
	pthread_mutex_lock(&L->mu);
	request_locked(L, pass, k);
	while (L->ahead->state != DONE)
		pthread_cond_wait(&L->cv, &L->mu);
	slot *s = L->ahead;
	L->ahead = L->cur;
	L->cur = s;
	L->ahead->state = IDLE;
	pthread_mutex_unlock(&L->mu);
	if (s->rc) {
		/* rc 1 (cancelled) cannot be the job asked for; say so anyway */
		if (s->rc < 0)
			*e = s->err;
		else
			nys_err_set(e, "%s: reading was cancelled", L->names.v[s->f]);
		return -1;
	}
	L->cur_ok = true;
	request_successor(L, pass, k);
	return 0;
}

int nys_loader_next(nys_loader *L, int32_t *ids, nys_err *e)
{
	nys_loader_pos *p = &L->pos, q = mine(L);
	if (at_end(L, &q)) {
		advance(L, p, L->world);
		return 0;
	}
	if ((!L->cur_ok || L->cur->pass != q.pass || L->cur->k != q.shard) &&
	    get_shard(L, q.pass, q.shard, e))
		return -1;
	const slot *s = L->cur;
	size_t n = L->info.seq_len;
	const uint32_t *src = s->data + (size_t)s->perm[q.seq] * n;
	for (size_t j = 0; j < n; j++)
		ids[j] = (int32_t)src[j];
	advance(L, p, L->world);
	return 1;
}

int nys_loader_seek(nys_loader *L, const nys_loader_pos *pos, nys_err *e)
{
	if (pos->data_id && pos->data_id != L->data_id)
		return nys_err_set(e, "%s: the position is of other data or another order (data id "
		                   "%016llx, this list and these options have %016llx)", L->dir,
		                   (ull)pos->data_id, (ull)L->data_id);
	nys_loader_pos p = *pos;
	p.data_id = L->data_id;
	bool bad;
	if (at_end(L, &p))
		bad = p.pass > 1 || p.shard || p.seq;
	else
		bad = p.shard >= L->info.shards ||
		      p.seq > L->counts[pass_order(L, p.pass)[p.shard]];
	if (bad)
		return nys_err_set(e, "%s: no position (pass %llu, shard %llu, sequence %llu) in "
		                   "this list of %zu shards", L->dir, (ull)p.pass, (ull)p.shard,
		                   (ull)p.seq, L->info.shards);
	settle(L, &p);
	L->pos = p;
	nys_loader_pos q = mine(L);
	if (!at_end(L, &q) && !(L->cur_ok && L->cur->pass == q.pass && L->cur->k == q.shard))
		request(L, q.pass, q.shard);
	return 0;
}

/* ---- opening and closing ---- */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The list: a JSON array of plain file names, none twice. */
static int read_list(const char *path, nys_strlist *l, nys_err *e)
{
	int rc = nys_shard_names_read(path, l, e);
	for (size_t i = 0; !rc && i < l->n; i++) {
		const char *s = l->v[i];
		if (!*s || strchr(s, '/') || !strcmp(s, ".") || !strcmp(s, ".."))
			rc = nys_err_set(e, "%s: item %zu, \"%s\", is not a file name", path, i + 1, s);
	}
	if (rc || l->n < 2)
		return rc;
	char **v = malloc(l->n * sizeof *v);
	if (!v)
		return nys_err_set(e, "out of memory");
	memcpy(v, l->v, l->n * sizeof *v);
	qsort(v, l->n, sizeof *v, cmp_str);
	for (size_t i = 1; !rc && i < l->n; i++)
		if (!strcmp(v[i], v[i - 1]))
			rc = nys_err_set(e, "%s: names %s twice", path, v[i]);
	free(v);
	return rc;
}

/* Every shard's header: one kind, the counts. */
static int read_headers(nys_loader *L, nys_err *e)
{
	nys_loader_info *I = &L->info;
	nys_buf path = {0};
	nys_shard_header h, first = {0};
	int rc = 0;
	for (size_t i = 0; !rc && i < L->names.n; i++) {
		if ((rc = nys_path_join(&path, L->dir, L->names.v[i], e)) ||
		    (rc = nys_shard_read_header(path.p, &h, e)))
			break;
		if (!i) {
			first = h;
			if (h.vocab_size > (UINT32_C(1) << 31))
				rc = nys_err_set(e, "%s: a vocabulary of %u ids does not fit 32-bit signed "
				                 "ids", path.p, h.vocab_size);
		} else if (h.seq_len != first.seq_len || h.vocab_size != first.vocab_size ||
		           h.cls_id != first.cls_id || h.sep_id != first.sep_id ||
		           h.fingerprint != first.fingerprint) {
			rc = nys_err_set(e, "%s: not of the kind of %s, the first shard of the list (%u "
			                 "tokens a sequence, vocabulary %u, [CLS] %u, [SEP] %u, "
			                 "fingerprint %016llx; the first: %u, %u, %u, %u, %016llx)",
			                 path.p, L->names.v[0], h.seq_len, h.vocab_size, h.cls_id,
			                 h.sep_id, (ull)h.fingerprint, first.seq_len, first.vocab_size,
			                 first.cls_id, first.sep_id, (ull)first.fingerprint);
		}
		L->counts[i] = h.count;
		I->sequences += h.count;
	}
	nys_buf_free(&path);
	if (rc)
		return rc;
	I->seq_len = first.seq_len;
	I->vocab_size = first.vocab_size;
	I->cls_id = first.cls_id;
	I->sep_id = first.sep_id;
	I->fingerprint = first.fingerprint;
	return 0;
}

/* A hash of what fixes the order: the names, their counts, the options. */
static uint64_t data_id(const nys_loader *L)
{
	nys_hash h;
	nys_hash_init(&h, TAG_ORDR);
	unsigned char b[8];
	for (size_t i = 0; i < L->names.n; i++) {
		nys_hash_update(&h, L->names.v[i], strlen(L->names.v[i]) + 1);
		nys_put_u32(b, L->counts[i]);
		nys_hash_update(&h, b, 4);
	}
	nys_put_u64(b, L->o.seed);
	nys_hash_update(&h, b, 8);
	b[0] = (unsigned char)(L->o.shuffle | L->o.cycle << 1);
	nys_hash_update(&h, b, 1);
	uint64_t id = nys_hash_final(&h);
	return id ? id : 1;
}

nys_loader *nys_loader_open(const char *dir, const char *listname, const nys_loader_opts *o,
                            nys_err *e)
{
	nys_loader *L = nys_mem_alloc(sizeof *L, e);
	if (!L)
		return NULL;
	pthread_mutex_init(&L->mu, NULL);
	pthread_cond_init(&L->cv, NULL);
	atomic_init(&L->cancel, false);
	L->cur = &L->slots[0];
	L->ahead = &L->slots[1];
	if (o)
		L->o = *o;
	L->world = L->o.world ? L->o.world : 1;
	L->rank = L->o.rank;
	nys_buf path = {0};
	if (L->rank >= L->world) {
		nys_err_set(e, "%s: rank %u of a world of %llu", dir, L->o.rank, (ull)L->world);
		goto fail;
	}
	if (!(L->dir = strdup(dir))) {
		nys_err_set(e, "out of memory");
		goto fail;
	}
	if (nys_path_join(&path, dir, listname, e) || read_list(path.p, &L->names, e))
		goto fail;
	size_t n = L->names.n;
	L->info.shards = n;
	if (!(L->counts = calloc(n + 1, sizeof *L->counts)) ||
	    !(L->ord[0].v = malloc((n + 1) * sizeof *L->ord[0].v)) ||
	    !(L->ord[1].v = malloc((n + 1) * sizeof *L->ord[1].v))) {
		nys_err_set(e, "out of memory");
		goto fail;
	}
	if (read_headers(L, e))
		goto fail;
	if (L->o.cycle && !L->info.sequences) {
		nys_err_set(e, "%s: no sequences to cycle over", path.p);
		goto fail;
	}
	L->data_id = data_id(L);
	L->pos.data_id = L->data_id;
	settle(L, &L->pos);

	/* the thread takes no signals: they stay with the program's threads */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int err = pthread_create(&L->th, NULL, worker, L);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err) {
		nys_err_set(e, "%s: cannot start the reading thread: %s", path.p, strerror(err));
		goto fail;
	}
	L->th_ok = true;
	nys_loader_pos q = mine(L);
	if (!at_end(L, &q))
		request(L, q.pass, q.shard);
	nys_buf_free(&path);
	return L;
fail:
	nys_buf_free(&path);
	nys_loader_close(L);
	return NULL;
}

void nys_loader_close(nys_loader *L)
{
	if (!L)
		return;
	if (L->th_ok) {
		pthread_mutex_lock(&L->mu);
		L->quit = true;
		atomic_store(&L->cancel, true);
		pthread_cond_broadcast(&L->cv);
		pthread_mutex_unlock(&L->mu);
		pthread_join(L->th, NULL);
	}
	for (int i = 0; i < 2; i++) {
		free(L->slots[i].data);
		free(L->slots[i].perm);
		free(L->ord[i].v);
	}
	pthread_mutex_destroy(&L->mu);
	pthread_cond_destroy(&L->cv);
	nys_strlist_free(&L->names);
	nys_buf_free(&L->path);
	free(L->counts);
	free(L->dir);
	free(L);
}

/* ---- masking ----------------------------------------------------------------- */

nys_mlm_opts nys_mlm_defaults(int32_t mask_id, uint32_t vocab_size, const int32_t *special,
                              size_t nspecial)
{
	return (nys_mlm_opts){
		.prob = 0.15, .mask_frac = 0.8, .random_frac = 0.5, .mask_id = mask_id,
		.vocab_size = vocab_size, .special = special, .nspecial = nspecial,
	};
}

static bool is_frac(double x)
{
	return x >= 0 && x <= 1;
}

int nys_mlm_check(const nys_mlm_opts *o, nys_err *e)
{
	if (!is_frac(o->prob) || !is_frac(o->mask_frac) || !is_frac(o->random_frac))
		return nys_err_set(e, "masking probabilities %g, %g, %g: each must be in [0, 1]",
		                   o->prob, o->mask_frac, o->random_frac);
	if (!o->vocab_size || o->vocab_size > (UINT32_C(1) << 31))
		return nys_err_set(e, "masking: a vocabulary of %u ids (1 to 2^31)", o->vocab_size);
	if (o->mask_id < 0 || (uint32_t)o->mask_id >= o->vocab_size)
		return nys_err_set(e, "masking: [MASK] id %d is outside the vocabulary (%u)",
		                   (int)o->mask_id, o->vocab_size);
	if (o->nspecial && !o->special)
		return nys_err_set(e, "masking: %zu special ids but no list", o->nspecial);
	return 0;
}

static inline bool is_special(const nys_mlm_opts *o, int32_t id)
{
	for (size_t i = 0; i < o->nspecial; i++)
		if (o->special[i] == id)
			return true;
	return false;
}

size_t nys_mlm_mask(int32_t *ids, int32_t *labels, size_t n, const nys_mlm_opts *o,
                    uint64_t seed, uint64_t counter)
{
	uint64_t k = sm(sm(seed ^ TAG_MASK) ^ counter);
	size_t chosen = 0;
	for (size_t i = 0; i < n; i++) {
		int32_t id = ids[i];
		labels[i] = NYS_MLM_LABEL_IGNORE;
		uint64_t j = 4 * (uint64_t)i;
		if (is_special(o, id) || !(u53(out(k, j)) < o->prob))
			continue;
		labels[i] = id;
		chosen++;
		if (u53(out(k, j + 1)) < o->mask_frac)
			ids[i] = o->mask_id;
		else if (u53(out(k, j + 2)) < o->random_frac)
			ids[i] = (int32_t)mul_hi(out(k, j + 3), o->vocab_size);
	}
	return chosen;
}
