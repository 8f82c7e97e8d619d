/* Masked-LM validation over a shard list (nys_mlm_eval.h): shared by
 * nys-train's per-epoch validation and `nys-eval mlm`, whose driver (a
 * config's checkpoints scored one after another) is here too. */
#include "nys_mlm_eval.h"
#include "nys_ckpt.h"
#include "nys_eval.h"

#include <cblas.h>
#include <jansson.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int nys_mlm_eval(nys_model *m, nys_loader *dev, const nys_mlm_eval_opts *o, nys_mlm_score *s,
                 nys_err *e)
{
	*s = (nys_mlm_score){0};
	if (o->micro < 1)
		return nys_err_set(e, "mlm validation: a micro-batch of %d sequences", o->micro);
	nys_loader_pos zero = {0};
	zero.data_id = nys_loader_tell(dev).data_id;
	if (nys_loader_seek(dev, &zero, e))
		return -1;
	size_t T = nys_loader_header(dev)->seq_len, n = (size_t)o->micro * T;
	int32_t *ids = malloc(n * sizeof *ids), *labels = malloc(n * sizeof *labels);
	if (!ids || !labels) {
		free(ids);
		free(labels);
		return nys_err_set(e, "mlm validation: out of memory for %d x %zu tokens", o->micro,
		                   T);
	}
	/* each micro-batch's loss * (labels + 1e-6), labels and correct
	 * predictions, added up in order at the end */
	double *v = NULL, loss = 0, count = 0, correct = 0;
	size_t nv = 0, cap = 0;
	const nys_world *w = o->world;
	unsigned W = nys_world_many(w) ? w->world : 1, rank = W > 1 ? w->rank : 0;
	uint64_t got = 0;
	uint64_t mseed = o->seed ^ UINT64_C(0x6e79732e64657621); /* "nys.dev!" */
	int rc = 0;
	bool end = false;
	for (size_t j = 0; got < o->sequences && !end; j++) {
		bool mine = j % W == rank;
		int nb = 0;
		while (nb < o->micro && got < o->sequences) {
			int r = nys_loader_next(dev, ids + (size_t)nb * T, e);
			if (r < 0) {
				rc = -1;
				goto out;
			}
			if (r == 0) {
				end = true;
				break;
			}
			/* the counter is the sequence's number in the list */
			if (mine)
				nys_mlm_mask(ids + (size_t)nb * T, labels + (size_t)nb * T, T, &o->mlm,
				             mseed, got);
			nb++;
			got++;
		}
		if (!nb)
			break;
		if (nv + 3 > cap) {
			cap = cap ? 2 * cap : 96;
			double *nvp = realloc(v, cap * sizeof *v);
			if (!nvp) {
				rc = nys_err_set(e, "mlm validation: out of memory");
				goto out;
			}
			v = nvp;
		}
		double *x = v + nv;
		nv += 3;
		x[0] = x[1] = x[2] = 0;
		if (!mine)
			continue;
		nys_batch b = {.B = nb, .T = (int)T, .ids = ids, .labels = labels};
		nys_model_stats st;
		if (nys_model_forward(m, &b, false, 0, &st, e)) {
			rc = -1;
			goto out;
		}
		x[0] = st.loss * (st.count + 1e-6);
		x[1] = st.count;
		x[2] = st.correct;
	}
	if (W > 1 && nv && w->sum(w->ctx, v, nv, e)) {
		rc = -1;
		goto out;
	}
	for (size_t i = 0; i < nv; i += 3) {
		loss += v[i];
		count += v[i + 1];
		correct += v[i + 2];
	}
	if (got)
		*s = (nys_mlm_score){.loss = loss / (count + 1e-6), .accuracy = correct / (count + 1e-6),
		                     .count = count, .sequences = got};
out:
	free(v);
	free(ids);
	free(labels);
	return rc;
}

int nys_mlm_setup(const nys_loader_info *li, const nys_pretrain_settings *s,
                  int32_t special[5], nys_mlm_opts *mlm, nys_err *e)
{
	special[0] = (int32_t)li->cls_id;
	special[1] = (int32_t)li->sep_id;
	special[2] = s->pad_id;
	special[3] = s->unk_id;
	special[4] = s->mask_id;
	*mlm = nys_mlm_defaults(s->mask_id, li->vocab_size, special, 5);
	return nys_mlm_check(mlm, e);
}

/* ---- nys-eval mlm ---------------------------------------------------------------- */

typedef struct scorer {
	const nys_mlm_run_opts *o;
	const nys_info *info;
	nys_config *cfg;
	nys_pretrain_settings s;
	nys_loader *dev;
	nys_model *m;
	nys_mlm_eval_opts vo;
	int32_t special[5];
	nys_out *out;
} scorer;

static bool all_digits(const char *s)
{
	return *s && strspn(s, "0123456789") == strlen(s);
}

static int open_data(scorer *c, nys_err *e)
{
	const nys_mlm_run_opts *o = c->o;
	nys_train_opts to = {.config = c->cfg->name, .data = o->data};
	if (nys_pretrain_settings_read(&c->s, c->cfg, &to, e))
		return -1;
	char path[4096];
	snprintf(path, sizeof path, "%s/dev.json", c->s.data);
	if (access(path, F_OK))
		return nys_err_sys(e, "%s", path);
	nys_loader_opts lo = {.shuffle = false, .cycle = false};
	if (!(c->dev = nys_loader_open(c->s.data, "dev.json", &lo, e)))
		return -1;
	const nys_loader_info *li = nys_loader_header(c->dev);
	if (!li->sequences)
		return nys_err_set(e, "%s lists no sequences: nothing to score", path);
	if (li->seq_len > c->cfg->model.max_seq_len)
		return nys_err_set(e, "%s: sequences of %u tokens, longer than max_seq_len %u of %s",
		                   path, li->seq_len, c->cfg->model.max_seq_len, c->cfg->name);
	if (nys_config_uses_landmarks(&c->cfg->model) && li->seq_len < c->cfg->model.num_landmarks)
		return nys_err_set(e, "%s: sequences of %u tokens, shorter than num_landmarks %u",
		                   path, li->seq_len, c->cfg->model.num_landmarks);
	/* nys-train's model has the shards' vocabulary, whatever the config says */
	c->cfg->model.vocab_size = li->vocab_size;
	uint64_t bs = o->batch_size ? o->batch_size : c->s.batch_size;
	uint64_t nb = o->batches ? o->batches : c->s.validate_batches;
	c->vo = (nys_mlm_eval_opts){
		.sequences = nb ? nb * bs : li->sequences,
		.micro = (int)(c->s.inst_per_gpu < bs ? c->s.inst_per_gpu : bs),
		.seed = c->s.seed, .world = o->world,
	};
	if (o->threads > 0) {
		omp_set_num_threads(o->threads);
		openblas_set_num_threads(o->threads);
	}
	if (nys_mlm_setup(li, &c->s, c->special, &c->vo.mlm, e))
		return -1;
	nys_model_opts mo = {.dtype = NYS_F32, .mlm = true, .device = o->device};
	return (c->m = nys_model_new(&c->cfg->model, &mo, e)) ? 0 : -1;
}

/* Score one checkpoint and write its line. */
static int score(scorer *c, const char *path, nys_err *e)
{
	nys_st *st = nys_st_load(path, e);
	if (!st)
		return -1;
	uint32_t v = nys_eval_saved_vocab(st);
	if (v && v != c->cfg->model.vocab_size) {
		nys_st_free(st);
		return nys_err_set(e, "%s: a model of %u pieces, the shards of %s have %u", path, v,
		                   c->s.data, c->cfg->model.vocab_size);
	}
	int rc = nys_model_load_st(c->m, st, NYS_LOAD_HEADS_OPTIONAL, e);
	nys_st_free(st);
	nys_mlm_score sc;
	if (rc || nys_mlm_eval(c->m, c->dev, &c->vo, &sc, e))
		return -1;
	json_t *j = json_pack("{s:s, s:f, s:f, s:f, s:I}", "checkpoint", path, "valid_loss",
	                      sc.loss, "valid_mlm_accu", sc.accuracy, "valid_count", sc.count,
	                      "valid_inst", (json_int_t)sc.sequences);
	long long ep = nys_ckpt_epoch_of(path);
	if (j && ep >= 0 &&
	    (json_object_set_new(j, "epoch", json_integer(ep)) ||
	     json_object_set_new(j, "idx",
	                         json_integer((json_int_t)((uint64_t)(ep + 1) *
	                                                   c->s.batches_per_epoch)))))
		rc = -1;
	char *s = j && !rc ? json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT | JSON_REAL_PRECISION(10))
	                   : NULL;
	json_decref(j);
	if (!s)
		return nys_err_set(e, "out of memory");
	/* the other ranks of a world got the same score: rank 0 writes it */
	if (!nys_world_many(c->o->world) || c->o->world->rank == 0)
		rc = nys_out_puts(c->out, s, e) || nys_out_puts(c->out, "\n", e) ? -1 : 0;
	free(s);
	if (!rc)
		nys_info_say(c->info, "%s: loss %.4f, accuracy %.4f (%llu sequences, %.0f labels)",
		             path, sc.loss, sc.accuracy, (unsigned long long)sc.sequences, sc.count);
	return rc;
}

int nys_mlm_run(const nys_mlm_run_opts *o, nys_out *out, const nys_info *info, nys_err *e)
{
	scorer c = {.o = o, .info = info, .out = out};
	int rc = -1;
	uint64_t *epochs = NULL;
	size_t n = 0;
	char path[4096];
	if (!(c.cfg = nys_config_load(o->config ? o->config : "config.json", NULL, NULL, e)) ||
	    open_data(&c, e))
		goto out;
	if (!strcmp(o->checkpoint, "all")) {
		if (nys_ckpt_epochs(c.s.ckpt, &epochs, &n, e))
			goto out;
		if (!n) {
			nys_err_set(e, "%s: no epoch checkpoints (cp-EEEE.model)", c.s.ckpt);
			goto out;
		}
		for (size_t i = 0; i < n; i++) {
			snprintf(path, sizeof path, "%s/cp-%04llu.model", c.s.ckpt,
			         (unsigned long long)epochs[i]);
			if (score(&c, path, e))
				goto out;
		}
	} else {
		if (all_digits(o->checkpoint))
			snprintf(path, sizeof path, "%s/cp-%04llu.model", c.s.ckpt,
			         strtoull(o->checkpoint, NULL, 10));
		else
			snprintf(path, sizeof path, "%s", o->checkpoint);
		if (access(path, F_OK)) {
			nys_err_sys(e, "%s", path);
			goto out;
		}
		if (score(&c, path, e))
			goto out;
	}
	rc = 0;
out:
	free(epochs);
	nys_model_free(c.m);
	nys_loader_close(c.dev);
	nys_pretrain_settings_free(&c.s);
	nys_config_free(c.cfg);
	return rc;
}
