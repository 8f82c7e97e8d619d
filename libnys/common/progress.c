/* The progress line: shown only when stderr is a terminal, so logs and
 * pipelines stay quiet. */
#include "nys.h"

#include <time.h>
#include <unistd.h>

double nys_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void nys_progress_start(nys_progress *p, const char *what, uint64_t total_bytes)
{
	p->on = isatty(2) == 1;
	p->what = what;
	p->total = total_bytes;
	p->t0 = p->last = nys_now();
}

static void show(nys_progress *p, uint64_t done, uint64_t items,
                 const char *item_name, double t)
{
	double el = t - p->t0 > 1e-6 ? t - p->t0 : 1e-6;
	double mb = (double)done / 1e6;
	char eta[32] = "";
	if (p->total && done && done <= p->total) {
		double left = el * (double)(p->total - done) / (double)done;
		snprintf(eta, sizeof eta, ", ETA %d:%02d", (int)left / 60, (int)left % 60);
	}
	char pct[16] = "";
	if (p->total)
		snprintf(pct, sizeof pct, " (%.0f%%)", 100.0 * (double)done / (double)p->total);
	fprintf(stderr, "\r%s: %.1f MB%s, %llu %s, %.1f MB/s%s\033[K", p->what, mb, pct,
	        (unsigned long long)items, item_name, mb / el, eta);
}

void nys_progress_update(nys_progress *p, uint64_t done_bytes, uint64_t items,
                         const char *item_name)
{
	if (!p->on)
		return;
	double t = nys_now();
	if (t - p->last < 0.25)
		return;
	p->last = t;
	show(p, done_bytes, items, item_name, t);
}

void nys_progress_end(nys_progress *p)
{
	if (p->on)
		fputs("\r\033[K", stderr);
}
