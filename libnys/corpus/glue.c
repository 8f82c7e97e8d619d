/* GLUE's tasks and files for nys-eval glue (nys_glue.h): the task table,
 * the reader of GLUE's tab-separated files with their quirks, and the
 * prediction files.  Text to ids and batches are in glue_enc.c, apart so
 * that the reader (a parser of untrusted bytes, fuzzed) links without
 * sentencepiece.
 *
 * The table follows GLUE's files as its download script lays them out and
 * as HuggingFace's glue dataset reads them (its column names and label
 * order), including the layouts of MNLI, QNLI, QQP, STS-B and the
 * diagnostic set. */
#include "nys_glue.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

/* ---- the table --------------------------------------------------------- */

static const char *const BIN_LABELS[] = {"0", "1"};
static const char *const NLI3[] = {"entailment", "neutral", "contradiction"};
static const char *const NLI2[] = {"entailment", "not_entailment"};

static const char *const COLA_NAMES[] = {"unacceptable", "acceptable"};
static const char *const SST2_NAMES[] = {"negative", "positive"};
static const char *const MRPC_NAMES[] = {"not_equivalent", "equivalent"};
static const char *const QQP_NAMES[] = {"not_duplicate", "duplicate"};
static const char *const WNLI_NAMES[] = {"not_entailment", "entailment"};

/* name, role, file, header, ncols, index, a, b, label, submit */
static const nys_glue_split COLA[] = {
	/* source, label, original label (blank or '*'), sentence; no header */
	{"train", NYS_GLUE_TRAIN, "train.tsv", false, 4, -1, 3, -1, 1, "CoLA"},
	{"dev", NYS_GLUE_DEV, "dev.tsv", false, 4, -1, 3, -1, 1, "CoLA"},
	{"test", NYS_GLUE_TEST, "test.tsv", true, 2, 0, 1, -1, -1, "CoLA"},
};
static const nys_glue_split SST2[] = {
	{"train", NYS_GLUE_TRAIN, "train.tsv", true, 2, -1, 0, -1, 1, "SST-2"},
	{"dev", NYS_GLUE_DEV, "dev.tsv", true, 2, -1, 0, -1, 1, "SST-2"},
	{"test", NYS_GLUE_TEST, "test.tsv", true, 2, 0, 1, -1, -1, "SST-2"},
};
static const nys_glue_split MRPC[] = {
	/* Quality, #1 ID, #2 ID, #1 String, #2 String */
	{"train", NYS_GLUE_TRAIN, "train.tsv", true, 5, -1, 3, 4, 0, "MRPC"},
	{"dev", NYS_GLUE_DEV, "dev.tsv", true, 5, -1, 3, 4, 0, "MRPC"},
	{"test", NYS_GLUE_TEST, "test.tsv", true, 5, 0, 3, 4, -1, "MRPC"},
};
static const nys_glue_split STSB[] = {
	/* index, genre, filename, year, old_index, source1, source2,
	 * sentence1, sentence2, score */
	{"train", NYS_GLUE_TRAIN, "train.tsv", true, 10, 0, 7, 8, 9, "STS-B"},
	{"dev", NYS_GLUE_DEV, "dev.tsv", true, 10, 0, 7, 8, 9, "STS-B"},
	{"test", NYS_GLUE_TEST, "test.tsv", true, 9, 0, 7, 8, -1, "STS-B"},
};
static const nys_glue_split QQP[] = {
	/* id, qid1, qid2, question1, question2, is_duplicate; test: id,
	 * question1, question2 */
	{"train", NYS_GLUE_TRAIN, "train.tsv", true, 6, 0, 3, 4, 5, "QQP"},
	{"dev", NYS_GLUE_DEV, "dev.tsv", true, 6, 0, 3, 4, 5, "QQP"},
	{"test", NYS_GLUE_TEST, "test.tsv", true, 3, 0, 1, 2, -1, "QQP"},
};
static const nys_glue_split MNLI[] = {
	/* index, promptID, pairID, genre, the two binary parses, the two
	 * parses, sentence1, sentence2, then label1 (train) or label1..label5
	 * (dev), gold_label last; test ends at sentence2 */
	{"train", NYS_GLUE_TRAIN, "train.tsv", true, 12, 0, 8, 9, 11, "MNLI"},
	{"dev_matched", NYS_GLUE_DEV, "dev_matched.tsv", true, 16, 0, 8, 9, 15, "MNLI-m"},
	{"dev_mismatched", NYS_GLUE_DEV, "dev_mismatched.tsv", true, 16, 0, 8, 9, 15, "MNLI-mm"},
	{"test_matched", NYS_GLUE_TEST, "test_matched.tsv", true, 10, 0, 8, 9, -1, "MNLI-m"},
	{"test_mismatched", NYS_GLUE_TEST, "test_mismatched.tsv", true, 10, 0, 8, 9, -1,
	 "MNLI-mm"},
};
/* QNLI (index, question, sentence, label), RTE and WNLI (index,
 * sentence1, sentence2, label) share a layout. */
#define PAIR4(sub)                                                            \
	{"train", NYS_GLUE_TRAIN, "train.tsv", true, 4, 0, 1, 2, 3, sub},     \
	{"dev", NYS_GLUE_DEV, "dev.tsv", true, 4, 0, 1, 2, 3, sub},           \
	{"test", NYS_GLUE_TEST, "test.tsv", true, 3, 0, 1, 2, -1, sub}
static const nys_glue_split QNLI[] = {PAIR4("QNLI")};
static const nys_glue_split RTE[] = {PAIR4("RTE")};
static const nys_glue_split WNLI[] = {PAIR4("WNLI")};
static const nys_glue_split AX[] = {
	/* index, sentence1, sentence2 */
	{"test", NYS_GLUE_TEST, "diagnostic.tsv", true, 3, 0, 1, 2, -1, "AX"},
};

#define SPLITS(s) (unsigned)(sizeof s / sizeof s[0]), s
static const nys_glue_task TASKS[] = {
	{"CoLA", "cola", "CoLA", NYS_GLUE_MCC, 2, BIN_LABELS, COLA_NAMES, NULL, SPLITS(COLA)},
	{"SST-2", "sst2", "SST-2", NYS_GLUE_ACC, 2, BIN_LABELS, SST2_NAMES, NULL, SPLITS(SST2)},
	{"MRPC", "mrpc", "MRPC", NYS_GLUE_F1_ACC, 2, BIN_LABELS, MRPC_NAMES, NULL, SPLITS(MRPC)},
	{"STS-B", "stsb", "STS-B", NYS_GLUE_CORR, 0, NULL, NULL, NULL, SPLITS(STSB)},
	{"QQP", "qqp", "QQP", NYS_GLUE_F1_ACC, 2, BIN_LABELS, QQP_NAMES, NULL, SPLITS(QQP)},
	{"MNLI", "mnli", "MNLI", NYS_GLUE_ACC, 3, NLI3, NLI3, NULL, SPLITS(MNLI)},
	{"QNLI", "qnli", "QNLI", NYS_GLUE_ACC, 2, NLI2, NLI2, NULL, SPLITS(QNLI)},
	{"RTE", "rte", "RTE", NYS_GLUE_ACC, 2, NLI2, NLI2, NULL, SPLITS(RTE)},
	{"WNLI", "wnli", "WNLI", NYS_GLUE_ACC, 2, BIN_LABELS, WNLI_NAMES, NULL, SPLITS(WNLI)},
	{"AX", "ax", "diagnostic", NYS_GLUE_ACC, 3, NLI3, NLI3, "MNLI", SPLITS(AX)},
};
#define NTASKS (sizeof TASKS / sizeof TASKS[0])

size_t nys_glue_ntasks(void)
{
	return NTASKS;
}

const nys_glue_task *nys_glue_task_at(size_t i)
{
	return i < NTASKS ? &TASKS[i] : NULL;
}

const nys_glue_task *nys_glue_task_find(const char *name, nys_err *e)
{
	for (size_t i = 0; i < NTASKS; i++)
		if (!strcasecmp(name, TASKS[i].name) || !strcasecmp(name, TASKS[i].hf_name))
			return &TASKS[i];
	nys_buf b = {0};
	for (size_t i = 0; i < NTASKS; i++)
		if (nys_buf_printf(&b, "%s%s", i ? ", " : "", TASKS[i].name))
			break;
	nys_err_set(e, "unknown GLUE task '%s' (tasks: %s)", name, b.p ? b.p : "");
	nys_buf_free(&b);
	return NULL;
}

const nys_glue_split *nys_glue_split_find(const nys_glue_task *t, const char *name, nys_err *e)
{
	for (unsigned i = 0; i < t->nsplits; i++)
		if (!strcmp(name, t->splits[i].name))
			return &t->splits[i];
	nys_buf b = {0};
	for (unsigned i = 0; i < t->nsplits; i++)
		if (nys_buf_printf(&b, "%s%s", i ? ", " : "", t->splits[i].name))
			break;
	nys_err_set(e, "%s has no split '%s' (splits: %s)", t->name, name, b.p ? b.p : "");
	nys_buf_free(&b);
	return NULL;
}

size_t nys_glue_splits_of(const nys_glue_task *t, nys_glue_role role,
                          const nys_glue_split **out, size_t max)
{
	size_t k = 0;
	for (unsigned i = 0; i < t->nsplits; i++)
		if (t->splits[i].role == role) {
			if (k < max)
				out[k] = &t->splits[i];
			k++;
		}
	return k;
}

int32_t nys_glue_label_id(const nys_glue_task *t, const char *s, size_t n)
{
	for (unsigned i = 0; i < t->nlabels; i++)
		if (strlen(t->labels[i]) == n && !memcmp(t->labels[i], s, n))
			return (int32_t)i;
	return -1;
}

int nys_glue_split_path(const char *dir, const nys_glue_task *t, const nys_glue_split *s,
                        nys_buf *path, nys_err *e)
{
	nys_buf sub = {0};
	int rc = nys_path_join(&sub, dir, t->folder, e) ||
	         nys_path_join(path, sub.p, s->file, e) ? -1 : 0;
	nys_buf_free(&sub);
	if (rc || strcmp(t->name, "AX"))
		return rc;
	/* GLUE's site serves the diagnostic set as AX.tsv */
	struct stat st;
	if (stat(path->p, &st) == 0)
		return 0;
	nys_buf alt = {0};
	if (nys_path_join(&alt, dir, "AX.tsv", e)) {
		nys_buf_free(&alt);
		return -1;
	}
	if (stat(alt.p, &st) == 0) {
		nys_buf_free(path);
		*path = alt;
	} else {
		nys_buf_free(&alt);
	}
	return 0;
}

/* ---- reading ----------------------------------------------------------- */

static int no_memory(nys_err *e)
{
	return nys_err_set(e, "out of memory");
}

/* Room for one more row in every array of d (capacity *cap). */
static int grow_rows(nys_glue_data *d, size_t *cap, nys_err *e)
{
	if (d->n < *cap)
		return 0;
	size_t c = *cap ? *cap * 2 : 1024;
#define GROW(f)                                                       \
	do {                                                          \
		void *p_ = realloc(d->f, c * sizeof *d->f);           \
		if (!p_)                                              \
			return no_memory(e);                          \
		d->f = p_;                                            \
	} while (0)
	GROW(a);
	GROW(b);
	GROW(index);
	GROW(line);
	GROW(label);
	GROW(score);
#undef GROW
	*cap = c;
	return 0;
}

/* Append s[0..n) and a NUL to d->text; its offset into *off. */
static int add_text(nys_glue_data *d, const char *s, size_t n, size_t *off, nys_err *e)
{
	*off = d->text.n;
	if (nys_buf_add(&d->text, s, n) || nys_buf_addc(&d->text, 0))
		return no_memory(e);
	return 0;
}

/* A field of a message, shortened to what helps. */
static void quote_field(char *out, size_t cap, const char *s, size_t n)
{
	size_t k = n < cap - 4 ? n : cap - 4;
	memcpy(out, s, k);
	strcpy(out + k, n > k ? "..." : "");
}

static int parse_score(const char *s, size_t n, double *v)
{
	char tmp[64];
	if (n == 0 || n >= sizeof tmp)
		return -1;
	memcpy(tmp, s, n);
	tmp[n] = 0;
	/* strtod's own leading space, sign-only or hex forms are no scores */
	if (!(tmp[0] == '-' || tmp[0] == '+' || tmp[0] == '.' || (tmp[0] >= '0' && tmp[0] <= '9')))
		return -1;
	char *end;
	errno = 0;
	double x = strtod(tmp, &end);
	if (*end || errno || !isfinite(x) || strpbrk(tmp, "xXpP"))
		return -1;
	*v = x;
	return 0;
}

/* One data row (f[k], fl[k] its fields). */
static int add_row(nys_glue_data *d, size_t *cap, const char *const *f, const size_t *fl,
                   uint64_t lineno, nys_err *e)
{
	const nys_glue_task *t = d->task;
	const nys_glue_split *s = d->split;
	if (grow_rows(d, cap, e))
		return -1;
	size_t i = d->n;
	d->line[i] = lineno;
	d->label[i] = -1;
	d->score[i] = NAN;
	if (s->col_label >= 0) {
		const char *v = f[s->col_label];
		size_t vn = fl[s->col_label];
		char q[80];
		quote_field(q, sizeof q, v, vn);
		if (t->nlabels == 0) {
			if (parse_score(v, vn, &d->score[i]))
				return nys_err_set(e, "%s:%llu: score '%s' is not a number", d->file,
				                   (unsigned long long)lineno, q);
		} else if ((d->label[i] = nys_glue_label_id(t, v, vn)) < 0) {
			nys_buf set = {0};
			for (unsigned k = 0; k < t->nlabels; k++)
				nys_buf_printf(&set, "%s%s", k ? ", " : "", t->labels[k]);
			nys_err_set(e, "%s:%llu: label '%s' is not one of %s's (%s)", d->file,
			            (unsigned long long)lineno, q, t->name, set.p ? set.p : "");
			nys_buf_free(&set);
			return -1;
		}
	}
	if (add_text(d, f[s->col_a], fl[s->col_a], &d->a[i], e))
		return -1;
	d->b[i] = SIZE_MAX;
	if (s->col_b >= 0 && add_text(d, f[s->col_b], fl[s->col_b], &d->b[i], e))
		return -1;
	if (s->col_index >= 0) {
		if (add_text(d, f[s->col_index], fl[s->col_index], &d->index[i], e))
			return -1;
	} else {
		char num[24];
		int k = snprintf(num, sizeof num, "%zu", i);
		if (add_text(d, num, (size_t)k, &d->index[i], e))
			return -1;
	}
	d->n++;
	return 0;
}

int nys_glue_read(const char *path, const nys_glue_task *t, const nys_glue_split *s,
                  nys_glue_data *d, nys_err *e)
{
	memset(d, 0, sizeof *d);
	d->task = t;
	d->split = s;
	d->file = strdup(path && strcmp(path, "-") ? path : "(stdin)");
	if (!d->file)
		return no_memory(e);
	nys_in *in = nys_in_open(path, e);
	if (!in)
		return -1;
	const char *f[32];
	size_t fl[32];
	size_t cap = 0;
	bool first = true, header = s->header;
	char *line;
	size_t len;
	int k;
	while ((k = nys_in_getline(in, &line, &len, e)) > 0) {
		uint64_t lineno = nys_in_lineno(in);
		if (first && len >= 3 && !memcmp(line, "\xef\xbb\xbf", 3)) {
			line += 3;
			len -= 3;
		}
		first = false;
		if (len == 0)
			continue;
		/* split at every tab: no quoting */
		unsigned nc = 0;
		const char *p = line, *end = line + len;
		for (;;) {
			const char *tab = memchr(p, '\t', (size_t)(end - p));
			const char *stop = tab ? tab : end;
			if (nc < 32) {
				f[nc] = p;
				fl[nc] = (size_t)(stop - p);
			}
			nc++;
			if (!tab)
				break;
			p = tab + 1;
		}
		if (nc != s->ncols) {
			nys_err_set(e, "%s:%llu: %s%u column%s, %s's %s %s %u", d->file,
			            (unsigned long long)lineno, header ? "header of " : "", nc,
			            nc == 1 ? "" : "s", t->name, s->name,
			            header ? "header has" : "rows have", s->ncols);
			k = -1;
			break;
		}
		if (header) {
			header = false;
			continue;
		}
		if (add_row(d, &cap, f, fl, lineno, e)) {
			k = -1;
			break;
		}
	}
	nys_in_close(in);
	if (k < 0)
		return -1;
	if (d->n == 0)
		return nys_err_set(e, "%s: no rows", d->file);
	return 0;
}

int nys_glue_load(const char *dir, const nys_glue_task *t, const char *split,
                  nys_glue_data *d, nys_err *e)
{
	memset(d, 0, sizeof *d);
	const nys_glue_split *s = nys_glue_split_find(t, split, e);
	if (!s)
		return -1;
	nys_buf path = {0};
	int rc = nys_glue_split_path(dir, t, s, &path, e) ? -1 : nys_glue_read(path.p, t, s, d, e);
	nys_buf_free(&path);
	return rc;
}

void nys_glue_data_free(nys_glue_data *d)
{
	free(d->file);
	nys_buf_free(&d->text);
	free(d->a);
	free(d->b);
	free(d->index);
	free(d->line);
	free(d->label);
	free(d->score);
	memset(d, 0, sizeof *d);
}

/* ---- predictions ------------------------------------------------------- */

int nys_glue_write_predictions(const char *dir, const nys_glue_data *d, const int32_t *label,
                               const double *score, nys_buf *written, nys_err *e)
{
	const nys_glue_split *s = d->split;
	const nys_glue_task *t = d->task;
	if (t->model_task)
		t = nys_glue_task_find(t->model_task, e);
	if (!t)
		return -1;
	if (s->role == NYS_GLUE_TRAIN)
		return nys_err_set(e, "%s: no prediction file for a train split", d->task->name);
	bool dev = s->role == NYS_GLUE_DEV;
	bool reg = t->nlabels == 0;
	if (reg ? !score : !label)
		return nys_err_set(e, "%s: no %s to write", t->name, reg ? "scores" : "labels");
	nys_buf name = {0}, path = {0}, b = {0};
	nys_out *out = NULL;
	int rc = -1;
	if (nys_buf_printf(&name, "%s%s.tsv", s->submit, dev ? ".dev" : "") ||
	    nys_path_join(&path, dir, name.p, e)) {
		no_memory(e);
		goto done;
	}
	if (nys_mkdirs(dir, e) || !(out = nys_out_open(path.p, 0, e)))
		goto done;
	if (nys_buf_adds(&b, dev ? "index\tprediction\tgold\n" : "index\tprediction\n"))
		goto oom;
	for (size_t i = 0; i < d->n; i++) {
		if (nys_buf_adds(&b, nys_glue_index(d, i)) || nys_buf_addc(&b, '\t'))
			goto oom;
		if (reg) {
			if (nys_buf_printf(&b, dev ? "%.17g" : "%.3f", score[i]))
				goto oom;
		} else {
			if (label[i] < 0 || (unsigned)label[i] >= t->nlabels) {
				nys_err_set(e, "%s: row %zu: class %d is not one of %s's", t->name, i,
				            (int)label[i], t->name);
				goto done;
			}
			if (nys_buf_adds(&b, t->labels[label[i]]))
				goto oom;
		}
		if (dev) {
			int bad = reg ? nys_buf_printf(&b, "\t%.17g", d->score[i])
			              : d->label[i] < 0 ? nys_buf_adds(&b, "\t")
			              : nys_buf_printf(&b, "\t%s", t->labels[d->label[i]]);
			if (bad)
				goto oom;
		}
		if (nys_buf_addc(&b, '\n'))
			goto oom;
		if (b.n >= 1 << 16) {
			if (nys_out_write(out, b.p, b.n, e))
				goto done;
			b.n = 0;
		}
	}
	if (nys_out_write(out, b.p, b.n, e))
		goto done;
	rc = nys_out_commit(out, e);
	out = NULL;
	if (!rc && written) {
		written->n = 0;
		if (nys_buf_add(written, path.p, path.n + 1)) {
			rc = no_memory(e);
		} else {
			written->n = path.n;
		}
	}
	goto done;
oom:
	no_memory(e);
done:
	if (out)
		nys_out_abort(out);
	nys_buf_free(&name);
	nys_buf_free(&path);
	nys_buf_free(&b);
	return rc;
}
