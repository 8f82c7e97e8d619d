#!/bin/bash
# shard(1), nys-shard(5): sequences cut exactly as the original Python
# pipeline cut them (python3 recomputes them, --keep and the dev/train split
# included), the file format checked byte by byte from its spec, damage
# named with file and offset, and directories of several datasets.
. "$(dirname "$0")/lib.sh"
export LC_ALL=C
S=$BIN/shard
TOP=${NYS_TOP:-$(dirname "$0")/..}
MKTOK=${NYS_TESTBIN:-}/mktok

if [ ! -x "$S" ] || [ ! -x "$MKTOK" ]; then
	echo "1..0 # SKIP $S or \$NYS_TESTBIN/mktok not built"
	exit 0
fi
# shard-N takes N from its name: links in the scratch directory
for n in 5 6 16; do ln -s "$S" "$T/shard-$n"; done

# run PROG ARGS...: stdout in $T/out, stderr in $T/err, status in $rc
run() {
	"$@" > "$T/out" 2> "$T/err"
	rc=$?
	if grep -q 'Sanitizer\|runtime error' "$T/err"; then
		sed 's/^/# /' "$T/err"
		rc=99
	fi
}
# Files in DIR, hidden ones too, one a line (sorted).
listing() { (cd "$1" && find . | sort); }

# ids text for mktok: N documents of random lengths 0..maxlen, ids < vocab
gen_ids() { # SEED DOCS MAXLEN VOCAB
	python3 -c '
import random, sys
r = random.Random(int(sys.argv[1]))
for _ in range(int(sys.argv[2])):
    n = r.randint(0, int(sys.argv[3]))
    print(" ".join(str(r.randrange(int(sys.argv[4]))) for _ in range(n)))
' "$@"
}

# The original cutting, in Python: the ids of all files in one flat list
# without separators, blocks of N-2 cut as each file ends (the rest carried
# to the next file), one random.random() a block after random.seed(SEED).
cat > "$T/cut.py" <<'PY'
import random, sys
n, p, seed, cls, sep = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
block = n - 2
random.seed(seed)
buf = []
for f in sys.argv[6:]:
    for line in open(f):
        buf.extend(int(x) for x in line.split())
    k = len(buf) // block
    for i in range(k):
        if random.random() < p:
            print(" ".join(map(str, [cls] + buf[i * block:(i + 1) * block] + [sep])))
    buf = buf[k * block:]
PY

# The lists as the original wrote them, for the shards now in DIR.
cat > "$T/lists.py" <<'PY'
import json, os, random, sys
d, seed, frac = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
files = sorted(f for f in os.listdir(d) if f.endswith(".shard") and not f.startswith("."))
random.seed(seed)
random.shuffle(files)
split = int(len(files) * frac)
with open(sys.argv[4], "w") as f:
    json.dump(files[:split], f, indent=4)
with open(sys.argv[5], "w") as f:
    json.dump(files[split:], f, indent=4)
PY

# An independent reader of the format of nys-shard(5), hash and all.
cat > "$T/parse.py" <<'PY'
import struct, sys
M = (1 << 64) - 1
P1, P2, P3 = 0x9E3779B185EBCA87, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9
def rotl(x, r): return ((x << r) | (x >> (64 - r))) & M
def nys_hash64(b, seed=0):
    h = seed ^ P3
    n = len(b)
    full = n - n % 8
    for (w,) in struct.iter_unpack("<Q", b[:full]):
        w = rotl(w * P2 & M, 31) * P1 & M
        h = (rotl(h ^ w, 27) * P1 + P3) & M
    w = int.from_bytes(b[full:] + bytes(8 - n % 8), "little")
    w = rotl(w * P2 & M, 31) * P1 & M
    h = (rotl(h ^ w, 27) * P1 + P3) & M
    h ^= n
    h ^= h >> 33; h = h * P2 & M; h ^= h >> 29; h = h * P3 & M; h ^= h >> 32
    return h
raw = open(sys.argv[1], "rb").read()
assert raw[:8] == b"NYSSHARD", "magic"
ver, n, count, width, vocab, cls, sep, flags, fp = struct.unpack("<8IQ", raw[8:48])
assert raw[48:64] == bytes(16), "padding"
assert ver == 1 and flags == 0, "version, flags"
assert len(raw) == 64 + count * n * width + 8, "size"
assert struct.unpack("<Q", raw[-8:])[0] == nys_hash64(raw[:-8]), "checksum"
fmt = "<%d%s" % (n, "H" if width == 2 else "I")
print("n=%d count=%d width=%d vocab=%d cls=%d sep=%d fp=%016x" % (n, count, width, vocab, cls, sep, fp))
for i in range(count):
    seq = struct.unpack_from(fmt, raw, 64 + i * n * width)
    assert seq[0] == cls and seq[-1] == sep and max(seq) < vocab
    print(" ".join(map(str, seq)))
PY

# ---- the command line -------------------------------------------------------

run "$S" --help
is "$rc" 0 "--help exits 0"
grep -q '^usage: shard-N' "$T/out" && [ ! -s "$T/err" ]; ok $? "--help goes to stdout"
"$S" --version | grep -q '^shard (nys) '; ok $? "--version"
check_man_options shard "$TOP/man/man1/shard.1"
missing=
for sub in cat info verify; do
	"$S" "$sub" --help > "$T/h.$sub"; is $? 0 "shard $sub --help exits 0"
	for opt in $(grep -oE -- '--[a-z][a-z0-9-]*' "$T/h.$sub" | sort -u); do
		grep -qF -- "$opt" "$TOP/man/man1/shard.1" ||
			grep -qF -- "${opt//-/\\-}" "$TOP/man/man1/shard.1" || missing="$missing $opt"
	done
done
is "$missing" "" "every option of the subcommands' --help is in shard.1"
grep -q 'preprocess \\-f wiki | tokenize encode \\-m wiki.model | shard\\-512 \\-o shards \\-\\-name wiki' \
	"$TOP/man/man1/shard.1"; ok $? "shard.1 shows the pipeline example"
[ -f "$TOP/man/man5/nys-shard.5" ]; ok $? "nys-shard(5) exists"

printf '5 6 7 8 9\n10 11\n\n12 13 14 15 16 17 18\n' > "$T/small.ids"
"$MKTOK" -v 100 -o "$T/small.tok" "$T/small.ids"; ok $? "mktok writes a stream"

run "$S" -o "$T/u" "$T/small.tok"
is "$rc" 2 "plain shard without -n is a usage error"
grep -q 'shard-N' "$T/err"; ok $? "... and says how to give N"
[ ! -e "$T/u" ]; ok $? "... and writes nothing"
for bad in "--keep 1.5" "--keep -0.1" "--keep abc" "--keep 0.5x" "--keep nan" "--keep ''" \
	"--dev-fraction 2" "-k 0" "-n 2" "--name ../x" "--name .x" "--seed -1" "--level 0" \
	"--cls 4294967295" "--bogus"; do
	eval "run \"$T/shard-5\" $bad -o \"$T/u\" \"$T/small.tok\""
	is "$rc" 2 "usage error: $bad"
done
grep -q '^usage:' "$T/err"; ok $? "a usage error prints the usage on stderr"
run "$T/shard-5" -o '' "$T/small.tok"
is "$rc" 2 "usage error: -o ''"
run "$T/shard-5" -o "$T/u" --name "$(printf 'bad\377')" "$T/small.tok"
is "$rc" 2 "usage error: a --name that is not UTF-8"
# one rule for names, shared with preprocess(1): the same message
namerule="is not a valid name (1 to 64 of A-Z a-z 0-9 . _ + -, not starting with '.' or '-')"
for bad in "$(printf 'a\nb')" "$(printf 'a\tb')" .hidden a/b "" -x; do
	case $bad in
	*$'\n'*) shown_as='a\x0ab' ;;
	*$'\t'*) shown_as='a\x09b' ;;
	*) shown_as=$bad ;;
	esac
	run "$T/shard-5" -o "$T/u" --name "$bad" "$T/small.tok"
	is "$rc $(head -1 "$T/err")" "2 shard-5: --name: '$shown_as' $namerule" "--name $(printf '%q' "$bad"): exit 2, the names message"
done
[ ! -e "$T/u" ]; ok $? "... and nothing is written"
run "$S" info
is "$rc" 2 "shard info without operands is a usage error"
run "$S" cat -n 0 "$T/small.tok"
is "$rc" 2 "shard cat -n 0 is a usage error"

# ---- cutting ------------------------------------------------------------------

run "$T/shard-5" -q -o "$T/a" --name t -k 2 "$T/small.tok"
is "$rc" 0 "shard-5 on a small stream"
is "$(cd "$T/a" && echo *)" "dev.json t-00000.shard t-00001.shard train.json" "NAME-NNNNN.shard and the lists"
run "$S" cat "$T/a/t-00000.shard" "$T/a/t-00001.shard"
is "$(cat "$T/out")" "2 5 6 7 3
2 8 9 10 3
2 11 12 13 3
2 14 15 16 3" "documents joined without separators, blocks of N-2, [CLS] 2 ... [SEP] 3, the rest dropped"
run "$S" -n 5 -q -o "$T/a2" --name t -k 2 "$T/small.tok"
cmp -s "$T/a/t-00000.shard" "$T/a2/t-00000.shard"; ok $? "-n 5 is shard-5 (same bytes)"
python3 "$T/parse.py" <(zstd -dc "$T/a/t-00000.shard") > "$T/parsed" 2> "$T/perr"
ok $? "the shard is a zstd frame of the nys-shard(5) layout, checksum recomputed in Python"
sed 's/^/# /' "$T/perr"
is "$(head -1 "$T/parsed")" "n=5 count=2 width=2 vocab=100 cls=2 sep=3 fp=0123456789abcdef" \
	"header fields: N, count, width, vocabulary, [CLS], [SEP], fingerprint"
run "$S" cat -n 3 "$T/a/t-00000.shard" "$T/a/t-00001.shard"
is "$(wc -l < "$T/out")" 3 "cat -n 3 stops after 3 sequences"
run "$S" info "$T/a/t-00000.shard"
is "$(cat "$T/out")" "$T/a/t-00000.shard: 2 sequences, 5 tokens a sequence, width 2, vocabulary 100, [CLS] 2, [SEP] 3, fingerprint 0123456789abcdef" "info FILE: the header on one line"
zstd -qdc "$T/a/t-00001.shard" | "$S" cat > "$T/out"
is "$(cat "$T/out")" "2 11 12 13 3
2 14 15 16 3" "cat reads decompressed shards from stdin too"

# stdin, --cls/--sep, a leftover across files
"$S" -n 6 -q -o "$T/b" --cls 0 --sep 1 < "$T/small.tok"; ok $? "stdin input, --cls 0 --sep 1"
is "$("$S" cat "$T/b/data-00000.shard" | head -1)" "0 5 6 7 8 1" "--cls and --sep ids frame the block; default name data"
gen_ids 11 40 30 1000 > "$T/f1.ids"
gen_ids 12 1 3 1000 > "$T/f2.ids"
gen_ids 13 25 50 1000 > "$T/f3.ids"
for i in 1 2 3; do "$MKTOK" -v 1000 -o "$T/f$i.tok" "$T/f$i.ids"; done
run "$T/shard-16" -q -o "$T/c" -k 7 "$T/f1.tok" "$T/f2.tok" "$T/f3.tok"
is "$rc" 0 "three streams, N = 16, K = 7"
"$S" cat "$T"/c/data-*.shard > "$T/got"
python3 "$T/cut.py" 16 1 0 2 3 "$T/f1.ids" "$T/f2.ids" "$T/f3.ids" > "$T/want"
cmp -s "$T/got" "$T/want"; ok $? "the sequences equal the original's cutting (python3), leftovers carried across files"
want_shards=$(( ($(wc -l < "$T/want") + 6) / 7 ))
is "$(ls "$T/c" | grep -c '\.shard$')" "$want_shards" "ceil(sequences / K) shards, the last partial"
for f in "$T"/c/data-*.shard; do "$S" info "$f"; done | sed 's/.*: \([0-9]*\) seq.*/\1/' | sort -u | tr '\n' ' ' > "$T/counts"
case "$(cat "$T/counts")" in "7 "*|*" 7 ") ok 0 "every shard but the last holds K sequences";; *) ok 1 "shard counts: $(cat "$T/counts")";; esac

# --keep P --seed S: one random.random() a block, as the original
for args in "0.33 0" "0.33 7" "0.5 123456789012" "0 1" "1 5"; do
	set -- $args
	run "$T/shard-16" -q -o "$T/k$1-$2" --keep "$1" --seed "$2" "$T/f1.tok" "$T/f2.tok" "$T/f3.tok"
	cat "$T/k$1-$2"/*.shard 2>/dev/null | "$S" cat > "$T/got" 2>/dev/null
	python3 "$T/cut.py" 16 "$1" "$2" 2 3 "$T/f1.ids" "$T/f2.ids" "$T/f3.ids" > "$T/want"
	cmp -s "$T/got" "$T/want"; ok $? "--keep $1 --seed $2: the blocks python3's random keeps ($(wc -l < "$T/want") of them)"
done
run "$T/shard-16" -o "$T/kr" --keep 0.33 --seed 7 "$T/f1.tok" "$T/f2.tok" "$T/f3.tok"
blocks=$(python3 "$T/cut.py" 16 1 0 2 3 "$T/f1.ids" "$T/f2.ids" "$T/f3.ids" | wc -l)
kept=$(python3 -c "
import random
random.seed(7)
print(sum(random.random() < 0.33 for _ in range($blocks)))")
grep -q "$blocks blocks of 14, $kept kept" "$T/err"; ok $? "the report counts blocks and kept ($blocks, $kept)"

# width 4
printf '70000 1 69999 2 3\n65536 65535\n' > "$T/w4.ids"
"$MKTOK" -v 70001 -o "$T/w4.tok" "$T/w4.ids"
run "$T/shard-5" -q -o "$T/w4" "$T/w4.tok"
is "$("$S" cat "$T/w4/data-00000.shard" | tr '\n' ,)" "2 70000 1 69999 3,2 2 3 65536 3," "vocabulary over 65536: width 4 ids"
python3 "$T/parse.py" <(zstd -dc "$T/w4/data-00000.shard") > "$T/parsed"
head -1 "$T/parsed" | grep -q 'width=4 vocab=70001'; ok $? "... and the header says width 4"

# an empty stream
: | "$MKTOK" -o "$T/empty.tok"
run "$T/shard-5" -q -o "$T/e" "$T/empty.tok"
is "$rc" 0 "an empty stream is no error"
is "$(cat "$T/e/train.json")" "[]" "... no shards, empty lists"

# ---- default shard sizes ---------------------------------------------------------

"$MKTOK" -r $((8193 * 510 + 100)) -s 3 -o "$T/big.tok"
run "$BIN/shard-512" -q -o "$T/d512" "$T/big.tok"
is "$rc" 0 "shard-512 on 8193 blocks"
is "$("$S" info "$T/d512/data-00000.shard" "$T/d512/data-00001.shard" | sed 's/.*: \([0-9]*\) seq.*/\1/' | tr '\n' ' ')" \
	"8192 1 " "shard-512: 8192 sequences a shard by default, the partial last one written"
run "$BIN/shard-4096" -q -o "$T/d4096" "$T/big.tok"
is "$(ls "$T/d4096" | grep -c shard)" 1 "shard-4096: one shard of ..."
is "$("$S" info "$T/d4096/data-00000.shard" | sed 's/.*: \([0-9]*\) seq.*/\1/')" 1020 "... 1020 sequences (under the default 1024)"
run "$S" verify "$T/d512"
is "$rc" 0 "shard verify DIR"
is "$(tail -1 "$T/out")" "$T/d512: ok, 2 shards, 8193 sequences, train.json 2, dev.json 0" "verify DIR: a summary line"

# ---- directories: several datasets, the lists --------------------------------------

D=$T/multi
"$T/shard-16" -q -o "$D" --name wiki -k 3 "$T/f1.tok" "$T/f2.tok"; ok $? "--name wiki into DIR"
"$T/shard-16" -q -o "$D" --name books -k 2 "$T/f3.tok"; ok $? "--name books into the same DIR"
nshards=$(ls "$D" | grep -c '\.shard$')
python3 "$T/lists.py" "$D" 1 0.1 "$T/dev.want" "$T/train.want"
cmp -s "$D/dev.json" "$T/dev.want" && cmp -s "$D/train.json" "$T/train.want"
ok $? "train.json and dev.json are byte for byte what python3's seeded shuffle and json.dump make ($nshards shards)"
"$T/shard-16" -q -o "$D" --name books -k 2 --split-seed 5 --dev-fraction 0.25 "$T/f3.tok"
python3 "$T/lists.py" "$D" 5 0.25 "$T/dev.want" "$T/train.want"
cmp -s "$D/dev.json" "$T/dev.want" && cmp -s "$D/train.json" "$T/train.want"
ok $? "--split-seed 5 --dev-fraction 0.25 as python3"
run "$S" info "$D"
grep -q "^$D: $nshards shards, " "$T/out" && grep -q '^  wiki: ' "$T/out" && grep -q '^  books: ' "$T/out" &&
	grep -q 'every shard listed once' "$T/out"
ok $? "info DIR: shards, datasets, lists"
before=$(ls "$D" | grep -c '^wiki-')
"$T/shard-16" -q -o "$D" --name wiki -k 100 "$T/f1.tok"; ok $? "wiki again, into fewer shards"
is "$(ls "$D" | grep '^wiki-' | tr '\n' ' ')" "wiki-00000.shard " "the old wiki shards beyond the new ones are removed (were $before)"
is "$(ls "$D" | grep -c '^books-')" "$(grep -c books "$T/train.want" "$T/dev.want" | awk -F: '{ s += $2 } END { print s }')" "the books shards stay"
python3 "$T/lists.py" "$D" 1 0.1 "$T/dev.want" "$T/train.want"
cmp -s "$D/dev.json" "$T/dev.want" && cmp -s "$D/train.json" "$T/train.want"; ok $? "the lists cover all shards in DIR again"
run "$S" verify "$D"
is "$rc" 0 "verify DIR after the datasets"
grep -q "^$D: ok, " "$T/out"; ok $? "... says ok"

# a failed run leaves DIR as it was
listing "$D" > "$T/before"
cp "$D/wiki-00000.shard" "$T/wiki0.keep"
head -c $(( $(wc -c < "$T/f3.tok") / 2 )) "$T/f3.tok" > "$T/cut.tok"
run "$T/shard-16" -q -o "$D" --name wiki -k 1 "$T/f1.tok" "$T/cut.tok"
is "$rc" 1 "a truncated input stream: exit 1"
grep -q "cut.tok" "$T/err"; ok $? "... the error names the stream ($(head -c 200 "$T/err"))"
listing "$D" > "$T/after"
cmp -s "$T/before" "$T/after" && cmp -s "$D/wiki-00000.shard" "$T/wiki0.keep"
ok $? "... and DIR is exactly as before (no new shards, no temporary files)"
"$MKTOK" -v 1000 -f 77 -o "$T/other.tok" "$T/f2.ids"
run "$T/shard-16" -q -o "$T/o/sub" "$T/f1.tok" "$T/other.tok"
is "$rc" 1 "FILEs of two models: exit 1"
grep -q 'other.tok: a stream of another model' "$T/err"; ok $? "... named"
[ ! -e "$T/o" ]; ok $? "... no shards written, and the directories it made are removed again"
run "$T/shard-6" -q -o "$D" --name x "$T/f1.tok"
is "$rc" 1 "another sequence length into a DIR of shard-16 shards: exit 1"
grep -q 'another kind' "$T/err"; ok $? "... refused with a reason"
run "$T/shard-16" -q -o "$T/v" --sep 1000 "$T/f1.tok"
is "$rc" 1 "--sep outside the vocabulary: exit 1"

# staging directories of runs that died are removed; a live run's are not
mkdir -p "$D/.wiki.tmp.AbC123" "$D/.books.tmp.AbC123" "$D/.wiki.tmp.HeLd00"
cp "$T/wiki0.keep" "$D/.wiki.tmp.AbC123/wiki-00000.shard"
exec 4< "$D/.wiki.tmp.HeLd00" # this shell holds it, as a live run would
flock -x 4
run "$T/shard-16" -q -o "$D" --name wiki -k 100 "$T/f1.tok"
is "$rc" 0 "a run over a dead run's staging directory: exit 0"
[ ! -e "$D/.wiki.tmp.AbC123" ]; ok $? "... which it removes (25 MB each in real runs)"
[ -d "$D/.books.tmp.AbC123" ] && [ -d "$D/.wiki.tmp.HeLd00" ]; ok $? "... but not another NAME's, nor one a live run holds locked"
exec 4<&-
rmdir "$D/.books.tmp.AbC123" "$D/.wiki.tmp.HeLd00"

# SIGINT in a run: no staging directory left
mkfifo "$T/slow"
"$T/shard-16" -q -o "$D" --name wiki -k 1 < "$T/slow" 2> "$T/err" &
pid=$!
exec 3> "$T/slow"
cat "$T/f1.tok" >&3
for i in $(seq 200); do ls -A "$D" | grep -q '^\.wiki\.tmp\.' && break; sleep 0.1; done
ls -A "$D" | grep -q '^\.wiki\.tmp\.'; ok $? "a run stages its shards in DIR/.NAME.tmp.XXXXXX"
kill -INT "$pid"
wait "$pid"; st=$?
exec 3>&-
[ "$st" -ne 0 ]; ok $? "SIGINT: non-zero exit ($st)"
listing "$D" > "$T/after"
cmp -s "$T/before" "$T/after"; ok $? "SIGINT: DIR is exactly as before, no staging directory left"

# verify DIR notices lists out of date
cp -r "$D" "$T/m2"
rm "$T/m2/wiki-00000.shard"
run "$S" verify "$T/m2"
is "$rc" 1 "verify DIR: a listed shard is missing"
grep -q 'wiki-00000.shard, which is not a shard' "$T/err"; ok $? "... named"
cp "$T/wiki0.keep" "$T/m2/extra-00000.shard"
cp "$T/wiki0.keep" "$T/m2/wiki-00000.shard"
run "$S" verify "$T/m2"
grep -q 'extra-00000.shard is in neither' "$T/err"; ok $? "verify DIR: an unlisted shard"

# ---- damage ------------------------------------------------------------------------

F=$T/c/data-00000.shard
zstd -qdc "$F" > "$T/plain.shard"
size=$(wc -c < "$T/plain.shard")
run "$S" verify "$T/plain.shard"
is "$rc" 0 "an uncompressed shard verifies too"
head -c 100 "$T/plain.shard" > "$T/short.shard"
run "$S" verify "$T/short.shard"
is "$rc" 1 "truncated shard: exit 1"
grep -q "short.shard: truncated at byte 100 " "$T/err"; ok $? "... 'FILE: truncated at byte 100' ($(cat "$T/err"))"
head -c 40 "$T/plain.shard" > "$T/short2.shard"
run "$S" cat "$T/short2.shard"
grep -q "short2.shard: truncated at byte 40 (in the header)" "$T/err"; ok $? "truncated in the header"
head -c $((size - 3)) "$T/plain.shard" > "$T/short3.shard"
run "$S" verify "$T/short3.shard"
grep -q "truncated at byte $((size - 3)) (in the checksum)" "$T/err"; ok $? "truncated in the checksum"
{ cat "$T/plain.shard"; printf x; } > "$T/long.shard"
run "$S" verify "$T/long.shard"
grep -q "long.shard: byte $size: data after the checksum" "$T/err"; ok $? "trailing data: named with its offset"
python3 - "$T/plain.shard" "$T/flip.shard" <<'PY'
import sys
b = bytearray(open(sys.argv[1], "rb").read())
b[66] ^= 0x01   # the low byte of the first block id: still in the vocabulary
open(sys.argv[2], "wb").write(b)
PY
run "$S" verify "$T/flip.shard"
grep -q "flip.shard: checksum mismatch at byte $((size - 8))" "$T/err"; ok $? "a flipped bit: checksum mismatch with the offset"
python3 - "$T/plain.shard" "$T/count.shard" <<'PY'
import sys
b = bytearray(open(sys.argv[1], "rb").read())
b[16] += 1      # one sequence more than there is
open(sys.argv[2], "wb").write(b)
PY
run "$S" verify "$T/count.shard"
grep -q "count.shard: truncated at byte $size (in sequence 8 of 8)" "$T/err"; ok $? "count too high: truncated, never short"
{ printf 'NOTSHARD'; tail -c +9 "$T/plain.shard"; } > "$T/magic.shard"
run "$S" info "$T/magic.shard"
grep -q "magic.shard: byte 0: not a shard" "$T/err"; ok $? "bad magic"
head -c $(( $(wc -c < "$F") - 5 )) "$F" > "$T/cutz.shard"
run "$S" verify "$T/cutz.shard"
is "$rc" 1 "a cut zstd file: exit 1"
grep -q "cutz.shard: .*byte" "$T/err"; ok $? "... named with an offset ($(cat "$T/err"))"
run "$S" verify "$T/a/t-00001.shard" "$T/flip.shard" "$T/a/t-00000.shard"
is "$rc" 1 "verify stops at the first bad shard"
is "$(cat "$T/out")" "$T/a/t-00001.shard: ok, 2 sequences" "... after the ok lines before it"

# ---- no temporary files; the real tokenizer when there is one ---------------------------

is "$(find "$T" -name '*.tmp.*' | wc -l)" 0 "no temporary files or directories left"

MODEL=${SHARED:+$SHARED/spm/albert-layout-30k-de.model}
if [ -x "$BIN/tokenize" ] && [ -x "$BIN/preprocess" ] && [ -n "$MODEL" ] && [ -f "$MODEL" ]; then
	"$BIN/preprocess" -q -f text "$SHARED/books/alice29.txt" |
		"$BIN/tokenize" encode -m "$MODEL" | "$BIN/shard-512" -q -o "$T/p" --name alice
	ok $? "preprocess | tokenize encode | shard-512"
	run "$S" verify "$T/p"
	is "$rc" 0 "... verifies"
else
	skip "no tokenize, preprocess or shared model"
	skip "no tokenize, preprocess or shared model"
fi

done_testing
