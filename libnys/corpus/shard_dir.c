/* A directory of shards (nys_shard_dir.h): the sorted list of its shard
 * files, and its train.json and dev.json, split and written as the
 * original pipeline's Python did (random.shuffle, json.dump). */
#include "nys_shard_dir.h"
#include "nys_shard.h"
#include "nys_json.h"
#include "nys_rng.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int nys_shard_names_read(const char *path, nys_strlist *l, nys_err *e)
{
	json_t *j = nys_json_load(path, 0, e);
	if (!j)
		return -1;
	int rc = 0;
	if (!json_is_array(j))
		rc = nys_err_set(e, "%s: not a JSON list of shard names", path);
	for (size_t i = 0; !rc && i < json_array_size(j); i++) {
		const char *s = json_string_value(json_array_get(j, i));
		if (!s)
			rc = nys_err_set(e, "%s: item %zu is not a string", path, i + 1);
		else
			rc = nys_strlist_add(l, s, e);
	}
	json_decref(j);
	return rc;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);
	return n >= k && !strcmp(s + n - k, suffix);
}

int nys_shard_list_dir(const char *dir, nys_strlist *l, nys_err *e)
{
	DIR *d = opendir(dir);
	if (!d)
		return nys_err_sys(e, "open directory %s", dir);
	nys_buf path = {0};
	int rc = 0;
	for (;;) {
		errno = 0;
		struct dirent *de = readdir(d);
		if (!de) {
			if (errno)
				rc = nys_err_sys(e, "read directory %s", dir);
			break;
		}
		const char *s = de->d_name;
		if (s[0] == '.' || strlen(s) <= strlen(NYS_SHARD_SUFFIX) || !ends_with(s, NYS_SHARD_SUFFIX))
			continue;
		struct stat st;
		if ((rc = nys_path_join(&path, dir, s, e)))
			break;
		if (stat(path.p, &st) || !S_ISREG(st.st_mode))
			continue;
		if ((rc = nys_strlist_add(l, s, e)))
			break;
	}
	closedir(d);
	nys_buf_free(&path);
	if (!rc && l->n)
		nys_strlist_sort(l);
	return rc;
}

size_t nys_shard_dev_count(size_t n, double dev_fraction)
{
	/* int(len(files) * fraction): the product in doubles, truncated */
	double d = (double)n * dev_fraction;
	if (!(d > 0))
		return 0;
	return d >= (double)n ? n : (size_t)d;
}

void nys_shard_split(nys_strlist *l, uint64_t seed)
{
	nys_rng r;
	nys_rng_seed(&r, seed);
	nys_rng_shuffle(&r, l->v, l->n, sizeof *l->v);
}

int nys_shard_json_list(nys_buf *b, char *const *names, size_t n)
{
	if (!n)
		return nys_buf_adds(b, "[]");
	if (nys_buf_adds(b, "[\n"))
		return -1;
	for (size_t i = 0; i < n; i++)
		if (nys_buf_adds(b, "    \"") ||
		    nys_buf_add_json_ascii(b, names[i], strlen(names[i])) ||
		    nys_buf_adds(b, i + 1 < n ? "\",\n" : "\"\n"))
			return -1;
	return nys_buf_adds(b, "]");
}

static int write_file(const char *path, const nys_buf *b, nys_err *e)
{
	nys_out *o = nys_out_open(path, 0, e);
	if (!o)
		return -1;
	if (nys_out_write(o, b->p, b->n, e)) {
		nys_out_abort(o);
		return -1;
	}
	return nys_out_commit(o, e);
}

int nys_shard_write_lists(const char *dir, uint64_t seed, double dev_fraction,
                          size_t *ntrain, size_t *ndev, nys_err *e)
{
	nys_strlist l = {0};
	nys_buf path = {0}, json = {0};
	int rc = nys_shard_list_dir(dir, &l, e);
	if (!rc) {
		nys_shard_split(&l, seed);
		size_t dev = nys_shard_dev_count(l.n, dev_fraction);
		*ndev = dev;
		*ntrain = l.n - dev;
		/* dev.json first: a reader that sees the new train.json sees
		 * the new dev.json too */
		if (nys_shard_json_list(&json, l.v, dev))
			rc = nys_err_set(e, "out of memory");
		else if (!(rc = nys_path_join(&path, dir, "dev.json", e)))
			rc = write_file(path.p, &json, e);
		json.n = 0;
		if (!rc && nys_shard_json_list(&json, l.v + dev, l.n - dev))
			rc = nys_err_set(e, "out of memory");
		else if (!rc && !(rc = nys_path_join(&path, dir, "train.json", e)))
			rc = write_file(path.p, &json, e);
	}
	nys_strlist_free(&l);
	nys_buf_free(&path);
	nys_buf_free(&json);
	return rc;
}
