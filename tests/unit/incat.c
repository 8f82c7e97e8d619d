/* incat: a test helper (not a TAP test) that copies its input, decoded by
 * nys_in, to stdout, as bzcat or zstdcat would:
 *
 *   incat [-j N] [-m] [FILE]   FILE default stdin; -j: nys_in_set_threads;
 *                              -m: at the end, before closing the input,
 *                              "incat: threads N, peak KB" on stderr
 *                              (from /proc/self/status)
 *
 * Exit status 0, 1 with "incat: message" on a read or write error, 2 on
 * usage. */
#include "nys.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	nys_prog_init(argv[0]);
	unsigned threads = 0;
	int c;
	nys_err e;
	bool report = false;
	while ((c = getopt(argc, argv, "j:m")) != -1) {
		uint64_t v;
		if (c == 'm') {
			report = true;
			continue;
		}
		if (c != 'j' || nys_parse_u64(optarg, 1, 256, &v, "-j", &e)) {
			fputs("usage: incat [-j N] [-m] [FILE]\n", stderr);
			return 2;
		}
		threads = (unsigned)v;
	}
	if (argc - optind > 1) {
		fputs("usage: incat [-j N] [-m] [FILE]\n", stderr);
		return 2;
	}
	nys_in *in = nys_in_open(optind < argc ? argv[optind] : NULL, &e);
	if (!in) {
		nys_warnx("%s", e.msg);
		return 1;
	}
	nys_in_set_threads(in, threads);
	static char buf[1 << 16];
	ptrdiff_t k;
	int rc = 0;
	while ((k = nys_in_read(in, buf, sizeof buf, &e)) > 0)
		if (fwrite(buf, 1, (size_t)k, stdout) != (size_t)k) {
			nys_warnx("write (stdout) failed");
			rc = 1;
			break;
		}
	if (k < 0) {
		nys_warnx("%s", e.msg);
		rc = 1;
	}
	if (fflush(stdout)) {
		nys_warnx("write (stdout) failed");
		rc = 1;
	}
	if (report) {
		/* the input's threads are still there: they end with nys_in_close */
		FILE *f = fopen("/proc/self/status", "r");
		char line[256];
		long nthr = -1, peak = -1;
		while (f && fgets(line, sizeof line, f)) {
			sscanf(line, "Threads: %ld", &nthr);
			sscanf(line, "VmHWM: %ld", &peak);
		}
		if (f)
			fclose(f);
		nys_warnx("threads %ld, peak %ld KB", nthr, peak);
	}
	nys_in_close(in);
	return rc;
}
