/* Lists of strings (nys.h): what every module that gathers names (a
 * directory's shards, preprocess's inputs) keeps them in. */
#include "nys.h"

#include <stdlib.h>
#include <string.h>

int nys_strlist_add(nys_strlist *l, const char *s, nys_err *e)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 64;
		char **v = realloc(l->v, cap * sizeof *v);
		if (!v)
			return nys_err_set(e, "out of memory");
		l->v = v;
		l->cap = cap;
	}
	if (!(l->v[l->n] = strdup(s)))
		return nys_err_set(e, "out of memory");
	l->n++;
	return 0;
}

void nys_strlist_free(nys_strlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	memset(l, 0, sizeof *l);
}

static int cmp_strs(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void nys_strlist_sort(nys_strlist *l)
{
	if (l->n)
		qsort(l->v, l->n, sizeof *l->v, cmp_strs);
}

bool nys_strlist_find(const nys_strlist *l, const char *s)
{
	return l->n && bsearch(&s, l->v, l->n, sizeof *l->v, cmp_strs);
}
