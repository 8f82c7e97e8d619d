/* Shared pieces of the libFuzzer targets in tests/fuzz/NAME_fuzz.c.
 *
 * Each target defines LLVMFuzzerTestOneInput and is linked twice: with
 * clang's -fsanitize=fuzzer by `make fuzz`, and with gcc and
 * tests/fuzz/replay.c by `make check`, which feeds it the committed seeds
 * and crash inputs.  A target calls the library exactly as a tool would,
 * and abort()s (through FUZZ_CHECK) when a result breaks a documented
 * rule, so the fuzzer reports it like a crash.
 *
 * Parsers that take a path read the input from a memory file
 * (memfd_create), named /proc/self/fd/N; programs that write to stdout
 * write into another memory file dup2()ed over fd 1, which the target then
 * reads back.  Nothing is written to the file system. */
#ifndef NYS_FUZZ_H
#define NYS_FUZZ_H

#include "nys.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A broken rule: say which and where, then die as a crash. */
#define FUZZ_CHECK(cond)                                                       \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: fuzz check failed: %s\n", __FILE__, \
			        __LINE__, #cond);                              \
			abort();                                               \
		}                                                              \
	} while (0)

/* Write all of p[0..n) to fd at offset 0 and cut the file there. */
static inline void fuzz_fill(int fd, const void *p, size_t n)
{
	FUZZ_CHECK(ftruncate(fd, 0) == 0);
	const char *s = p;
	size_t done = 0;
	while (done < n) {
		ssize_t k = pwrite(fd, s + done, n - done, (off_t)done);
		FUZZ_CHECK(k > 0);
		done += (size_t)k;
	}
}

/* The path of a memory file holding data[0..n): the same file every call,
 * rewritten; readers open it afresh, so they start at byte 0. */
static inline const char *fuzz_input_path(const uint8_t *data, size_t n)
{
	static int fd = -1;
	static char path[64];
	if (fd < 0) {
		fd = memfd_create("nys-fuzz-input", MFD_CLOEXEC);
		FUZZ_CHECK(fd >= 0);
		snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	}
	fuzz_fill(fd, data, n);
	return path;
}

/* Point stdout (fd 1) at an empty memory file; fuzz_stdout_take then
 * returns what was written to it since.  (The replay driver keeps its own
 * copy of the real stdout for its report.) */
static inline int *fuzz_stdout_fd(void)
{
	static int fd = -1;
	return &fd;
}

static inline void fuzz_stdout_begin(void)
{
	int *fd = fuzz_stdout_fd();
	if (*fd < 0) {
		fflush(stdout);
		*fd = memfd_create("nys-fuzz-stdout", MFD_CLOEXEC);
		FUZZ_CHECK(*fd >= 0 && dup2(*fd, 1) == 1);
	}
	FUZZ_CHECK(ftruncate(*fd, 0) == 0);
	FUZZ_CHECK(lseek(*fd, 0, SEEK_SET) == 0);
}

/* Everything written to stdout since fuzz_stdout_begin, NUL-terminated
 * after *n bytes; the caller frees it. */
static inline char *fuzz_stdout_take(size_t *n)
{
	int fd = *fuzz_stdout_fd();
	struct stat st;
	FUZZ_CHECK(fstat(fd, &st) == 0);
	size_t len = (size_t)st.st_size;
	char *p = malloc(len + 1);
	FUZZ_CHECK(p != NULL);
	size_t done = 0;
	while (done < len) {
		ssize_t k = pread(fd, p + done, len - done, (off_t)done);
		FUZZ_CHECK(k > 0);
		done += (size_t)k;
	}
	p[len] = 0;
	*n = len;
	return p;
}

/* An error message names the file it is about first, as every libnys
 * message must ("file:line: what" or "file: what"); and no input small
 * enough to fuzz may run a parser out of memory (make fuzz allows 512 MB an
 * allocation, the replay driver 256 MB more than it holds at its start), so
 * "out of memory" means a length in the input was trusted. */
static inline bool fuzz_ends_with(const char *s, const char *end)
{
	size_t n = strlen(s), k = strlen(end);
	return n >= k && !memcmp(s + n - k, end, k);
}

static inline void fuzz_check_msg(const char *msg, const char *path)
{
	size_t k = strlen(path);
	/* By how it ends: messages may quote the input, which may say
	 * anything, but always close the quote or add their own words after
	 * it. */
	if (!strcmp(msg, "out of memory") || fuzz_ends_with(msg, ": out of memory") ||
	    fuzz_ends_with(msg, ": out of memory (line too long)")) {
		fprintf(stderr, "a small input ran the parser out of memory: %s\n", msg);
		abort();
	}
	if (strncmp(msg, path, k) || (msg[k] != ':' && msg[k] != ' ')) {
		fprintf(stderr, "message without the file name first: %s\n", msg);
		abort();
	}
}

#endif
