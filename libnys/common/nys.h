/* libnys: the pieces every nys tool shares.
 *
 * Library functions never exit and never print errors themselves: they
 * return -1 (or NULL) and describe the failure in a nys_err, already in the
 * "file:line: what" shape, so the tool only has to prefix its own name.
 */
#ifndef NYS_H
#define NYS_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifndef NYS_VERSION
#define NYS_VERSION "0.0.0"
#endif

#define NYS_PRINTF(a, b) __attribute__((format(printf, a, b)))

/* ---- errors ------------------------------------------------------------ */

typedef struct nys_err {
	char msg[1024];
} nys_err;

/* Set e->msg from a format; returns -1 so callers can `return nys_err_set(..)`. */
int nys_err_set(nys_err *e, const char *fmt, ...) NYS_PRINTF(2, 3);
/* Same, with ": strerror(errno)" appended (errno as on entry). */
int nys_err_sys(nys_err *e, const char *fmt, ...) NYS_PRINTF(2, 3);

/* The program name used in messages ("wikiextract: ..."). */
void nys_prog_init(const char *argv0);
const char *nys_prog(void);
/* "prog: message\n" on stderr; never exits. */
void nys_warnx(const char *fmt, ...) NYS_PRINTF(1, 2);
/* A usage error: "prog: message" (if fmt) and the usage text on stderr.
 * The tool then exits 2. */
void nys_usage_error(const char *usage, const char *fmt, ...) NYS_PRINTF(2, 3);
void nys_usage_verror(const char *usage, const char *fmt, va_list ap) NYS_PRINTF(2, 0);
/* Print s to stdout and check that it reached it (for --help, --version);
 * returns 0, or -1 after "prog: write (stdout): why" on stderr. */
int nys_print_stdout(const char *s);

/* ---- growable byte buffer ---------------------------------------------- */

typedef struct nys_buf {
	char *p;
	size_t n, cap;
} nys_buf;

/* All return 0, or -1 only when memory runs out (p is kept intact). */
int nys_buf_reserve(nys_buf *b, size_t extra);
int nys_buf_add(nys_buf *b, const void *s, size_t n);
int nys_buf_addc(nys_buf *b, char c);
int nys_buf_adds(nys_buf *b, const char *s);
int nys_buf_printf(nys_buf *b, const char *fmt, ...) NYS_PRINTF(2, 3);
void nys_buf_free(nys_buf *b);

/* Append s as the inside of a JSON string (no quotes added): UTF-8 as it
 * is, '"', '\\' and control characters escaped. */
int nys_buf_add_json_str(nys_buf *b, const char *s, size_t n);
/* The same in ASCII, as Python's json module writes a str with
 * ensure_ascii: \uXXXX for all outside 0x20-0x7e; bytes that are not
 * UTF-8 become the lone surrogates of surrogateescape (os.listdir()'s
 * names). */
int nys_buf_add_json_ascii(nys_buf *b, const char *s, size_t n);

/* ---- numbers from users ------------------------------------------------ */

/* Parse a whole decimal integer in [lo, hi]. `what` names it in errors
 * (for example "-j"). */
int nys_parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out,
                  const char *what, nys_err *e);
/* A size: integer with optional K, M, G or T suffix (powers of 1024, an
 * optional trailing "B" or "iB" accepted), in [lo, hi]. */
int nys_parse_size(const char *s, uint64_t lo, uint64_t hi, uint64_t *out,
                   const char *what, nys_err *e);

/* ---- input ------------------------------------------------------------- */

/* Buffered reading of a plain, bzip2 or zstd file, or of stdin ("-" or
 * NULL).  Compression is detected from the first bytes, not the name, so
 * it works on pipes too; concatenated bzip2 streams (multistream dumps) and
 * zstd frames are read through.
 *
 * bzip2 is decoded block by block on worker threads (libbz2 decoding each
 * block; blocks found at any bit offset by their magic and taken only when
 * they decode with their CRC), with exactly the bytes of sequential
 * decoding, and memory bounded by a fixed number of blocks in flight.  A
 * truncated or corrupt file, a CRC mismatch or trailing garbage is an error
 * naming the file and the byte offset of the bad stream or block; the
 * bytes before the bad block are delivered, none from it on. */
typedef struct nys_in nys_in;

nys_in *nys_in_open(const char *path, nys_err *e);
/* Threads decoding a bzip2 input: 0 (the default) one per core, 1 all of it
 * in the calling thread.  Threads start only once the input has a second
 * block.  Takes effect at the first read; other inputs ignore it. */
void nys_in_set_threads(nys_in *in, unsigned n);
/* Up to n decompressed bytes; 0 at end, -1 on error. */
ptrdiff_t nys_in_read(nys_in *in, void *buf, size_t n, nys_err *e);
/* Next line without its "\n" (and without a "\r" before it); the pointer
 * stays valid until the next call.  1 = a line, 0 = end, -1 = error.  A last
 * line without a newline is still a line. */
int nys_in_getline(nys_in *in, char **line, size_t *len, nys_err *e);
/* The same for lines of at most max bytes: a longer line is read through
 * without being kept (memory stays about max, however long the line) and
 * comes back as 2, *line NULL and *len its length; nys_in_lineno is then
 * its number, and the next call reads the line after it. */
int nys_in_getline_max(nys_in *in, size_t max, char **line, size_t *len, nys_err *e);
/* Append everything left in the input to b (NUL-terminated after b->n);
 * 0, or -1 on a read error or when memory runs out. */
int nys_in_read_all(nys_in *in, nys_buf *b, nys_err *e);
const char *nys_in_name(const nys_in *in);
uint64_t nys_in_lineno(const nys_in *in);
/* Bytes of the underlying file consumed so far, and its size (0 if unknown):
 * the progress line uses these. */
uint64_t nys_in_raw_pos(const nys_in *in);
uint64_t nys_in_raw_size(const nys_in *in);
void nys_in_close(nys_in *in);

/* ---- output ------------------------------------------------------------ */

/* Checked output.  A file is written under a temporary name beside it and
 * renamed over the real name by nys_out_commit; nys_out_abort (or a fatal
 * signal, once nys_out_cleanup_on_signals ran) removes the temporary file,
 * and a file the name already had stays as it was.  A symbolic link is
 * followed: the file it leads to is replaced, the link stays.  NULL or "-"
 * is stdout; /dev/stdout, /dev/stderr and /dev/fd/N are those descriptors;
 * a name that exists and is not a regular file (a device, a FIFO) is
 * written into, without a temporary name; a directory is an error.  Every
 * write, flush and close is checked. */
typedef struct nys_out nys_out;

enum {
	NYS_OUT_ZSTD = 1,   /* zstd-compress the stream */
	NYS_OUT_BINARY = 2, /* refuse to write to a terminal */
	NYS_OUT_ZSTD_MT = 4, /* with NYS_OUT_ZSTD: compress on all cores (for
	                      * long streams; it costs threads at each open) */
	NYS_OUT_ZSTD_FAST = 8, /* with NYS_OUT_ZSTD: level 1 instead of 3, for
	                        * intermediate files read again soon */
	NYS_OUT_SYNC = 16,   /* fsync the file before the rename and the
	                      * directory after it (checkpoints) */
};

nys_out *nys_out_open(const char *path, int flags, nys_err *e);
int nys_out_write(nys_out *o, const void *p, size_t n, nys_err *e);
int nys_out_puts(nys_out *o, const char *s, nys_err *e);
/* Uncompressed bytes written so far. */
uint64_t nys_out_bytes(const nys_out *o);
const char *nys_out_name(const nys_out *o);
/* Flush, close and rename into place; frees o whatever the result. */
int nys_out_commit(nys_out *o, nys_err *e);
/* The first half of nys_out_commit: flush, fsync (NYS_OUT_SYNC) and close,
 * so that only the rename is left; for outputs that go into place together
 * (finish each, then commit each).  o stays to commit or abort. */
int nys_out_finish(nys_out *o, nys_err *e);
/* Drop the output (temporary file removed); frees o.  Written in place
 * (stdout, a device, a FIFO), what was given cannot be taken back: it is
 * flushed up to the end of the last nys_out_write (unless a write failed),
 * a zstd frame left unended, so that it reads as cut. */
void nys_out_abort(nys_out *o);
/* Remove pending temporary files on SIGINT, SIGTERM and SIGHUP, then die
 * of the signal as usual. */
void nys_out_cleanup_on_signals(void);
/* Around the renames that put a multi-file output into place (the staged
 * files, the stale ones' removal, the lists): a SIGINT, SIGTERM or SIGHUP
 * that comes meanwhile is acted on at the release, once all is in place,
 * so that the output is never half old and half new. */
void nys_out_hold_signals(void);
void nys_out_release_signals(void);

/* mkdir -p */
int nys_mkdirs(const char *path, nys_err *e);

/* A staging directory, for an output of many files that must replace the
 * old ones all at once or not at all: the files are written into
 * DIR/.TAG.tmp.XXXXXX and moved into DIR by nys_stage_install once all are
 * complete.  nys_stage_open makes DIR (and its missing parents) if needed
 * and first removes the staging directories of TAG that earlier runs left
 * when they died: each is flock()ed while its run lives.  nys_stage_abort,
 * or a fatal signal once nys_out_cleanup_on_signals ran, removes the
 * staging directory with all in it, and DIR and the parents made for it
 * if they are empty. */
typedef struct nys_stage nys_stage;

nys_stage *nys_stage_open(const char *dir, const char *tag, nys_err *e);
/* DIR/.TAG.tmp.XXXXXX, where the files go first. */
const char *nys_stage_path(const nys_stage *s);
/* Move REL (a name, or SUB/NAME) from the staging directory to DIR/REL,
 * making DIR/SUB if needed and replacing a file of that name; a symbolic
 * link of that name is replaced too, not followed (the files of a
 * multi-file output are the run's own, unlike the one file of -o FILE). */
int nys_stage_install(nys_stage *s, const char *rel, nys_err *e);
/* Remove the staging directory (what was not installed goes with it);
 * frees s whatever the result. */
int nys_stage_commit(nys_stage *s, nys_err *e);
/* Remove it and everything in it; DIR stays as it was.  Frees s. */
void nys_stage_abort(nys_stage *s);

/* ---- names ------------------------------------------------------------- */

/* Dataset names (--name), which become parts of file names: 1 to
 * NYS_NAME_MAX characters of A-Z a-z 0-9 . _ + -, not starting with '.' or
 * '-'.  0, or -1 with a message that starts with `what` (the option). */
#define NYS_NAME_MAX 64
int nys_name_check(const char *name, const char *what, nys_err *e);

/* ---- lists of strings -------------------------------------------------- */

/* A growable list of strings, each a copy the list owns (file names, a
 * directory's entries, the names of a list file). */
typedef struct nys_strlist {
	char **v;
	size_t n, cap;
} nys_strlist;

/* Append a copy of s; 0, or -1 with "out of memory". */
int nys_strlist_add(nys_strlist *l, const char *s, nys_err *e);
/* Free the strings and the list, and clear it. */
void nys_strlist_free(nys_strlist *l);
/* Sort l->v by bytes (strcmp: as Python's sorted() sorts str names). */
void nys_strlist_sort(nys_strlist *l);
/* Whether s is in l, which must be sorted so. */
bool nys_strlist_find(const nys_strlist *l, const char *s);

/* ---- paths ------------------------------------------------------------- */

/* b = dir "/" name, the slash left out when dir ends in one; b->p is then
 * NUL-terminated.  0, or -1 with "out of memory". */
int nys_path_join(nys_buf *b, const char *dir, const char *name, nys_err *e);

/* ---- progress ---------------------------------------------------------- */

/* A one-line progress display on stderr, only when stderr is a terminal:
 * done/total, rate and ETA.  Updates are cheap to call often. */
typedef struct nys_progress {
	bool on;
	const char *what;
	uint64_t total;
	double t0, last;
} nys_progress;

void nys_progress_start(nys_progress *p, const char *what, uint64_t total_bytes);
void nys_progress_update(nys_progress *p, uint64_t done_bytes, uint64_t items,
                         const char *item_name);
void nys_progress_end(nys_progress *p);
double nys_now(void);

/* ---- the machine ------------------------------------------------------- */

/* Bytes of memory a process here may use: physical memory, or the cgroup's
 * limit when lower; 0 when unknown. */
uint64_t nys_mem_total(void);

/* size bytes of zeroed memory, or NULL with "out of memory" in e (for the
 * objects that open functions hand out). */
void *nys_mem_alloc(size_t size, nys_err *e);

/* ---- counter-based random draws ------------------------------------------ */

/* splitmix64's finaliser, from which every seeded draw in nys (data order,
 * masks, dropout, initial seeds) is made: a function of its argument
 * alone, so that positions and counters stand in for generator state. */
static inline uint64_t nys_mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
	return z ^ (z >> 31);
}

/* Output k (from 0) of splitmix64 started from state s. */
static inline uint64_t nys_splitmix64_at(uint64_t s, uint64_t k)
{
	return nys_mix64(s + (k + 1) * UINT64_C(0x9E3779B97F4A7C15));
}

/* ---- UTF-8 ------------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at s (1-4), or 0 if invalid
 * (overlong, surrogate, out of range, truncated).  Inline: text loops call
 * it for every non-ASCII character. */
static inline int nys_utf8_len(const unsigned char *s, size_t n)
{
	unsigned c = s[0];
	if (c < 0x80)
		return 1;
	if (c < 0xC2)
		return 0;
	if (c < 0xE0) {
		if (n < 2 || (s[1] & 0xC0) != 0x80)
			return 0;
		return 2;
	}
	if (c < 0xF0) {
		if (n < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80)
			return 0;
		if (c == 0xE0 && s[1] < 0xA0)
			return 0; /* overlong */
		if (c == 0xED && s[1] >= 0xA0)
			return 0; /* surrogate */
		return 3;
	}
	if (c < 0xF5) {
		if (n < 4 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 ||
		    (s[3] & 0xC0) != 0x80)
			return 0;
		if (c == 0xF0 && s[1] < 0x90)
			return 0;
		if (c == 0xF4 && s[1] >= 0x90)
			return 0;
		return 4;
	}
	return 0;
}

/* Decode one valid sequence (as checked by nys_utf8_len). */
uint32_t nys_utf8_decode(const unsigned char *s, int len);
/* Encode cp into out (4 bytes room); returns the length, 0 if cp invalid. */
int nys_utf8_encode(uint32_t cp, char *out);
/* Offset of the first invalid byte, or n if s is valid UTF-8. */
size_t nys_utf8_check(const char *s, size_t n);

#endif
