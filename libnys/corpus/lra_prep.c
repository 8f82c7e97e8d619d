/* `nys-lra prepare` (nys_lra_prep.h): read a task's splits, settle where
 * dev comes from, and put the shards and the manifest in place together
 * through a staging folder, so that a prepared folder is never half old
 * and half new. */
#include "nys_lra_prep.h"
#include "nys_lra_read.h"
#include "nys_rng.h"

#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void nys_lra_prep_defaults(nys_lra_prep_opts *o)
{
	*o = (nys_lra_prep_opts){.name = "basic", .difficulty = "curv_contour_length_14",
	                         .dev_count = UINT64_MAX, .per_shard = 8192, .dir = "."};
}

enum { TRAIN, DEV, TEST };
static const char *const split_name[] = {"train", "dev", "test"};

/* One split: the records `order` of writer `src`. */
typedef struct split {
	nys_lra_writer *src;
	uint64_t *order, n;
	bool present;
} split;

static int iota(split *s, nys_lra_writer *w, uint64_t from, uint64_t to, nys_err *e)
{
	s->src = w;
	s->present = true;
	s->n = to - from;
	s->order = malloc((s->n ? s->n : 1) * sizeof *s->order);
	if (!s->order)
		return nys_err_set(e, "out of memory");
	for (uint64_t i = 0; i < s->n; i++)
		s->order[i] = from + i;
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

/* Read one file or folder of the task into w. */
static int read_into(nys_lra_task task, const char *path, nys_lra_writer *w, nys_err *e)
{
	switch (task) {
	case NYS_LRA_LISTOPS: return nys_lra_read_listops(path, w, e);
	case NYS_LRA_TEXT: return nys_lra_read_imdb(path, w, e);
	case NYS_LRA_RETRIEVAL: return nys_lra_read_aan(path, w, e);
	case NYS_LRA_IMAGE: return nys_lra_read_cifar(path, w, e);
	default: return nys_lra_read_pathfinder(path, w, e);
	}
}

static int read_path(nys_lra_task task, const char *dir, const char *name, nys_lra_writer *w,
                     nys_err *e)
{
	nys_buf p = {0};
	int rc = nys_path_join(&p, dir, name, e) || read_into(task, p.p, w, e) ? -1 : 0;
	nys_buf_free(&p);
	return rc;
}

/* The manifest's text. */
static char *manifest(const nys_lra_prep_opts *o, const nys_lra_header *h, const split *sp,
                      const nys_strlist *names, const char *dev_from)
{
	static const char *const vocab[] = {NULL, "listops", "bytes", "pixels"};
	json_t *m = json_object(), *splits = json_object();
	json_object_set_new(m, "format", json_string("nys-lra"));
	json_object_set_new(m, "version", json_integer(NYS_LRA_VERSION));
	json_object_set_new(m, "task", json_string(nys_lra_task_name(h->task)));
	json_object_set_new(m, "vocab", json_string(vocab[h->vocab]));
	json_object_set_new(m, "vocab_size", json_integer(h->vocab_size));
	json_object_set_new(m, "classes", json_integer(h->classes));
	json_object_set_new(m, "docs", json_integer(h->docs));
	json_object_set_new(m, "max_len", json_integer(h->max_len));
	json_object_set_new(m, "pad_id", json_integer(h->pad_id));
	json_object_set_new(m, "dev_from", json_string(dev_from));
	if (o->dev_count != UINT64_MAX)
		json_object_set_new(m, "dev_seed", json_integer((json_int_t)o->seed));
	for (int s = 0; s < 3; s++) {
		if (!sp[s].present)
			continue;
		json_t *x = json_object(), *l = json_array();
		json_object_set_new(x, "records", json_integer((json_int_t)sp[s].n));
		for (size_t i = 0; i < names[s].n; i++)
			json_array_append_new(l, json_string(names[s].v[i]));
		json_object_set_new(x, "shards", l);
		json_object_set_new(splits, split_name[s], x);
	}
	json_object_set_new(m, "splits", splits);
	char *t = json_dumps(m, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(m);
	return t;
}

/* Shards of an earlier run that this one does not write: (train|dev|
 * test)-NNNNN.lra in dir not among names. */
static int remove_stale(const char *dir, const nys_strlist *names, nys_err *e)
{
	DIR *d = opendir(dir);
	if (!d)
		return nys_err_sys(e, "%s", dir);
	struct dirent *de;
	int rc = 0;
	nys_buf p = {0};
	while (!rc && (de = readdir(d))) {
		const char *n = de->d_name;
		int s;
		for (s = 0; s < 3; s++) {
			size_t k = strlen(split_name[s]);
			if (!strncmp(n, split_name[s], k) && n[k] == '-' && strlen(n) == k + 10 &&
			    strspn(n + k + 1, "0123456789") == 5 && !strcmp(n + k + 6, NYS_LRA_SUFFIX))
				break;
		}
		if (s == 3)
			continue;
		bool keep = false;
		for (int t = 0; t < 3 && !keep; t++)
			for (size_t i = 0; i < names[t].n && !keep; i++)
				keep = !strcmp(names[t].v[i], n);
		if (keep)
			continue;
		if (nys_path_join(&p, dir, n, e))
			rc = -1;
		else if (unlink(p.p))
			rc = nys_err_sys(e, "%s: removing a stale shard", p.p);
	}
	closedir(d);
	nys_buf_free(&p);
	return rc;
}

int nys_lra_prepare(const nys_lra_prep_opts *o, nys_err *e)
{
	nys_lra_header h;
	nys_lra_kind(o->task, o->max_len, &h);
	const nys_lra_task task = o->task;
	nys_lra_writer *w[3] = {NULL, NULL, NULL};
	split sp[3] = {{0}};
	nys_strlist names[3] = {{0}};
	const char *dev_from = "file";
	const char *files[3] = {o->train, o->dev, o->test};
	int rc = 0;
	for (int s = 0; s < 3 && !rc; s++)
		if (!(w[s] = nys_lra_writer_open(split_name[s], &h, e)))
			rc = -1;
	if (rc)
		goto out;
	bool given[3] = {false, false, false};
	if (files[0] || files[1] || files[2]) {
		if (task != NYS_LRA_LISTOPS && task != NYS_LRA_RETRIEVAL) {
			rc = nys_err_set(e, "%s: splits are read from its folder, not from --train, --dev "
			                 "or --test", nys_lra_task_name(task));
			goto out;
		}
	}
	if (!o->input && !files[0] && !files[1] && !files[2]) {
		rc = nys_err_set(e, "%s: no input", nys_lra_task_name(task));
		goto out;
	}
	switch (task) {
	case NYS_LRA_LISTOPS: case NYS_LRA_RETRIEVAL: {
		static const char *const aan[] = {"new_aan_pairs.train.tsv", "new_aan_pairs.eval.tsv",
		                                  "new_aan_pairs.test.tsv"};
		static const char *const lo[] = {"train", "val", "test"};
		for (int s = 0; s < 3 && !rc; s++) {
			if (files[s]) {
				rc = read_into(task, files[s], w[s], e);
			} else if (o->input) {
				char name[NYS_NAME_MAX + 16];
				snprintf(name, sizeof name, "%s_%s.tsv", o->name, lo[s]);
				rc = read_path(task, o->input, task == NYS_LRA_LISTOPS ? name : aan[s], w[s], e);
			} else
				continue;
			given[s] = true;
		}
		break;
	}
	case NYS_LRA_TEXT:
		rc = read_path(task, o->input, "train", w[TRAIN], e) ||
		     read_path(task, o->input, "test", w[TEST], e) ? -1 : 0;
		given[TRAIN] = given[TEST] = true;
		dev_from = "test";
		break;
	case NYS_LRA_IMAGE:
		for (int i = 1; i <= 5 && !rc; i++) {
			char name[32];
			snprintf(name, sizeof name, "data_batch_%d.bin", i);
			rc = read_path(task, o->input, name, w[TRAIN], e);
		}
		if (!rc)
			rc = read_path(task, o->input, "test_batch.bin", w[TEST], e);
		given[TRAIN] = given[TEST] = true;
		dev_from = "train-tail";
		break;
	case NYS_LRA_PATHFINDER:
		rc = read_path(task, o->input, o->difficulty, w[TRAIN], e);
		given[TRAIN] = true;
		dev_from = "80/10/10";
		break;
	}
	if (rc)
		goto out;
	uint64_t ntrain = nys_lra_writer_count(w[TRAIN]);
	if (o->dev_count != UINT64_MAX) {
		if (given[DEV]) {
			rc = nys_err_set(e, "a dev split is given: no --dev-count with it");
			goto out;
		}
		if (!given[TRAIN] || o->dev_count >= ntrain) {
			rc = nys_err_set(e, "--dev-count %llu: the train split has %llu records",
			                 (unsigned long long)o->dev_count, (unsigned long long)ntrain);
			goto out;
		}
		if (task == NYS_LRA_PATHFINDER) {
			rc = nys_err_set(e, "pathfinder: dev is its 80-90%% slice; no --dev-count");
			goto out;
		}
		/* random.shuffle of the train indices with random.seed(seed); the
		 * first dev_count go to dev; both keep the file order */
		uint64_t *perm = malloc((ntrain ? ntrain : 1) * sizeof *perm);
		if (!perm || iota(&sp[TRAIN], w[TRAIN], 0, ntrain, e)) {
			free(perm);
			rc = nys_err_set(e, "out of memory");
			goto out;
		}
		for (uint64_t i = 0; i < ntrain; i++)
			perm[i] = i;
		nys_rng r;
		nys_rng_seed(&r, o->seed);
		nys_rng_shuffle(&r, perm, ntrain, sizeof *perm);
		qsort(perm, o->dev_count, sizeof *perm, cmp_u64);
		qsort(perm + o->dev_count, ntrain - o->dev_count, sizeof *perm, cmp_u64);
		sp[DEV] = (split){.src = w[TRAIN], .order = perm, .n = o->dev_count, .present = true};
		memmove(sp[TRAIN].order, perm + o->dev_count, (ntrain - o->dev_count) * sizeof *perm);
		sp[TRAIN].n = ntrain - o->dev_count;
		dev_from = "train-sample";
	} else if (task == NYS_LRA_PATHFINDER) {
		uint64_t a = ntrain * 8 / 10, b = ntrain * 9 / 10;
		rc = iota(&sp[TRAIN], w[TRAIN], 0, a, e) || iota(&sp[DEV], w[TRAIN], a, b, e) ||
		     iota(&sp[TEST], w[TRAIN], b, ntrain, e) ? -1 : 0;
	} else if (task == NYS_LRA_IMAGE) {
		uint64_t a = ntrain - ntrain / 10;
		rc = iota(&sp[TRAIN], w[TRAIN], 0, a, e) || iota(&sp[DEV], w[TRAIN], a, ntrain, e)
		     ? -1 : 0;
	} else {
		if (given[TRAIN])
			rc = iota(&sp[TRAIN], w[TRAIN], 0, ntrain, e);
		if (!rc && given[DEV])
			rc = iota(&sp[DEV], w[DEV], 0, nys_lra_writer_count(w[DEV]), e);
		if (!rc && task == NYS_LRA_TEXT)
			rc = iota(&sp[DEV], w[TEST], 0, nys_lra_writer_count(w[TEST]), e);
	}
	if (!rc && given[TEST] && !sp[TEST].present)
		rc = iota(&sp[TEST], w[TEST], 0, nys_lra_writer_count(w[TEST]), e);
	if (rc)
		goto out;
	if (!sp[DEV].present)
		dev_from = "none";

	nys_stage *st = nys_stage_open(o->dir, "lra-prepare", e);
	if (!st) {
		rc = -1;
		goto out;
	}
	for (int s = 0; s < 3 && !rc; s++)
		if (sp[s].present)
			rc = nys_lra_writer_split(sp[s].src, sp[s].order, sp[s].n, nys_stage_path(st),
			                          split_name[s], o->per_shard, &names[s], e);
	char *text = rc ? NULL : manifest(o, &h, sp, names, dev_from);
	if (!rc && !text)
		rc = nys_err_set(e, "out of memory");
	if (!rc) {
		nys_buf p = {0};
		nys_out *mo = nys_path_join(&p, nys_stage_path(st), NYS_LRA_MANIFEST, e) ? NULL :
		              nys_out_open(p.p, 0, e);
		nys_buf_free(&p);
		if (!mo)
			rc = -1;
		else if (nys_out_puts(mo, text, e) || nys_out_puts(mo, "\n", e)) {
			nys_out_abort(mo);
			rc = -1;
		} else
			rc = nys_out_commit(mo, e);
	}
	free(text);
	if (!rc) {
		nys_out_hold_signals();
		for (int s = 0; s < 3 && !rc; s++)
			for (size_t i = 0; i < names[s].n && !rc; i++)
				rc = nys_stage_install(st, names[s].v[i], e);
		if (!rc)
			rc = nys_stage_install(st, NYS_LRA_MANIFEST, e);
		if (!rc)
			rc = remove_stale(o->dir, names, e);
		nys_out_release_signals();
	}
	if (rc)
		nys_stage_abort(st);
	else
		rc = nys_stage_commit(st, e);
	if (!rc && !o->quiet)
		fprintf(stderr, "%s: %s: train %llu, dev %llu, test %llu records (dev: %s) in %s\n",
		        nys_prog(), nys_lra_task_name(task), (unsigned long long)sp[TRAIN].n,
		        (unsigned long long)sp[DEV].n, (unsigned long long)sp[TEST].n, dev_from,
		        o->dir);
out:
	for (int s = 0; s < 3; s++) {
		free(sp[s].order);
		nys_lra_writer_abort(w[s]);
		nys_strlist_free(&names[s]);
	}
	return rc;
}
