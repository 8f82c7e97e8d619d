/* shard-N's work (nys_shard_cut.h): token streams cut into [CLS] block
 * [SEP] sequences as the original Nystromformer data pipeline
 * (preprocess_data_512.py) did, filled into shards here while writer
 * threads compress and write the full ones into a staging directory, then
 * installed with the directory's new lists. */
#include "nys_shard_cut.h"
#include "shard_impl.h"
#include "nys_bin.h"
#include "nys_rng.h"
#include "nys_shard.h"
#include "nys_shard_dir.h"
#include "nys_tokstream.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef unsigned long long ull;

/* If s is NAME-NNNNN.shard (the number written as "%05u" writes it), its
 * number; else -1. */
static int64_t shard_number(const char *s, const char *name)
{
	size_t k = strlen(name);
	if (strncmp(s, name, k) || s[k] != '-')
		return -1;
	s += k + 1;
	size_t d = strspn(s, "0123456789");
	if (d < 5 || d > 10 || strcmp(s + d, NYS_SHARD_SUFFIX))
		return -1;
	uint64_t v = strtoull(s, NULL, 10);
	if (v > UINT32_MAX || (d > 5 && s[0] == '0'))
		return -1;
	return (int64_t)v;
}

uint32_t nys_shard_default_per_shard(uint32_t seq_len)
{
	uint32_t k = seq_len ? NYS_SHARD_TOKENS / seq_len : 1;
	return k ? k : 1;
}

/* A shard being filled or written: its image, as nys_shard_write_image()
 * takes it. */
typedef struct job {
	unsigned char *data;
	size_t cap;
	uint32_t count;
	uint32_t number;
} job;

#define MAX_WRITERS 8

typedef struct run {
	const nys_shard_opts *o;
	nys_shard_stats *st;
	nys_shard_header h;     /* count filled in per shard */
	uint32_t per_shard;
	size_t slot;            /* bytes a sequence */
	nys_stage *stage;       /* the hidden directory the shards go to first */
	nys_strlist staged;     /* file names written there */
	nys_buf path;
	nys_rng rng;
	/* the filling side */
	job fill;
	uint32_t f;             /* tokens of the current block so far */
	nys_shard_zctx z;       /* for writing here when there are no threads */
	/* the writers: each compresses and writes whole shards while this
	 * thread fills the next one */
	pthread_t threads[MAX_WRITERS];
	unsigned nthreads;
	pthread_mutex_t lock;
	pthread_cond_t cond;    /* any change of the fields below */
	job queue[MAX_WRITERS];
	unsigned qn;
	job spare[2 * MAX_WRITERS + 1]; /* written shards' buffers, for reuse */
	unsigned nspare;
	bool quit, failed;
	nys_err werr;
} run;

/* Write one shard into the staging directory. */
static int write_job(run *R, job *j, nys_shard_zctx *z, nys_err *e)
{
	nys_buf path = {0};
	nys_shard_header h = R->h;
	h.count = j->count;
	if (nys_buf_printf(&path, "%s/%s-%05u" NYS_SHARD_SUFFIX, nys_stage_path(R->stage), R->o->name,
	                   j->number))
		return nys_err_set(e, "out of memory");
	int rc = nys_shard_write_image(path.p, &h, j->data,
	                     NYS_SHARD_HEADER_SIZE + (size_t)j->count * R->slot + 8,
	                     R->o->level ? R->o->level : NYS_SHARD_LEVEL, z, e);
	nys_buf_free(&path);
	return rc;
}

static void give_back(run *R, job *j)
{
	if (R->nspare < sizeof R->spare / sizeof *R->spare)
		R->spare[R->nspare++] = *j;
	else
		free(j->data);
}

static void *writer_main(void *arg)
{
	run *R = arg;
	nys_shard_zctx z = {0};
	pthread_mutex_lock(&R->lock);
	for (;;) {
		while (!R->qn && !R->quit)
			pthread_cond_wait(&R->cond, &R->lock);
		if (!R->qn)
			break;
		job j = R->queue[0];
		memmove(R->queue, R->queue + 1, --R->qn * sizeof *R->queue);
		bool skip = R->failed;
		pthread_cond_broadcast(&R->cond);
		pthread_mutex_unlock(&R->lock);
		nys_err e;
		int rc = skip ? 0 : write_job(R, &j, &z, &e);
		pthread_mutex_lock(&R->lock);
		if (rc && !R->failed) {
			R->failed = true;
			R->werr = e;
		}
		give_back(R, &j);
		pthread_cond_broadcast(&R->cond);
	}
	pthread_mutex_unlock(&R->lock);
	nys_shard_zctx_free(&z);
	return NULL;
}

static void start_writers(run *R)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n > MAX_WRITERS)
		n = MAX_WRITERS;
	for (long i = 0; i < n; i++) {
		if (pthread_create(&R->threads[i], NULL, writer_main, R))
			break;
		R->nthreads++;
	}
}

/* Let the writers finish what is queued (or drop it, if abandon); 0, or -1
 * with their error. */
static int stop_writers(run *R, bool abandon, nys_err *e)
{
	if (!R->nthreads)
		return 0;
	pthread_mutex_lock(&R->lock);
	R->quit = true;
	if (abandon && !R->failed) {
		R->failed = true;
		nys_err_set(&R->werr, "abandoned");
	}
	pthread_cond_broadcast(&R->cond);
	pthread_mutex_unlock(&R->lock);
	for (unsigned i = 0; i < R->nthreads; i++)
		pthread_join(R->threads[i], NULL);
	R->nthreads = 0;
	if (R->failed) {
		*e = R->werr;
		return -1;
	}
	return 0;
}

static int stage_name(run *R, uint32_t number, nys_err *e)
{
	nys_buf n = {0};
	int rc = 0;
	if (nys_buf_printf(&n, "%s-%05u" NYS_SHARD_SUFFIX, R->o->name, number))
		rc = nys_err_set(e, "out of memory");
	else
		rc = nys_strlist_add(&R->staged, n.p, e);
	nys_buf_free(&n);
	return rc;
}

/* Hand the full (or last) shard to a writer and start a new one. */
static int emit(run *R, nys_err *e)
{
	job j = R->fill;
	j.number = (uint32_t)R->st->shards;
	if (stage_name(R, j.number, e))
		return -1;
	R->st->shards++;
	if (!R->nthreads) {
		R->fill.count = 0;
		return write_job(R, &j, &R->z, e);
	}
	memset(&R->fill, 0, sizeof R->fill);
	pthread_mutex_lock(&R->lock);
	while (R->qn == R->nthreads && !R->failed)
		pthread_cond_wait(&R->cond, &R->lock);
	if (R->failed) {
		*e = R->werr;
		pthread_mutex_unlock(&R->lock);
		free(j.data);
		return -1;
	}
	R->queue[R->qn++] = j;
	if (R->nspare) {
		R->fill = R->spare[--R->nspare];
		R->fill.count = 0;
	}
	pthread_cond_broadcast(&R->cond);
	pthread_mutex_unlock(&R->lock);
	return 0;
}

/* Where sequence i of the shard being filled goes. */
static inline unsigned char *seq_at(run *R, uint32_t i)
{
	return R->fill.data + NYS_SHARD_HEADER_SIZE + (size_t)i * R->slot;
}

/* Room for one more sequence (and the checksum) in the shard being filled. */
static int grow(run *R, nys_err *e)
{
	job *j = &R->fill;
	size_t need = NYS_SHARD_HEADER_SIZE + ((size_t)j->count + 1) * R->slot + 8;
	if (need <= j->cap)
		return 0;
	size_t full = NYS_SHARD_HEADER_SIZE + (size_t)R->per_shard * R->slot + 8;
	size_t cap = j->cap ? 2 * j->cap : (size_t)1 << 22;
	if (cap < need)
		cap = need;
	if (cap > full)
		cap = full;
	unsigned char *p = realloc(j->data, cap);
	if (!p)
		return nys_err_set(e, "out of memory");
	j->data = p;
	j->cap = cap;
	return 0;
}

static inline void put_ids(unsigned char *p, const uint32_t *ids, size_t n, unsigned width)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	if (width == 4) {
		memcpy(p, ids, n * 4);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		uint16_t v = (uint16_t)ids[i];
		memcpy(p + 2 * i, &v, 2);
	}
#else
	if (width == 4) {
		for (size_t i = 0; i < n; i++)
			nys_put_u32(p + 4 * i, ids[i]);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		p[2 * i] = (unsigned char)ids[i];
		p[2 * i + 1] = (unsigned char)(ids[i] >> 8);
	}
#endif
}

static inline void put_id(unsigned char *p, uint32_t v, unsigned width)
{
	if (width == 2) {
		p[0] = (unsigned char)v;
		p[1] = (unsigned char)(v >> 8);
	} else {
		nys_put_u32(p, v);
	}
}

/* A block of N - 2 tokens is complete in the current slot: keep it or not
 * (one random() a block, as the original), close it with [CLS] and [SEP]. */
static int block_done(run *R, nys_err *e)
{
	R->st->blocks++;
	R->f = 0;
	bool keep = nys_rng_random(&R->rng) < R->o->keep;
	if (!keep)
		return 0;
	job *j = &R->fill;
	unsigned w = R->h.width;
	unsigned char *p = seq_at(R, j->count);
	put_id(p, R->h.cls_id, w);
	put_id(p + R->slot - w, R->h.sep_id, w);
	j->count++;
	R->st->kept++;
	if (j->count == R->per_shard && emit(R, e))
		return -1;
	return grow(R, e);
}

/* The documents' ids, one flat sequence, cut into blocks. */
static int add_tokens(run *R, const uint32_t *ids, size_t n, nys_err *e)
{
	uint32_t block = R->h.seq_len - 2;
	unsigned w = R->h.width;
	while (n) {
		size_t k = block - R->f;
		if (k > n)
			k = n;
		unsigned char *p = seq_at(R, R->fill.count);
		put_ids(p + (size_t)(1 + R->f) * w, ids, k, w);
		R->f += (uint32_t)k;
		ids += k;
		n -= k;
		if (R->f == block && block_done(R, e))
			return -1;
	}
	return 0;
}

static bool same_model(const nys_tok_header *a, const nys_tok_header *b)
{
	return a->width == b->width && a->vocab_size == b->vocab_size &&
	       a->fingerprint == b->fingerprint;
}

/* The other datasets' shards in dir must be of the same kind. */
static int check_dir(run *R, nys_err *e)
{
	nys_strlist l = {0};
	int rc = nys_shard_list_dir(R->o->dir, &l, e);
	for (size_t i = 0; !rc && i < l.n; i++) {
		if (shard_number(l.v[i], R->o->name) >= 0)
			continue;
		nys_shard_header h;
		if ((rc = nys_path_join(&R->path, R->o->dir, l.v[i], e)) ||
		    (rc = nys_shard_read_header(R->path.p, &h, e)))
			break;
		if (h.seq_len != R->h.seq_len || h.width != R->h.width ||
		    h.vocab_size != R->h.vocab_size || h.fingerprint != R->h.fingerprint ||
		    h.cls_id != R->h.cls_id || h.sep_id != R->h.sep_id)
			rc = nys_err_set(e, "%s holds shards of another kind (%s: %u tokens a sequence, "
			                 "vocabulary %u, fingerprint %016llx, [CLS] %u, [SEP] %u; these: "
			                 "%u, %u, %016llx, %u, %u): use another directory",
			                 R->o->dir, l.v[i], h.seq_len, h.vocab_size, (ull)h.fingerprint,
			                 h.cls_id, h.sep_id, R->h.seq_len, R->h.vocab_size,
			                 (ull)R->h.fingerprint, R->h.cls_id, R->h.sep_id);
	}
	nys_strlist_free(&l);
	return rc;
}

/* Move the new shards into place, then drop NAME's shards numbered beyond
 * them. */
static int install(run *R, nys_err *e)
{
	int rc = 0;
	for (size_t i = 0; !rc && i < R->staged.n; i++)
		rc = nys_stage_install(R->stage, R->staged.v[i], e);
	if (rc)
		return -1;
	nys_stage *done = R->stage;
	R->stage = NULL;
	if (nys_stage_commit(done, e))
		return -1;
	if (!R->st->shards)
		return 0; /* a run that cut nothing removes nothing */
	nys_strlist l = {0};
	if (nys_shard_list_dir(R->o->dir, &l, e))
		return -1;
	for (size_t i = 0; !rc && i < l.n; i++) {
		int64_t k = shard_number(l.v[i], R->o->name);
		if (k < 0 || (uint64_t)k < R->st->shards)
			continue;
		if ((rc = nys_path_join(&R->path, R->o->dir, l.v[i], e)))
			break;
		if (unlink(R->path.p))
			rc = nys_err_sys(e, "remove %s", R->path.p);
		else
			R->st->stale++;
	}
	nys_strlist_free(&l);
	return rc;
}

static int read_stream(run *R, nys_tok_reader *tr, nys_progress *prog, nys_err *e)
{
	const uint32_t *ids;
	size_t n;
	int k;
	while ((k = nys_tok_reader_next(tr, &ids, &n, e)) == 1) {
		if (add_tokens(R, ids, n, e))
			return -1;
		if (prog->on)
			nys_progress_update(prog, (R->st->tokens + nys_tok_reader_tokens(tr)) * R->h.width,
			                    R->st->kept, "sequences");
	}
	if (k < 0)
		return -1;
	R->st->files++;
	R->st->docs += nys_tok_reader_docs(tr);
	R->st->tokens += nys_tok_reader_tokens(tr);
	return 0;
}

static int check_opts(const nys_shard_opts *o, nys_err *e)
{
	if (!o->dir || !*o->dir)
		return nys_err_set(e, "no output directory");
	if (nys_name_check(o->name ? o->name : "", "dataset name", e))
		return -1;
	if (o->seq_len < NYS_SHARD_MIN_LEN || o->seq_len > NYS_SHARD_MAX_LEN)
		return nys_err_set(e, "sequence length %u is out of range (%u to %u)", o->seq_len,
		                   NYS_SHARD_MIN_LEN, NYS_SHARD_MAX_LEN);
	if (o->per_shard && (uint64_t)o->per_shard * o->seq_len > NYS_SHARD_MAX_TOKENS)
		return nys_err_set(e, "%u sequences of %u tokens are too many for one shard (at most "
		                   "%llu tokens)", o->per_shard, o->seq_len, (ull)NYS_SHARD_MAX_TOKENS);
	if (!(o->keep >= 0 && o->keep <= 1))
		return nys_err_set(e, "keep probability %g is not in [0, 1]", o->keep);
	if (!(o->dev_fraction >= 0 && o->dev_fraction <= 1))
		return nys_err_set(e, "dev fraction %g is not in [0, 1]", o->dev_fraction);
	return 0;
}

int nys_shard_run(const char *const *paths, size_t npaths, const nys_shard_opts *o,
                  nys_shard_stats *st, nys_err *e)
{
	static const char *const stdin_only[] = {"-"};
	memset(st, 0, sizeof *st);
	if (check_opts(o, e))
		return -1;
	double t0 = nys_now();
	if (!npaths) {
		paths = stdin_only;
		npaths = 1;
	}
	run R = {.o = o, .st = st};
	nys_progress prog = {0};
	nys_err ignored;
	R.per_shard = o->per_shard ? o->per_shard : nys_shard_default_per_shard(o->seq_len);
	nys_rng_seed(&R.rng, o->seed);
	pthread_mutex_init(&R.lock, NULL);
	pthread_cond_init(&R.cond, NULL);

	int rc = 0;
	nys_tok_reader *tr = nys_tok_reader_open(paths[0], e);
	if (!tr) {
		rc = -1;
		goto out;
	}
	nys_tok_header first = *nys_tok_reader_header(tr);
	R.h = (nys_shard_header){
		.version = NYS_SHARD_VERSION, .seq_len = o->seq_len, .width = first.width,
		.vocab_size = first.vocab_size, .cls_id = o->cls_id, .sep_id = o->sep_id,
		.fingerprint = first.fingerprint,
	};
	R.slot = (size_t)o->seq_len * first.width;
	if (o->cls_id >= first.vocab_size || o->sep_id >= first.vocab_size) {
		rc = nys_err_set(e, "%s: [CLS] %u or [SEP] %u is outside the vocabulary of %u pieces "
		                 "(see --cls and --sep)", nys_tok_reader_name(tr), o->cls_id,
		                 o->sep_id, first.vocab_size);
		goto out;
	}
	/* DIR is made here if missing, and removed again if this run fails
	 * and leaves it empty; the staging directory .NAME.tmp.XXXXXX of a
	 * run that died is removed first */
	if (!(R.stage = nys_stage_open(o->dir, o->name, e))) {
		rc = -1;
		goto out;
	}
	if ((rc = check_dir(&R, e)) || (rc = grow(&R, e)))
		goto out;
	start_writers(&R);

	if (o->progress)
		nys_progress_start(&prog, "shard", 0);
	for (size_t i = 0; !rc && i < npaths; i++) {
		if (i && !(tr = nys_tok_reader_open(paths[i], e))) {
			rc = -1;
			break;
		}
		const nys_tok_header *h = nys_tok_reader_header(tr);
		if (!same_model(h, &first)) {
			rc = nys_err_set(e, "%s: a stream of another model (width %u, vocabulary %u, "
			                 "fingerprint %016llx; %s has %u, %u, %016llx)",
			                 nys_tok_reader_name(tr), h->width, h->vocab_size,
			                 (ull)h->fingerprint, paths[0] && strcmp(paths[0], "-") ? paths[0]
			                 : "(stdin)", first.width, first.vocab_size,
			                 (ull)first.fingerprint);
			break;
		}
		rc = read_stream(&R, tr, &prog, e);
		nys_tok_reader_close(tr);
		tr = NULL;
	}
	nys_progress_end(&prog);
	/* the last, partial shard; the leftover tokens are dropped */
	st->leftover = R.f;
	if (!rc && R.fill.count)
		rc = emit(&R, e);
	if (stop_writers(&R, rc != 0, rc ? &ignored : e))
		rc = -1;
	if (!rc) {
		/* the shards and the lists that name them go into place together */
		nys_out_hold_signals();
		rc = install(&R, e);
		if (!rc)
			rc = nys_shard_write_lists(o->dir, o->split_seed, o->dev_fraction, &st->train,
			                           &st->dev, e);
		nys_out_release_signals();
	}
	st->dir_shards = st->train + st->dev;
out:
	if (tr)
		nys_tok_reader_close(tr);
	stop_writers(&R, true, &ignored);
	nys_stage_abort(R.stage); /* NULL once installed */
	free(R.fill.data);
	for (unsigned i = 0; i < R.nspare; i++)
		free(R.spare[i].data);
	nys_shard_zctx_free(&R.z);
	nys_strlist_free(&R.staged);
	nys_buf_free(&R.path);
	pthread_mutex_destroy(&R.lock);
	pthread_cond_destroy(&R.cond);
	st->seconds = nys_now() - t0;
	return rc ? -1 : 0;
}
