#!/bin/bash
# The sample that make demo runs on (pipeline/demo-data/) is what its
# README says: every file of the README's table is there with the bytes and
# SHA-256 given, every file there is in the table, the licence texts are
# there and each source has its source, cut and licence written down; the
# compressed files are whole, and the sample stays small enough to ship.
. "$(dirname "$0")/lib.sh"
export LC_ALL=C
TOP=${NYS_TOP:-$(dirname "$0")/..}
D=$TOP/pipeline/demo-data
R=$D/README.md

[ -f "$R" ]
ok $? "pipeline/demo-data/README.md exists"

# the table's rows: | `file` | bytes | sha256 or LICENCE |
sed -n 's/^| `\([^`]*\)` | \([0-9]*\) | `\([0-9a-fA-FLICENE]*\)` |$/\1 \2 \3/p' "$R" > "$T/table"
rows=$(wc -l < "$T/table")
[ "$rows" -ge 5 ]
ok $? "the README lists the sample's files ($rows with sizes)"

bad=""
while read -r f bytes sum; do
	if [ ! -f "$D/$f" ]; then bad="$bad $f(missing)"; continue; fi
	[ "$(wc -c < "$D/$f")" = "$bytes" ] || bad="$bad $f(size)"
	if [ "$sum" = LICENCE ]; then
		[ -s "$D/$f" ] || bad="$bad $f(empty)"
	else
		[ "$(sha256sum < "$D/$f" | cut -d' ' -f1)" = "$sum" ] || bad="$bad $f(sha256)"
	fi
done < "$T/table"
is "$bad" "" "every listed file exists with the README's size and SHA-256"

# every file of the folder is in the table (README.md is its own row)
unlisted=""
while read -r f; do
	f=${f#"$D"/}
	[ "$f" = README.md ] && continue
	grep -q "^$f " "$T/table" || unlisted="$unlisted $f"
done < <(find "$D" -type f | sort)
is "$unlisted" "" "every file in pipeline/demo-data is in the README's table"

# each source's section says where it came from, what was cut, its licence
n_src=$(grep -c '^- \*\*Source\*\*' "$R")
n_cut=$(grep -c '^- \*\*Cut\*\*' "$R")
n_lic=$(grep -c '^- \*\*Licence\*\*' "$R")
is "$n_src $n_cut $n_lic" "3 3 3" "three sources, each with its source, cut and licence"
grep -q 'creativecommons.org/licenses/by-sa/3.0' "$R" && grep -q 'creativecommons.org/licenses/by/4.0' "$R"
ok $? "the Creative Commons licences (Wikipedia's, WNLI's) are named by their legal code's address"
grep -q 'GNU LESSER GENERAL PUBLIC LICENSE' "$D/COPYING.gensim-LGPL-2.1"
ok $? "gensim's licence text is beside the dump excerpt it cut"

# the compressed files are whole and hold what the README says
bzip2 -t "$D/enwiki-2016-100pages.xml.bz2" "$D/botchan.txt.bz2" 2> "$T/err"
ok $? "both .bz2 files decompress whole"
pages=$(bzcat "$D/enwiki-2016-100pages.xml.bz2" | grep -c '^  <page>')
redirects=$(bzcat "$D/enwiki-2016-100pages.xml.bz2" | grep -c '<redirect ')
is "$pages $redirects" "100 70" "the dump excerpt: 100 pages, 70 of them redirects (30 articles)"
bzcat "$D/enwiki-2016-100pages.xml.bz2" | tail -n 1 | grep -qx '</mediawiki>'
ok $? "the dump excerpt ends its XML"
bzcat "$D/botchan.txt.bz2" | grep -q 'Project Gutenberg License'
ok $? "the book carries the Project Gutenberg License"
is "$(($(wc -l < "$D/glue/WNLI/train.tsv") - 1)) $(($(wc -l < "$D/glue/WNLI/dev.tsv") - 1)) $(($(wc -l < "$D/glue/WNLI/test.tsv") - 1))" \
	"635 71 146" "WNLI: 635 training, 71 dev and 146 test rows"

# the same files as the shared data they were taken from, where it is here
if have_shared; then
	bzcat "$D/botchan.txt.bz2" | cmp -s - "$SHARED/books/botchan.txt"
	ok $? "the book is the shared data's botchan.txt, byte for byte"
	same=0
	for s in train dev test; do
		cmp -s "$D/glue/WNLI/$s.tsv" "$SHARED/glue/WNLI/$s.tsv" || same=1
	done
	ok $same "WNLI is the shared data's, byte for byte"
	n=$(bzcat "$D/enwiki-2016-100pages.xml.bz2" | head -c -13 | wc -c)
	bzcat "$D/enwiki-2016-100pages.xml.bz2" | head -c "$n" \
		| cmp -s - <(bzcat "$SHARED/wiki/enwiki-2016-206pages.xml.bz2" | head -c "$n")
	ok $? "the dump excerpt is the start of the shared 206-page dump"
else
	skip "shared data not found (NYS_SHARED): the sample against its sources"
	skip "shared data not found (NYS_SHARED)"
	skip "shared data not found (NYS_SHARED)"
fi

total=$(du -cb "$D" | tail -n 1 | cut -f1)
[ "$total" -lt 1500000 ]
ok $? "the sample is small ($total bytes, under 1.5 MB)"
done_testing
