/* Wikitext to plain text: the cleaner that wikiextract(1) runs on every
 * page, and the HTML character references it decodes (wikitext.c). */
#ifndef NYS_WIKITEXT_H
#define NYS_WIKITEXT_H

#include "nys.h"

enum { NYS_WIKITEXT_NO_HEADINGS = 1 };

/* Scratch buffers for one thread; reuse it across pages. */
typedef struct nys_wikitext nys_wikitext;

nys_wikitext *nys_wikitext_new(void);
void nys_wikitext_free(nys_wikitext *w);
/* Append the plain text of wikitext src[0..n) to out: one line per
 * paragraph, heading or list item, each ending in "\n", no empty lines.
 * Returns 0, or -1 when memory runs out. */
int nys_wikitext_clean(nys_wikitext *w, const char *src, size_t n, int flags,
                       nys_buf *out);
/* Decode HTML character references in s[0..n) once, appending to out. */
int nys_html_unescape(const char *s, size_t n, nys_buf *out);

#endif
