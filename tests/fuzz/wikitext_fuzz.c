/* libFuzzer target for the wikitext cleaner: any bytes must come out as
 * text without crashes, leaks or overruns, in the shape nys_wikitext.h
 * promises: lines that each end in "\n", none of them empty.  The low bit
 * of the size picks the flags, so both settings get inputs. */
#include "fuzz.h"
#include "nys_wikitext.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static nys_wikitext *wt;
	if (!wt)
		wt = nys_wikitext_new();
	FUZZ_CHECK(wt != NULL);
	nys_buf out = {0};
	FUZZ_CHECK(nys_wikitext_clean(wt, (const char *)data, size, (int)(size & 1), &out) == 0);
	if (out.n) {
		FUZZ_CHECK(out.p[0] != '\n' && out.p[out.n - 1] == '\n');
		FUZZ_CHECK(!memmem(out.p, out.n, "\n\n", 2));
	}
	nys_buf_free(&out);
	return 0;
}
