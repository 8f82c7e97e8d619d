#!/bin/bash
# The corpus pipeline as the README shows it: wikiextract | preprocess.
. "$(dirname "$0")/lib.sh"
if ! have_shared; then
	skip "shared data not found (NYS_SHARED)"
	done_testing
	exit
fi
D=$SHARED/wiki/enwiki-2016-206pages.xml.bz2
"$BIN/wikiextract" "$D" | "$BIN/preprocess" -f wiki > "$T/corpus.txt" 2> "$T/err"
ok $? "wikiextract | preprocess -f wiki exits 0"
grep -q "106 documents read, 104 kept, 2 dropped (under 128 words), 0 skipped" "$T/err"
ok $? "preprocess reports 106 read, 104 kept"
python3 - "$T/corpus.txt" <<'PY'
import re, sys
raw = open(sys.argv[1], "rb").read()
text = raw.decode("utf-8")                       # valid UTF-8 or this raises
assert not text.startswith("\ufeff") and "\r" not in text
assert not re.search(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]", text), "control character"
assert text.endswith("\n\n") and "\n\n\n" not in text, "one empty line after each document"
docs = text[:-2].split("\n\n")
assert len(docs) == 104, len(docs)
for d in docs:
    assert len(d.replace("\n", " ").split(" ")) >= 128, d[:80]
    for line in d.split("\n"):
        assert line and line == line.strip() and "  " not in line, repr(line[:80])
for bad in ["{{", "}}", "[[", "]]", "'''", "<ref", "{|", "|}", "&amp;", "&lt;", "thumb|"]:
    assert bad not in text, bad
PY
ok $? "the corpus is clean: 104 documents, valid UTF-8, no markup, no controls"
"$BIN/wikiextract" --json "$D" | "$BIN/preprocess" -q -f wiki | cmp -s - "$T/corpus.txt"
ok $? "--json through preprocess gives the same corpus"
"$BIN/wikiextract" "$D" | "$BIN/preprocess" -q -f wiki -o "$T/parts" --name wiki --partition-words 20000
ok $? "-o DIR partitions"
zstdcat "$T"/parts/wiki-partition-*.txt.zst | cmp -s - "$T/corpus.txt"
ok $? "the partitions hold the same corpus"
done_testing
