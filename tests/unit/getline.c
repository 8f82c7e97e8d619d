/* nys_in_getline_max: lines up to the maximum come back as nys_in_getline
 * gives them, longer ones as 2 with their exact length, read through
 * without the memory growing with them, in plain and compressed input. */
#include "nys.h"
#include "tap.h"

#include <sys/resource.h>

static char dir[128];

/* Write n bytes of c, then tail, to f. */
static void put_run(FILE *f, int c, size_t n, const char *tail)
{
	char b[4096];
	memset(b, c, sizeof b);
	for (; n > sizeof b; n -= sizeof b)
		fwrite(b, 1, sizeof b, f);
	fwrite(b, 1, n, f);
	fputs(tail, f);
}

/* What nys_in_getline_max gives for each line of path with maximum max, as
 * text: "1:LEN" for a line (checked to be the run of bytes it should be),
 * "2:LEN" for one too long, "0" at the end, "-1" on an error; each
 * followed by "@LINENO" and a space. */
static void trace(const char *path, size_t max, nys_buf *out)
{
	nys_err e;
	out->n = 0;
	nys_in *in = nys_in_open(path, &e);
	if (!in) {
		nys_buf_printf(out, "open: %s", e.msg);
		return;
	}
	for (;;) {
		char *line;
		size_t len = 0;
		int k = nys_in_getline_max(in, max, &line, &len, &e);
		if (k == 1 || k == 2)
			nys_buf_printf(out, "%d:%zu", k, len);
		else
			nys_buf_printf(out, "%d", k);
		if (k == 1 && len && (line[0] != line[len - 1] || line[len] != 0))
			nys_buf_printf(out, "(bad)");
		if (k == 2 && line)
			nys_buf_printf(out, "(line not NULL)");
		nys_buf_printf(out, "@%llu ", (unsigned long long)nys_in_lineno(in));
		if (k < 1)
			break;
	}
	nys_in_close(in);
}

static void check(const char *name, size_t max, const char *want, const char *what)
{
	nys_buf b = {0};
	const char *kinds[] = {"", ".zst", ".bz2"};
	for (int i = 0; i < 3; i++) {
		char path[256], desc[512];
		snprintf(path, sizeof path, "%s/%s%s", dir, name, kinds[i]);
		trace(path, max, &b);
		snprintf(desc, sizeof desc, "%s (%s)", what, i ? kinds[i] + 1 : "plain");
		tap_str(b.n ? b.p : "", want, desc);
	}
	nys_buf_free(&b);
}

static long peak_kb(void)
{
	struct rusage u;
	getrusage(RUSAGE_SELF, &u);
	return u.ru_maxrss;
}

int main(void)
{
	if (!tap_scratch(dir, sizeof dir, "getline")) {
		printf("1..0 # SKIP no scratch directory\n");
		return 0;
	}
	char path[256];

	/* lines of 10, 100 (the maximum), 101 bytes; 100 and 101 bytes
	 * before a CRLF; an empty line; a last line of 101 without newline */
	snprintf(path, sizeof path, "%s/small", dir);
	FILE *f = fopen(path, "w");
	put_run(f, 'a', 10, "\n");
	put_run(f, 'b', 100, "\n");
	put_run(f, 'c', 101, "\n");
	put_run(f, 'd', 100, "\r\n");
	put_run(f, 'e', 101, "\r\n");
	fputs("\n", f);
	put_run(f, 'f', 101, "");
	fclose(f);

	/* long lines whose CRLF falls at the edges of the 256 KiB the reader
	 * reads at once, then a short line: each is read through */
	snprintf(path, sizeof path, "%s/edges", dir);
	f = fopen(path, "w");
	const size_t at[] = {262142, 262143, 262144, 262145, 524286, 524287};
	for (size_t i = 0; i < sizeof at / sizeof at[0]; i++) {
		put_run(f, 'x', at[i], "\r\n");
		put_run(f, 'y', 3, "\n");
	}
	fclose(f);

	/* a line longer than the 256 KiB buffer, within a maximum above it */
	snprintf(path, sizeof path, "%s/grow", dir);
	f = fopen(path, "w");
	put_run(f, 'g', 300000, "\n");
	put_run(f, 'h', 300001, "\n");
	fclose(f);

	/* 64 MiB in one line, between two short ones */
	snprintf(path, sizeof path, "%s/huge", dir);
	f = fopen(path, "w");
	put_run(f, 'i', 5, "\n");
	put_run(f, 'j', (size_t)64 << 20, "\n");
	put_run(f, 'k', 5, "\n");
	fclose(f);

	tap_sh(dir, "cd @ && for f in small edges grow; do zstd -q -k $f && bzip2 -k $f; done");

	check("small", 100,
	      "1:10@1 1:100@2 2:101@3 1:100@4 2:101@5 1:0@6 2:101@7 0@7 ",
	      "max 100: a line of 100 bytes (also before CRLF) is a line, 101 is too long, "
	      "the last line without newline too; line numbers go on");
	check("small", SIZE_MAX,
	      "1:10@1 1:100@2 1:101@3 1:100@4 1:101@5 1:0@6 1:101@7 0@7 ",
	      "no maximum: every line, as nys_in_getline");
	check("small", 0, "2:10@1 2:100@2 2:101@3 2:100@4 2:101@5 1:0@6 2:101@7 0@7 ",
	      "max 0: every line but the empty one is too long");
	check("edges", 1000,
	      "2:262142@1 1:3@2 2:262143@3 1:3@4 2:262144@5 1:3@6 2:262145@7 1:3@8 "
	      "2:524286@9 1:3@10 2:524287@11 1:3@12 0@12 ",
	      "long lines read through: exact lengths (CR not counted) wherever the reads end, "
	      "the next line intact");
	check("grow", 300000, "1:300000@1 2:300001@2 0@2 ",
	      "max above the first buffer: a line of max bytes comes whole, one more is too long");

	nys_buf b = {0};
	long before = peak_kb();
	snprintf(path, sizeof path, "%s/huge", dir);
	trace(path, 4096, &b);
	long grew = peak_kb() - before;
	tap_str(b.n ? b.p : "", "1:5@1 2:67108864@2 1:5@3 0@3 ", "a 64 MiB line with max 4096: too long, exact length");
	tap_ok(grew < 16 * 1024, "... read through in bounded memory (peak grew by less than 16 MiB)");
	if (grew >= 16 * 1024)
		printf("# peak grew by %ld KiB\n", grew);
	nys_buf_free(&b);

	tap_sh(dir, "rm -rf @");
	return tap_done();
}
