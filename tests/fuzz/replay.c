/* Replays inputs through a libFuzzer target without libFuzzer: each file
 * named on the command line is read into a buffer of exactly its size and
 * given to LLVMFuzzerTestOneInput once.  `make check` links every target
 * with this driver (tests/fuzz.t runs them over the committed seeds and
 * crash inputs), so the inputs that once broke a parser keep being tried
 * by the plain and the sanitizer builds.
 *
 * The last line on stdout is "replayed N inputs"; a target that breaks a
 * rule aborts, so the exit status says the rest.  Targets may take over
 * fd 1 for the library's output, so the report goes to a copy of the
 * stdout the driver was started with. */
#include "fuzz.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/resource.h>

/* No input small enough to fuzz may make a parser ask for much memory:
 * make fuzz runs libFuzzer with -malloc_limit_mb=512, and here the address
 * space gets FUZZ_MEMORY_MB above what the program holds at its start, so
 * a larger request fails and the target sees the parser report "out of
 * memory" (fuzz_check_msg).  Not under AddressSanitizer, whose shadow
 * memory needs a vast address space: tests/fuzz.t sets its
 * max_allocation_size_mb to the same instead. */
#define FUZZ_MEMORY_MB 256

static void limit_memory(void)
{
#ifndef __SANITIZE_ADDRESS__
	unsigned long pages = 0;
	FILE *f = fopen("/proc/self/statm", "r");
	if (!f || fscanf(f, "%lu", &pages) != 1) {
		if (f)
			fclose(f);
		return;
	}
	fclose(f);
	rlim_t want = (rlim_t)pages * (rlim_t)sysconf(_SC_PAGESIZE) +
	              ((rlim_t)FUZZ_MEMORY_MB << 20);
	struct rlimit rl;
	if (getrlimit(RLIMIT_AS, &rl) || (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur <= want))
		return; /* already as tight */
	rl.rlim_cur = rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want ? rl.rlim_max : want;
	setrlimit(RLIMIT_AS, &rl);
#endif
}

int main(int argc, char **argv)
{
	int report = dup(1);
	if (report < 0) {
		perror("replay: dup");
		return 1;
	}
	FILE *out = fdopen(report, "w");
	if (!out) {
		perror("replay: fdopen");
		return 1;
	}
	limit_memory();
	int done = 0;
	for (int i = 1; i < argc; i++) {
		int fd = open(argv[i], O_RDONLY | O_CLOEXEC);
		struct stat st;
		if (fd < 0 || fstat(fd, &st) || !S_ISREG(st.st_mode)) {
			fprintf(stderr, "replay: %s: %s\n", argv[i],
			        fd < 0 ? strerror(errno) : "not a regular file");
			return 1;
		}
		size_t n = (size_t)st.st_size;
		/* Exactly n bytes (at least one for malloc), so that reading past
		 * the input is an overflow the sanitizers see. */
		uint8_t *buf = malloc(n ? n : 1);
		if (!buf) {
			fprintf(stderr, "replay: %s: out of memory\n", argv[i]);
			return 1;
		}
		size_t got = 0;
		while (got < n) {
			ssize_t k = read(fd, buf + got, n - got);
			if (k < 0 && errno == EINTR)
				continue;
			if (k <= 0) {
				fprintf(stderr, "replay: %s: %s\n", argv[i],
				        k < 0 ? strerror(errno) : "shorter than its size");
				return 1;
			}
			got += (size_t)k;
		}
		close(fd);
		LLVMFuzzerTestOneInput(buf, n);
		free(buf);
		done++;
	}
	fprintf(out, "replayed %d inputs\n", done);
	return fclose(out) ? 1 : 0;
}
