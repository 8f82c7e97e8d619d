/* The wikitext rules, one construct at a time, against hand-written
 * expectations (the whole-dump checks are in tests/wikiextract.t). */
#include "nys_wikitext.h"
#include "tap.h"

static nys_wikitext *wt;

static void check_flags(const char *src, const char *want, int flags)
{
	nys_buf out = {0};
	if (nys_wikitext_clean(wt, src, strlen(src), flags, &out))
		out.n = 0;
	nys_buf_addc(&out, 0);
	tap_str(out.p, want, src);
	nys_buf_free(&out);
}

static void check(const char *src, const char *want)
{
	check_flags(src, want, 0);
}

int main(void)
{
	wt = nys_wikitext_new();
	/* internal links */
	check("[[a|b]]", "b\n");
	check("[[a]]", "a\n");
	check("[[a]]s are", "as are\n");
	check("see [[Mercury (planet)|]] now", "see Mercury now\n");
	check("[[Paris, Texas|]]", "Paris\n");
	check("[[:Category:Cats|the cats]]", "the cats\n");
	check("x [[File:A.jpg|thumb|A caption with [[a link]] in it]] y", "x y\n");
	check("x [[Image:A.png|200px|left]] y", "x y\n");
	check("text [[Category:Things]]", "text\n");
	check("text [[de:Ding]][[fr:Chose]]", "text\n");
	check("[[wikt:word|word]] list", "word list\n");
	check("[[a|''b'']]", "b\n");
	check("dangling [[link without end", "dangling link without end\n");
	/* templates, parameters, parser functions, tables */
	check("x {{a|{{b|c}}|d}} y", "x y\n");
	check("x {{{param|default}}} y", "x y\n");
	check("{{#if: {{{1|}}} | yes | no }}z", "z\n");
	check("[[a|{{lang|fr|b}}c]]", "c\n");
	check("{{Infobox\n| name = [[X]]\n| image = [[File:Y.jpg]]\n}}\nBody.", "Body.\n");
	check("before\n{| class=\"wikitable\"\n|-\n| a || b\n|}\nafter", "before\nafter\n");
	check("{| \n| {{tpl|\n|}}\n|}\nafter", "after\n");
	check("{{outer|\n{|\n| cell\n|}\n}}\nafter", "after\n");
	check("unclosed {{ template text", "unclosed template text\n");
	check("a set {1, 2} here", "a set {1, 2} here\n");
	/* tags and comments */
	check("a<ref>cite {{x}}</ref> b", "a b\n");
	check("a<ref name=\"n\" /> b.", "a b.\n");
	check("a<ref name=n>x</ref>, b", "a, b\n");
	check("a <!-- hidden [[x]] --> b", "a b\n");
	check("E = <math>mc^2</math> holds", "E = holds\n");
	check("one<br />two", "one\ntwo\n");
	check("<span style=\"x\">kept</span> text", "kept text\n");
	check("<references />\nend", "end\n");
	check("a < b and c > d", "a < b and c > d\n");
	/* external links */
	check("[http://example.org the label] here", "the label here\n");
	check("bare [http://example.org] gone", "bare gone\n");
	check("[[a]] [https://x.y/z?q=1 ''it'']", "a it\n");
	/* quotes, headings, lists, switches, spacing */
	check("'''bold''' and ''it'' and '''''both'''''", "bold and it and both\n");
	check("l'''''a'''''", "la\n");
	check("== Heading ==\ntext", "Heading\ntext\n");
	check_flags("== Heading ==\ntext", "text\n", NYS_WIKITEXT_NO_HEADINGS);
	check("* one\n** two\n# three\n: four", "one\ntwo\nthree\nfour\n");
	check("__NOTOC__\nText __TOC__ here", "Text here\n");
	check("----\nx", "x\n");
	check("born (; 1950) in", "born (1950) in\n");
	check("word {{x}}, next {{y}}.", "word, next.\n");
	check("empty {{x}}() parens", "empty parens\n");
	check("a .45 caliber", "a .45 caliber\n");
	/* character references: decoded once, after the markup is gone */
	check("a &amp;lt; b", "a &lt; b\n");
	check("x &lt;ref&gt; y", "x <ref> y\n");
	check("a&nbsp;b &mdash; c &#8212; d &#x41;", "a b \xe2\x80\x94 c \xe2\x80\x94 d A\n");
	check("bad &#1; &unknown; ok", "bad &unknown; ok\n");
	check("", "");
	check("\n\n  \n", "");
	nys_wikitext_free(wt);

	nys_buf b = {0};
	nys_html_unescape("&quot;q&quot; &amp;amp;", 23, &b);
	tap_str(b.p, "\"q\" &amp;", "nys_html_unescape decodes once");
	nys_buf_free(&b);
	return tap_done();
}
