#!/bin/bash
# bzip2 input through nys_in, decoded block by block on threads: the bytes
# of bzcat exactly, on multistream, multi-block, concatenated and
# magic-in-the-data files at -j 1, 2 and 4, from files and pipes; truncated
# and corrupt files are errors naming the file and the byte of the bad block
# or stream, after exactly the blocks before it (bzip2recover, from the
# bzip2 package, says where the blocks are and what each holds).
. "$(dirname "$0")/lib.sh"
CAT=${NYS_TESTBIN:?}/incat
for t in bzip2 bzcat bzip2recover python3; do
	if ! command -v $t > /dev/null; then
		echo "1..0 # SKIP $t is not installed (make deps)"
		exit 0
	fi
done

# icat ARGS...: incat, its stderr in $T/err and kept in $T/allerr
icat() {
	"$CAT" "$@" 2> "$T/err"
	local st=$?
	cat "$T/err" >> "$T/allerr"
	return $st
}

# same A B WHAT: the files are byte for byte equal
same() {
	cmp -s "$1" "$2"
	ok $? "$3"
}

# Text like a dump's: words of a Zipf-like vocabulary in lines, markup,
# runs of spaces and '=' (bzip2's run-length stage); deterministic.
cat > "$T/gen.py" <<'PY'
import itertools, random, sys
n, seed = int(sys.argv[1]), int(sys.argv[2])
r = random.Random(seed)
vocab = ["".join(r.choice("etaoinshrdlucmfwypvbgkjqxz") for _ in range(r.randint(1, 10)))
         for _ in range(20000)]
cum = list(itertools.accumulate(1 / (i + 1) for i in range(len(vocab))))
out, size = [], 0
while size < n:
    k = r.random()
    if k < 0.05:
        line = "== " + " ".join(r.choices(vocab, cum_weights=cum, k=3)) + " =="
    elif k < 0.08:
        line = " " * r.randint(1, 12) + "<text xml:space=\"preserve\">" + "=" * r.randint(0, 40)
    elif k < 0.1:
        line = ""
    else:
        line = " ".join(r.choices(vocab, cum_weights=cum, k=r.randint(3, 30))) + "."
    out.append(line)
    size += len(line) + 1
sys.stdout.write("\n".join(out) + "\n")
PY

# Text whose bytes below 0x30 are exactly those that spell the 48-bit
# pattern (hex, argv 1) in a bzip2 block's symbol map: each block's header
# lists, after the map of which 16-byte ranges occur, one bit per byte of
# each range that occurs, ranges 0x00-0x0F, 0x10-0x1F and 0x20-0x2F
# first.  So every block of it holds the pattern 121 bits after its magic,
# where no block starts.  A second pattern (argv 1 "P1,P2") takes the
# bytes 0x30-0x5F, and comes 48 bits later.  Letters never repeat (a run of
# 4 would bring in bzip2's run-length bytes, which are small).
cat > "$T/genmagic.py" <<'PY'
import random, sys
pats, n = [int(p, 16) for p in sys.argv[1].split(",")], int(sys.argv[2])
groups = [g for p in pats for g in (p >> 32 & 0xFFFF, p >> 16 & 0xFFFF, p & 0xFFFF)]
ctl = [16 * g + j for g, v in enumerate(groups) for j in range(16) if v >> (15 - j) & 1]
r = random.Random(11)
letters = b"abcdefghijklmnopqrstuvwxyz"
out = bytearray()
while len(out) < n:
    for _ in range(r.randint(2, 9)):
        out.append(r.choice([c for c in letters if not out or c != out[-1]]))
    out.append(ctl[len(out) % len(ctl)])
sys.stdout.buffer.write(bytes(out[:n]))
PY

# Bit offsets of a 48-bit pattern (hex) anywhere in a file.
cat > "$T/find.py" <<'PY'
import sys
pat = bin(int(sys.argv[1], 16))[2:].zfill(48)
c = open(sys.argv[2], "rb").read()
bits = bin(int.from_bytes(b"\x01" + c, "big"))[3:]
i = bits.find(pat)
while i >= 0:
    print(i)
    i = bits.find(pat, i + 1)
PY

# Split a file into pieces of N lines, each its own bzip2 stream, as
# Wikimedia's multistream dumps hold 100 pages a stream.  The pieces stay
# as piece.NNNNN (for expected outputs); stream sizes go to sizes.
multistream() { # IN N OUT
	local d=$T/ms.$(basename "$3")
	mkdir -p "$d"
	split -l "$2" -a 5 -d "$1" "$d/piece."
	for p in "$d"/piece.*; do bzip2 -9 -c "$p" > "$p.bz2" && wc -c < "$p.bz2"; done > "$d/sizes"
	cat "$d"/piece.*.bz2 > "$3"
}

# Where the blocks of a (sound) file are, from bzip2recover: block K's
# magic at bit $T/rec.NAME/start.K, its bytes in $T/rec.NAME/data.K.
recover() { # FILE NAME
	local d=$T/rec.$2
	mkdir -p "$d"
	cp "$1" "$d/f.bz2"
	(cd "$d" && bzip2recover f.bz2 > log 2>&1) || return 1
	# "block 3 runs from 1954538 to 3899676": bits after the magic
	sed -n 's/^ *block \([0-9]*\) runs from \([0-9]*\) to.*/\1 \2/p' "$d/log" |
		while read -r k s; do echo $((s - 48)) > "$d/start.$k"; done
	for f in "$d"/rec*f.bz2; do
		k=$(basename "$f" | sed 's/^rec0*\([0-9]*\)f.bz2/\1/')
		bzcat "$f" > "$d/data.$k"
	done
}
blocks_before() { # NAME K: the bytes of blocks 1 .. K-1
	local k
	for k in $(seq 1 $(($2 - 1))); do cat "$T/rec.$1/data.$k"; done
}
byte_of() { echo $(($(cat "$T/rec.$1/start.$2") / 8)); }

python3 "$T/gen.py" 3200000 1 > "$T/text"
head -c 1500000 "$T/text" > "$T/small"

# --- sound files: the bytes of bzcat at every -j ---
bzip2 -9 -c "$T/text" > "$T/s9.bz2"
bzip2 -1 -c "$T/text" > "$T/s1.bz2"
recover "$T/s9.bz2" s9 && recover "$T/s1.bz2" s1
n9=$(ls "$T"/rec.s9/start.* | wc -l); n1=$(ls "$T"/rec.s1/start.* | wc -l)
[ "$n9" -ge 4 ] && [ "$n1" -ge 25 ]; ok $? "bzip2 -9 of 3.2 MB makes $n9 blocks, bzip2 -1 $n1 (one stream each)"
multistream "$T/text" 100 "$T/ms.bz2"
ns=$(wc -l < "$T/ms.ms.bz2/sizes")
[ "$ns" -ge 100 ]; ok $? "multistream file: $ns streams of 100 lines"
# concatenated streams of several blocks and levels, and an empty stream
head -c 1000000 "$T/text" > "$T/p1"; tail -c +1000001 "$T/text" | head -c 2000000 > "$T/p2"
tail -c +3000001 "$T/text" > "$T/p3"
{ bzip2 -1 -c "$T/p1"; bzip2 -c < /dev/null; bzip2 -9 -c "$T/p2"; bzip2 -4 -c "$T/p3"; } > "$T/cat.bz2"
bzcat "$T/cat.bz2" > "$T/cat.want"
same "$T/cat.want" "$T/text" "the concatenation is the text again (bzcat)"
for f in s9 s1 ms cat; do
	bzcat "$T/$f.bz2" > "$T/$f.want"
	for j in 1 2 4; do
		icat -j $j "$T/$f.bz2" > "$T/out"
		ok $? "$f.bz2 -j $j: exits 0"
		same "$T/out" "$T/$f.want" "$f.bz2 -j $j: the bytes of bzcat"
	done
done
cat "$T/ms.bz2" | icat -j 4 - > "$T/out"; same "$T/out" "$T/text" "multistream from a pipe, -j 4"
cat "$T/s1.bz2" | icat -j 2 > "$T/out"; same "$T/out" "$T/text" "bzip2 -1 from stdin, -j 2"
cat "$T/cat.bz2" "$T/s9.bz2" "$T/ms.bz2" > "$T/all.bz2"; cat "$T/text" "$T/text" "$T/text" > "$T/all.want"
icat -j 3 "$T/all.bz2" > "$T/out"; same "$T/out" "$T/all.want" "multi-block and multistream files concatenated, -j 3"
bzip2 -c < /dev/null > "$T/empty.bz2"
icat "$T/empty.bz2" > "$T/out"; ok $(($? + $(wc -c < "$T/out"))) "an empty stream: nothing, exit 0"
printf 'x' | bzip2 -c > "$T/one.bz2"
[ "$(icat -j 4 "$T/one.bz2")" = x ]; ok $? "a one-byte stream"
if command -v lbzip2 > /dev/null; then
	lbzip2 -9 -n 2 -c "$T/text" > "$T/lb.bz2"
	icat -j 2 "$T/lb.bz2" > "$T/out"; same "$T/out" "$T/text" "compressed by lbzip2, -j 2"
	lbzip2 -d -n 2 -c "$T/ms.bz2" > "$T/out"; same "$T/out" "$T/text" "lbzip2 -d agrees on the multistream file"
else
	skip "lbzip2 is not installed (make deps): its files not tried"
	skip "lbzip2 is not installed (make deps)"
fi

# Threads start only once there is a second block; memory stays that of
# the blocks in flight, however long the input.
threads() { "$CAT" -m "$@" 2>&1 > /dev/null | sed -n 's/.*threads \([0-9]*\),.*/\1/p'; }
base=$(threads "$T/small")   # a plain file: the process's own (1, 2 under ASan)
is "$(threads -j 4 "$T/one.bz2")" "$base" "one block at -j 4: no threads started"
is "$(threads -j 4 "$T/s9.bz2")" $((base + 4)) "$n9 blocks at -j 4: 4 decoding threads"
is "$(threads -j 1 "$T/s9.bz2")" "$base" "$n9 blocks at -j 1: none"
if [ -n "${ASAN_OPTIONS:-}" ]; then
	skip "peak memory under the sanitizers is theirs"
else
	for _ in $(seq 14); do cat "$T/s9.bz2"; done > "$T/long.bz2"
	peak=$(cat "$T/long.bz2" | "$CAT" -m -j 2 2>&1 > /dev/null | sed -n 's/.*peak \([0-9]*\) KB/\1/p')
	[ -n "$peak" ] && [ "$peak" -lt 24000 ]; ok $? "45 MB decoded from a pipe at -j 2 in a peak of ${peak:-?} KB (under 24 MB)"
fi

# --- the block magic inside compressed data ---
python3 "$T/genmagic.py" 314159265359 700000 > "$T/mb.txt"
bzip2 -1 -c "$T/mb.txt" > "$T/mb.bz2"
python3 "$T/genmagic.py" 177245385090 700000 > "$T/me.txt"
bzip2 -1 -c "$T/me.txt" > "$T/me.bz2"
python3 "$T/find.py" 314159265359 "$T/mb.bz2" > "$T/mb.at"
n=$(awk 'NR > 1 && $1 == last + 121 {n++} {last = $1} END {print n + 0}' "$T/mb.at")
[ "$n" -ge 6 ]; ok $? "mb.bz2: the block magic $n times 121 bits after a block's start ($(wc -l < "$T/mb.at") in all)"
python3 "$T/find.py" 177245385090 "$T/me.bz2" > "$T/me.at"
[ "$(wc -l < "$T/me.at")" -ge 7 ]; ok $? "me.bz2: the end-of-stream magic inside $(($(wc -l < "$T/me.at") - 1)) blocks"
python3 "$T/genmagic.py" 314159265359,177245385090 700000 > "$T/m2.txt"
bzip2 -1 -c "$T/m2.txt" > "$T/m2.bz2"
python3 "$T/find.py" 177245385090 "$T/m2.bz2" > "$T/m2.at"
python3 "$T/find.py" 314159265359 "$T/m2.bz2" > "$T/m2.bat"
n=$(awk 'NR == FNR {e[$1] = 1; next} e[$1 + 169] {n++} END {print n + 0}' "$T/m2.at" "$T/m2.bat")
[ "$n" -ge 6 ]; ok $? "m2.bz2: both magics, one after the other, inside $n blocks"
for f in mb me m2; do
	for j in 1 2 4; do
		icat -j $j "$T/$f.bz2" > "$T/out"; st=$?
		cmp -s "$T/out" "$T/$f.txt"; ok $((st + $?)) "$f.bz2 -j $j: the bytes of bzcat, exit 0"
	done
done
cat "$T/mb.bz2" "$T/s1.bz2" "$T/me.bz2" > "$T/mix.bz2"; cat "$T/mb.txt" "$T/text" "$T/me.txt" > "$T/mix.want"
icat -j 2 "$T/mix.bz2" > "$T/out"; same "$T/out" "$T/mix.want" "magics in data among other streams, -j 2"

# Damaged anywhere (a flipped bit, a cut, bytes overwritten), a file of
# streams with magics in their data: -j 1 and -j 4 give the same bytes,
# message and status; the bytes are the text's beginning, all of it on
# exit 0.
cat "$T/mb.bz2" "$T/me.bz2" > "$T/mm.bz2"; cat "$T/mb.txt" "$T/me.txt" > "$T/mm.txt"
python3 - "$CAT" "$T/mm.bz2" "$T/mm.txt" "$T/fz.bz2" 2>> "$T/allerr" <<'PY'; ok $? "30 damaged files: the same at -j 1 and 4, a beginning of the text"
import random, subprocess, sys
cat, src, want, fz = sys.argv[1], open(sys.argv[2], "rb").read(), open(sys.argv[3], "rb").read(), sys.argv[4]
r = random.Random(5)
bad = 0
for t in range(30):
    d = bytearray(src)
    i = r.randrange(len(d))
    if t % 3 == 0:
        d[i] ^= 1 << r.randrange(8)
    elif t % 3 == 1:
        d = d[:i]
    else:
        d[i:i + r.randrange(1, 100)] = bytes(r.randrange(256) for _ in range(r.randrange(1, 100)))
    open(fz, "wb").write(d)
    got = [subprocess.run([cat, "-j", j, fz], capture_output=True) for j in ("1", "4")]
    a, b = got
    sys.stderr.write(a.stderr.decode(errors="replace") + b.stderr.decode(errors="replace"))
    if (a.returncode, a.stdout, a.stderr) != (b.returncode, b.stdout, b.stderr) or a.returncode not in (0, 1) \
            or not want.startswith(a.stdout) or (a.returncode == 0 and a.stdout != want):
        bad += 1
        print("# case %d (byte %d): status %d/%d, %d/%d bytes: %s" % (t, i, a.returncode, b.returncode,
              len(a.stdout), len(b.stdout), a.stderr[:200]))
sys.exit(bad > 0)
PY

# --- errors: the message names the file and the byte; the blocks before
# the bad one come out whole, nothing from it on ---
# bad NAME FILE WANT-OUTPUT PATTERN WHAT: at -j 1 and 4
bad() {
	local j
	for j in 1 4; do
		icat -j $j "$2" > "$T/out"; st=$?
		is "$st" 1 "$5 (-j $j): exit 1"
		grep -qE "^incat: $2: $4" "$T/err"; ok $? "$5 (-j $j): $(head -c 300 "$T/err")"
		same "$T/out" "$3" "$5 (-j $j): exactly the blocks before it"
	done
	# bzcat stops too, its output agreeing with ours as far as both go
	# (it keeps back what it had not written yet)
	bzcat "$2" > "$T/bzcat.out" 2> /dev/null; st=$?
	local n m; n=$(wc -c < "$T/bzcat.out"); m=$(wc -c < "$3")
	[ "$st" -ne 0 ] && cmp -s -n $((n < m ? n : m)) "$T/bzcat.out" "$3"
	ok $? "$5: bzcat fails too, its $n bytes and our $m the same as far as both go"
}
size=$(wc -c < "$T/s1.bz2")
k=6; b6=$(byte_of s1 $k); b5=$(byte_of s1 5); b7=$(byte_of s1 7)
blocks_before s1 $k > "$T/before6"
blocks_before s1 5 > "$T/before5"
python3 - "$T/s1.bz2" "$T" "$(cat "$T/rec.s1/start.6")" "$(cat "$T/rec.s1/start.7")" <<'PY'
import sys
src, t, s6, s7 = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
d = open(src, "rb").read()
def put(name, i, bit):
    e = bytearray(d); e[i] ^= bit; open(t + "/" + name, "wb").write(e)
put("data6.bz2", (s6 + s7) // 16, 0x20)   # inside block 6's Huffman data
put("crc6.bz2", (s6 + 48 + 7) // 8, 0x01)  # a bit of block 6's CRC
put("magic6.bz2", s6 // 8 + 2, 0x10)       # block 6's magic
put("crcs.bz2", len(d) - 2, 0x04)          # the stream's combined CRC
PY
head -c $(((b6 + b7) / 2)) "$T/s1.bz2" > "$T/cut6.bz2"
bad s1 "$T/cut6.bz2" "$T/before6" "truncated bzip2 data: the block at byte $b6 is cut short" "cut inside block 6"
head -c $((size - 3)) "$T/s1.bz2" > "$T/cutend.bz2"
bad s1 "$T/cutend.bz2" "$T/text" "truncated bzip2 data: the end of the stream at byte 0 is cut short" "cut in the stream's trailer"
bad s1 "$T/data6.bz2" "$T/before6" "corrupt bzip2 block at byte $b6" "a byte of block 6's data changed"
bad s1 "$T/crc6.bz2" "$T/before6" "corrupt bzip2 block at byte $b6: CRC mismatch" "a bit of block 6's CRC changed"
# block 5 is whole, but no magic follows it: delivered, as bzcat does
blocks_before s1 6 > "$T/before6"
bad s1 "$T/magic6.bz2" "$T/before6" "corrupt bzip2 data after the block at byte $b5: no block or end-of-stream marker follows it" "block 6's magic damaged"
bad s1 "$T/crcs.bz2" "$T/text" "corrupt bzip2 stream at byte 0: CRC mismatch" "the stream's combined CRC changed"
{ cat "$T/s1.bz2"; echo garbage; } > "$T/garbage.bz2"
icat -j 2 "$T/garbage.bz2" > "$T/out"; st=$?
is "$st" 1 "trailing garbage: exit 1"
grep -q "garbage.bz2: trailing garbage after the bzip2 data at byte $size\$" "$T/err"; ok $? "trailing garbage: $(cat "$T/err")"
same "$T/out" "$T/text" "trailing garbage: every stream before it"
{ cat "$T/s1.bz2"; printf BZ; } > "$T/half.bz2"
icat -j 2 "$T/half.bz2" > /dev/null; st=$?
is "$st" 1 "a second stream's header cut short: exit 1"
grep -q "half.bz2: truncated bzip2 data: the stream header at byte $size is cut short" "$T/err"; ok $? "cut header: $(cat "$T/err")"
head -c 4 "$T/s1.bz2" > "$T/hdr.bz2"
icat "$T/hdr.bz2" > /dev/null; is $? 1 "a stream header alone: exit 1"
grep -q "hdr.bz2: truncated bzip2 data: no block after the stream header at byte 0" "$T/err"; ok $? "header alone: $(cat "$T/err")"

# In a multistream file, stream 40's block: its byte from the stream sizes.
off=$(head -39 "$T/ms.ms.bz2/sizes" | awk '{s += $1} END {print s}')
python3 - "$T/ms.bz2" "$T/ms40.bz2" "$off" <<'PY'
import sys
d = bytearray(open(sys.argv[1], "rb").read()); o = int(sys.argv[3])
d[o + 300] ^= 0x08
open(sys.argv[2], "wb").write(d)
PY
cat $(ls "$T"/ms.ms.bz2/piece.* | grep -v '\.bz2$' | head -39) > "$T/first39"
bad ms "$T/ms40.bz2" "$T/first39" "corrupt bzip2 block at byte $((off + 4))" "multistream: stream 40's block damaged"
head -c $((off + 500)) "$T/ms.bz2" > "$T/mscut.bz2"
bad ms "$T/mscut.bz2" "$T/first39" "truncated bzip2 data: the block at byte $((off + 4)) is cut short" "multistream: cut inside stream 40"

# --- the programs: exit 1 and the message, nothing from the bad block on ---
if [ -x "$BIN/preprocess" ]; then
	"$BIN/preprocess" -q -f text "$T/s1.bz2" > "$T/pp.want"
	"$BIN/preprocess" -q -f text "$T/data6.bz2" > "$T/pp.out" 2> "$T/err"; st=$?
	is "$st" 1 "preprocess on a damaged block: exit 1"
	grep -q "^preprocess: $T/data6.bz2: corrupt bzip2 block at byte $b6" "$T/err"; ok $? "preprocess names the file and the block's byte"
	"$BIN/preprocess" -q -f text "$T/cut6.bz2" > /dev/null 2> "$T/err"; is $? 1 "preprocess on a truncated file: exit 1"
	grep -q "cut6.bz2: truncated bzip2 data: the block at byte $b6" "$T/err"; ok $? "preprocess: truncated, with the block's byte"
	"$BIN/preprocess" -q -f text "$T/ms.bz2" | cmp -s - "$T/pp.want"; ok $? "preprocess: the multistream file reads as the single-stream one"
fi
if have_shared; then
	D=$SHARED/wiki/enwiki-2016-206pages.xml.bz2
	bzcat "$D" > "$T/en.xml"
	# 10 pages a stream, the header and the end in streams of their own;
	# en.cut.bz2 ends inside the middle stream, en.bad.bz2 has a byte of
	# its block changed; the block's byte is printed
	blk=$(python3 - "$T/en.xml" "$T" <<'PY'
import bz2, re, sys
s = open(sys.argv[1], "rb").read()
a = s.index(b"  <page>"); b = s.rindex(b"</page>") + len(b"</page>\n")
pages = re.findall(rb"  <page>.*?</page>\n", s[a:b], re.S)
assert b"".join(pages) == s[a:b]
parts = [bz2.compress(p, 9) for p in [s[:a]] + [b"".join(pages[i:i + 10]) for i in range(0, len(pages), 10)] + [s[b:]]]
d = b"".join(parts)
m = len(parts) // 2
off = sum(len(p) for p in parts[:m])
open(sys.argv[2] + "/en.ms.bz2", "wb").write(d)
open(sys.argv[2] + "/en.cut.bz2", "wb").write(d[:off + len(parts[m]) // 2])
e = bytearray(d); e[off + len(parts[m]) // 2] ^= 0x40
open(sys.argv[2] + "/en.bad.bz2", "wb").write(e)
print(off + 4)
PY
)
	"$BIN/wikiextract" -j 1 "$T/en.xml" > "$T/en.want"
	for j in 1 2 4; do
		"$BIN/wikiextract" -j $j "$T/en.ms.bz2" > "$T/en.out"; st=$?
		cmp -s "$T/en.out" "$T/en.want"; ok $((st + $?)) "wikiextract -j $j on a multistream dump (10 pages a stream): the output of the XML"
	done
	bzip2 -1 -c "$T/en.xml" > "$T/en1.bz2"
	"$BIN/wikiextract" -j 2 "$T/en1.bz2" | cmp -s - "$T/en.want"; ok $? "wikiextract -j 2 on bzip2 -1 (many blocks): the same"
	"$BIN/wikiextract" -j 2 "$T/en.cut.bz2" > "$T/en.cut" 2> "$T/err"; st=$?
	is "$st" 1 "wikiextract on a truncated dump: exit 1"
	grep -qE "^wikiextract: $T/en.cut.bz2: truncated bzip2 data: the block at byte $blk is cut short" "$T/err"; ok $? "wikiextract: $(cat "$T/err")"
	n=$(wc -c < "$T/en.cut"); [ "$n" -gt 0 ] && cmp -s -n "$n" "$T/en.cut" "$T/en.want"; ok $? "wikiextract: the articles before the cut, whole ($n bytes)"
	"$BIN/wikiextract" -j 4 "$T/en.bad.bz2" > "$T/en.bad" 2> "$T/err"; st=$?
	is "$st" 1 "wikiextract on a damaged dump: exit 1"
	grep -qE "^wikiextract: $T/en.bad.bz2: corrupt bzip2 block at byte $blk" "$T/err"; ok $? "wikiextract: $(cat "$T/err")"
	n=$(wc -c < "$T/en.bad"); cmp -s -n "$n" "$T/en.bad" "$T/en.want" && tail -1 "$T/en.bad" | grep -q '^</doc>$'
	ok $? "wikiextract: whole articles before the damaged block ($n bytes)"
else
	skip "no shared data: wikiextract on multistream dumps not tried"
fi

# sanitizer reports in what incat said
! grep -qE 'Sanitizer|runtime error' "$T/allerr"; ok $? "no sanitizer reports"
done_testing
