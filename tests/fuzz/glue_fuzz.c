/* libFuzzer target for GLUE's files (libnys/corpus/glue.c): the first byte
 * picks one of every task's splits, the rest is the file, plain or
 * compressed.  Errors must name the file; a file that reads must give
 * rows that keep the documented rules: labels inside the task's set or
 * -1, finite scores for STS-B, no tab and no line end inside a field. */
#include "fuzz.h"
#include "nys_glue.h"

#include <math.h>

static void check_field(const char *s)
{
	FUZZ_CHECK(!strchr(s, '\t') && !strchr(s, '\n'));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	/* the splits of all tasks, numbered in table order */
	size_t total = 0;
	for (size_t i = 0; i < nys_glue_ntasks(); i++)
		total += nys_glue_task_at(i)->nsplits;
	size_t pick = data[0] % total;
	const nys_glue_task *t = NULL;
	const nys_glue_split *s = NULL;
	for (size_t i = 0; i < nys_glue_ntasks() && !s; i++) {
		t = nys_glue_task_at(i);
		if (pick < t->nsplits)
			s = &t->splits[pick];
		else
			pick -= t->nsplits;
	}
	const char *path = fuzz_input_path(data + 1, size - 1);
	nys_err e = {{0}};
	nys_glue_data d;
	if (nys_glue_read(path, t, s, &d, &e)) {
		fuzz_check_msg(e.msg, path);
		nys_glue_data_free(&d);
		return 0;
	}
	FUZZ_CHECK(d.n > 0);
	for (size_t i = 0; i < d.n; i++) {
		check_field(nys_glue_text_a(&d, i));
		check_field(nys_glue_index(&d, i));
		const char *b = nys_glue_text_b(&d, i);
		FUZZ_CHECK((b != NULL) == (s->col_b >= 0));
		if (b)
			check_field(b);
		if (s->col_label < 0)
			FUZZ_CHECK(d.label[i] == -1 && isnan(d.score[i]));
		else if (t->nlabels)
			FUZZ_CHECK(d.label[i] >= 0 && (unsigned)d.label[i] < t->nlabels);
		else
			FUZZ_CHECK(isfinite(d.score[i]));
	}
	nys_glue_data_free(&d);
	return 0;
}
