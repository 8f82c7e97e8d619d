/* How much memory this machine offers a process: the physical memory, or
 * the control group's limit when that is lower (a container, a Slurm job),
 * so that a model too large for it is refused up front with the byte
 * count, rather than failing at the first touch of an overcommitted page. */
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

/* The limit files of this process's own cgroups, from /proc/self/cgroup
 * (v2 "0::/path", v1 "N:memory:/path"), into v2 and v1; empty when none.
 * Inside a container the paths may not exist there: the roots are read too. */
static void own_cgroups(char *v2, char *v1, size_t n)
{
	*v2 = *v1 = 0;
	FILE *f = fopen("/proc/self/cgroup", "r");
	if (!f)
		return;
	char line[512];
	while (fgets(line, sizeof line, f)) {
		line[strcspn(line, "\n")] = 0;
		char *p = strchr(line, ':');
		if (!p)
			continue;
		if (!strncmp(p, "::", 2))
			snprintf(v2, n, "/sys/fs/cgroup%s/memory.max", p + 2);
		else if (!strncmp(p, ":memory:", 8))
			snprintf(v1, n, "/sys/fs/cgroup/memory%s/memory.limit_in_bytes", p + 8);
	}
	fclose(f);
}

uint64_t nys_mem_total(void)
{
	long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);
	uint64_t mem = pages > 0 && size > 0 ? (uint64_t)pages * (uint64_t)size : 0;
	char v2[600], v1[600];
	own_cgroups(v2, v1, sizeof v2);
	const char *limits[] = {
		v2, v1, "/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes",
	};
	for (size_t i = 0; i < sizeof limits / sizeof *limits; i++) {
		uint64_t c = *limits[i] ? cgroup_limit(limits[i]) : 0;
		if (c && (!mem || c < mem))
			mem = c;
	}
	return mem;
}
