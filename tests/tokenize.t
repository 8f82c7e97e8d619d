#!/bin/bash
# tokenize(1): options and errors, document structure on small inputs, then
# the real books and Wikipedia text with both shared models, every id
# checked against sentencepiece's own spm_encode/spm_decode, the same output
# for every -j, token streams through info/decode, --lower against Python's
# str.lower(), and training that gives the same model twice.  TAP.
. "$(dirname "$0")/lib.sh"
export LC_ALL=C
TOP=${NYS_TOP:-$(cd "$(dirname "$0")/.." && pwd)}
TK=$BIN/tokenize
MAN=$TOP/man/man1/tokenize.1

if [ ! -x "$TK" ]; then
	echo "1..0 # SKIP $TK not built"
	exit 0
fi

# run ARGS...: tokenize through run_cmd (lib.sh)
run() { run_cmd "$TK" "$@"; }
same() { # GOT WANT DESC: files, byte for byte
	if cmp -s "$1" "$2"; then
		ok 0 "$3"
	else
		ok 1 "$3"
		cmp "$1" "$2" 2>&1 | sed 's/^/#   /'
	fi
}
has_spm() { command -v spm_encode >/dev/null && command -v spm_decode >/dev/null; }
# spm_encode on the non-empty lines of unified text, the ids of each
# document's lines joined by spaces: what encode --format ids must give.
spm_ids() { # MODEL TEXT
	awk 'BEGIN { RS = ""; FS = "\n" } { print NF }' "$2" >"$T/counts"
	grep -v '^$' "$2" | spm_encode --model "$1" --output_format=id |
		awk -v counts="$T/counts" '
		BEGIN { while ((getline n < counts) > 0) c[++nd] = n; d = 1 }
		{ if ($0 != "") s = s == "" ? $0 : s " " $0
		  if (++k == c[d]) { print s; s = ""; k = 0; d++ } }'
}

# ---- options ----------------------------------------------------------------

run --help
ok $(( rc != 0 )) "--help exits 0"
ok "$(grep -c -E '^  (train|encode|decode|info) ' "$T/out" | grep -qx 4; echo $?)" "--help lists the four commands"
run --version
is "$(cat "$T/out")" "tokenize (nys) $(cat "$TOP/VERSION")" "--version"
run
ok $(( rc != 2 )) "no command: exit 2"
run frobnicate
ok "$( [ $rc -eq 2 ] && grep -q "unknown command 'frobnicate'" "$T/err" && grep -q '^usage: tokenize' "$T/err"; echo $?)" \
	"an unknown command: exit 2 with the usage"
for cmd in train encode decode info; do
	run $cmd --help
	ok "$( [ $rc -eq 0 ] && grep -q "^usage: tokenize $cmd" "$T/out" && [ ! -s "$T/err" ]; echo $?)" \
		"$cmd --help: usage on stdout, exit 0"
	missing=
	for opt in $(grep -oE -- '--[a-z][a-z0-9-]*' "$T/out" | sort -u); do
		grep -qF -- "$opt" "$MAN" || grep -qF -- "${opt//-/\\-}" "$MAN" || missing="$missing $opt"
	done
	is "$missing" "" "$cmd: every option of --help is in tokenize.1"
	run $cmd --version
	is "$(cat "$T/out")" "tokenize (nys) $(cat "$TOP/VERSION")" "$cmd --version"
done
run --help
missing=
for opt in $(grep -oE -- '--[a-z][a-z0-9-]*' "$T/out" | sort -u); do
	grep -qF -- "${opt//-/\\-}" "$MAN" || missing="$missing $opt"
done
is "$missing" "" "tokenize --help: every option is in tokenize.1"
ok "$(grep -qF 'preprocess \-f wiki | tokenize encode \-m wiki.model | shard\-512 \-o shards \-\-name wiki' "$MAN"; echo $?)" \
	"tokenize.1 shows the preprocess | tokenize encode | shard-512 pipeline"

usage() { # DESC ARGS...: a usage error
	local d=$1
	shift
	run "$@" </dev/null
	ok "$( [ $rc -eq 2 ] && grep -q '^usage: tokenize' "$T/err" && [ ! -s "$T/out" ]; echo $?)" "$d: exit 2 with the usage"
}
usage "encode without -m" encode
usage "encode -j 0" encode -m x -j 0
usage "encode -j abc" encode -m x -j abc
usage "encode -j 257" encode -m x -j 257
usage "encode --format json" encode -m x --format json
usage "encode --bogus" encode -m x --bogus
for a in 0 2G 1X; do
	run encode -m x --max-line $a </dev/null
	ok "$( [ $rc -eq 2 ] && grep -qE "^tokenize: --max-line: '$a' is (out of range \(1 to 1073741824\)|not a size)" "$T/err" &&
	       grep -q '^usage: tokenize encode' "$T/err" && [ ! -s "$T/out" ]; echo $?)" \
		"encode --max-line $a (1 to 1G): exit 2, the option's error and the usage"
done
usage "train without -o" train --vocab-size 100
usage "train without --vocab-size" train -o "$T/m"
usage "train --vocab-size 0" train -o "$T/m" --vocab-size 0
usage "train --model-type word" train -o "$T/m" --vocab-size 100 --model-type word
usage "train --seed -1" train -o "$T/m" --vocab-size 100 --seed -1
usage "train --seed 4294967295 (reserved)" train -o "$T/m" --vocab-size 100 --seed 4294967295
usage "decode --format ids without -m" decode --format ids
usage "info without FILE" info
run encode -m "$T/no/such.model" /dev/null
ok "$( [ $rc -eq 1 ] && grep -qx "tokenize: $T/no/such.model: No such file or directory" "$T/err"; echo $?)" \
	"a missing model: exit 1, tokenize: MODEL: why"
printf 'not a model\n' >"$T/text.model"
run encode -m "$T/text.model" /dev/null
ok "$( [ $rc -eq 1 ] && grep -qx "tokenize: $T/text.model: not a sentencepiece model" "$T/err"; echo $?)" \
	"a text file as model: exit 1, tokenize: MODEL: not a sentencepiece model"
run decode -m "$T/text.model" /dev/null
ok "$( [ $rc -eq 1 ] && grep -q "^tokenize: $T/text.model: " "$T/err"; echo $?)" "decode: a bad model: exit 1"

if ! have_shared || [ ! -f "$SHARED/spm/albert-layout-30k-de.model" ]; then
	skip "no shared data in '$SHARED'"
	done_testing
	exit
fi
M1=$SHARED/spm/sentencepiece-test-1k.model
MA=$SHARED/spm/albert-layout-30k-de.model

if command -v script >/dev/null; then
	script -qec "$TK encode -m $M1 /dev/null" /dev/null >"$T/tty" 2>&1
	rc=$?
	ok "$( [ $rc -eq 1 ] && grep -q 'terminal' "$T/tty"; echo $?)" "a token stream to a terminal is refused"
else
	skip "script(1) not found"
fi

# ---- documents on small inputs -------------------------------------------------

if ! has_spm; then
	skip "spm_encode not installed (Debian package sentencepiece)"
	done_testing
	exit
fi

printf 'Hello world.\nA second line, of the same document.\n\n\n\nThe next one\nends without an empty line.' >"$T/small.txt"
# its lines through spm_encode, by hand: document 1 = lines 1 and 2
l() { printf '%s\n' "$1" | spm_encode --model "$M1" --output_format=id; }
want=$(printf '%s %s\n%s %s' "$(l 'Hello world.')" "$(l 'A second line, of the same document.')" \
	"$(l 'The next one')" "$(l 'ends without an empty line.')")
run encode -m "$M1" --format ids "$T/small.txt"
is "$(cat "$T/out")" "$want" "ids: a document per line, its lines' ids joined; runs of empty lines are one break; a last document without its empty line"
is "$(wc -l <"$T/out")" 2 "ids: every document ends with a newline"
cp "$T/out" "$T/small.ids"
printf 'one\ntwo' >"$T/a.txt"
printf 'three\n\n' >"$T/b.txt"
run encode -m "$M1" --format ids "$T/a.txt" "$T/b.txt"
is "$(cat "$T/out")" "$(printf '%s %s\n%s' "$(l one)" "$(l two)" "$(l three)")" "the end of each file ends a document"
run encode -m "$M1" --format ids - <"$T/small.txt"
same "$T/out" "$T/small.ids" "stdin as -"
run encode -m "$M1" --format ids <"$T/small.txt"
same "$T/out" "$T/small.ids" "stdin when no FILE"
zstd -q -c "$T/small.txt" >"$T/small.txt.zst"
bzip2 -c "$T/small.txt" >"$T/small.txt.bz2"
run encode -m "$M1" --format ids "$T/small.txt.zst" "$T/small.txt.bz2"
cat "$T/small.ids" "$T/small.ids" >"$T/small2.ids"
same "$T/out" "$T/small2.ids" "zstd and bzip2 input"
run encode -m "$M1" --format ids /dev/null
ok "$( [ $rc -eq 0 ] && [ ! -s "$T/out" ]; echo $?)" "empty input: no documents"
run encode -m "$M1" -o "$T/empty.tok" /dev/null
run info "$T/empty.tok"
ok "$(grep -qx 'documents: 0' "$T/out" && grep -qx 'tokens: 0' "$T/out"; echo $?)" "empty input: a valid stream of 0 documents"
run encode -m "$M1" -o "$T/x.tok" "$T/small.txt" "$T/no-such-file"
ok "$( [ $rc -eq 1 ] && grep -q "no-such-file" "$T/err" && [ -z "$(ls "$T" | grep -F x.tok)" ]; echo $?)" \
	"a missing input: exit 1, no output file, no temporary left"

# ---- real text, both models, every id against spm_encode ----------------------------

"$BIN/preprocess" -q -f text "$SHARED"/books/*.txt >"$T/books.txt"
"$BIN/preprocess" -q -f wiki -m 0 "$SHARED/wikiextractor/featured-25docs.wiki_00" >"$T/wiki.txt"
is "$(awk 'BEGIN { RS = "" } END { print NR }' "$T/books.txt") $(awk 'BEGIN { RS = "" } END { print NR }' "$T/wiki.txt")" \
	"3 25" "real text: 3 books, 25 featured articles"
for m in 1k albert; do
	M=$M1
	[ $m = albert ] && M=$MA
	for txt in books wiki; do
		spm_ids "$M" "$T/$txt.txt" >"$T/$txt.$m.want"
		run encode -m "$M" --format ids -j 2 "$T/$txt.txt"
		same "$T/out" "$T/$txt.$m.want" "$txt, $m model: encode --format ids = spm_encode on every paragraph, joined per document"
		cp "$T/out" "$T/$txt.$m.ids"
		for j in 1 2 5; do
			run encode -m "$M" --format ids -j $j "$T/$txt.txt"
			cmp -s "$T/out" "$T/$txt.$m.ids" || break
			run encode -m "$M" -j $j -o "$T/$txt.$m.j$j.tok" "$T/$txt.txt"
			[ $rc -eq 0 ] || break
		done
		ok "$(cmp -s "$T/$txt.$m.j1.tok" "$T/$txt.$m.j2.tok" && cmp -s "$T/$txt.$m.j1.tok" "$T/$txt.$m.j5.tok"; echo $?)" \
			"$txt, $m model: -j 1, 2 and 5 write the same bytes (token stream and ids)"
		tok=$T/$txt.$m.j2.tok
		run decode "$tok"
		same "$T/out" "$T/$txt.$m.ids" "$txt, $m model: decode without a model gives the ids back"
		run info "$tok"
		cp "$T/out" "$T/info"
		is "$(grep -E '^(version|width|vocab_size|segments|documents|tokens|checksum):' "$T/info" | tr '\n' ' ')" \
			"version: 1 width: 2 vocab_size: $( [ $m = 1k ] && echo 1000 || echo 30000) segments: 1 documents: $(wc -l <"$T/$txt.$m.ids") tokens: $(wc -w <"$T/$txt.$m.ids") checksum: ok " \
			"$txt, $m model: info (header, counts as the ids count them, checksum)"
		is "$(sed -n 's/^longest_document: //p' "$T/info")" "$(awk '{ if (NF > m) m = NF } END { print m }' "$T/$txt.$m.ids")" \
			"$txt, $m model: info: the longest document"
		spm_decode --model "$M" --input_format=id <"$T/$txt.$m.ids" >"$T/spm.dec"
		run decode -m "$M" "$tok"
		same "$T/out" "$T/spm.dec" "$txt, $m model: decode -m = spm_decode of each document's ids"
		run decode -m "$M" --format ids "$T/$txt.$m.ids"
		same "$T/out" "$T/spm.dec" "$txt, $m model: decode --format ids = the same text"
	done
	grep -m1 '^fingerprint' "$T/info" >"$T/fp.$m"
done
ok "$(cmp -s "$T/fp.1k" "$T/fp.albert"; [ $? -ne 0 ] && grep -q "^fingerprint: [0-9a-f]\{16\}$" "$T/fp.1k"; echo $?)" \
	"the two models have different fingerprints"
run encode -m "$MA" -o "$T/again.tok" "$T/wiki.txt"
ok "$(cmp -s "$T/again.tok" "$T/wiki.albert.j2.tok"; echo $?)" "the same model and text: the same stream again"

# wikiextract's own output, through preprocess in a pipe
"$BIN/wikiextract" -j 2 "$SHARED/wiki/enwiki-2016-206pages.xml.bz2" | "$BIN/preprocess" -q -f wiki -m 0 >"$T/wx.txt"
spm_ids "$MA" "$T/wx.txt" >"$T/wx.want"
"$BIN/wikiextract" -j 2 "$SHARED/wiki/enwiki-2016-206pages.xml.bz2" | "$BIN/preprocess" -q -f wiki -m 0 |
	"$TK" encode -m "$MA" -j 3 --format ids >"$T/wx.got" 2>>"$T/err.pipe"
same "$T/wx.got" "$T/wx.want" "wikiextract | preprocess | tokenize encode: = spm_encode ($(wc -l <"$T/wx.want") documents)"

# ---- token streams: errors ---------------------------------------------------------

tok=$T/wiki.albert.j2.tok
run decode -m "$M1" "$tok"
ok "$( [ $rc -eq 1 ] && grep -q "^tokenize: $tok: made with another model" "$T/err"; echo $?)" \
	"decode with another model: exit 1 naming the stream"
run decode -m "$M1" -o "$T/dec.txt" "$tok"
ok "$( [ $rc -eq 1 ] && [ -z "$(ls "$T" | grep dec.txt)" ]; echo $?)" "decode -o after an error: no file"
cat "$tok" "$T/books.albert.j2.tok" >"$T/cat.tok"
run info "$T/cat.tok"
ok "$(grep -qx 'segments: 2' "$T/out" && grep -qx "documents: $(( $(wc -l <"$T/wiki.albert.ids") + 3 ))" "$T/out"; echo $?)" \
	"concatenated streams: info counts 2 segments, every document"
run decode "$T/cat.tok"
ok "$(cat "$T/wiki.albert.ids" "$T/books.albert.ids" | cmp -s - "$T/out"; echo $?)" "concatenated streams decode as one"
head -c 3000 "$tok" >"$T/trunc.tok"
run info "$T/trunc.tok"
ok "$( [ $rc -eq 1 ] && grep -q "^tokenize: $T/trunc.tok: " "$T/err" && [ ! -s "$T/out" ]; echo $?)" \
	"info on a truncated stream: exit 1 naming the file, nothing printed"
zstd -q -d -c "$tok" >"$T/raw"
size=$(stat -c %s "$T/raw")
python3 -c '
import sys
b = bytearray(open(sys.argv[1], "rb").read()); b[int(sys.argv[3])] ^= 0x5a
open(sys.argv[2], "wb").write(b)' "$T/raw" "$T/bad.raw" $((size / 2))
zstd -q -c "$T/bad.raw" >"$T/bad.tok"
run info "$T/bad.tok"
ok "$( [ $rc -eq 1 ] && grep -q "^tokenize: $T/bad.tok: .*[0-9]" "$T/err"; echo $?)" \
	"info on a damaged stream: exit 1 naming the file and the offset ($(cut -c1-80 "$T/err"))"
run decode -m "$MA" "$T/bad.tok"
ok $(( rc != 1 )) "decode of a damaged stream: exit 1"
printf '5 17 99999999\n' >"$T/bad.ids"
run decode -m "$M1" --format ids "$T/bad.ids"
ok "$( [ $rc -eq 1 ] && grep -q "bad.ids:1: '99999999' is not an id" "$T/err"; echo $?)" "decode --format ids: an id outside the vocabulary: file:line"
run info "$T/books.txt"
ok $(( rc != 1 )) "info on text: exit 1"

# ---- --lower ---------------------------------------------------------------------

cat >"$T/mixed.txt" <<'EOF'
ΟΔΥΣΣΕΎΣ ΚΑΙ Η ΟΔΟΣ ΤΟΥ ΣΟΦΟΥ. Σ ΑΣ'Σ
ПРИВЕТ, МИР! ЁЖИК В ТУМАНЕ
İSTANBUL, IĞDIR; STRAẞE, ÀÉÎÕÜ ÇŒ ǅ Ǆ

Ǳ ᾈ Ꙁ Ⰰ 𐐀 Ω Å K
EOF
if [ -x "$NYS_TESTBIN/spm" ] && command -v python3 >/dev/null; then
	cat "$T/mixed.txt" "$T/books.txt" "$T/wiki.txt" >"$T/all.txt"
	python3 -c '
import sys
sys.stdout.buffer.write(open(sys.argv[1], encoding="utf-8").read().lower().encode("utf-8"))' "$T/all.txt" >"$T/all.lower"
	"$NYS_TESTBIN/spm" lower <"$T/all.txt" >"$T/all.ours"
	same "$T/all.ours" "$T/all.lower" "lower-casing = Python's str.lower() (books, wiki, Greek, Cyrillic, Turkish, German)"
	spm_ids "$MA" "$T/all.lower" >"$T/lower.want"
	run encode -m "$MA" --lower --format ids "$T/all.txt"
	same "$T/out" "$T/lower.want" "encode --lower = spm_encode on Python-lower-cased text"
else
	skip "no python3 or no $NYS_TESTBIN/spm"
	skip "no python3 or no $NYS_TESTBIN/spm"
fi

# ---- train ---------------------------------------------------------------------------

"$BIN/preprocess" -q -f text "$SHARED/books/alice29.txt" "$SHARED/books/botchan.txt" >"$T/train.txt"
run train -o "$T/u1" --vocab-size 600 "$T/train.txt"
ok "$( [ $rc -eq 0 ] && [ -s "$T/u1.model" ] && [ -s "$T/u1.vocab" ]; echo $?)" "train: PREFIX.model and PREFIX.vocab"
run train -o "$T/u2" --vocab-size 600 - <"$T/train.txt"
ok "$(cmp -s "$T/u1.model" "$T/u2.model" && cmp -s "$T/u1.vocab" "$T/u2.vocab"; echo $?)" \
	"train twice (file, then stdin): the same .model and .vocab, byte for byte"
is "$(cut -f1 "$T/u1.vocab" | head -5 | tr '\n' ' ')" "<pad> <unk> [CLS] [SEP] [MASK] " "train: ALBERT's layout, ids 0-4"
is "$(wc -l <"$T/u1.vocab")" 600 "train: 600 pieces"
spm_export_vocab --model="$T/u1.model" >"$T/u1.export" 2>/dev/null
same "$T/u1.vocab" "$T/u1.export" "train: .vocab = spm_export_vocab of the .model"
spm_ids "$T/u1.model" "$T/books.txt" >"$T/u1.want"
run encode -m "$T/u1.model" --format ids "$T/books.txt"
same "$T/out" "$T/u1.want" "the trained model in spm_encode and tokenize encode: the same ids"
run train -o "$T/s1" --vocab-size 500 --input-sentence-size 400 --seed 7 "$T/train.txt"
run train -v -o "$T/s2" --vocab-size 500 --input-sentence-size 400 --seed 7 "$T/train.txt"
ok "$( [ $rc -eq 0 ] && cmp -s "$T/s1.model" "$T/s2.model" && grep -q 'Sampled 400 sentences' "$T/err"; echo $?)" \
	"train with sampling (400 of $(grep -c . "$T/train.txt") lines) twice: the same model"
run train -o "$T/b1" --vocab-size 500 --model-type bpe "$T/train.txt"
run train -o "$T/b2" --vocab-size 500 --model-type bpe "$T/train.txt"
ok "$( [ $rc -eq 0 ] && cmp -s "$T/b1.model" "$T/b2.model"; echo $?)" "train --model-type bpe twice: the same model"
spm_ids "$T/b1.model" "$T/wiki.txt" >"$T/b1.want"
run encode -m "$T/b1.model" --format ids "$T/wiki.txt"
same "$T/out" "$T/b1.want" "bpe model: tokenize encode = spm_encode"
run train -o "$T/l1" --vocab-size 500 --lower --user-symbols '(,),",-,.,–,£,€' "$T/train.txt"
is "$(cut -f1 "$T/l1.vocab" | head -13 | tr '\n' ' ')" '<pad> <unk> [CLS] [SEP] [MASK] ( ) " - . – £ € ' \
	"train --user-symbols: ALBERT's symbols after [MASK], in order"
is "$(cut -f1 "$T/l1.vocab" | grep -c '[A-Z]')" 3 "train --lower: no upper-case letter in pieces but [CLS] [SEP] [MASK]"
run train -o "$T/tiny" --vocab-size 10 "$T/train.txt"
ok "$( [ $rc -eq 1 ] && grep -q 'Vocabulary size is smaller' "$T/err" && [ ! -e "$T/tiny.model" ] && [ ! -e "$T/tiny.vocab" ]; echo $?)" \
	"train --vocab-size 10: exit 1 with the reason, no files"
run train -o "$T/none" --vocab-size 100 /dev/null
ok "$( [ $rc -eq 1 ] && grep -q 'no sentences' "$T/err"; echo $?)" "train on empty input: exit 1"

# ---- long lines: bounded memory, errors at FILE:LINE ------------------------------------

# ulimit -v cannot work under AddressSanitizer (its shadow memory takes
# terabytes of address space): those checks are skipped in the SAN build.
san=0
ldd "$TK" 2>/dev/null | grep -q libasan && san=1
# limited KB CMD...: CMD with its virtual memory limited to KB (without a
# limit in the SAN build); stdout in $T/out, stderr in $T/err, status in $rc
limited() {
	local kb=$1
	shift
	if [ $san = 0 ]; then
		run_cmd sh -c 'ulimit -v "$0" && exec "$@"' "$kb" "$@"
	else
		run_cmd "$@"
	fi
}

# lines of 10 and 100 bytes, an empty line, one of 100 bytes before a CRLF,
# then one of 101 (line 5)
{ head -c 10 "$T/books.txt" | tr '\n' ' '; echo
  head -c 100 "$T/books.txt" | tr '\n' ' '; echo
  echo
  head -c 100 "$T/wiki.txt" | tr '\n' ' '; printf '\r\n'
  head -c 101 "$T/wiki.txt" | tr '\n' ' '; echo; } >"$T/ml.txt"
head -n 4 "$T/ml.txt" >"$T/ml4.txt"
for j in 1 3; do
	run encode -m "$M1" --max-line 100 -j $j -o "$T/ml.tok" "$T/ml.txt"
	is "$rc $(cat "$T/err") $(ls "$T" | grep -c '^ml\.tok')" \
		"1 tokenize: $T/ml.txt:5: line of 101 bytes is longer than the maximum 100 (--max-line) 0" \
		"--max-line 100, -j $j: a line of 101 bytes is exit 1 at FILE:LINE with both lengths, no output"
done
run encode -m "$M1" --format ids "$T/ml4.txt"
cp "$T/out" "$T/ml4.want"
run encode -m "$M1" --max-line 100 --format ids "$T/ml4.txt"
ok "$( [ $rc -eq 0 ] && cmp -s "$T/out" "$T/ml4.want"; echo $?)" \
	"--max-line 100: lines of 100 bytes (one before a CRLF) are encoded as without it"

# the books hold a real line of 255189 bytes (a book without blank lines)
read -r bline blen <<EOF2
$(awk '{ if (length($0) > n) { n = length($0); l = NR } } END { print l, n }' "$T/books.txt")
EOF2
run encode -m "$MA" --format ids --max-line $((blen - 1)) "$T/books.txt"
is "$rc $(cat "$T/err")" \
	"1 tokenize: $T/books.txt:$bline: line of $blen bytes is longer than the maximum $((blen - 1)) (--max-line)" \
	"the longest line of the books ($blen bytes): refused by --max-line $((blen - 1))"
run encode -m "$MA" --format ids --max-line $blen "$T/books.txt"
same "$T/out" "$T/books.albert.want" "... and encoded by --max-line $blen as spm_encode encodes it"

# a 20 MB line of text (line 2), which sentencepiece would take ~2 GB for
head -c 5000 "$T/wiki.txt" | tr '\n' ' ' >"$T/huge.txt"
echo >>"$T/huge.txt"
for i in $(seq 26); do tr '\n' ' ' <"$T/books.txt"; done | head -c 20000000 >>"$T/huge.txt"
echo >>"$T/huge.txt"
run encode -m "$MA" -j 2 --format ids "$T/huge.txt"
is "$rc $(cat "$T/err")" \
	"1 tokenize: $T/huge.txt:2: line of 20000000 bytes is longer than the maximum 1048576 (--max-line)" \
	"a 20 MB line: exit 1 at FILE:LINE, over the default maximum of 1 MiB"
if [ $san = 0 ]; then
	limited 400000 "$TK" encode -m "$MA" -j 2 -o "$T/huge.tok" "$T/huge.txt"
	is "$rc $(cat "$T/err")" \
		"1 tokenize: $T/huge.txt:2: line of 20000000 bytes is longer than the maximum 1048576 (--max-line)" \
		"... the same in 400 MB of address space: the line is read through, never held"
	limited 400000 "$TK" encode -m "$MA" -j 2 --max-line 32M -o "$T/huge.tok" "$T/huge.txt"
	ok "$( [ $rc -eq 1 ] && grep -qx "tokenize: $T/huge.txt:2: out of memory.*" "$T/err" &&
	       ! grep -qF "$MA" "$T/err" && [ -z "$(ls "$T" | grep '^huge\.tok')" ]; echo $?)" \
		"--max-line 32M in 400 MB: out of memory is exit 1 at FILE:LINE, not the model's"
else
	skip "ulimit -v under AddressSanitizer: memory bound of a 20 MB line not checked"
	skip "ulimit -v under AddressSanitizer: out of memory at FILE:LINE not checked"
fi

# training skips lines over --max-sentence-length as it reads them: a line
# of 300 MB (zstd, 10 KB) in the middle, in 400 MB of address space
head -n 300 "$T/train.txt" >"$T/t1.txt"
tail -n +301 "$T/train.txt" >"$T/t2.txt"
bigmb=300
[ $san = 1 ] && bigmb=2
head -c $((bigmb * 1000000)) /dev/zero | tr '\0' 'a' | zstd -1 -q -c >"$T/big.zst"
limited 400000 "$TK" train -v -o "$T/u3" --vocab-size 600 "$T/t1.txt" "$T/big.zst" "$T/t2.txt"
nlong=$(( $(awk 'length($0) > 4192' "$T/train.txt" | wc -l) + 1 ))
ok "$( [ $rc -eq 0 ] && cmp -s "$T/u3.model" "$T/u1.model" &&
       grep -qx "tokenize: $nlong lines longer than 4192 bytes skipped (--max-sentence-length)" "$T/err"; echo $?)" \
	"train: a line of $bigmb MB$( [ $san = 0 ] && echo ' in 400 MB of address space'): skipped while read, $nlong long lines counted, the same model as without it"
run train -o "$T/u4" --vocab-size 600 --max-sentence-length 100000000 "$T/train.txt"
ok "$( [ $rc -eq 0 ] && ! cmp -s "$T/u4.model" "$T/u1.model" && [ ! -s "$T/err" ]; echo $?)" \
	"train --max-sentence-length 100000000: the long line is trained on (another model), quietly"

# ---- sanitizers (make check SAN=1) ---------------------------------------------------

ok "$(! cat "$T"/err.* | grep -q -e 'runtime error' -e 'AddressSanitizer' -e 'LeakSanitizer'; echo $?)" "no sanitizer reports"
done_testing
