/* libFuzzer target for the wikitext cleaner: any bytes must come out as
 * text without crashes, leaks or overruns.  Build and run with
 * `make fuzz` (clang). */
#include "nys_wiki.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static nys_wikitext *wt;
	if (!wt)
		wt = nys_wikitext_new();
	nys_buf out = {0};
	nys_wikitext_clean(wt, (const char *)data, size, (int)(size & 1), &out);
	nys_buf_free(&out);
	return 0;
}
