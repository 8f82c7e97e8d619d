#!/bin/bash
# wikiextract as users run it: the shared dumps, formats, threads, errors.
. "$(dirname "$0")/lib.sh"
W=$BIN/wikiextract
TOP=${NYS_TOP:-$(dirname "$0")/..}

# --- the command line ---
"$W" --help > "$T/help" 2> "$T/err"; ok $? "--help exits 0"
grep -q '^usage: wikiextract' "$T/help" && [ ! -s "$T/err" ]; ok $? "--help goes to stdout"
"$W" --version | grep -q '^wikiextract (nys) '; ok $? "--version"
"$W" --bogus < /dev/null > /dev/null 2> "$T/err"; is $? 2 "unknown option exits 2"
grep -q '^usage:' "$T/err"; ok $? "usage error prints the usage on stderr"
"$W" -j 0 < /dev/null > /dev/null 2> "$T/err"; is $? 2 "-j 0 is out of range"
grep -q -- '-j' "$T/err"; ok $? "range error names the option"
"$W" -j abc < /dev/null > /dev/null 2>&1; is $? 2 "-j abc is not a number"
"$W" -b 10Q -o "$T/x" < /dev/null > /dev/null 2>&1; is $? 2 "-b with a bad suffix"
"$W" -c < /dev/null > /dev/null 2>&1; is $? 2 "-c without -o DIR"
"$W" "$T/missing.xml" > /dev/null 2> "$T/err"; is $? 1 "missing input exits 1"
grep -q "missing.xml: No such file" "$T/err"; ok $? "missing input: message names the file"
check_man_options wikiextract "$TOP/man/man1/wikiextract.1"

# --- a small hand-made dump ---
cat > "$T/tiny.xml" <<'XML'
<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.11/" version="0.11" xml:lang="en">
  <siteinfo>
    <base>https://xx.wikipedia.org/wiki/Main_Page</base>
  </siteinfo>
  <page>
    <title>Alpha &amp; Omega</title>
    <ns>0</ns>
    <id>7</id>
    <revision>
      <id>70</id>
      <text xml:space="preserve">'''Alpha''' is a [[letter|letter]]{{cn}}.&lt;ref&gt;Source&lt;/ref&gt;
== History ==
It came from [[Phoenicia]]n script &amp;amp; more &amp;lt;3.
* item one
[[Category:Letters]]</text>
    </revision>
  </page>
  <page>
    <title>Old</title>
    <ns>0</ns>
    <id>8</id>
    <redirect title="Alpha &amp; Omega" />
    <revision><id>80</id><text>#REDIRECT [[Alpha]]</text></revision>
  </page>
  <page>
    <title>Talk:Alpha</title>
    <ns>1</ns>
    <id>9</id>
    <revision><id>90</id><text>talk</text></revision>
  </page>
  <page>
    <title>Sneaky</title>
    <ns>0</ns>
    <id>10</id>
    <revision><id>100</id><text>#redirect [[Alpha]]</text></revision>
  </page>
</mediawiki>
XML
cat > "$T/tiny.want" <<'EOF2'
<doc id="7" url="https://xx.wikipedia.org/wiki?curid=7" title="Alpha & Omega">
Alpha & Omega

Alpha is a letter.
History
It came from Phoenician script & more <3.
item one
</doc>
EOF2
"$W" "$T/tiny.xml" > "$T/tiny.out"; ok $? "tiny dump exits 0"
diff "$T/tiny.want" "$T/tiny.out" > "$T/diff"; ok $? "tiny dump: exact <doc> output (links, templates, refs, entities once)"
[ -s "$T/diff" ] && sed 's/^/# /' "$T/diff"
"$W" --no-headings < "$T/tiny.xml" | grep -c '^History$' > "$T/n"; is "$(cat "$T/n")" 0 "--no-headings drops headings (stdin input)"
"$W" --namespaces 1 "$T/tiny.xml" | grep -c '<doc'  > "$T/n"; is "$(cat "$T/n")" 1 "--namespaces 1 keeps the talk page only"
"$W" --namespaces 0,1 "$T/tiny.xml" | grep -c '<doc' > "$T/n"; is "$(cat "$T/n")" 2 "--namespaces 0,1"
"$W" --json "$T/tiny.xml" > "$T/tiny.json"; ok $? "--json exits 0"
python3 - "$T/tiny.json" <<'PY'; ok $? "--json: one object a line with id, revid, url, title, text"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
assert len(rows) == 1, rows
r = rows[0]
assert r == {"id": "7", "revid": "70", "url": "https://xx.wikipedia.org/wiki?curid=7",
             "title": "Alpha & Omega",
             "text": "Alpha is a letter.\nHistory\nIt came from Phoenician script & more <3.\nitem one"}, r
PY

# --- pathological pages: unclosed markup by the thousand stays linear ---
python3 - "$T/adv.xml" <<'PY'
import sys
body = "start " + "<ref>x " * 40000 + "[[a|" * 40000 + "{{" * 40000 + "[[" * 40000 + " end"
esc = body.replace("&", "&amp;").replace("<", "&lt;")
open(sys.argv[1], "w").write('<mediawiki><page><title>P</title><ns>0</ns><id>1</id>'
                             '<revision><id>2</id><text>%s</text></revision></page></mediawiki>' % esc)
PY
timeout 120 "$W" "$T/adv.xml" > "$T/adv.out"; ok $? "40,000 unclosed refs, links and templates: done (no quadratic blow-up)"
grep -q '^start' "$T/adv.out"; ok $? "pathological page: text before the debris kept"

# --- the shared dumps ---
if have_shared; then
	D=$SHARED/wiki
	"$W" -v "$D/enwiki-2016-206pages.xml.bz2" > "$T/en.txt" 2> "$T/en.err"; ok $? "enwiki 2016 (bz2) exits 0"
	is "$(grep -c '^<doc id=' "$T/en.txt")" 106 "enwiki 2016: exactly the 106 articles"
	is "$(grep -c '^</doc>$' "$T/en.txt")" 106 "enwiki 2016: 106 closed docs"
	grep -q "206 pages, 106 articles, 99 redirects, 1 in other namespaces" "$T/en.err"; ok $? "enwiki 2016: -v summary counts"
	bad=""
	for p in '{{' '}}' '[[' ']]' "'''" '<ref' '{|' '|}' '&amp;' '&lt;' 'thumb|'; do
		grep -qF -- "$p" "$T/en.txt" && bad="$bad $p"
	done
	is "$bad" "" "enwiki 2016: no markup remnants"
	grep -q '^<doc id="12" url="https://en.wikipedia.org/wiki?curid=12" title="Anarchism">$' "$T/en.txt"; ok $? "enwiki 2016: WikiExtractor header"
	sed -n '2,3p' "$T/en.txt" | tr '\n' '|' > "$T/h"; is "$(cat "$T/h")" "Anarchism||" "enwiki 2016: title line, then an empty line"
	grep -q '^Anarchism is a political philosophy that advocates self-governed societies' "$T/en.txt"; ok $? "enwiki 2016: first paragraph text"
	python3 -c 'import sys; open(sys.argv[1], encoding="utf-8", errors="strict").read()' "$T/en.txt"; ok $? "enwiki 2016: output is valid UTF-8"
	LC_ALL=C grep -qP '[\x00-\x08\x0b-\x1f\x7f]' "$T/en.txt"; is $? 1 "enwiki 2016: no control characters"
	for j in 1 3 8; do
		"$W" -j $j "$D/enwiki-2016-206pages.xml.bz2" | cmp -s - "$T/en.txt"; ok $? "enwiki 2016: -j $j output is byte-identical"
	done
	bzcat "$D/enwiki-2016-206pages.xml.bz2" > "$T/en.xml"
	zstd -q "$T/en.xml" -o "$T/en.xml.zst"
	"$W" "$T/en.xml" | cmp -s - "$T/en.txt"; ok $? "plain XML input gives the same output"
	"$W" "$T/en.xml.zst" | cmp -s - "$T/en.txt"; ok $? "zstd input gives the same output"
	"$W" - < "$T/en.xml" | cmp -s - "$T/en.txt"; ok $? "'-' reads stdin"
	"$W" --json "$D/enwiki-2016-206pages.xml.bz2" > "$T/en.json"
	python3 - "$T/en.json" "$T/en.txt" <<'PY'; ok $? "--json text equals the <doc> text, article by article"
import json, re, sys
js = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
docs = re.findall(r'<doc id="(\d+)"[^\n]*>\n[^\n]*\n\n(.*?)</doc>\n', open(sys.argv[2], encoding="utf-8").read(), re.S)
assert len(js) == len(docs) == 106
for j, (i, text) in zip(js, docs):
    assert j["id"] == i and j["text"] == text.rstrip("\n"), i
PY

	"$W" -o "$T/dir" -b 100K "$D/enwiki-2016-206pages.xml.bz2"; ok $? "-o DIR -b 100K exits 0"
	n=$(find "$T/dir" -type f | wc -l); [ "$n" -gt 5 ]; ok $? "-o DIR -b 100K: several files ($n)"
	[ -f "$T/dir/AA/wiki_00" ] && [ -f "$T/dir/AA/wiki_01" ]; ok $? "-o DIR: WikiExtractor's AA/wiki_NN names"
	cat $(find "$T/dir" -type f | sort) | cmp -s - "$T/en.txt"; ok $? "-o DIR: files concatenate to the stdout output"
	big=$(find "$T/dir" -type f -size +100k | while read -r f; do [ "$(grep -c '<doc' "$f")" -gt 1 ] && echo "$f"; done)
	is "$big" "" "-o DIR: no file with several articles passes the size"
	"$W" -o "$T/zdir" -b 1M -c "$D/enwiki-2016-206pages.xml.bz2"; ok $? "-c compresses"
	zstdcat $(find "$T/zdir" -name '*.zst' | sort) | cmp -s - "$T/en.txt"; ok $? "-c: .zst files decompress to the same text"
	"$W" -o "$T/one.txt" "$D/enwiki-2016-206pages.xml.bz2" && cmp -s "$T/one.txt" "$T/en.txt"; ok $? "-o FILE writes one file"

	# --- a dump without pages writes no file and removes none ---
	cp -r "$T/zdir" "$T/zkeep"
	printf '<mediawiki>\n</mediawiki>\n' > "$T/nopages.xml"
	"$W" -o "$T/zdir" -b 1M -c "$T/nopages.xml"; ok $? "-o DIR on a dump without pages exits 0"
	diff -r "$T/zkeep" "$T/zdir" > /dev/null; ok $? "... and leaves the earlier run's files"

	# --- -o DIR again: the directory holds exactly the new run's files ---
	listing() { (cd "$1" && find . | sort); }
	echo mine > "$T/dir/notes.txt"
	mkdir "$T/dir/AA/keep.d" && echo mine > "$T/dir/AA/wiki_7"
	mkdir -p "$T/dir/.wikiextract.tmp.Ab12Cd/AA" && echo stale > "$T/dir/.wikiextract.tmp.Ab12Cd/AA/wiki_00"
	"$W" -o "$T/dir2" -b 400K "$D/enwiki-2016-206pages.xml.bz2"
	"$W" -o "$T/dir" -b 400K "$D/enwiki-2016-206pages.xml.bz2"; ok $? "-o DIR with larger files over an earlier run: exits 0"
	{ listing "$T/dir2"; echo ./AA/keep.d; echo ./AA/wiki_7; echo ./notes.txt; } | sort > "$T/want.ls"
	listing "$T/dir" > "$T/got.ls"
	cmp -s "$T/got.ls" "$T/want.ls"; ok $? "-o DIR: the earlier run's extra files are gone, files of other names stay ($(wc -l < "$T/got.ls") entries)"
	diff "$T/got.ls" "$T/want.ls" | head -5 | sed 's/^/#   /'
	cat $(find "$T/dir" -name 'wiki_[0-9][0-9]' | sort) | cmp -s - "$T/en.txt"; ok $? "-o DIR: the new files concatenate to the stdout output"
	"$W" -o "$T/dir" -b 400K -c "$D/enwiki-2016-206pages.xml.bz2"
	is "$(find "$T/dir" -name 'wiki_[0-9][0-9]' | wc -l) $(find "$T/dir" -name 'wiki_[0-9][0-9].zst' | wc -l)" "0 $(find "$T/dir2" -type f | wc -l)" \
		"-o DIR -c over plain files: only the .zst files of the new run remain"
	listing "$T/dir" > "$T/before.ls"
	cp "$T/dir/AA/wiki_00.zst" "$T/w00.keep"
	head -c 3000000 "$T/en.xml" > "$T/cut2.xml"
	"$W" -o "$T/dir" -b 100K -c "$T/cut2.xml" 2> "$T/err"; is $? 1 "-o DIR, truncated dump: exits 1"
	listing "$T/dir" > "$T/after.ls"
	cmp -s "$T/before.ls" "$T/after.ls" && cmp -s "$T/dir/AA/wiki_00.zst" "$T/w00.keep"
	ok $? "-o DIR, truncated dump: the directory is exactly as it was (no new files, none removed, no staging directory)"
	"$W" -o "$T/fresh/sub" -b 100K "$T/cut2.xml" 2> /dev/null
	[ ! -e "$T/fresh" ]; ok $? "-o DIR, truncated dump: a directory it made is removed again"

	# --- -o FILE: an error leaves the file as it was ---
	echo "old content" > "$T/old.txt"
	"$W" -o "$T/old.txt" "$T/cut2.xml" 2> "$T/err"; is $? 1 "-o FILE, truncated XML: exits 1"
	is "$(cat "$T/old.txt")" "old content" "-o FILE, truncated XML: the existing file is untouched"
	head -c 400000 "$D/enwiki-2016-206pages.xml.bz2" > "$T/cut2.xml.bz2"
	"$W" -o "$T/old.txt" "$T/cut2.xml.bz2" 2> /dev/null; is $? 1 "-o FILE, truncated bzip2: exits 1"
	is "$(cat "$T/old.txt")" "old content" "-o FILE, truncated bzip2: the existing file is untouched"
	"$W" -o "$T/new.txt" "$T/cut2.xml" 2> /dev/null
	[ ! -e "$T/new.txt" ]; ok $? "-o FILE, truncated XML: no file made"
	ls "$T" | grep -q '\.tmp\.'; is $? 1 "-o FILE, truncated input: no temporary file"

	# --- -o what is not a regular file: written into, never replaced ---
	mkfifo "$T/fifo"
	cat "$T/fifo" > "$T/fifo.got" &
	catpid=$!
	"$W" -o "$T/fifo" "$D/enwiki-2016-206pages.xml.bz2"; st=$?
	# a writer that never opened it (or replaced it) would leave cat waiting for ever
	{ [ "$st" = 0 ] && [ -p "$T/fifo" ]; } || kill "$catpid" 2> /dev/null
	wait "$catpid"
	[ "$st" = 0 ] && [ -p "$T/fifo" ]; ok $? "-o FIFO: exits 0, still a FIFO"
	cmp -s "$T/fifo.got" "$T/en.txt"; ok $? "-o FIFO: the reader gets the whole output"
	if mknod "$T/null" c 1 3 2> /dev/null; then
		"$W" -o "$T/null" "$D/enwiki-2016-206pages.xml.bz2"; st=$?
		[ "$st" = 0 ] && [ -c "$T/null" ] && [ "$(stat -c %t,%T "$T/null")" = "1,3" ]
		ok $? "-o a character device (1, 3): exits 0, still that device"
	else
		skip "mknod needs root"
	fi
	echo old > "$T/target.txt"
	ln -s target.txt "$T/link.txt"
	"$W" -o "$T/link.txt" "$D/enwiki-2016-206pages.xml.bz2"
	[ -L "$T/link.txt" ] && [ "$(readlink "$T/link.txt")" = target.txt ] && cmp -s "$T/target.txt" "$T/en.txt"
	ok $? "-o a symbolic link: its target replaced, the link kept"
	"$W" -o /dev/stdout "$D/enwiki-2016-206pages.xml.bz2" > "$T/devstdout.txt"
	cmp -s "$T/devstdout.txt" "$T/en.txt"; ok $? "-o /dev/stdout: into stdout"
	echo "first line" > "$T/app.txt"
	"$W" -o /dev/stdout "$D/enwiki-2016-206pages.xml.bz2" >> "$T/app.txt"
	{ echo "first line"; cat "$T/en.txt"; } | cmp -s - "$T/app.txt"; ok $? "-o /dev/stdout: an append (>>) stays an append"

	"$W" -v "$D/enwiki-2017-tables-5pages.xml.bz2" > "$T/tables.txt" 2> "$T/err"; ok $? "tables dump exits 0"
	is "$(grep -c '^<doc' "$T/tables.txt")" 5 "tables dump: 5 articles"
	bad=""
	for p in '{|' '|}' '|-' '{{' '}}' '[[' ']]'; do grep -qF -- "$p" "$T/tables.txt" && bad="$bad $p"; done
	is "$bad" "" "tables dump: no table or template markup left"
	LC_ALL=C grep -cE '^[|!]' "$T/tables.txt" > "$T/n"; is "$(cat "$T/n")" 0 "tables dump: no table rows left"

	"$W" -v "$D/enwiki-2014-export08-180pages.xml.bz2" > "$T/e08.txt" 2> "$T/err"; ok $? "export-0.8 dump exits 0"
	is "$(grep -c '^<doc' "$T/e08.txt")" 90 "export-0.8 dump: 90 articles (90 redirects skipped)"
	grep -q "180 pages, 90 articles, 90 redirects" "$T/err"; ok $? "export-0.8 dump: counts"
	bad=""
	for p in '{{' '}}' '[[' ']]' "'''" '<ref' '&amp;' 'thumb|'; do grep -qF -- "$p" "$T/e08.txt" && bad="$bad $p"; done
	is "$bad" "" "export-0.8 dump: no markup remnants"

	"$W" "$D/enwiki-2014-3pages.xml.bz2" > "$T/t3.txt"; ok $? "export-0.9 tiny dump exits 0"
	is "$(grep -c '^<doc' "$T/t3.txt")" 2 "export-0.9 tiny dump: 2 articles, the redirect skipped"

	"$W" "$D/bgwiki-utf16-3pages.xml.bz2" > "$T/bg.txt" 2> "$T/err"; ok $? "UTF-16 export is converted"
	is "$(grep -c '^<doc' "$T/bg.txt")" 1 "UTF-16 export: its one article (two pages are namespace 4)"
	grep -q 'title="Григориански календар"' "$T/bg.txt"; ok $? "UTF-16 export: title converted to UTF-8"
	grep -q 'url="https://bg.wikipedia.org/wiki?curid=558"' "$T/bg.txt"; ok $? "URL base from <siteinfo><base>"

	# --- bad input: errors name the place, completed articles stay whole ---
	head -c 3000000 "$T/en.xml" > "$T/cut.xml"
	"$W" -j 2 "$T/cut.xml" > "$T/cut.out" 2> "$T/err"; is $? 1 "truncated XML exits 1"
	grep -qE "cut.xml:[0-9]+:[0-9]+: .*truncated" "$T/err"; ok $? "truncated XML: file:line:col message"
	is "$(grep -c '^<doc' "$T/cut.out")" "$(grep -c '^</doc>$' "$T/cut.out")" "truncated XML: no half article"
	[ "$(grep -c '^<doc' "$T/cut.out")" -gt 10 ]; ok $? "truncated XML: the articles before the cut are written"
	head -c 3000000 "$T/en.xml" | "$W" > /dev/null 2> "$T/err"; is $? 1 "truncated XML on stdin exits 1"
	grep -q '^wikiextract: (stdin):' "$T/err"; ok $? "truncated XML on stdin: names (stdin)"
	head -c 400000 "$D/enwiki-2016-206pages.xml.bz2" > "$T/cut.xml.bz2"
	"$W" "$T/cut.xml.bz2" > "$T/cutbz.out" 2> "$T/err"; is $? 1 "truncated bzip2 exits 1"
	grep -q "cut.xml.bz2" "$T/err"; ok $? "truncated bzip2: message names the file"
	is "$(grep -c '^<doc' "$T/cutbz.out")" "$(grep -c '^</doc>$' "$T/cutbz.out")" "truncated bzip2: no half article"
	python3 - "$T/en.xml" "$T" <<'PY'
import sys
s = open(sys.argv[1], "rb").read()
i = s.index(b"<text", 2000000) + 300
open(sys.argv[2] + "/badutf.xml", "wb").write(s[:i] + b"\xff" + s[i:])
open(sys.argv[2] + "/badutf.line", "w").write(str(s[:i].count(b"\n") + 1))
j = s.index(b"</title>", 2500000)
open(sys.argv[2] + "/badtag.xml", "wb").write(s[:j] + b"</titl>" + s[j + 8:])
open(sys.argv[2] + "/badtag.line", "w").write(str(s[:j].count(b"\n") + 1))
PY
	for j in 1 2; do
		"$W" -j $j "$T/badutf.xml" > "$T/bu.out" 2> "$T/err"; is $? 1 "invalid UTF-8 exits 1 (-j $j)"
		grep -q "badutf.xml:$(cat "$T/badutf.line"):[0-9]*: invalid UTF-8" "$T/err"; ok $? "invalid UTF-8: message gives file and line (-j $j)"
		"$W" -j $j "$T/badtag.xml" > "$T/bt.out" 2> "$T/err"; is $? 1 "malformed XML exits 1 (-j $j)"
		grep -q "badtag.xml:$(cat "$T/badtag.line"):[0-9]*: mismatched tag" "$T/err"; ok $? "malformed XML: message gives file and line (-j $j)"
		is "$(grep -c '^<doc' "$T/bt.out")" "$(grep -c '^</doc>$' "$T/bt.out")" "malformed XML: no half article (-j $j)"
	done
	"$W" -j 1 "$T/badtag.xml" 2>/dev/null | cmp -s - "$T/bt.out"; ok $? "malformed XML: same output for -j 1 and -j 2"
	echo before > "$T/keep.txt"
	"$W" -o "$T/keep.txt" "$T/badtag.xml" 2>/dev/null; is $? 1 "-o FILE, malformed XML: exits 1"
	is "$(cat "$T/keep.txt")" before "-o FILE, malformed XML: the file keeps its old content"

	# --- write failures never end in exit 0 ---
	"$W" "$D/enwiki-2016-206pages.xml.bz2" > /dev/full 2> "$T/err"; is $? 1 "full disk (/dev/full) exits 1"
	grep -q "No space left" "$T/err"; ok $? "full disk: says so"
	"$W" "$D/enwiki-2016-206pages.xml.bz2" | head -c 10 > /dev/null; st=${PIPESTATUS[0]}
	[ "$st" -ne 0 ]; ok $? "broken pipe: non-zero exit ($st)"
	ls "$T" | grep -q '\.tmp\.'; is $? 1 "no temporary files left behind"

	# --- an interrupted run leaves no half file that looks whole ---
	{ cat "$T/en.xml"; sleep 3; } | "$W" -o "$T/int.txt" &
	pid=$!
	sleep 1
	kill -INT "$pid"
	wait "$pid"; st=$?
	[ "$st" -ne 0 ]; ok $? "SIGINT: non-zero exit ($st)"
	[ ! -e "$T/int.txt" ] && ! ls "$T" | grep -q 'int.txt.tmp'; ok $? "SIGINT: no output file and no temporary file"
	{ cat "$T/en.xml"; sleep 3; } | "$W" -o "$T/intdir" -b 100K &
	pid=$!
	sleep 1
	kill -TERM "$pid"
	wait "$pid"
	[ ! -e "$T/intdir" ]; ok $? "SIGTERM with -o DIR: no staging directory or file left, nor the directory it made"
	mkdir "$T/intdir2" && echo mine > "$T/intdir2/notes"
	mkfifo "$T/slow"
	"$W" -o "$T/intdir2" -b 100K < "$T/slow" &
	pid=$!
	exec 3> "$T/slow"
	cat "$T/en.xml" >&3
	# wait until the first file is in the staging directory (at most ~20 s)
	for i in $(seq 200); do find "$T/intdir2" -name 'wiki_00*' | grep -q . && break; sleep 0.1; done
	find "$T/intdir2" -path '*/.wikiextract.tmp.*/AA/wiki_00*' | grep -q .; ok $? "-o DIR: files go to a staging directory first"
	kill -INT "$pid"
	wait "$pid"; st=$?
	exec 3>&-
	[ "$st" -ne 0 ]; ok $? "SIGINT with -o DIR: non-zero exit ($st)"
	is "$(listing "$T/intdir2" | tr '\n' ' ')" ". ./notes " "SIGINT with -o DIR: the directory as it was, no staging directory left"
else
	skip "shared data not found (NYS_SHARED)"
fi
done_testing
