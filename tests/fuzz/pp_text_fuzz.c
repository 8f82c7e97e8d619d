/* libFuzzer target for the plain-text readers of preprocess: -f text
 * (hard-wrapped books, with and without Project Gutenberg's boilerplate
 * cut), -f bookcorpus (a sentence a line) and -f stories (a file is a
 * document).  The output must be nys-text(5) whatever the input; see
 * pp.h. */
#include "pp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *path = fuzz_input_path(data, size);
	pp_run(path, NYS_PP_TEXT, false, false);
	pp_run(path, NYS_PP_TEXT, false, true);
	pp_run(path, NYS_PP_BOOKCORPUS, false, false);
	pp_run(path, NYS_PP_STORIES, false, false);
	return 0;
}
