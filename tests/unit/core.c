/* libnys foundation: numbers, UTF-8, JSON strings, compressed input and
 * checked output. */
#include "nys.h"
#include "tap.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[128];

static void sh(const char *cmd)
{
	if (system(cmd) != 0)
		printf("# command failed: %s\n", cmd);
}


/* Read a whole file through nys_in into a NUL-terminated buffer. */
static int slurp(const char *path, nys_buf *b, nys_err *e)
{
	nys_in *in = nys_in_open(path, e);
	if (!in)
		return -1;
	b->n = 0;
	char tmp[7]; /* odd size: exercises partial reads */
	ptrdiff_t k;
	while ((k = nys_in_read(in, tmp, sizeof tmp, e)) > 0)
		nys_buf_add(b, tmp, (size_t)k);
	nys_buf_addc(b, 0);
	nys_in_close(in);
	return k < 0 ? -1 : 0;
}

static void test_numbers(void)
{
	nys_err e;
	uint64_t v = 0;
	tap_ok(nys_parse_u64("42", 1, 100, &v, "-n", &e) == 0 && v == 42, "u64 in range");
	tap_ok(nys_parse_u64("0", 1, 100, &v, "-n", &e) == -1, "u64 below range");
	tap_ok(strstr(e.msg, "-n") && strstr(e.msg, "1 to 100"), "range error names the option and range");
	tap_ok(nys_parse_u64("12x", 0, 100, &v, "-n", &e) == -1, "u64 trailing junk");
	tap_ok(nys_parse_u64("-1", 0, 100, &v, "-n", &e) == -1, "u64 negative");
	tap_ok(nys_parse_u64("", 0, 100, &v, "-n", &e) == -1, "u64 empty");
	tap_ok(nys_parse_u64("99999999999999999999999", 0, UINT64_MAX, &v, "-n", &e) == -1, "u64 overflow");
	tap_ok(nys_parse_size("1M", 0, UINT64_MAX, &v, "-b", &e) == 0 && v == 1048576, "size 1M");
	tap_ok(nys_parse_size("64KiB", 0, UINT64_MAX, &v, "-b", &e) == 0 && v == 65536, "size 64KiB");
	tap_ok(nys_parse_size("2g", 0, UINT64_MAX, &v, "-b", &e) == 0 && v == 2147483648u, "size 2g");
	tap_ok(nys_parse_size("100", 0, UINT64_MAX, &v, "-b", &e) == 0 && v == 100, "size plain");
	tap_ok(nys_parse_size("1Q", 0, UINT64_MAX, &v, "-b", &e) == -1, "size bad suffix");
	tap_ok(nys_parse_size("99999999999T", 0, UINT64_MAX, &v, "-b", &e) == -1, "size overflow");
	tap_ok(nys_parse_size("1K", 2048, UINT64_MAX, &v, "-b", &e) == -1, "size below range");
}

static void test_utf8(void)
{
	tap_ok(nys_utf8_check("h\xc3\xa9llo", 6) == 6, "utf8 valid");
	tap_ok(nys_utf8_check("ab\xff", 3) == 2, "utf8 bad byte found");
	tap_ok(nys_utf8_check("\xc0\xaf", 2) == 0, "utf8 overlong refused");
	tap_ok(nys_utf8_check("\xed\xa0\x80", 3) == 0, "utf8 surrogate refused");
	tap_ok(nys_utf8_check("\xe2\x82", 2) == 0, "utf8 truncated refused");
	tap_ok(nys_utf8_check("\xf0\x9f\x98\x80", 4) == 4, "utf8 4-byte valid");
	char u[4];
	tap_ok(nys_utf8_encode(0x20AC, u) == 3 && !memcmp(u, "\xe2\x82\xac", 3), "utf8 encode euro");
	tap_ok(nys_utf8_encode(0xD800, u) == 0, "utf8 encode surrogate refused");
	nys_buf b = {0};
	nys_buf_add_json_str(&b, "a\"b\\c\nd\x01", 8);
	tap_str(b.p, "a\\\"b\\\\c\\nd\\u0001", "json string escaping");
	nys_buf_free(&b);
}

static void test_input(void)
{
	nys_err e;
	nys_buf b = {0};
	FILE *f = fopen(tap_path(dir, "plain.txt"), "w");
	fputs("line one\r\nline two\n\nlast without newline", f);
	fclose(f);
	char cmd[1024];
	snprintf(cmd, sizeof cmd,
	         "cd %s && bzip2 -k plain.txt && zstd -q -k plain.txt && "
	         "(bzip2 -c plain.txt; bzip2 -c plain.txt) > multi.bz2 && "
	         "(zstd -q -c plain.txt; zstd -q -c plain.txt) > multi.zst && "
	         "head -c 40 multi.bz2 > cut.bz2 && head -c 20 plain.txt.zst > cut.zst", dir);
	sh(cmd);
	const char *want = "line one\r\nline two\n\nlast without newline";
	tap_ok(slurp(tap_path(dir, "plain.txt"), &b, &e) == 0 && !strcmp(b.p, want), "plain read");
	tap_ok(slurp(tap_path(dir, "plain.txt.bz2"), &b, &e) == 0 && !strcmp(b.p, want), "bzip2 read");
	tap_ok(slurp(tap_path(dir, "plain.txt.zst"), &b, &e) == 0 && !strcmp(b.p, want), "zstd read");
	tap_ok(slurp(tap_path(dir, "multi.bz2"), &b, &e) == 0 && b.n == 2 * strlen(want) + 1, "bzip2 multistream read");
	tap_ok(slurp(tap_path(dir, "multi.zst"), &b, &e) == 0 && b.n == 2 * strlen(want) + 1, "zstd multiframe read");
	tap_ok(slurp(tap_path(dir, "cut.bz2"), &b, &e) == -1 && strstr(e.msg, "cut.bz2"), "truncated bzip2 is an error naming the file");
	tap_ok(slurp(tap_path(dir, "cut.zst"), &b, &e) == -1 && strstr(e.msg, "truncated"), "truncated zstd is an error");
	tap_ok(nys_in_open(tap_path(dir, "missing"), &e) == NULL && strstr(e.msg, "No such file"), "missing file: strerror");
	tap_ok(nys_in_open(dir, &e) == NULL && strstr(e.msg, "directory"), "directory refused");

	nys_in *in = nys_in_open(tap_path(dir, "plain.txt.bz2"), &e);
	char *line;
	size_t len;
	int n = 0;
	bool ok = true;
	const char *lines[] = {"line one", "line two", "", "last without newline"};
	while (in && nys_in_getline(in, &line, &len, &e) == 1) {
		ok &= n < 4 && len == strlen(lines[n]) && !strcmp(line, lines[n]);
		n++;
	}
	tap_ok(ok && n == 4 && nys_in_lineno(in) == 4, "getline: CRLF, empty line, last line without newline");
	nys_in_close(in);
	nys_buf_free(&b);
}

static void test_output(void)
{
	nys_err e;
	const char *p = tap_path(dir, "out.txt");
	nys_out *o = nys_out_open(p, 0, &e);
	nys_out_puts(o, "hello\n", &e);
	struct stat st;
	tap_ok(stat(p, &st) != 0, "output invisible under its name until committed");
	tap_ok(nys_out_commit(o, &e) == 0 && stat(p, &st) == 0 && st.st_size == 6, "commit renames into place");
	o = nys_out_open(p, 0, &e);
	nys_out_puts(o, "partial", &e);
	nys_out_abort(o);
	tap_ok(stat(p, &st) == 0 && st.st_size == 6, "abort keeps the old file");
	char cmd[512];
	snprintf(cmd, sizeof cmd, "test -z \"$(ls %s | grep tmp)\"", dir);
	tap_ok(system(cmd) == 0, "abort leaves no temporary file");
	const char *z = tap_path(dir, "out.zst");
	o = nys_out_open(z, NYS_OUT_ZSTD, &e);
	for (int i = 0; i < 100000; i++)
		nys_out_puts(o, "compressible line\n", &e);
	nys_buf b = {0};
	tap_ok(nys_out_commit(o, &e) == 0 && slurp(z, &b, &e) == 0 && b.n == 1800001, "zstd output round trip");
	nys_buf_free(&b);
	o = nys_out_open("/proc/nonexistent-dir/x", 0, &e);
	tap_ok(o == NULL && strstr(e.msg, "/proc/nonexistent-dir/x"), "unwritable path: error names it");
}

int main(void)
{
	if (!tap_scratch(dir, sizeof dir, "core")) {
		puts("1..0 # SKIP no temporary directory");
		return 0;
	}
	test_numbers();
	test_utf8();
	test_input();
	test_output();
	char cmd[256];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	sh(cmd);
	return tap_done();
}
