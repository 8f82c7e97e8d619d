/* libnys foundation: numbers, UTF-8, JSON strings, compressed input,
 * checked output (into files, devices, FIFOs, through links), staging
 * directories and dataset names. */
#include "nys.h"
#include "tap.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
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
	/* ASCII, as Python's json.dumps: \b and \f short, 0x7f and UTF-8 as
	 * \uXXXX (a pair above U+FFFF), a byte not UTF-8 as a lone surrogate */
	nys_buf_add_json_ascii(&b, "\b\f\x7f\xc3\xa9\xf0\x9f\x98\x80\xff\"", 11);
	tap_str(b.p, "\\b\\f\\u007f\\u00e9\\ud83d\\ude00\\udcff\\\"", "json string escaping, ASCII");
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
	/* two-phase: finished (complete under the temporary name), then
	 * committed or aborted */
	o = nys_out_open(p, NYS_OUT_SYNC, &e);
	nys_out_puts(o, "second!\n", &e);
	tap_ok(nys_out_finish(o, &e) == 0 && stat(p, &st) == 0 && st.st_size == 6,
	       "finish: the old file still there");
	nys_out_abort(o);
	tap_ok(stat(p, &st) == 0 && st.st_size == 6 && system(cmd) == 0,
	       "finish then abort: the old file kept, no temporary left");
	o = nys_out_open(p, 0, &e);
	nys_out_puts(o, "second!\n", &e);
	tap_ok(nys_out_finish(o, &e) == 0 && nys_out_commit(o, &e) == 0 && stat(p, &st) == 0 &&
	       st.st_size == 8, "finish then commit renames into place");
	const char *z = tap_path(dir, "out.zst");
	o = nys_out_open(z, NYS_OUT_ZSTD, &e);
	for (int i = 0; i < 100000; i++)
		nys_out_puts(o, "compressible line\n", &e);
	nys_buf b = {0};
	tap_ok(nys_out_commit(o, &e) == 0 && slurp(z, &b, &e) == 0 && b.n == 1800001, "zstd output round trip");
	nys_buf_free(&b);
	o = nys_out_open("/proc/nonexistent-dir/x", 0, &e);
	tap_ok(o == NULL && strstr(e.msg, "/proc/nonexistent-dir/x"), "unwritable path: error names it");
	/* a missing folder: named as such, with the path given, never the
	 * temporary name tried beside it */
	char missing[600], want[1400];
	snprintf(missing, sizeof missing, "%s/no-such-dir", dir);
	o = nys_out_open(tap_path(missing, "x.json"), 0, &e);
	snprintf(want, sizeof want, "cannot create %s/x.json: the directory %s does not exist", missing, missing);
	tap_str(o ? "(opened)" : e.msg, want, "missing folder: the error names the path and the folder");
	tap_ok(o == NULL && !strstr(e.msg, ".tmp."), "... and no temporary name");
}


/* The whole content of path as a string in b ("" if it cannot be read). */
static const char *contents(const char *path, nys_buf *b)
{
	nys_err e;
	if (slurp(path, b, &e)) {
		b->n = 0;
		nys_buf_addc(b, 0);
	}
	return b->p;
}

/* Names in dir that contain s. */
static int count_names(const char *d, const char *s)
{
	char cmd[512];
	snprintf(cmd, sizeof cmd, "ls -a %s | grep -qF -- '%s'", d, s);
	return system(cmd) == 0;
}

/* Commit "text" to path through nys_out; 0 on success. */
static int put(const char *path, const char *text, int flags)
{
	nys_err e;
	nys_out *o = nys_out_open(path, flags, &e);
	if (!o) {
		printf("# %s\n", e.msg);
		return -1;
	}
	if (nys_out_puts(o, text, &e)) {
		nys_out_abort(o);
		return -1;
	}
	int r = nys_out_commit(o, &e);
	if (r)
		printf("# %s\n", e.msg);
	return r;
}

/* -o into what is not a regular file: written into, never replaced. */
static void test_output_special(void)
{
	nys_err e;
	nys_buf b = {0};
	struct stat st;

	/* a FIFO, read by a child */
	const char *fifo = tap_path(dir, "fifo");
	const char *got = tap_path(dir, "fifo.got");
	char fifo_s[512], got_s[512];
	snprintf(fifo_s, sizeof fifo_s, "%s", fifo);
	snprintf(got_s, sizeof got_s, "%s", got);
	if (mkfifo(fifo_s, 0600)) {
		tap_ok(0, "mkfifo");
	} else {
		fflush(stdout);
		pid_t pid = fork();
		if (pid == 0) {
			int in = open(fifo_s, O_RDONLY), out = open(got_s, O_WRONLY | O_CREAT | O_TRUNC, 0600);
			char buf[256];
			ssize_t k;
			while (in >= 0 && out >= 0 && (k = read(in, buf, sizeof buf)) > 0)
				if (write(out, buf, (size_t)k) != k)
					_exit(1);
			_exit(0);
		}
		int r = put(fifo_s, "through the fifo\n", 0);
		bool still = !lstat(fifo_s, &st) && S_ISFIFO(st.st_mode);
		if (r || !still)
			kill(pid, SIGKILL); /* it would wait for a writer for ever */
		waitpid(pid, NULL, 0);
		tap_ok(r == 0 && still, "-o FIFO: written into, still a FIFO");
		tap_str(contents(got_s, &b), "through the fifo\n", "-o FIFO: the reader gets the bytes");
		tap_ok(!count_names(dir, "fifo.tmp"), "-o FIFO: no temporary file");
	}

	/* a character device: a scratch /dev/null (1, 3) */
	const char *dev = tap_path(dir, "null");
	if (mknod(dev, S_IFCHR | 0666, makedev(1, 3))) {
		printf("# mknod: %s\n", strerror(errno));
		tap_ok(1, "# SKIP -o a character device: mknod needs root");
		tap_ok(1, "# SKIP -o a character device: mknod needs root");
	} else {
		tap_ok(put(dev, "into the device\n", 0) == 0, "-o a character device: written");
		tap_ok(!lstat(dev, &st) && S_ISCHR(st.st_mode) && major(st.st_rdev) == 1 &&
		       minor(st.st_rdev) == 3, "-o a character device: still the device (1, 3)");
	}

	/* /dev/fd/N: the descriptor itself, an append kept */
	const char *app = tap_path(dir, "append.txt");
	char app_s[512], fdname[64];
	snprintf(app_s, sizeof app_s, "%s", app);
	int fd = open(app_s, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0600);
	tap_ok(fd >= 0 && write(fd, "first\n", 6) == 6, "a file open for appending");
	snprintf(fdname, sizeof fdname, "/dev/fd/%d", fd);
	tap_ok(put(fdname, "second\n", 0) == 0, "-o /dev/fd/N: written");
	close(fd);
	tap_str(contents(app_s, &b), "first\nsecond\n", "-o /dev/fd/N: through the descriptor (>> kept)");
	tap_ok(nys_out_open("/dev/fd/999", 0, &e) == NULL && strstr(e.msg, "/dev/fd/999"),
	       "-o /dev/fd/N of a closed descriptor: an error naming it");

	/* abort on a stream: what was written ends at the last write */
	int p[2];
	if (pipe(p) == 0) {
		snprintf(fdname, sizeof fdname, "/dev/fd/%d", p[1]);
		nys_out *o = nys_out_open(fdname, 0, &e);
		if (o) {
			nys_out_puts(o, "whole record\n", &e);
			nys_out_abort(o);
		}
		close(p[1]);
		char buf[64] = "";
		ssize_t k = read(p[0], buf, sizeof buf - 1);
		buf[k > 0 ? k : 0] = 0;
		close(p[0]);
		tap_str(buf, "whole record\n", "abort on a stream: it gets what was written, up to the last write");
	}

	/* a terminal: text goes in, binary is refused */
	int m = posix_openpt(O_RDWR | O_NOCTTY);
	if (m < 0 || grantpt(m) || unlockpt(m) || !ptsname(m)) {
		tap_ok(1, "# SKIP no pseudo-terminal");
		tap_ok(1, "# SKIP no pseudo-terminal");
	} else {
		char pts[128];
		snprintf(pts, sizeof pts, "%s", ptsname(m));
		nys_out *o = nys_out_open(pts, NYS_OUT_BINARY, &e);
		tap_ok(!o && strstr(e.msg, "terminal") && strstr(e.msg, pts),
		       "-o a terminal with binary data: refused, naming it");
		nys_out_abort(o);
		int r = put(pts, "to the terminal", 0);
		char buf[64] = "";
		ssize_t k = r ? -1 : read(m, buf, sizeof buf - 1);
		buf[k > 0 ? k : 0] = 0;
		tap_ok(r == 0 && !strcmp(buf, "to the terminal"), "-o a terminal with text: written into it");
	}
	if (m >= 0)
		close(m);

	/* a directory */
	tap_ok(nys_out_open(dir, 0, &e) == NULL && strstr(e.msg, dir) && strstr(e.msg, "is a directory"),
	       "-o a directory: an error naming it");
	nys_buf_free(&b);
}

/* -o through symbolic links: the file at the end is replaced, the links stay. */
static void test_output_links(void)
{
	nys_buf b = {0};
	struct stat st;
	char link[512], buf[512];
	tap_sh(dir, "mkdir -p @/ln/sub && printf old > @/ln/target && ln -s target @/ln/link && "
	            "ln -s link @/ln/link2 && ln -s ../target @/ln/sub/up && ln -s nothing-yet @/ln/dangling");
	snprintf(link, sizeof link, "%s/ln/link", dir);
	tap_ok(put(link, "new\n", 0) == 0, "-o a symbolic link: written");
	ssize_t k = readlink(link, buf, sizeof buf - 1);
	buf[k > 0 ? k : 0] = 0;
	tap_ok(!lstat(link, &st) && S_ISLNK(st.st_mode) && !strcmp(buf, "target"),
	       "-o a symbolic link: the link stays, pointing where it did");
	tap_str(contents(tap_path(dir, "ln/target"), &b), "new\n", "-o a symbolic link: its target replaced");
	snprintf(link, sizeof link, "%s/ln/link2", dir);
	put(link, "via two\n", 0);
	tap_str(contents(tap_path(dir, "ln/target"), &b), "via two\n", "a chain of two links: the last target replaced");
	snprintf(link, sizeof link, "%s/ln/sub/up", dir);
	put(link, "relative\n", 0);
	tap_str(contents(tap_path(dir, "ln/target"), &b), "relative\n",
	        "a relative link in another directory: resolved from the link's directory");
	tap_ok(!lstat(tap_path(dir, "ln/sub/up"), &st) && S_ISLNK(st.st_mode), "... and it is still a link");
	snprintf(link, sizeof link, "%s/ln/dangling", dir);
	put(link, "created\n", 0);
	tap_ok(!lstat(link, &st) && S_ISLNK(st.st_mode), "a dangling link stays a link");
	tap_str(contents(tap_path(dir, "ln/nothing-yet"), &b), "created\n", "... and its target is made");
	tap_ok(!count_names(tap_path(dir, "ln"), ".tmp.") && !count_names(tap_path(dir, "ln/sub"), ".tmp."),
	       "links: no temporary file left");
	tap_sh(dir, "ln -s loop-b @/ln/loop-a && ln -s loop-a @/ln/loop-b");
	nys_err e;
	snprintf(link, sizeof link, "%s/ln/loop-a", dir);
	tap_ok(nys_out_open(link, 0, &e) == NULL && strstr(e.msg, "loop-a"), "a loop of links: an error naming it");
	nys_buf_free(&b);
}

/* Staging directories: swept when their run died, removed on abort (with
 * the directories made for them), installed on success. */
static void test_stage(void)
{
	nys_err e;
	nys_buf b = {0};
	struct stat st;
	char d[512], lockdir[600];

	/* install and commit */
	snprintf(d, sizeof d, "%s/st/new/sub", dir);
	nys_stage *s = nys_stage_open(d, "t", &e);
	tap_ok(s && !stat(d, &st) && S_ISDIR(st.st_mode), "stage: DIR made");
	if (!s)
		return;
	const char *sp = nys_stage_path(s);
	tap_ok(!strncmp(sp, d, strlen(d)) && strstr(sp, "/.t.tmp.") && !stat(sp, &st), "stage: DIR/.TAG.tmp.XXXXXX");
	char f[600];
	snprintf(f, sizeof f, "%s/XX/f", sp);
	nys_mkdirs(tap_path(sp, "XX"), &e);
	put(f, "staged\n", 0);
	tap_ok(stat(tap_path(d, "XX/f"), &st) != 0, "stage: nothing in DIR before install");
	tap_ok(nys_stage_install(s, "XX/f", &e) == 0 && nys_stage_commit(s, &e) == 0, "stage: install, commit");
	tap_str(contents(tap_path(d, "XX/f"), &b), "staged\n", "stage: the file in place, its subdirectory made");
	tap_ok(!count_names(d, ".t.tmp."), "stage: the staging directory is gone");

	/* stale ones swept: unlocked ones of the tag, not held ones, not others' */
	tap_sh(d, "mkdir -p @/.t.tmp.AbC123/AA @/.t.tmp.HeLd00 @/.u.tmp.AbC123 @/.t.tmp.toolong && "
	          "echo x > @/.t.tmp.AbC123/AA/wiki_00 && echo y > @/.t.tmp.AbC123/f");
	snprintf(lockdir, sizeof lockdir, "%s/.t.tmp.HeLd00", d);
	int held = open(lockdir, O_RDONLY | O_DIRECTORY);
	tap_ok(held >= 0 && flock(held, LOCK_EX) == 0, "a staging directory held by a live run (flock)");
	s = nys_stage_open(d, "t", &e);
	tap_ok(s != NULL, "stage: opened again");
	tap_ok(stat(tap_path(d, ".t.tmp.AbC123"), &st) != 0, "stage: a dead run's staging directory removed, subdirectories too");
	tap_ok(stat(lockdir, &st) == 0, "stage: one a live run holds is kept");
	tap_ok(stat(tap_path(d, ".u.tmp.AbC123"), &st) == 0 && stat(tap_path(d, ".t.tmp.toolong"), &st) == 0,
	       "stage: other tags' and other names are kept");
	close(held);

	/* abort: DIR as before */
	put(tap_path(nys_stage_path(s), "g"), "dropped\n", 0);
	char staged[1024];
	snprintf(staged, sizeof staged, "%s", nys_stage_path(s));
	nys_stage_abort(s);
	tap_ok(stat(tap_path(d, "g"), &st) != 0 && stat(staged, &st) != 0 && stat(tap_path(d, "XX/f"), &st) == 0,
	       "stage: abort removes the staging directory with its files, DIR keeps its own");
	snprintf(d, sizeof d, "%s/st/made/a/b", dir);
	s = nys_stage_open(d, "t", &e);
	nys_stage_abort(s);
	tap_ok(s && stat(tap_path(dir, "st/made"), &st) != 0, "stage: abort removes the directories it made, if empty");
	tap_sh(dir, "mkdir -p @/st/kept && touch @/st/kept/mine");
	snprintf(d, sizeof d, "%s/st/kept/x", dir);
	s = nys_stage_open(d, "t", &e);
	nys_stage_abort(s);
	tap_ok(s && stat(tap_path(dir, "st/kept/x"), &st) != 0 && stat(tap_path(dir, "st/kept/mine"), &st) == 0,
	       "stage: ... but not one that was there");
	tap_ok(nys_stage_open("/proc/no-such-dir/x", "t", &e) == NULL && strstr(e.msg, "/proc/no-such-dir"),
	       "stage: a DIR that cannot be made, named in the error");

	/* a fatal signal removes the staging directory, its temporary files
	 * and the DIR it made */
	snprintf(d, sizeof d, "%s/st/sig", dir);
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		nys_out_cleanup_on_signals();
		nys_stage *cs = nys_stage_open(d, "t", &e);
		nys_out *o = cs ? nys_out_open(tap_path(nys_stage_path(cs), "half"), 0, &e) : NULL;
		if (o && !nys_out_puts(o, "half", &e))
			raise(SIGTERM);
		_exit(3);
	}
	int status = 0;
	waitpid(pid, &status, 0);
	tap_ok(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM, "stage: the child died of SIGTERM");
	tap_ok(stat(d, &st) != 0, "stage: SIGTERM leaves no staging directory and no DIR it made");
	nys_buf_free(&b);
}

static void test_names(void)
{
	nys_err e;
	const char *good[] = {"wiki", "books", "data", "wiki_2024-en", "a.b+c", "X", "0"};
	bool all = true;
	for (size_t i = 0; i < sizeof good / sizeof *good; i++)
		all &= nys_name_check(good[i], "--name", &e) == 0;
	tap_ok(all, "names: wiki, books, data, wiki_2024-en, a.b+c, X, 0 pass");
	const char *bad[] = {"", ".x", "-x", "a/b", "a\nb", "a\tb", "a b", "caf\xc3\xa9", "a*", "..",
	                     "12345678901234567890123456789012345678901234567890123456789012345"};
	all = true;
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		bool refused = nys_name_check(bad[i], "--name", &e) == -1 && !strncmp(e.msg, "--name: ", 8);
		if (!refused)
			printf("# accepted: %s\n", bad[i]);
		all &= refused;
	}
	tap_ok(all, "names: empty, leading . or -, /, newline, tab, space, non-ASCII, *, .., 65 long refused");
	nys_name_check("a\nb", "--name", &e);
	tap_ok(strstr(e.msg, "'a\\x0ab'") != NULL, "names: a control character is shown as \\xHH");
	char long64[65];
	memset(long64, 'a', 64);
	long64[64] = 0;
	tap_ok(nys_name_check(long64, "--name", &e) == 0, "names: 64 characters pass");
}

int main(void)
{
	static tap_test *const tests[] = {
		test_numbers, test_utf8, test_input, test_output, test_output_special,
		test_output_links, test_stage, test_names, NULL,
	};
	return tap_main(dir, sizeof dir, "core", tests);
}
