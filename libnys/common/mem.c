/* How much memory this machine offers a process: the physical memory, or
 * the control group's limit when that is lower (a container, a Slurm job),
 * so that a model too large for it is refused up front with the byte
 * count, rather than failing at the first touch of an overcommitted page;
 * and the zeroed allocation with its error that open functions share. */
#include "nys.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A limit file of cgroup v2 (memory.max: a number or "max") or v1
 * (memory.limit_in_bytes); 0 when absent or unlimited. */
static uint64_t cgroup_limit(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	char line[64];
	uint64_t v = 0;
	if (fgets(line, sizeof line, f)) {
		char *end;
		unsigned long long x = strtoull(line, &end, 10);
		if (end != line)
			v = x;
	}
	fclose(f);
	return v;
}

/* The lowest limit along a cgroup path and its parents: under Slurm the
 * limit is on the job's cgroup, above the task's own ("max").  root is the
 * hierarchy's mount, path the process's cgroup in it, file the limit's. */
static uint64_t lowest_limit(const char *root, const char *path, const char *file)
{
	char p[1024];
	int k = snprintf(p, sizeof p, "%s%s", root, path);
	if (k < 0 || (size_t)k >= sizeof p)
		return 0;
	size_t rootlen = strlen(root), n = (size_t)k;
	while (n > rootlen && p[n - 1] == '/')
		p[--n] = 0;
	uint64_t low = 0;
	for (;;) {
		char f[1100];
		snprintf(f, sizeof f, "%s/%s", p, file);
		uint64_t c = cgroup_limit(f);
		if (c && (!low || c < low))
			low = c;
		if (n <= rootlen)
			break;
		while (n > rootlen && p[n - 1] != '/')
			n--;
		while (n > rootlen && p[n - 1] == '/')
			n--;
		p[n] = 0;
	}
	return low;
}

uint64_t nys_mem_total(void)
{
	long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);
	uint64_t mem = pages > 0 && size > 0 ? (uint64_t)pages * (uint64_t)size : 0;
	/* this process's cgroups, from /proc/self/cgroup: v2 "0::/path", v1
	 * "N:memory:/path"; inside a container the path may not exist under
	 * the mount, whose own files (the container's) are read then */
	char v2[512] = "", v1[512] = "";
	FILE *f = fopen("/proc/self/cgroup", "r");
	if (f) {
		char line[512];
		while (fgets(line, sizeof line, f)) {
			line[strcspn(line, "\n")] = 0;
			char *p = strchr(line, ':');
			if (p && !strncmp(p, "::", 2))
				snprintf(v2, sizeof v2, "%s", p + 2);
			else if (p && !strncmp(p, ":memory:", 8))
				snprintf(v1, sizeof v1, "%s", p + 8);
		}
		fclose(f);
	}
	uint64_t lim[] = {
		lowest_limit("/sys/fs/cgroup", v2, "memory.max"),
		lowest_limit("/sys/fs/cgroup/memory", v1, "memory.limit_in_bytes"),
	};
	for (size_t i = 0; i < sizeof lim / sizeof *lim; i++)
		if (lim[i] && (!mem || lim[i] < mem))
			mem = lim[i];
	return mem;
}

void *nys_mem_alloc(size_t size, nys_err *e)
{
	void *p = calloc(1, size);
	if (!p)
		nys_err_set(e, "out of memory");
	return p;
}
