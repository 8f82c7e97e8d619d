#!/bin/bash
# The whole corpus pipe, as the study runs it: the shared wiki dump and
# books through wikiextract | preprocess | tokenize encode | shard-128, two
# datasets into one DIR; then the ids, every shard, the lists, determinism
# and damaged files.
. "$(dirname "$0")/lib.sh"
if ! have_shared || ! command -v spm_encode > /dev/null; then
	skip "shared data or spm_encode (Debian package sentencepiece) not found"
	done_testing
	exit
fi
M=$SHARED/spm/albert-layout-30k-de.model
ln -s "$BIN/shard" "$T/shard-128"
export PATH="$BIN:$PATH"

run_pipe() { # DIR
	wikiextract "$SHARED/wiki/enwiki-2016-206pages.xml.bz2" | preprocess -q -f wiki |
		tokenize encode -m "$M" | "$T/shard-128" -q -o "$1" --name wiki -k 64 &&
	preprocess -q -f text "$SHARED"/books/*.txt | tokenize encode -m "$M" |
		"$T/shard-128" -q -o "$1" --name books -k 64
}
run_pipe "$T/d1"; ok $? "wiki and books: wikiextract | preprocess | tokenize encode | shard-128 into one DIR"

# The ids, document by document, against spm_encode on the same lines.
wikiextract "$SHARED/wiki/enwiki-2016-206pages.xml.bz2" | preprocess -q -f wiki > "$T/wiki.u"
preprocess -q -f text "$SHARED"/books/*.txt > "$T/books.u"
for d in wiki books; do
	tokenize encode -m "$M" --format ids -o "$T/$d.ids" "$T/$d.u"
	awk 'NF' "$T/$d.u" | spm_encode --model "$M" --output_format=id > "$T/$d.spm"
	python3 - "$T/$d.u" "$T/$d.spm" "$T/$d.ids" <<'PY'; ok $? "$d: ids are spm_encode's, paragraph by paragraph, joined per document"
import sys
docs = open(sys.argv[1], encoding="utf-8").read().split("\n\n")
docs = [d for d in docs if d.strip()]
spm = iter(open(sys.argv[2]).read().split("\n"))
want = []
for d in docs:
    ids = []
    for line in d.split("\n"):
        if line:
            ids += next(spm).split()
    want.append(" ".join(ids))
got = open(sys.argv[3]).read().rstrip("\n").split("\n")
assert got == want, (len(got), len(want))
PY
done

# Every shard: [CLS] 126 tokens [SEP], the blocks are the flat token run in
# order, the counts are whole blocks of it, the lists split all shards.
python3 - "$T/d1" "$T/wiki.ids" "$T/books.ids" <<'PY'; ok $? "every shard: 128-token sequences, [CLS]/[SEP], the flat run in order, counts, lists"
import json, os, struct, subprocess, sys
d = sys.argv[1]
def flat(path):
    return [int(t) for line in open(path) for t in line.split()]
names = sorted(f for f in os.listdir(d) if f.endswith(".shard"))
for ds, ids_path in (("wiki", sys.argv[2]), ("books", sys.argv[3])):
    run = flat(ids_path)
    mine = [f for f in names if f.startswith(ds + "-")]
    assert mine == ["%s-%05d.shard" % (ds, i) for i in range(len(mine))], mine
    blocks = []
    for f in mine:
        raw = subprocess.run(["zstd", "-q", "-d", "-c", os.path.join(d, f)], capture_output=True, check=True).stdout
        assert raw[:8] == b"NYSSHARD"
        version, n, count, width, vocab, cls, sep = struct.unpack_from("<7I", raw, 8)
        assert (version, n, width, vocab, cls, sep) == (1, 128, 2, 30000, 2, 3), (version, n, width, vocab, cls, sep)
        assert len(raw) == 64 + count * n * width + 8, f
        assert count == 64 or f == mine[-1], (f, count)
        toks = struct.unpack_from("<%dH" % (count * n), raw, 64)
        for i in range(count):
            seq = toks[i * n:(i + 1) * n]
            assert seq[0] == 2 and seq[-1] == 3, (f, i)
            blocks.append(list(seq[1:-1]))
    assert len(blocks) == len(run) // 126, (ds, len(blocks), len(run))
    assert [t for b in blocks for t in b] == run[:len(blocks) * 126], ds
dev = json.load(open(os.path.join(d, "dev.json")))
train = json.load(open(os.path.join(d, "train.json")))
assert sorted(dev + train) == names and len(dev) == int(len(names) * 0.1), (len(dev), len(names))
import random
shuffled = sorted(names)
random.seed(1)
random.shuffle(shuffled)
assert dev == shuffled[:len(dev)] and train == shuffled[len(dev):], "not the original's seeded split"
PY
"$BIN/shard" verify "$T/d1" > "$T/verify" 2>&1; ok $? "shard verify: the directory checks out"

run_pipe "$T/d2"
diff -r "$T/d1" "$T/d2" > /dev/null; ok $? "the same input and seeds give byte-identical shards and lists"

# --keep: a seeded third of the blocks, as the original kept of RealNews.
tokenize encode -m "$M" -o "$T/books.tok" "$T/books.u"
"$T/shard-128" -q -o "$T/k" --name books --keep 0.3333333333 --seed 7 "$T/books.tok"
kept=$("$BIN/shard" cat "$T"/k/books-*.shard | wc -l)
want=$(python3 -c '
import random, sys
n = sum(len(l.split()) for l in open(sys.argv[1])) // 126
random.seed(7)
print(sum(random.random() < 0.3333333333 for _ in range(n)))' "$T/books.ids")
is "$kept" "$want" "--keep 1/3 --seed 7 keeps the blocks Python's random keeps"

# Damaged files are errors that name the file and the place.
first=$(ls "$T"/d1/wiki-*.shard | head -n 1)
head -c 1000 "$first" > "$T/cut.shard"
"$BIN/shard" verify "$T/cut.shard" > /dev/null 2> "$T/err"; is $? 1 "truncated shard: verify exits 1"
grep -q "cut.shard" "$T/err" && grep -qE "byte [0-9]+" "$T/err"; ok $? "truncated shard: names the file and the byte"
zstd -q -d -c "$first" > "$T/raw"
python3 -c 'import sys; b = bytearray(open(sys.argv[1], "rb").read()); b[5000] ^= 4; open(sys.argv[1], "wb").write(b)' "$T/raw"
zstd -q -c "$T/raw" > "$T/flip.shard"
"$BIN/shard" verify "$T/flip.shard" > /dev/null 2> "$T/err"; is $? 1 "damaged shard: verify exits 1"
grep -q "flip.shard" "$T/err"; ok $? "damaged shard: names the file"
head -c 5000 "$T/books.tok" > "$T/cut.tok"
"$T/shard-128" -q -o "$T/bad" --name cut "$T/cut.tok" 2> "$T/err"; is $? 1 "truncated token stream: shard exits 1"
grep -q "cut.tok" "$T/err" && grep -q "byte" "$T/err"; ok $? "truncated token stream: names the file and the byte"
ls "$T/bad" 2> /dev/null | grep -q 'cut-'; is $? 1 "truncated token stream: no shard of it is left to look whole"
tokenize info "$T/cut.tok" > /dev/null 2> "$T/err"; is $? 1 "truncated token stream: tokenize info exits 1"
done_testing
