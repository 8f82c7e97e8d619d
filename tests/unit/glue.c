/* GLUE's data side (nys_glue.h) and its metrics (nys_metrics.h).
 *
 * With no arguments, TAP: the task table, the reader on small files made
 * here (every quirk: BOM, CRLF, no final newline, literal quotes, empty
 * lines; every refusal with its file and line), the metrics against values
 * worked out by hand, longest-first truncation against the one-token-at-a-
 * time loop it stands for, batches, and the prediction files' layout.
 *
 * glue.t drives the other modes on the real files, comparing them with
 * what awk, cut and spm_encode make of the same files:
 *   glue dump FILE TASK SPLIT        a row a line: index, label, a, b
 *   glue encode MODEL MAXLEN LOWER FILE TASK SPLIT
 *                                    a row's ids a line, then types
 *   glue predict FILE TASK SPLIT DIR predictions (gold for dev, the row
 *                                    number mod the classes for test)
 */
#include "nys_glue.h"
#include "nys_metrics.h"
#include "tap.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[256];

static const nys_glue_task *task(const char *name)
{
	nys_err e;
	const nys_glue_task *t = nys_glue_task_find(name, &e);
	if (!t) {
		fprintf(stderr, "glue: %s\n", e.msg);
		exit(2);
	}
	return t;
}

static const nys_glue_split *split(const nys_glue_task *t, const char *name)
{
	nys_err e;
	const nys_glue_split *s = nys_glue_split_find(t, name, &e);
	if (!s) {
		fprintf(stderr, "glue: %s\n", e.msg);
		exit(2);
	}
	return s;
}

static int read_or_die(const char *path, const char *tname, const char *sname,
                       nys_glue_data *d)
{
	nys_err e;
	const nys_glue_task *t = task(tname);
	if (nys_glue_read(path, t, split(t, sname), d, &e)) {
		fprintf(stderr, "glue: %s\n", e.msg);
		nys_glue_data_free(d);
		return -1;
	}
	return 0;
}

/* ---- the modes glue.t uses --------------------------------------------- */

static int dump(char **argv)
{
	nys_glue_data d;
	if (read_or_die(argv[0], argv[1], argv[2], &d))
		return 1;
	for (size_t i = 0; i < d.n; i++) {
		const char *b = nys_glue_text_b(&d, i);
		printf("%s\t", nys_glue_index(&d, i));
		if (d.task->nlabels || d.split->col_label < 0)
			printf("%d", (int)d.label[i]);
		else
			printf("%.17g", d.score[i]);
		printf("\t%s\t%s\n", nys_glue_text_a(&d, i), b ? b : "-");
	}
	nys_glue_data_free(&d);
	return 0;
}

static int encode(char **argv)
{
	nys_err e;
	nys_spm *m = nys_spm_load(argv[0], &e);
	if (!m) {
		fprintf(stderr, "glue: %s\n", e.msg);
		return 1;
	}
	nys_glue_data d;
	nys_glue_tok t;
	nys_glue_enc enc = {0};
	int rc = 1;
	if (read_or_die(argv[3], argv[4], argv[5], &d))
		goto done;
	if (nys_glue_tok_init(&t, m, !strcmp(argv[2], "1"), (unsigned)atoi(argv[1]), &e) ||
	    nys_glue_encode(&d, &t, &enc, &e)) {
		fprintf(stderr, "glue: %s\n", e.msg);
		goto done;
	}
	for (size_t i = 0; i < enc.n; i++) {
		unsigned l = nys_glue_enc_len(&enc, i);
		for (unsigned k = 0; k < l; k++)
			printf("%s%d", k ? " " : "", (int)enc.ids[enc.start[i] + k]);
		printf("\t%u\n", enc.len_a[i]);
	}
	rc = 0;
done:
	nys_glue_enc_free(&enc);
	nys_glue_data_free(&d);
	nys_spm_free(m);
	return rc;
}

static int predict(char **argv)
{
	nys_glue_data d;
	if (read_or_die(argv[0], argv[1], argv[2], &d))
		return 1;
	const nys_glue_task *t = d.task->model_task ? task(d.task->model_task) : d.task;
	int32_t *label = malloc(d.n * sizeof *label);
	double *score = malloc(d.n * sizeof *score);
	nys_err e;
	int rc = 1;
	if (!label || !score)
		goto done;
	bool dev = d.split->role == NYS_GLUE_DEV;
	for (size_t i = 0; i < d.n; i++) {
		label[i] = dev ? d.label[i] : t->nlabels ? (int32_t)(i % t->nlabels) : 0;
		score[i] = dev ? d.score[i] : (double)(i % 51) / 10.0;
	}
	if (nys_glue_write_predictions(argv[3], &d, label, score, NULL, &e))
		fprintf(stderr, "glue: %s\n", e.msg);
	else
		rc = 0;
done:
	free(label);
	free(score);
	nys_glue_data_free(&d);
	return rc;
}

/* ---- the table --------------------------------------------------------- */

static void test_table(void)
{
	nys_err e;
	tap_ok(nys_glue_ntasks() == 10, "ten tasks");
	const char *names[] = {"CoLA", "SST-2", "MRPC", "STS-B", "QQP",
	                       "MNLI", "QNLI", "RTE", "WNLI", "AX"};
	int order = 1;
	for (size_t i = 0; i < 10; i++)
		order &= !strcmp(nys_glue_task_at(i)->name, names[i]);
	tap_ok(order, "in GLUE's order");
	tap_ok(nys_glue_task_find("sst2", &e) == nys_glue_task_at(1) &&
	           nys_glue_task_find("sts-b", &e) == nys_glue_task_at(3) &&
	           nys_glue_task_find("mnli", &e) == nys_glue_task_at(5),
	       "found by GLUE's and HuggingFace's names, any case");
	tap_ok(!nys_glue_task_find("SQuAD", &e), "an unknown task is refused");
	tap_str(e.msg,
	        "unknown GLUE task 'SQuAD' (tasks: CoLA, SST-2, MRPC, STS-B, QQP, MNLI, QNLI, "
	        "RTE, WNLI, AX)",
	        "naming the tasks");
	const nys_glue_task *mnli = task("MNLI");
	const nys_glue_split *s[4];
	tap_ok(nys_glue_splits_of(mnli, NYS_GLUE_DEV, s, 4) == 2 &&
	           !strcmp(s[0]->name, "dev_matched") && !strcmp(s[1]->submit, "MNLI-mm"),
	       "MNLI has a matched and a mismatched dev split");
	tap_ok(!nys_glue_split_find(mnli, "dev", &e), "MNLI has no plain dev split");
	tap_str(e.msg,
	        "MNLI has no split 'dev' (splits: train, dev_matched, dev_mismatched, "
	        "test_matched, test_mismatched)",
	        "naming its splits");
	const nys_glue_task *ax = task("ax");
	tap_ok(nys_glue_splits_of(ax, NYS_GLUE_TRAIN, s, 4) == 0 &&
	           nys_glue_splits_of(ax, NYS_GLUE_TEST, s, 4) == 1 && ax->model_task &&
	           !strcmp(ax->model_task, "MNLI") && ax->nlabels == 3,
	       "AX: test only, predicted with MNLI's labels");
	tap_ok(nys_glue_label_id(mnli, "neutral", 7) == 1 &&
	           nys_glue_label_id(task("RTE"), "not_entailment", 14) == 1 &&
	           nys_glue_label_id(task("WNLI"), "1", 1) == 1 &&
	           nys_glue_label_id(mnli, "neutra", 6) == -1,
	       "labels in HuggingFace's order");
	tap_ok(task("STS-B")->nlabels == 0 && task("CoLA")->metric == NYS_GLUE_MCC &&
	           task("QQP")->metric == NYS_GLUE_F1_ACC,
	       "STS-B a regression, CoLA scored by MCC, QQP by F1 and accuracy");
	nys_buf p = {0};
	tap_ok(nys_glue_split_path("/g/", task("RTE"), split(task("RTE"), "dev"), &p, &e) == 0 &&
	           !strcmp(p.p, "/g/RTE/dev.tsv"),
	       "a split's path under the GLUE root");
	/* AX: diagnostic/diagnostic.tsv, or AX.tsv where only that exists */
	const nys_glue_split *axs = split(ax, "test");
	nys_glue_split_path(dir, ax, axs, &p, &e);
	tap_str(p.p, tap_path(dir, "diagnostic/diagnostic.tsv"), "AX as GLUE's script lays it out");
	tap_sh(dir, "printf 'index\\tsentence1\\tsentence2\\n' > @/AX.tsv");
	nys_glue_split_path(dir, ax, axs, &p, &e);
	tap_str(p.p, tap_path(dir, "AX.tsv"), "AX.tsv as GLUE's site serves it");
	unlink(tap_path(dir, "AX.tsv"));
	nys_buf_free(&p);
}

/* ---- reading ----------------------------------------------------------- */

static const char *put(const char *name, const char *bytes, size_t n)
{
	const char *path = tap_path(dir, name);
	FILE *f = fopen(path, "wb");
	if (f) {
		fwrite(bytes, 1, n, f);
		fclose(f);
	}
	return path;
}
#define PUT(name, lit) put(name, lit, sizeof lit - 1)

/* Read; 0 and the error message in msg. */
static int try_read(const char *path, const char *tname, const char *sname, nys_glue_data *d,
                    char *msg)
{
	nys_err e;
	const nys_glue_task *t = task(tname);
	int rc = nys_glue_read(path, t, split(t, sname), d, &e);
	strcpy(msg, rc ? e.msg : "");
	return rc;
}

/* Reading path as task tname's split sname fails with the message that is
 * the path followed by tail: test `name`. */
static void refused(const char *path, const char *tname, const char *sname, const char *tail,
                    const char *name)
{
	nys_glue_data d;
	char msg[1024], want[1024];
	try_read(path, tname, sname, &d, msg);
	snprintf(want, sizeof want, "%s%s", path, tail);
	tap_str(msg, want, name);
	nys_glue_data_free(&d);
}

static void test_read(void)
{
	nys_glue_data d;
	char msg[1024];
	/* MRPC's quirks: a BOM, literal quotes, CRLF, no final newline */
	const char *p = PUT("mrpc.tsv",
	                    "\xef\xbb\xbfQuality\t#1 ID\t#2 ID\t#1 String\t#2 String\r\n"
	                    "1\t11\t12\tHe said \" yes .\t\"Yes , \" he said .\r\n"
	                    "\n"
	                    "0\t13\t14\ta \"\"b\"\"\tc");
	tap_ok(try_read(p, "MRPC", "train", &d, msg) == 0 && d.n == 2, "MRPC's quirks read");
	tap_ok(d.n == 2 && !strcmp(nys_glue_text_a(&d, 0), "He said \" yes .") &&
	           !strcmp(nys_glue_text_b(&d, 0), "\"Yes , \" he said .") &&
	           !strcmp(nys_glue_text_a(&d, 1), "a \"\"b\"\"") &&
	           !strcmp(nys_glue_text_b(&d, 1), "c"),
	       "quotes kept literally, \\r and the BOM dropped, the last line without its newline");
	tap_ok(d.n == 2 && d.label[0] == 1 && d.label[1] == 0 && d.line[0] == 2 &&
	           d.line[1] == 4 && !strcmp(nys_glue_index(&d, 1), "1") && isnan(d.score[0]),
	       "labels, lines (the empty one skipped) and row numbers as the index");
	nys_glue_data_free(&d);

	/* CoLA: no header in train, one in test */
	p = PUT("cola.tsv", "gj04\t1\t\tThe sailors rode.\ngj04\t0\t*\tRode the sailors.\n");
	tap_ok(try_read(p, "CoLA", "dev", &d, msg) == 0 && d.n == 2 &&
	           !strcmp(nys_glue_text_a(&d, 1), "Rode the sailors.") && d.label[1] == 0 &&
	           !nys_glue_text_b(&d, 0),
	       "CoLA dev: no header, single sentences");
	nys_glue_data_free(&d);
	p = PUT("colat.tsv", "index\tsentence\n7\tBill whistled.\n");
	tap_ok(try_read(p, "CoLA", "test", &d, msg) == 0 && d.n == 1 &&
	           !strcmp(nys_glue_index(&d, 0), "7") && d.label[0] == -1,
	       "CoLA test: a header and the index column");
	nys_glue_data_free(&d);

	/* STS-B's scores */
	p = PUT("stsb.tsv",
	        "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore\n"
	        "0\tmain-captions\tMSRvid\t2012test\t0001\tnone\tnone\tA man.\tA guy.\t5.000\n"
	        "1\tmain-captions\tMSRvid\t2012test\t0004\tnone\tnone\tA cat.\tA dog.\t0.250\n");
	tap_ok(try_read(p, "STS-B", "dev", &d, msg) == 0 && d.n == 2 && d.score[0] == 5.0 &&
	           d.score[1] == 0.25 && d.label[0] == -1 && !strcmp(nys_glue_index(&d, 1), "1"),
	       "STS-B's float scores");
	nys_glue_data_free(&d);

	/* refusals, each naming file and line */
	char want[1024];
	refused(PUT("cols.tsv", "index\tsentence1\tsentence2\tlabel\n0\ta\tb\tentailment\n1\ta\tb\n"),
	        "RTE", "train", ":3: 3 columns, RTE's train rows have 4",
	        "a row of the wrong column count");
	refused(PUT("hdr.tsv", "index\tsentence1\n0\ta\tb\tentailment\n"), "RTE", "train",
	        ":1: header of 2 columns, RTE's train header has 4",
	        "a header of the wrong column count");
	refused(PUT("lab.tsv", "index\tsentence1\tsentence2\tlabel\n0\ta\tb\tentailment\n1\ta\tb\tneutral\n"),
	        "RTE", "dev", ":3: label 'neutral' is not one of RTE's (entailment, not_entailment)",
	        "a label outside the task's set");
	refused(PUT("lab2.tsv", "Quality\t#1 ID\t#2 ID\t#1 String\t#2 String\n 1\t1\t2\ta\tb\n"),
	        "MRPC", "dev", ":2: label ' 1' is not one of MRPC's (0, 1)",
	        "a label with a space is not a label");
	const char *bad[] = {"abc", "", "nan", "inf", "5.0x", "0x1p2", " 5"};
	int all = 1;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char body[512];
		int n = snprintf(body, sizeof body,
		                 "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\t"
		                 "sentence1\tsentence2\tscore\n"
		                 "0\tg\tf\ty\t0\tn\tn\ta\tb\t%s\n", bad[i]);
		p = put("score.tsv", body, (size_t)n);
		try_read(p, "STS-B", "train", &d, msg);
		snprintf(want, sizeof want, "%s:2: score '%s' is not a number", p, bad[i]);
		if (strcmp(msg, want)) {
			printf("#   got: %s\n", msg);
			all = 0;
		}
		nys_glue_data_free(&d);
	}
	tap_ok(all, "scores that are not numbers: abc, empty, nan, inf, 5.0x, hex, a space");
	refused(PUT("empty.tsv", "index\tsentence\n"), "SST-2", "test", ": no rows",
	        "a file without rows");
	try_read(tap_path(dir, "missing.tsv"), "SST-2", "test", &d, msg);
	tap_ok(strstr(msg, "missing.tsv") != NULL, "a missing file names itself");
	nys_glue_data_free(&d);
	nys_err e;
	tap_ok(nys_glue_load(dir, task("MNLI"), "dev", &d, &e) == -1 &&
	           strstr(e.msg, "no split 'dev'"),
	       "load: an unknown split");
	nys_glue_data_free(&d);
}

/* ---- metrics ----------------------------------------------------------- */

static int near(double got, double want)
{
	int ok = fabs(got - want) <= 1e-15 * fmax(1.0, fabs(want));
	if (!ok)
		printf("#   got %.17g, want %.17g\n", got, want);
	return ok;
}

static void test_metrics(void)
{
	const int32_t p[] = {1, 0, 1, 1}, g[] = {1, 1, 1, 0};
	tap_ok(nys_metric_accuracy(p, g, 4) == 0.5, "accuracy 2 of 4");
	tap_ok(isnan(nys_metric_accuracy(p, g, 0)), "accuracy of nothing: NaN");
	/* tp 2, fp 1, fn 1: 4 / 6 */
	tap_ok(near(nys_metric_f1(p, g, 4), 2.0 / 3.0), "F1: tp 2, fp 1, fn 1 = 2/3");
	const int32_t z[] = {0, 0, 0}, o[] = {1, 1, 1};
	tap_ok(nys_metric_f1(z, z, 3) == 0.0, "F1 of a single class 0: 0 (sklearn's zero_division)");
	tap_ok(nys_metric_f1(o, o, 3) == 1.0, "F1 of a single class 1 predicted right: 1");
	tap_ok(nys_metric_f1(z, o, 3) == 0.0, "F1 with no true positive: 0");
	/* TP 2, FN 1, FP 1, TN 0: (0 - 1) / sqrt(3 * 3 * 1 * 1) */
	tap_ok(near(nys_metric_mcc(p, g, 4, 2), -1.0 / 3.0), "MCC: tp 2 fn 1 fp 1 tn 0 = -1/3");
	tap_ok(nys_metric_mcc(g, g, 4, 2) == 1.0, "MCC of a perfect prediction: 1");
	tap_ok(nys_metric_mcc(o, o, 3, 2) == 0.0 && nys_metric_mcc(z, o, 3, 2) == 0.0 &&
	           nys_metric_mcc(o, g, 3, 2) == 0.0,
	       "MCC with a single class (in gold, in pred, in both): 0");
	/* three classes: pred 0 1 2 2 1 0, gold 0 1 2 1 0 0: c 4, s 6, p (2 2 2),
	 * t (3 2 1): (4*6 - (6+4+2)) / sqrt((36-12)(36-14)) = 12 / sqrt(528) */
	const int32_t p3[] = {0, 1, 2, 2, 1, 0}, g3[] = {0, 1, 2, 1, 0, 0};
	tap_ok(near(nys_metric_mcc(p3, g3, 6, 3), 12.0 / sqrt(528.0)), "MCC of three classes");
	/* x 1..5, y 2 4 5 4 5: centred sums xy 6, xx 10, yy 6 */
	const double x[] = {1, 2, 3, 4, 5}, y[] = {2, 4, 5, 4, 5}, c[] = {3, 3, 3, 3, 3};
	tap_ok(near(nys_metric_pearson(x, y, 5), 6.0 / sqrt(60.0)), "Pearson = 6/sqrt(60)");
	tap_ok(isnan(nys_metric_pearson(x, c, 5)) && isnan(nys_metric_pearson(x, y, 1)),
	       "Pearson of a constant or of one pair: NaN");
	/* ranks of y with ties averaged: 1 2.5 4.5 2.5 4.5; centred sums
	 * xy 7, xx 10, yy 9 */
	double r;
	nys_err e;
	tap_ok(nys_metric_spearman(x, y, 5, &r, &e) == 0 && near(r, 7.0 / sqrt(90.0)),
	       "Spearman with ties = 7/sqrt(90)");
	const double yd[] = {50, 40, 30, 20, 10};
	tap_ok(nys_metric_spearman(x, yd, 5, &r, &e) == 0 && near(r, -1.0), "Spearman of a reversal: -1");
	tap_ok(nys_metric_spearman(c, y, 5, &r, &e) == 0 && isnan(r), "Spearman of a constant: NaN");
	nys_glue_scores s;
	tap_ok(nys_metric_glue(NYS_GLUE_F1_ACC, 2, p, g, NULL, NULL, 4, &s, &e) == 0 && s.n == 2 &&
	           !strcmp(s.v[0].name, "accuracy") && !strcmp(s.v[1].name, "f1") &&
	           near(s.combined, (0.5 + 2.0 / 3.0) / 2),
	       "MRPC's scores: accuracy, f1 and their mean");
	tap_ok(nys_metric_glue(NYS_GLUE_CORR, 0, NULL, NULL, x, y, 5, &s, &e) == 0 && s.n == 2 &&
	           !strcmp(s.v[0].name, "pearson") && !strcmp(s.v[1].name, "spearmanr") &&
	           near(s.v[1].value, 7.0 / sqrt(90.0)),
	       "STS-B's scores: pearson, spearmanr");
	tap_ok(nys_metric_glue(NYS_GLUE_MCC, 2, p, g, NULL, NULL, 4, &s, &e) == 0 && s.n == 1 &&
	           !strcmp(s.v[0].name, "matthews_correlation") && s.combined == s.v[0].value,
	       "CoLA's score: matthews_correlation");
}

/* ---- encoding ---------------------------------------------------------- */

/* HuggingFace's longest_first, literally: a token off the longer side
 * (the second on a tie) until the pair fits. */
static void slow_truncate(size_t *na, size_t *nb, size_t room)
{
	while (*na + *nb > room) {
		if (*na > *nb)
			(*na)--;
		else
			(*nb)--;
	}
}

static void test_encode(const char *shared)
{
	nys_err e;
	nys_spm *m = nys_spm_load(tap_path(shared, "spm/albert-layout-30k-de.model"), &e);
	nys_spm *m1k = nys_spm_load(tap_path(shared, "spm/sentencepiece-test-1k.model"), &e);
	nys_glue_tok t;
	tap_ok(m1k && nys_glue_tok_init(&t, m1k, false, 128, &e) == -1 && strstr(e.msg, "[CLS]"),
	       "a model without [CLS] is refused");
	tap_ok(m && nys_glue_tok_init(&t, m, false, 2, &e) == -1, "max_seq_len 2 is refused");
	tap_ok(m && nys_glue_tok_init(&t, m, false, 512, &e) == 0 && t.cls == 2 && t.sep == 3 &&
	           t.pad == 0,
	       "ALBERT's layout: [CLS] 2, [SEP] 3, <pad> 0");
	if (!m || !m1k)
		return;
	nys_glue_data d;
	if (read_or_die(tap_path(shared, "glue/MRPC/dev.tsv"), "MRPC", "dev", &d)) {
		tap_ok(0, "MRPC dev read");
		return;
	}
	nys_glue_enc full, cut;
	nys_glue_encode(&d, &t, &full, &e);
	tap_ok(full.n == d.n && full.truncated == 0, "MRPC dev at 512: nothing truncated");
	int good = 1;
	for (size_t i = 0; i < full.n; i++) {
		const int32_t *r = full.ids + full.start[i];
		unsigned l = nys_glue_enc_len(&full, i), la = full.len_a[i];
		good &= r[0] == 2 && r[la - 1] == 3 && r[l - 1] == 3 && la < l;
	}
	tap_ok(good, "every pair is [CLS] a [SEP] b [SEP]");
	unsigned lens[] = {3, 4, 5, 16, 17, 24, 33, 40};
	int same = 1;
	size_t truncated = 0;
	for (size_t k = 0; k < sizeof lens / sizeof lens[0]; k++) {
		nys_glue_tok tk;
		nys_glue_tok_init(&tk, m, false, lens[k], &e);
		if (nys_glue_encode(&d, &tk, &cut, &e)) {
			same = 0;
			break;
		}
		truncated += cut.truncated;
		for (size_t i = 0; i < d.n; i++) {
			size_t na = full.len_a[i] - 2, nb = nys_glue_enc_len(&full, i) - full.len_a[i] - 1;
			const int32_t *fa = full.ids + full.start[i] + 1,
			              *fb = full.ids + full.start[i] + full.len_a[i];
			slow_truncate(&na, &nb, lens[k] - 3);
			const int32_t *r = cut.ids + cut.start[i];
			same &= nys_glue_enc_len(&cut, i) == na + nb + 3 && cut.len_a[i] == na + 2 &&
			        r[0] == 2 && !memcmp(r + 1, fa, na * sizeof *r) && r[na + 1] == 3 &&
			        !memcmp(r + na + 2, fb, nb * sizeof *r) && r[na + nb + 2] == 3;
		}
		same &= cut.longest <= lens[k];
		nys_glue_enc_free(&cut);
	}
	tap_ok(same && truncated > 0,
	       "longest-first truncation at 3 to 40 tokens equals the token-at-a-time loop");

	/* batches */
	size_t rows[] = {5, 0, 2};
	unsigned w = nys_glue_enc_longest(&full, rows, 3);
	tap_ok(w == nys_glue_enc_len(&full, 5) || w == nys_glue_enc_len(&full, 0) ||
	           w == nys_glue_enc_len(&full, 2),
	       "a batch's longest row");
	int32_t *ids = malloc(3 * (w + 2) * sizeof *ids), *ty = malloc(3 * (w + 2) * sizeof *ty);
	float *mk = malloc(3 * (w + 2) * sizeof *mk);
	tap_ok(nys_glue_enc_batch(&full, rows, 3, w - 1, ids, ty, mk, &e) == -1 &&
	           strstr(e.msg, "more than the batch's"),
	       "a batch narrower than a row is refused");
	tap_ok(nys_glue_enc_batch(&full, rows, 3, w + 2, ids, ty, mk, &e) == 0, "a padded batch");
	int layout = 1;
	for (size_t b = 0; b < 3; b++) {
		unsigned l = nys_glue_enc_len(&full, rows[b]), la = full.len_a[rows[b]];
		for (unsigned k = 0; k < w + 2; k++) {
			size_t at = b * (w + 2) + k;
			if (k < l)
				layout &= ids[at] == full.ids[full.start[rows[b]] + k] &&
				          ty[at] == (k >= la) && mk[at] == 1.0f;
			else
				layout &= ids[at] == 0 && ty[at] == 0 && mk[at] == 0.0f;
		}
	}
	tap_ok(layout, "ids, types 0 then 1, the mask; <pad>, type 0 and mask 0 after the row");
	tap_ok(nys_glue_enc_batch(&full, NULL, 2, w + 2, ids, NULL, NULL, &e) == 0 &&
	           ids[0] == 2 && ids[w + 2] == 2,
	       "rows NULL: the first rows, types and mask optional");
	free(ids);
	free(ty);
	free(mk);
	nys_glue_enc_free(&full);
	nys_glue_data_free(&d);

	/* many chunks: the same ids on one thread and on three */
	if (read_or_die(tap_path(shared, "glue/SST-2/train.tsv"), "SST-2", "train", &d) == 0) {
		nys_glue_tok t1, t3;
		nys_glue_tok_init(&t1, m, true, 16, &e);
		nys_glue_tok_init(&t3, m, true, 16, &e);
		t1.threads = 1;
		t3.threads = 3;
		nys_glue_enc e1, e3;
		int r1 = nys_glue_encode(&d, &t1, &e1, &e), r3 = nys_glue_encode(&d, &t3, &e3, &e);
		tap_ok(!r1 && !r3 && e1.n == d.n && e3.n == d.n && e1.truncated == e3.truncated &&
		           e1.longest == 16 && e3.longest == 16 &&
		           !memcmp(e1.start, e3.start, (d.n + 1) * sizeof *e1.start) &&
		           !memcmp(e1.len_a, e3.len_a, d.n * sizeof *e1.len_a) &&
		           !memcmp(e1.ids, e3.ids, e1.start[d.n] * sizeof *e1.ids),
		       "SST-2 train: the same ids on 1 and 3 threads");
		nys_glue_enc_free(&e1);
		nys_glue_enc_free(&e3);
		nys_glue_data_free(&d);
	}

	/* single sentences lose their end; lower-casing as tokenize --lower */
	const char *p = PUT("sst.tsv", "sentence\tlabel\nONE TWO THREE FOUR FIVE SIX\t1\n");
	read_or_die(p, "SST-2", "dev", &d);
	nys_glue_tok tl, tu;
	nys_glue_tok_init(&tl, m, true, 512, &e);
	nys_glue_tok_init(&tu, m, false, 512, &e);
	nys_glue_enc el, eu;
	nys_glue_encode(&d, &tl, &el, &e);
	nys_glue_encode(&d, &tu, &eu, &e);
	nys_ids want = {0};
	nys_spm_encode(m, "one two three four five six", 27, &want, &e);
	tap_ok(nys_glue_enc_len(&el, 0) == want.n + 2 &&
	           !memcmp(el.ids + 1, want.p, want.n * sizeof *want.p) && el.len_a[0] == want.n + 2,
	       "lower: the ids of the lower-cased text");
	tap_ok(nys_glue_enc_len(&eu, 0) != nys_glue_enc_len(&el, 0) ||
	           memcmp(eu.ids, el.ids, el.start[1] * sizeof *el.ids),
	       "without lower: other ids");
	nys_glue_tok t5;
	nys_glue_tok_init(&t5, m, true, 5, &e);
	nys_glue_enc e5;
	nys_glue_encode(&d, &t5, &e5, &e);
	tap_ok(nys_glue_enc_len(&e5, 0) == 5 && e5.truncated == 1 &&
	           !memcmp(e5.ids + 1, want.p, 3 * sizeof *want.p) && e5.ids[4] == 3,
	       "a single sentence truncated keeps its start");
	nys_ids_free(&want);
	nys_glue_enc_free(&el);
	nys_glue_enc_free(&eu);
	nys_glue_enc_free(&e5);
	nys_glue_data_free(&d);
	nys_spm_free(m);
	nys_spm_free(m1k);
}

/* ---- predictions ------------------------------------------------------- */

static char *slurp(const char *path)
{
	nys_err e;
	nys_in *in = nys_in_open(path, &e);
	nys_buf b = {0};
	if (!in)
		return strdup("");
	nys_in_read_all(in, &b, &e);
	nys_in_close(in);
	return b.p ? b.p : strdup("");
}

static void test_predictions(void)
{
	nys_glue_data d;
	nys_err e;
	const char *p = PUT("rte.tsv", "index\tsentence1\tsentence2\n10\ta\tb\n11\tc\td\n");
	read_or_die(p, "RTE", "test", &d);
	const int32_t lab[] = {1, 0};
	char out[300];
	snprintf(out, sizeof out, "%s/pred", dir);
	nys_buf w = {0};
	tap_ok(nys_glue_write_predictions(out, &d, lab, NULL, &w, &e) == 0 &&
	           !strcmp(w.p, tap_path(out, "RTE.tsv")),
	       "RTE's test predictions into RTE.tsv");
	char *s = slurp(tap_path(out, "RTE.tsv"));
	tap_str(s, "index\tprediction\n10\tnot_entailment\n11\tentailment\n",
	        "GLUE's layout, string labels, the file's index");
	free(s);
	const int32_t badl[] = {2, 0};
	tap_ok(nys_glue_write_predictions(out, &d, badl, NULL, NULL, &e) == -1 &&
	           strstr(e.msg, "class 2"),
	       "a class outside the task is refused");
	nys_glue_data_free(&d);

	p = PUT("rted.tsv", "index\tsentence1\tsentence2\tlabel\n0\ta\tb\tentailment\n"
	                    "1\tc\td\tnot_entailment\n");
	read_or_die(p, "RTE", "dev", &d);
	nys_glue_write_predictions(out, &d, lab, NULL, NULL, &e);
	s = slurp(tap_path(out, "RTE.dev.tsv"));
	tap_str(s, "index\tprediction\tgold\n0\tnot_entailment\tentailment\n"
	           "1\tentailment\tnot_entailment\n",
	        "the dev file: index, prediction, gold");
	free(s);
	nys_glue_data_free(&d);

	p = PUT("stsbt.tsv",
	        "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\n"
	        "0\tg\tf\ty\t1\tn\tn\ta\tb\n1\tg\tf\ty\t2\tn\tn\tc\td\n");
	read_or_die(p, "STS-B", "test", &d);
	const double sc[] = {3.14159, 0.1};
	tap_ok(nys_glue_write_predictions(out, &d, NULL, sc, NULL, &e) == 0, "STS-B scores");
	s = slurp(tap_path(out, "STS-B.tsv"));
	tap_str(s, "index\tprediction\n0\t3.142\n1\t0.100\n", "with three decimals");
	free(s);
	tap_ok(nys_glue_write_predictions(out, &d, lab, NULL, NULL, &e) == -1, "no scores: refused");
	nys_glue_data_free(&d);

	p = PUT("mm.tsv",
	        "index\tpromptID\tpairID\tgenre\tb1\tb2\tp1\tp2\tsentence1\tsentence2\n"
	        "0\t1\t1\tg\tx\tx\tx\tx\ta\tb\n");
	read_or_die(p, "MNLI", "test_mismatched", &d);
	const int32_t n1[] = {1};
	nys_glue_write_predictions(out, &d, n1, NULL, NULL, &e);
	s = slurp(tap_path(out, "MNLI-mm.tsv"));
	tap_str(s, "index\tprediction\n0\tneutral\n", "MNLI's mismatched test into MNLI-mm.tsv");
	free(s);
	nys_glue_data_free(&d);

	p = PUT("tr.tsv", "sentence\tlabel\na\t1\n");
	read_or_die(p, "SST-2", "train", &d);
	tap_ok(nys_glue_write_predictions(out, &d, n1, NULL, NULL, &e) == -1, "no train predictions");
	nys_glue_data_free(&d);
	nys_buf_free(&w);
}

/* The encoding tests, where the shared data has a model and MRPC. */
static void test_shared(void)
{
	const char *shared = getenv("NYS_SHARED");
	if (shared && *shared && access(tap_path(shared, "spm/albert-layout-30k-de.model"), R_OK) == 0 &&
	    access(tap_path(shared, "glue/MRPC/dev.tsv"), R_OK) == 0)
		test_encode(shared);
	else
		printf("ok %d # SKIP no shared models or GLUE data (NYS_SHARED)\n", ++tap_n);
}

int main(int argc, char **argv)
{
	if (argc == 5 && !strcmp(argv[1], "dump"))
		return dump(argv + 2);
	if (argc == 8 && !strcmp(argv[1], "encode"))
		return encode(argv + 2);
	if (argc == 6 && !strcmp(argv[1], "predict"))
		return predict(argv + 2);
	if (argc > 1) {
		fprintf(stderr, "usage: glue [dump FILE TASK SPLIT | encode MODEL MAXLEN LOWER FILE "
		                "TASK SPLIT | predict FILE TASK SPLIT DIR]\n");
		return 2;
	}
	static tap_test *const tests[] = {test_table, test_read, test_metrics, test_predictions,
	                                  test_shared, NULL};
	return tap_main(dir, sizeof dir, "glue", tests);
}
