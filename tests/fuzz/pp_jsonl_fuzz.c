/* libFuzzer target for the JSON-lines readers of preprocess: -f realnews
 * (the "text" of each record) and -f wiki (WikiExtractor's JSON lines and
 * <doc> blocks, which one file may mix), with and without --strict.  The
 * output must be nys-text(5) whatever the input; see pp.h. */
#include "pp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *path = fuzz_input_path(data, size);
	pp_run(path, NYS_PP_REALNEWS, false, false);
	pp_run(path, NYS_PP_REALNEWS, true, false);
	pp_run(path, NYS_PP_WIKI, false, false);
	pp_run(path, NYS_PP_WIKI, true, false);
	return 0;
}
