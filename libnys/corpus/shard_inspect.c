/* `shard cat`, `shard info` and `shard verify` (nys_shard_inspect.h): a
 * shard's sequences as id lines, and a summary or a full check of a shard
 * file or of a directory of shards with its lists. */
#include "nys_shard_inspect.h"
#include "nys_shard.h"
#include "nys_shard_dir.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef unsigned long long ull;

int nys_shard_cat(const char *const *paths, size_t npaths, uint64_t max, nys_out *out,
                  nys_err *e)
{
	char *line = NULL;
	size_t cap = 0;
	uint64_t done = 0;
	int rc = 0;
	for (size_t i = 0; !rc && i < npaths && (!max || done < max); i++) {
		nys_shard_reader *r = nys_shard_open(paths[i], e);
		if (!r) {
			rc = -1;
			break;
		}
		uint32_t n = nys_shard_reader_header(r)->seq_len;
		if (cap < (size_t)n * 11 + 1) {
			cap = (size_t)n * 11 + 1;
			free(line);
			if (!(line = malloc(cap))) {
				nys_shard_close(r);
				rc = nys_err_set(e, "out of memory");
				break;
			}
		}
		const uint32_t *ids;
		int k = 0;
		while ((!max || done < max) && (k = nys_shard_next(r, &ids, e)) == 1) {
			char *p = line;
			for (uint32_t j = 0; j < n; j++) {
				char tmp[10];
				int d = 0;
				uint32_t v = ids[j];
				do
					tmp[d++] = (char)('0' + v % 10);
				while (v /= 10);
				while (d)
					*p++ = tmp[--d];
				*p++ = j + 1 < n ? ' ' : '\n';
			}
			if (nys_out_write(out, line, (size_t)(p - line), e)) {
				k = -1;
				break;
			}
			done++;
		}
		if ((!max || done < max) && k < 0)
			rc = -1;
		nys_shard_close(r);
	}
	free(line);
	return rc;
}

static int out_printf(nys_out *out, nys_err *e, const char *fmt, ...) NYS_PRINTF(3, 4);

static int out_printf(nys_out *out, nys_err *e, const char *fmt, ...)
{
	char s[2048];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(s, sizeof s, fmt, ap);
	va_end(ap);
	if (n < 0)
		return nys_err_set(e, "format error");
	return nys_out_write(out, s, (size_t)n < sizeof s ? (size_t)n : sizeof s - 1, e);
}

static bool is_dir(const char *path)
{
	struct stat st;
	return strcmp(path, "-") && stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static const char *plural(uint64_t n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

/* The dataset a shard file belongs to: NAME of NAME-NNNNN.shard, else the
 * file name without ".shard". */
static size_t dataset_len(const char *s)
{
	size_t n = strlen(s) - strlen(NYS_SHARD_SUFFIX);
	size_t d = 0;
	while (d < n && s[n - 1 - d] >= '0' && s[n - 1 - d] <= '9')
		d++;
	if (d >= 5 && d <= 10 && d < n && s[n - 1 - d] == '-' && n - 1 - d > 0 &&
	    !(d > 5 && s[n - d] == '0'))
		return n - 1 - d;
	return n;
}

/* A list file of a directory: its names, or *missing. */
static int load_list(const char *path, nys_strlist *l, bool *missing, nys_err *e)
{
	*missing = false;
	if (access(path, F_OK) && errno == ENOENT) {
		*missing = true;
		return 0;
	}
	return nys_shard_names_read(path, l, e);
}

typedef struct lists {
	nys_strlist train, dev, all; /* all: both, sorted */
	bool no_train, no_dev;
	size_t unlisted, unknown, twice;
	const char *first_unlisted, *first_unknown, *first_twice;
} lists;

static void lists_free(lists *L)
{
	nys_strlist_free(&L->train);
	nys_strlist_free(&L->dev);
	nys_strlist_free(&L->all);
}

/* Read dir's lists and compare them with its shards (sorted). */
static int check_lists(const char *dir, const nys_strlist *shards, lists *L, nys_buf *path,
                       nys_err *e)
{
	memset(L, 0, sizeof *L);
	if (nys_path_join(path, dir, "train.json", e) ||
	    load_list(path->p, &L->train, &L->no_train, e) ||
	    nys_path_join(path, dir, "dev.json", e) || load_list(path->p, &L->dev, &L->no_dev, e))
		return -1;
	for (int t = 0; t < 2; t++) {
		nys_strlist *l = t ? &L->dev : &L->train;
		for (size_t i = 0; i < l->n; i++) {
			if (nys_strlist_add(&L->all, l->v[i], e))
				return -1;
			if (!nys_strlist_find(shards, l->v[i]) && !L->unknown++)
				L->first_unknown = l->v[i];
		}
	}
	nys_strlist_sort(&L->all);
	for (size_t i = 1; i < L->all.n; i++)
		if (!strcmp(L->all.v[i], L->all.v[i - 1]) && !L->twice++)
			L->first_twice = L->all.v[i];
	for (size_t i = 0; i < shards->n; i++)
		if (!nys_strlist_find(&L->all, shards->v[i]) && !L->unlisted++)
			L->first_unlisted = shards->v[i];
	return 0;
}

static bool same_kind(const nys_shard_header *a, const nys_shard_header *b)
{
	return a->seq_len == b->seq_len && a->width == b->width && a->vocab_size == b->vocab_size &&
	       a->cls_id == b->cls_id && a->sep_id == b->sep_id && a->fingerprint == b->fingerprint;
}

static int kind_line(nys_out *out, const char *lead, const nys_shard_header *h, nys_err *e)
{
	return out_printf(out, e, "%s%u tokens a sequence, width %u, vocabulary %u, [CLS] %u, "
	                  "[SEP] %u, fingerprint %016llx\n", lead, h->seq_len, h->width,
	                  h->vocab_size, h->cls_id, h->sep_id, (ull)h->fingerprint);
}

/* A shard's header: only read (shard info), or with every byte of the
 * shard checked (shard verify). */
static int read_shard(const char *path, bool verify, nys_shard_header *h, nys_err *e)
{
	return verify ? nys_shard_verify(path, h, e) : nys_shard_read_header(path, h, e);
}

/* read_shard on the shard `name` of dir, its path left in *path. */
static int shard_in(nys_buf *path, const char *dir, const char *name, bool verify,
                    nys_shard_header *h, nys_err *e)
{
	if (nys_path_join(path, dir, name, e))
		return -1;
	return read_shard(path->p, verify, h, e);
}

static int info_dir(const char *dir, nys_out *out, nys_err *e)
{
	nys_strlist l = {0};
	nys_buf path = {0};
	lists L = {0};
	nys_shard_header first = {0}, h;
	uint64_t seqs = 0, tokens = 0;
	bool mixed = false;
	/* datasets in order of first appearance: start index into l */
	size_t *ds = NULL, nds = 0;
	int rc = nys_shard_list_dir(dir, &l, e);
	if (!rc && !(ds = malloc((l.n + 1) * sizeof *ds)))
		rc = nys_err_set(e, "out of memory");
	uint32_t *counts = NULL;
	if (!rc && !(counts = malloc((l.n + 1) * sizeof *counts)))
		rc = nys_err_set(e, "out of memory");
	for (size_t i = 0; !rc && i < l.n; i++) {
		if ((rc = shard_in(&path, dir, l.v[i], false, &h, e)))
			break;
		if (!i)
			first = h;
		else if (!same_kind(&h, &first))
			mixed = true;
		counts[i] = h.count;
		seqs += h.count;
		tokens += (uint64_t)h.count * h.seq_len;
		size_t dl = dataset_len(l.v[i]);
		size_t k;
		for (k = 0; k < nds; k++)
			if (dataset_len(l.v[ds[k]]) == dl && !strncmp(l.v[ds[k]], l.v[i], dl))
				break;
		if (k == nds)
			ds[nds++] = i;
	}
	if (!rc)
		rc = out_printf(out, e, "%s: %zu %s, %llu %s, %llu tokens\n", dir, l.n,
		                plural(l.n, "shard", "shards"), (ull)seqs,
		                plural(seqs, "sequence", "sequences"), (ull)tokens);
	if (!rc && l.n && !mixed)
		rc = kind_line(out, "  ", &first, e);
	if (!rc && mixed)
		rc = out_printf(out, e, "  mixed: the shards are not all of one kind (see shard info "
		                "on the files)\n");
	for (size_t k = 0; !rc && k < nds; k++) {
		size_t dl = dataset_len(l.v[ds[k]]), n = 0;
		uint64_t s = 0;
		for (size_t i = 0; i < l.n; i++)
			if (dataset_len(l.v[i]) == dl && !strncmp(l.v[ds[k]], l.v[i], dl)) {
				n++;
				s += counts[i];
			}
		rc = out_printf(out, e, "  %.*s: %zu %s, %llu %s\n", (int)dl, l.v[ds[k]], n,
		                plural(n, "shard", "shards"), (ull)s,
		                plural(s, "sequence", "sequences"));
	}
	if (!rc)
		rc = check_lists(dir, &l, &L, &path, e);
	if (!rc) {
		char tn[32], dn[32];
		snprintf(tn, sizeof tn, "%zu", L.train.n);
		snprintf(dn, sizeof dn, "%zu", L.dev.n);
		rc = out_printf(out, e, "  train.json: %s, dev.json: %s%s\n",
		                L.no_train ? "missing" : tn, L.no_dev ? "missing" : dn,
		                L.no_train || L.no_dev || L.unlisted || L.unknown || L.twice
		                ? " (out of date: run shard-N again, or see shard verify)"
		                : " (every shard listed once)");
	}
	lists_free(&L);
	free(ds);
	free(counts);
	nys_strlist_free(&l);
	nys_buf_free(&path);
	return rc;
}


static int verify_dir(const char *dir, nys_out *out, nys_err *e)
{
	nys_strlist l = {0};
	nys_buf path = {0};
	lists L = {0};
	nys_shard_header first = {0}, h;
	uint64_t seqs = 0;
	int rc = nys_shard_list_dir(dir, &l, e);
	if (!rc && !l.n)
		rc = nys_err_set(e, "%s: no shards", dir);
	for (size_t i = 0; !rc && i < l.n; i++) {
		if ((rc = shard_in(&path, dir, l.v[i], true, &h, e)))
			break;
		if (!i)
			first = h;
		else if (!same_kind(&h, &first)) {
			rc = nys_err_set(e, "%s: not of the kind of %s, the first shard in %s (%u tokens a "
			                 "sequence, vocabulary %u, fingerprint %016llx, [CLS] %u, [SEP] %u;"
			                 " the first: %u, %u, %016llx, %u, %u)", path.p, l.v[0], dir,
			                 h.seq_len, h.vocab_size, (ull)h.fingerprint, h.cls_id, h.sep_id,
			                 first.seq_len, first.vocab_size, (ull)first.fingerprint,
			                 first.cls_id, first.sep_id);
			break;
		}
		seqs += h.count;
		rc = out_printf(out, e, "%s: ok, %u %s\n", path.p, h.count,
		                plural(h.count, "sequence", "sequences"));
	}
	if (!rc)
		rc = check_lists(dir, &l, &L, &path, e);
	if (!rc) {
		if (L.no_train || L.no_dev)
			rc = nys_err_set(e, "%s: no %s", dir, L.no_train ? "train.json" : "dev.json");
		else if (L.unknown)
			rc = nys_err_set(e, "%s: the lists name %s, which is not a shard in it (and %zu "
			                 "more)", dir, L.first_unknown, L.unknown - 1);
		else if (L.twice)
			rc = nys_err_set(e, "%s: the lists name %s twice (and %zu more)", dir,
			                 L.first_twice, L.twice - 1);
		else if (L.unlisted)
			rc = nys_err_set(e, "%s: %s is in neither train.json nor dev.json (and %zu more)",
			                 dir, L.first_unlisted, L.unlisted - 1);
	}
	if (!rc)
		rc = out_printf(out, e, "%s: ok, %zu %s, %llu %s, train.json %zu, dev.json %zu\n", dir,
		                l.n, plural(l.n, "shard", "shards"), (ull)seqs,
		                plural(seqs, "sequence", "sequences"), L.train.n, L.dev.n);
	lists_free(&L);
	nys_strlist_free(&l);
	nys_buf_free(&path);
	return rc;
}

/* shard info and shard verify on one operand: a directory as a whole, or
 * one file (- is stdin): its header read, or every byte checked, and one
 * line about it. */
static int inspect(const char *path, bool verify, nys_out *out, nys_err *e)
{
	if (is_dir(path))
		return verify ? verify_dir(path, out, e) : info_dir(path, out, e);
	nys_shard_header h;
	if (read_shard(path, verify, &h, e))
		return -1;
	const char *name = strcmp(path, "-") ? path : "(stdin)";
	const char *seqs = plural(h.count, "sequence", "sequences");
	if (verify)
		return out_printf(out, e, "%s: ok, %u %s\n", name, h.count, seqs);
	char lead[1200];
	snprintf(lead, sizeof lead, "%s: %u %s, ", name, h.count, seqs);
	return kind_line(out, lead, &h, e);
}

int nys_shard_info(const char *path, nys_out *out, nys_err *e)
{
	return inspect(path, false, out, e);
}

int nys_shard_verify_path(const char *path, nys_out *out, nys_err *e)
{
	return inspect(path, true, out, e);
}
