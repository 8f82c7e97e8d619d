#!/bin/bash
# preprocess(1): every format on small hand-made inputs with exact expected
# output, then the real corpora in $NYS_SHARED checked against independent
# counts (awk, python3).  TAP; run by prove.
. "$(dirname "$0")/lib.sh"
export LC_ALL=C
top=${NYS_TOP:-$(cd "$(dirname "$0")/.." && pwd)}
bin=$BIN
data=${NYS_SHARED:-$top/../shared/data}
P=$bin/preprocess

if [ ! -x "$P" ]; then
	echo "1..0 # SKIP $P not built"
	exit 0
fi
if [ ! -d "$data/wikiextractor" ] || [ ! -d "$data/books" ] || [ ! -d "$data/realnews" ]; then
	echo "1..0 # SKIP shared data not found in $data"
	exit 0
fi
mkdir "$T/all"

pass() { ok 0 "$1"; }
fail() { ok 1 "$1"; }
check() {    # DESC COMMAND...: ok when the command succeeds
	local d=$1
	shift
	if "$@"; then pass "$d"; else fail "$d"; fi
}
same() {     # GOT_FILE EXPECTED_FILE DESC: byte for byte
	if cmp -s "$1" "$2"; then
		pass "$3"
	else
		fail "$3"
		diff <(od -c "$1") <(od -c "$2") | head -20 | sed 's/^/#   /'
	fi
}
# run ARGS...: preprocess through run_cmd (lib.sh)
run() { run_cmd "$P" "$@"; }
blocks() { awk 'BEGIN { RS = "" } END { print NR }' "$@"; }
# words as the format counts them (awk splits on spaces, tabs and newlines;
# wc -w would skip non-ASCII "words" such as a lone dash in the C locale)
words() { awk '{ w += NF } END { print w + 0 }' "$@"; }
report() { grep -o '[0-9]* documents read, .*' "$T/err" | tail -1; }

# ---- options --------------------------------------------------------------

run --help
check "--help exits 0" test "$rc" -eq 0
check "--help goes to stdout (usage line), nothing on stderr" \
	eval 'grep -q "^usage: preprocess" "$T/out" && ! test -s "$T/err"'
cp "$T/out" "$T/help"
check_man_options preprocess "$top/man/man1/preprocess.1"
missing=
for opt in --format --min-words --output --name --partition-words --files-from \
	--keep-boilerplate --strict --quiet --help --version; do
	grep -q -e "$opt" "$T/help" || missing="$missing $opt"
done
is "$missing" "" "--help lists every option"

run --version
is "$(cat "$T/out")" "preprocess (nys) $(cat "$top/VERSION")" "--version"

run --no-such-option
check "a bad option exits 2 with the usage on stderr" \
	eval 'test $rc -eq 2 && grep -q "^usage: preprocess" "$T/err" && ! test -s "$T/out"'
run -f wiki --min-words abc
check "--min-words abc exits 2" eval 'test $rc -eq 2 && grep -q "min-words" "$T/err"'
run -f wiki --min-words -5
check "--min-words -5 exits 2" test "$rc" -eq 2
run -f wiki --partition-words 0 -o "$T/p0"
check "--partition-words 0 exits 2" test "$rc" -eq 2
run -f nonsense
check "an unknown format exits 2" test "$rc" -eq 2
run </dev/null
check "no -f exits 2" test "$rc" -eq 2
run -f text --name x </dev/null
check "--name without -o exits 2" test "$rc" -eq 2
# one rule for names, shared with shard(1): the same message
namerule="is not a valid name (1 to 64 of A-Z a-z 0-9 . _ + -, not starting with '.' or '-')"
for bad in "$(printf 'a\nb')" "$(printf 'a\tb')" .hidden a/b "" -x; do
	shown=$(printf '%q' "$bad")
	run -f text -o "$T/names" --name "$bad" </dev/null
	want="preprocess: --name: '$(printf '%s' "$bad" | sed 's/\t/\\x09/')' $namerule"
	[ "$bad" = "$(printf 'a\nb')" ] && want="preprocess: --name: 'a\\x0ab' $namerule"
	check "--name $shown: exit 2, the names message" \
		eval 'test $rc -eq 2 && test "$(head -1 "$T/err")" = "$want" && ! test -e "$T/names"'
done
run -f text "$T/no/such/file"
check "a missing file exits 1 naming it" \
	eval 'test $rc -eq 1 && grep -q "^preprocess: open $T/no/such/file: " "$T/err"'

# ---- normalisation (through -f bookcorpus) --------------------------------

printf '\xef\xbb\xbfHello,\t  world\x01!  \r\n  caf\xc3\xa9 \xff x\x7f y\xc2\x85z \r\n\r\n' >"$T/bc.txt"
printf 'next\xe2\x80\x8b doc\xef\xbb\xbf here\n \t \r\n' >>"$T/bc.txt"
printf 'The quick brown fox  jumps   over the lazy dog.        End\t\tof  a  long  line.  \n' >>"$T/bc.txt"
printf 'a\xc0\xafb\xed\xa0\x80c\0d\xe2\x80\n\n\n\nlast line, no newline' >>"$T/bc.txt"
{
	printf 'Hello, world!\ncaf\xc3\xa9 \xef\xbf\xbd x yz\n\n'
	printf 'next\xe2\x80\x8b doc here\n\n'
	printf 'The quick brown fox jumps over the lazy dog. End of a long line.\n'
	printf 'a\xef\xbf\xbd\xef\xbf\xbdb\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdcd\xef\xbf\xbd\xef\xbf\xbd\n\n'
	printf 'last line, no newline\n\n'
} >"$T/bc.want"
run -f bookcorpus "$T/bc.txt"
same "$T/out" "$T/bc.want" "bookcorpus: BOM, CR, tab, controls, C1, invalid UTF-8, spaces normalised exactly"
is "$(report)" "4 documents read, 4 kept, 0 dropped (under 0 words), 0 skipped" "bookcorpus: the report"
cp "$T/out" "$T/all/bc.txt"

run -f bookcorpus <"$T/bc.txt"
same "$T/out" "$T/bc.want" "stdin when no FILE"
run -f bookcorpus - <"$T/bc.txt"
same "$T/out" "$T/bc.want" "stdin as -"
zstd -q -c "$T/bc.txt" >"$T/bc.txt.zst" && bzip2 -c "$T/bc.txt" >"$T/bc.txt.bz2"
run -f bookcorpus -q "$T/bc.txt.zst" "$T/bc.txt.bz2"
cat "$T/bc.want" "$T/bc.want" >"$T/bc2.want"
same "$T/out" "$T/bc2.want" "zstd and bzip2 inputs; the end of a file ends a document"
check "-q: no report" test ! -s "$T/err"

# Word counts at the boundary: documents of 3 and 4 words.
printf 'one two\nthree\n\n\tfour  five six seven\n' >"$T/w.txt"
run -f bookcorpus --min-words 4 "$T/w.txt"
is "$(cat "$T/out")" "four five six seven" "--min-words 4 keeps 4 words, drops 3"
is "$(report)" "2 documents read, 1 kept, 1 dropped (under 4 words), 0 skipped" "--min-words: the report"
run -f bookcorpus -m 3 "$T/w.txt"
is "$(blocks "$T/out")" 2 "-m 3 keeps both"

# ---- wiki: <doc> blocks and JSON lines ------------------------------------

cat >"$T/wiki.txt" <<'EOF'
<doc id="1" url="https://en.wikipedia.org/wiki?curid=1" title="Alpha">
Alpha

First  paragraph	here.

Second paragraph.
</doc>

<doc id="2" url="u" title="Beta">
Beta
Too short.
</doc>
{"id": "3", "revid": "9", "url": "u", "title": "Gamma  ray", "text": "Gamma ray\nBody text\there.\n\nMore."}
{"id": "4", "title": "Delta", "text": "Not the title\nline two"}
EOF
printf 'First paragraph here.\nSecond paragraph.\n\nToo short.\n\nBody text here.\nMore.\n\nNot the title\nline two\n\n' >"$T/wiki.want"
run -f wiki -m 0 "$T/wiki.txt"
same "$T/out" "$T/wiki.want" "wiki: <doc> and JSON lines, titles dropped, empty lines dropped"
is "$(report)" "4 documents read, 4 kept, 0 dropped (under 0 words), 0 skipped" "wiki: the report"
run -f wiki -m 3 "$T/wiki.txt"
is "$(report)" "4 documents read, 3 kept, 1 dropped (under 3 words), 0 skipped" "wiki -m 3 drops the 2-word document"
run -f wiki "$T/wiki.txt"
check "wiki: the default minimum is 128 words" \
	eval '! test -s "$T/out" && grep -q "4 dropped (under 128 words)" "$T/err"'

# Broken <doc> blocks.
printf '<doc id="1" title="A">\nA\nlost text\n<doc id="2" title="B">\nB\nkept text\n</doc>\nstray line\nanother\n<doc id="3" title="C">\nC\nunfinished\n' >"$T/bad.wiki"
run -f wiki -m 0 "$T/bad.wiki"
is "$(cat "$T/out")" "kept text" "wiki: unterminated <doc> blocks are skipped"
check "wiki: a <doc> cut by the next <doc> is warned about at its line" \
	grep -q "^preprocess: $T/bad.wiki:1: <doc> without </doc>" "$T/err"
check "wiki: a <doc> cut by the end of the file is warned about at its line" \
	grep -q "^preprocess: $T/bad.wiki:10: <doc> without </doc>" "$T/err"
check "wiki: stray text is warned about once" \
	eval 'test "$(grep -c "outside a <doc>" "$T/err")" -eq 1 && grep -q "bad.wiki:8: text outside" "$T/err"'
is "$(report)" "3 documents read, 1 kept, 0 dropped (under 0 words), 2 skipped" "wiki: broken blocks counted as skipped"
check "wiki: exit 0 without --strict" test "$rc" -eq 0
run -f wiki -m 0 --strict "$T/bad.wiki"
check "wiki --strict: exit 1 at the first broken block" \
	eval 'test $rc -eq 1 && grep -q "^preprocess: $T/bad.wiki:1: <doc> without </doc>" "$T/err"'

# ---- realnews ---------------------------------------------------------------

cat >"$T/news.jsonl" <<'EOF'
{"title": "Same", "text": "Same\nPara  one.\r\n\n\tPara two.", "summary": null}
{"title": "T", "text": broken
{"title": "no text"}

{"text": "x\u0000y\u0085z \u00e9\ufeff \u2014 end"}
EOF
printf 'Same\nPara one.\nPara two.\n\nxyz \xc3\xa9 \xe2\x80\x94 end\n\n' >"$T/news.want"
run -f realnews -m 0 "$T/news.jsonl"
same "$T/out" "$T/news.want" "realnews: text paragraphs become lines, title kept"
check "realnews: a broken JSON line is warned about with file:line" \
	grep -q "^preprocess: $T/news.jsonl:2: invalid JSON" "$T/err"
check "realnews: a record without text is warned about with file:line" \
	grep -q "^preprocess: $T/news.jsonl:3: no \"text\" string" "$T/err"
is "$(report)" "4 documents read, 2 kept, 0 dropped (under 0 words), 2 skipped" "realnews: the report"
check "realnews: broken lines are not fatal" test "$rc" -eq 0
run -f realnews -m 0 --strict "$T/news.jsonl"
check "realnews --strict: exit 1 naming file:line" \
	eval 'test $rc -eq 1 && grep -q "^preprocess: $T/news.jsonl:2: invalid JSON" "$T/err"'
is "$(cat "$T/out")" "$(printf 'Same\nPara one.\nPara two.')" "--strict: the documents before the error are written"
printf '{"text": "Earlier run."}\n' >"$T/earlier.jsonl"
run -f realnews -m 0 -o "$T/strict" --name s "$T/earlier.jsonl"
run -f realnews -m 0 --strict -o "$T/strict" --name s "$T/news.jsonl"
check "--strict with -o: exit 1, DIR as it was (the earlier partition, no temporary files)" \
	eval 'test $rc -eq 1 && test "$(zstdcat "$T/strict/s-partition-0000.txt.zst")" = "Earlier run." &&
	      test "$(ls -A "$T/strict")" = s-partition-0000.txt.zst'
run -f realnews -m 0 --strict -o "$T/strict-new/sub" --name s "$T/news.jsonl"
check "--strict with -o: exit 1, a DIR it made is removed again" eval 'test $rc -eq 1 && ! test -e "$T/strict-new"'
check "an error prints only the error (no counts)" eval 'test "$(wc -l < "$T/err")" -eq 1'

# a DIR that cannot be made: the error alone, exit 1
run -f text -o /proc/no-such/dir </dev/null
check "-o under /proc: exit 1, only the error" \
	eval 'test $rc -eq 1 && test "$(cat "$T/err")" = "preprocess: mkdir /proc/no-such: No such file or directory"'
: >"$T/plainfile"
run -f text -o "$T/plainfile/sub" </dev/null
check "-o under a regular file: exit 1, only the error" \
	eval 'test $rc -eq 1 && test "$(cat "$T/err")" = "preprocess: mkdir $T/plainfile/sub: Not a directory"'

# ---- stories ----------------------------------------------------------------

mkdir -p "$T/st/b" "$T/st/a.d"
printf 'x\n\n  y  \n' >"$T/st/b/2.txt"
printf 'first\r\n' >"$T/st/a.txt"
printf 'in a.d\n' >"$T/st/a.d/f"
printf 'z' >"$T/st/c"
printf 'hidden\n' >"$T/st/.hidden"
printf '\n\n' >"$T/st/b/1-empty"
run -f stories "$T/st"
printf 'in a.d\n\nfirst\n\nx\ny\n\nz\n\n' >"$T/st.want"
same "$T/out" "$T/st.want" "stories: a directory, files sorted by name recursively, one document each"
is "$(report)" "4 documents read, 4 kept, 0 dropped (under 0 words), 0 skipped" "stories: an empty file is no document"
printf '%s\n' "$T/st/c" "" "$T/st/b" >"$T/list"
run -f stories --files-from "$T/list" "$T/st/a.txt"
printf 'first\n\nz\n\nx\ny\n\n' >"$T/st2.want"
same "$T/out" "$T/st2.want" "stories: operands, then --files-from in its order"
run -f stories --files-from - <"$T/list"
printf 'z\n\nx\ny\n\n' >"$T/st3.want"
same "$T/out" "$T/st3.want" "stories: --files-from - reads the list from stdin"

# ---- text -------------------------------------------------------------------

{
	printf '\xef\xbb\xbfThe Project Gutenberg EBook of X\r\nheader\r\n\r\n'
	printf '*** START OF THIS PROJECT GUTENBERG EBOOK X ***\r\n\r\n\r\nChapter 1\r\n\r\n'
	printf 'It was a dark\r\nand  stormy\tnight;\r\n  the end of the day.\r\n \r\n'
	printf 'End of the day.\r\nThe end.\r\nEnd of Project Gutenberg'"'"'s X\r\nlicence\r\n'
} >"$T/book.txt"
run -f text "$T/book.txt"
printf 'Chapter 1\nIt was a dark and stormy night; the end of the day.\nEnd of the day. The end.\n\n' >"$T/book.want"
same "$T/out" "$T/book.want" "text: paragraphs joined, Gutenberg header and licence removed"
run -f text --keep-boilerplate "$T/book.txt"
{
	printf 'The Project Gutenberg EBook of X header\n'
	printf '*** START OF THIS PROJECT GUTENBERG EBOOK X ***\nChapter 1\n'
	printf 'It was a dark and stormy night; the end of the day.\n'
	printf 'End of the day. The end. End of Project Gutenberg'"'"'s X licence\n\n'
} >"$T/book2.want"
same "$T/out" "$T/book2.want" "text --keep-boilerplate"
printf 'junk\n***start of the project gutenberg ebook y***\nBody\nline\n\n*End of The Project Gutenberg Etext of Y\nmore\n' >"$T/book3.txt"
run -f text "$T/book3.txt"
is "$(cat "$T/out")" "Body line" "text: lower-case START, *End of The Project Gutenberg"
printf 'Body\n*** END OF THE PROJECT GUTENBERG EBOOK Z ***\nlicence\n' >"$T/book4.txt"
run -f text "$T/book4.txt" "$T/book3.txt"
is "$(cat "$T/out")" "$(printf 'Body\n\nBody line')" "text: *** END OF THE ...; each file is a document"

# ---- real data: WikiExtractor output ------------------------------------------

wx=$data/wikiextractor/featured-25docs.wiki_00
# Words per document, independently: the lines of each block but its first.
awk '/^<doc /       { indoc = 1; title = 1; w = 0; next }
     /^<\/doc>$/    { print w; indoc = 0; next }
     indoc && title { title = 0; next }
     indoc          { w += NF }' "$wx" >"$T/wx.counts"
is "$(wc -l <"$T/wx.counts")" 25 "featured: awk sees 25 documents"
want=$(awk '$1 >= 128' "$T/wx.counts" | wc -l)
run -f wiki "$wx"
cp "$T/out" "$T/all/wiki.txt"
kept=$(report | sed 's/.* read, \([0-9]*\) kept.*/\1/')
is "$(blocks "$T/out")" "$kept" "featured: documents out = the kept count reported"
is "$kept" "$want" "featured: kept = 25 minus those under 128 words"
is "$(report)" "25 documents read, $want kept, $((25 - want)) dropped (under 128 words), 0 skipped" "featured: the report"
is "$(words "$T/out")" "$(awk '$1 >= 128 { s += $1 } END { print s }' "$T/wx.counts")" "featured: total words as awk counts them"
# A threshold inside the range drops some: exactly those awk counts under it.
m=$(sort -n "$T/wx.counts" | sed -n 10p)
run -f wiki --min-words "$m" "$wx"
is "$(report)" "25 documents read, $(awk -v m="$m" '$1 >= m' "$T/wx.counts" | wc -l) kept, $(awk -v m="$m" '$1 < m' "$T/wx.counts" | wc -l) dropped (under $m words), 0 skipped" \
	"featured: --min-words $m keeps exactly the documents of >= $m words"
check "featured: no blank line inside, none at the start, ends with one" \
	eval 'test "$(head -c1 "$T/all/wiki.txt" | od -An -c | tr -d " ")" != "\\n" &&
	      test "$(tail -c2 "$T/all/wiki.txt" | od -An -c | tr -d " ")" = "\\n\\n" &&
	      ! grep -q "^ \\| $\\|  " "$T/all/wiki.txt" &&
	      test "$(grep -c "^$" "$T/all/wiki.txt")" -eq "$(blocks "$T/all/wiki.txt")"'

# A directory of WikiExtractor output (AA/wiki_00, AB/wiki_00.zst ...).
mkdir -p "$T/ext/AA" "$T/ext/AB"
cp "$wx" "$T/ext/AB/wiki_00" && zstd -q -c "$wx" >"$T/ext/AA/wiki_00.zst"
run -q -f wiki "$T/ext"
cat "$T/all/wiki.txt" "$T/all/wiki.txt" >"$T/ext.want"
same "$T/out" "$T/ext.want" "wiki: a directory operand, its files read in name order"

# Partitions: several, whole documents, together the stdout output.
run -f wiki -o "$T/parts/sub" --name X --partition-words 20000 "$wx"
check "-o: exit 0, the directory created" eval 'test $rc -eq 0 && test -d "$T/parts/sub"'
np=$(ls "$T/parts/sub" | wc -l)
check "-o: several partitions ($np)" test "$np" -ge 3
is "$(ls "$T/parts/sub" | tr '\n' ' ')" "$(for ((i = 0; i < np; i++)); do printf 'X-partition-%04d.txt.zst ' $i; done)" \
	"-o: named NAME-partition-NNNN.txt.zst from 0000, no temporary files"
zstdcat "$T"/parts/sub/X-partition-*.txt.zst >"$T/parts.cat"
same "$T/parts.cat" "$T/all/wiki.txt" "-o: the partitions concatenated equal the stdout output"
bad=
for ((i = 0; i < np; i++)); do
	f=$(printf '%s/parts/sub/X-partition-%04d.txt.zst' "$T" $i)
	zstd -q -t "$f" || bad="$bad $i:zstd"
	# words, and words less the last document
	set -- $(zstdcat "$f" | awk 'BEGIN { RS = "" } { k = split($0, a, /[ \n]+/); s += k; last = k } END { print s, s - last }')
	if ((i < np - 1)); then
		(($1 >= 20000 && $2 < 20000)) || bad="$bad $i:$1/$2"
	else
		(($1 > 0)) || bad="$bad $i:empty"
	fi
	test "$(zstdcat "$f" | tail -c2 | od -An -c | tr -d ' ')" = '\n\n' || bad="$bad $i:end"
done
is "$bad" "" "-o: each partition closes at the document that reaches --partition-words"
run -f wiki -o "$T/parts2" "$wx"
is "$(ls "$T/parts2")" "wiki-partition-0000.txt.zst" "-o: the name defaults to the format"

# Again into the same DIR, fewer partitions: NAME's are replaced, the rest stays.
mkdir "$T/parts/sub/.X.tmp.AbC123" && echo stale >"$T/parts/sub/.X.tmp.AbC123/X-partition-0000.txt.zst"
echo mine >"$T/parts/sub/X-notes.txt"
cp "$T/parts/sub/X-partition-0001.txt.zst" "$T/parts/sub/Y-partition-0001.txt.zst"
run -f wiki -o "$T/parts/sub" --name X --partition-words 1000000 "$wx"
is "$(ls -A "$T/parts/sub" | tr '\n' ' ')" "X-notes.txt X-partition-0000.txt.zst Y-partition-0001.txt.zst " \
	"-o again: NAME's partitions of the earlier, longer run are removed, a dead run's staging directory too, other files stay"
same <(zstdcat "$T/parts/sub/X-partition-0000.txt.zst") "$T/all/wiki.txt" "-o again: the new partition holds all"
# An empty input (a failed command upstream of a pipe) writes no partition
# and removes none.
run -f wiki -o "$T/parts/sub" --name X < /dev/null
is "$rc $(ls -A "$T/parts/sub" | tr '\n' ' ')" "0 X-notes.txt X-partition-0000.txt.zst Y-partition-0001.txt.zst " \
	"-o with an empty input: the earlier partitions stay"

# The same articles through our own extractor, in both of its formats.
if [ -x "$bin/wikiextract" ]; then
	"$bin/wikiextract" "$data/wiki/enwiki-2016-206pages.xml.bz2" 2>/dev/null | "$P" -f wiki >"$T/we.doc" 2>"$T/err"
	kept=$(report | sed 's/.* read, \([0-9]*\) kept.*/\1/')
	"$bin/wikiextract" --json "$data/wiki/enwiki-2016-206pages.xml.bz2" 2>/dev/null | "$P" -q -f wiki >"$T/we.json"
	check "wikiextract | preprocess: documents out ($kept) = kept" \
		eval 'test "$kept" -gt 50 && test "$(blocks "$T/we.doc")" -eq "$kept"'
	same "$T/we.json" "$T/we.doc" "wikiextract --json | preprocess = wikiextract | preprocess"
	cp "$T/we.doc" "$T/all/we.txt"
else
	skip "bin/wikiextract not built"
	skip "bin/wikiextract not built"
fi

# ---- real data: RealNews --------------------------------------------------------

rn=$data/realnews/realnews_tiny.jsonl
run -f realnews "$rn"
check "realnews tiny: all 5 under 1000 words dropped by default" \
	eval '! test -s "$T/out" && test "$(report)" = "5 documents read, 0 kept, 5 dropped (under 1000 words), 0 skipped"'
run -f realnews --min-words 0 "$rn"
cp "$T/out" "$T/all/realnews.txt"
is "$(blocks "$T/out")" 5 "realnews tiny --min-words 0 keeps 5"
if command -v python3 >/dev/null; then
	python3 - "$rn" >"$T/rn.want" 3>"$T/rn.counts" <<'EOF'
import json, os, re, sys
out = sys.stdout.buffer
counts = os.fdopen(3, "w")
def norm(s):
    s = s.replace("\t", " ")
    s = "".join(c for c in s if not (ord(c) < 32 or 0x7F <= ord(c) <= 0x9F or c == "\ufeff"))
    return re.sub(" +", " ", s).strip(" ")
for line in open(sys.argv[1], encoding="utf-8"):
    lines = [l for l in (norm(p) for p in json.loads(line)["text"].split("\n")) if l]
    counts.write("%d\n" % sum(len(l.split(" ")) for l in lines))
    out.write(("\n".join(lines) + "\n\n").encode("utf-8", "surrogatepass"))
EOF
	same "$T/all/realnews.txt" "$T/rn.want" "realnews tiny: the text as python3 normalises it"
	m=$(sort -n "$T/rn.counts" | sed -n 3p)
	run -f realnews -m "$m" "$rn"
	is "$(blocks "$T/out")" "$(awk -v m="$m" '$1 >= m' "$T/rn.counts" | wc -l)" "realnews tiny: -m $m keeps those python3 counts >= $m words"
else
	skip "python3 not found"
	skip "python3 not found"
fi

# ---- real data: Project Gutenberg books ------------------------------------------

bk=$data/books
run -f text "$bk/botchan.txt"
cp "$T/out" "$T/all/botchan.txt"
check "botchan: no BOM" test "$(head -c3 "$T/out" | od -An -tx1 | tr -d ' ')" != efbbbf
check "botchan: no CR" eval '! grep -q $'"'"'\r'"'"' "$T/out"'
check "botchan: starts after the START line" grep -q '^Produced by David Starner' <(head -c 100 "$T/out")
check "botchan: no Gutenberg header or licence" eval '! grep -q -i "project gutenberg" "$T/out"'
s=$(grep -n '^\*\*\* START OF THIS PROJECT GUTENBERG' "$bk/botchan.txt" | cut -d: -f1)
e=$(grep -n '^End of Project Gutenberg' "$bk/botchan.txt" | cut -d: -f1)
is "$(words "$T/out")" "$(tr -d '\r' <"$bk/botchan.txt" | awk -v s="$s" -v e="$e" 'NR > s && NR < e { w += NF } END { print w }')" \
	"botchan: the words between START (line $s) and End (line $e)"
run -f text "$bk/lcet10.txt"
tr -d '\r' <"$bk/lcet10.txt" | sed '/^\*End of The Project Gutenberg/,$d; s/^[ \t]*$//' >"$T/lcet10.body"
is "$(grep -c . "$T/out")" "$(blocks "$T/lcet10.body")" "lcet10: a line per paragraph, stopped at *End of The Project Gutenberg"
is "$(words "$T/out")" "$(words "$T/lcet10.body")" "lcet10: every word before the end marker"
run -f text "$bk/alice29.txt" "$bk/botchan.txt" "$bk/lcet10.txt"
cp "$T/out" "$T/all/books.txt"
for b in alice29 botchan lcet10; do "$P" -q -f text "$bk/$b.txt"; done >"$T/books.sep"
same "$T/all/books.txt" "$T/books.sep" "books: one document per file; outputs concatenate cleanly"
is "$(blocks "$T/all/books.txt")" 3 "books: 3 documents"

# ---- every output: the format's character rules -------------------------------

bad=
for f in "$T"/all/*.txt; do
	iconv -f UTF-8 -t UTF-8 "$f" >/dev/null 2>&1 || bad="$bad $(basename "$f"):utf8"
	grep -q -P '[\x00-\x09\x0b-\x1f\x7f\r]' "$f" && bad="$bad $(basename "$f"):ctrl"
	grep -q -P '^ | $|  |^\xef\xbb\xbf' "$f" && bad="$bad $(basename "$f"):space"
done
if command -v python3 >/dev/null; then
	python3 -c '
import sys
for f in sys.argv[1:]:
    t = open(f, "rb").read().decode("utf-8")
    assert not any(ord(c) < 32 and c != "\n" or 0x7F <= ord(c) <= 0x9F or c == "\ufeff" for c in t), f
    assert "\n\n\n" not in t and t.endswith("\n\n") and not t.startswith("\n"), f
' "$T"/all/*.txt || bad="$bad python"
fi
is "$bad" "" "all outputs: valid UTF-8, no control characters, no BOM, trimmed, one empty line between documents"

# ---- sanitizers (make check SAN=1) --------------------------------------------

check "no sanitizer reports" eval '! cat "$T"/err.* | grep -q -e "runtime error" -e "AddressSanitizer" -e "LeakSanitizer"'

done_testing
