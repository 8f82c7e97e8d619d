/* libFuzzer target for the LRA task readers of untrusted text and binary
 * files (nys_lra_read.h): the same bytes as a ListOps TSV (either layout),
 * an AAN pair TSV and a CIFAR-10 batch, each into a writer of its task's
 * kind; whatever is read must be records that kind allows (the writer
 * checks each), and a failure must name the file. */
#include "fuzz.h"
#include "nys_lra_read.h"

static void one(nys_lra_task task, const char *path,
                int (*rd)(const char *, nys_lra_writer *, nys_err *))
{
	nys_lra_header h;
	nys_lra_kind(task, task == NYS_LRA_IMAGE ? 0 : 64, &h);
	nys_err e = {{0}};
	nys_lra_writer *w = nys_lra_writer_open("unused.lra", &h, &e);
	FUZZ_CHECK(w != NULL);
	if (rd(path, w, &e))
		fuzz_check_msg(e.msg, path);
	nys_lra_writer_abort(w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *path = fuzz_input_path(data, size);
	one(NYS_LRA_LISTOPS, path, nys_lra_read_listops);
	one(NYS_LRA_RETRIEVAL, path, nys_lra_read_aan);
	one(NYS_LRA_IMAGE, path, nys_lra_read_cifar);
	return 0;
}
