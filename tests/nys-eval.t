#!/bin/bash
# nys-eval(1): init, forward and hf-config on the tiny configs.  The .npy
# files are read back by an independent python3 parser (stdlib only): the
# header byte for byte as numpy writes it, the shape, the size; then what
# the numbers must satisfy: LayerNorm rows, determinism, padding that does
# not leak into a sequence, batching that changes nothing.  Errors: exit
# codes, FILE:LINE messages, and no output file left behind.
. "$(dirname "$0")/lib.sh"
export LC_ALL=C
E=$BIN/nys-eval
TOP=${NYS_TOP:-$(dirname "$0")/..}
CN=$TOP/pipeline/configs/tiny-nystrom/config.json
CS=$TOP/pipeline/configs/tiny-softmax/config.json

if [ ! -x "$E" ]; then
	echo "1..0 # SKIP $E not built"
	exit 0
fi

# run ARGS...: nys-eval through run_cmd (lib.sh): $T/out, $T/err, $rc
run() { run_cmd "$E" "$@"; }

# model_edit SRC DST KEY=VALUE|-KEY...: the config SRC with keys of its
# "model" section set (VALUE in JSON) or removed, written to DST.
model_edit() {
	python3 - "$@" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
for a in sys.argv[3:]:
    if a.startswith("-"):
        del c["model"][a[1:]]
    else:
        k, v = a.split("=", 1)
        c["model"][k] = json.loads(v)
json.dump(c, open(sys.argv[2], "w"))
PY
}

# An independent reader of NumPy's .npy format 1.0 (little-endian float32):
#   npy.py shape FILE            prints the shape, "3 64 64"
#   npy.py ln FILE               max |mean| and |var - 1| over the last axis
#   npy.py same A I B J N TOL    rows of sequence I of A and J of B agree on
#                                their first N positions within TOL
#   npy.py close A B TOL         the same shape and every value within TOL
cat > "$T/npy.py" <<'PY'
import ast, struct, sys
def load(path):
    raw = open(path, "rb").read()
    assert raw[:8] == b"\x93NUMPY\x01\x00", "magic and version 1.0"
    (hlen,) = struct.unpack("<H", raw[8:10])
    assert (10 + hlen) % 64 == 0, "data aligned to 64 bytes"
    head = raw[10:10 + hlen].decode("latin1")
    assert head.endswith("\n") and head.startswith("{'descr': '<f4', 'fortran_order': False, 'shape': ("), head
    d = ast.literal_eval(head.strip())
    assert d["descr"] == "<f4" and d["fortran_order"] is False and set(d) == {"descr", "fortran_order", "shape"}
    shape = d["shape"]
    n = 1
    for s in shape:
        n *= s
    data = raw[10 + hlen:]
    assert len(data) == 4 * n, "data size %d for shape %s" % (len(data), shape)
    return shape, struct.unpack("<%df" % n, data)
cmd = sys.argv[1]
if cmd == "shape":
    print(" ".join(map(str, load(sys.argv[2])[0])))
elif cmd == "ln":
    (B, T, C), v = load(sys.argv[2])
    worst_mean = worst_var = 0.0
    for r in range(B * T):
        row = v[r * C:(r + 1) * C]
        m = sum(row) / C
        var = sum((x - m) ** 2 for x in row) / C
        worst_mean = max(worst_mean, abs(m))
        worst_var = max(worst_var, abs(var - 1))
    print("%.2e %.2e" % (worst_mean, worst_var))
elif cmd == "same":
    (sa, va), (sb, vb) = load(sys.argv[2]), load(sys.argv[4])
    i, j, n, tol = int(sys.argv[3]), int(sys.argv[5]), int(sys.argv[6]), float(sys.argv[7])
    C = sa[2]
    assert sb[2] == C
    a = va[i * sa[1] * C:(i * sa[1] + n) * C]
    b = vb[j * sb[1] * C:(j * sb[1] + n) * C]
    diff = max(abs(x - y) for x, y in zip(a, b))
    print("max difference %.2e" % diff)
    sys.exit(0 if diff <= tol else 1)
elif cmd == "close":
    (sa, va), (sb, vb) = load(sys.argv[2]), load(sys.argv[3])
    assert sa == sb, "shapes %s and %s" % (sa, sb)
    diff = max(abs(x - y) for x, y in zip(va, vb))
    print("max difference %.2e" % diff)
    sys.exit(0 if diff <= float(sys.argv[4]) else 1)
PY
npy() { python3 "$T/npy.py" "$@"; }

# ids LINES MINLEN MAXLEN SEED: random id lines (vocabulary 1000)
ids() {
	python3 -c '
import random, sys
n, lo, hi, seed = map(int, sys.argv[1:])
r = random.Random(seed)
for _ in range(n):
    print(" ".join(str(r.randrange(1000)) for _ in range(r.randint(lo, hi))))
' "$@"
}

# ---- the command line ----------------------------------------------------------

run --help
is "$rc" 0 "--help exits 0"
grep -q '^usage: nys-eval forward' "$T/out" && [ ! -s "$T/err" ]; ok $? "--help goes to stdout"
run --version
is "$(cat "$T/out")" "nys-eval (nys) $(cat "$TOP/VERSION")" "--version"
check_man_options nys-eval "$TOP/man/man1/nys-eval.1"
missing=
for sub in forward init hf-config; do
	run "$sub" --help
	is "$rc" 0 "nys-eval $sub --help exits 0"
	grep -q "^usage: nys-eval $sub" "$T/out" && [ ! -s "$T/err" ]; ok $? "... usage on stdout"
	for opt in $(grep -oE -- '--[a-z][a-z0-9-]*' "$T/out" | sort -u); do
		grep -qF -- "${opt//-/\\-}" "$TOP/man/man1/nys-eval.1" || missing="$missing $sub:$opt"
	done
	run "$sub" --version
	is "$rc $(cat "$T/out")" "0 nys-eval (nys) $(cat "$TOP/VERSION")" "nys-eval $sub --version"
done
is "$missing" "" "every option of the subcommands' --help is in nys-eval.1"

# usage errors: exit 2, the usage on stderr, nothing written
for bad in "" "bogus" "--bogus" "forward" "forward --config $CS" \
	"forward --config $CS --checkpoint x --length 0" \
	"forward --config $CS --checkpoint x --length abc" \
	"forward --config $CS --checkpoint x --length 99999999999" \
	"forward --config $CS --checkpoint x --batch 0" \
	"forward --config $CS --checkpoint x --seed 1" \
	"forward --config $CS --checkpoint x extra" \
	"init --config $CS" "init --config $CS -o -" "init --config $CS --mlm --classes 2 -o $T/x" \
	"init --config $CS --classes 0 -o $T/x" "init --config $CS --seed -1 -o $T/x" \
	"init --config $CS --logits -o $T/x" "hf-config" "hf-config --config $CS --ids x"; do
	run $bad
	is "$rc" 2 "usage error: nys-eval $bad"
done
grep -q '^usage: nys-eval' "$T/err"; ok $? "a usage error prints the usage on stderr"
[ ! -e "$T/x" ]; ok $? "... and writes nothing"

# ---- init -------------------------------------------------------------------------

run init --config "$CN" -o "$T/n.st"
is "$rc" 0 "init: a nystrom checkpoint"
run init --config "$CS" --seed 7 -o "$T/s.st"
is "$rc" 0 "init: a softmax checkpoint, --seed 7"
# The tester's config: num_head x head_dim wrapped the parameter count to 59
# and init wrote past the buffer (ASan: heap-buffer-overflow).
model_edit "$CS" "$T/huge.json" num_layers=1 num_head=59223231 head_dim=1202618447
run init --config "$T/huge.json" -o "$T/huge.st"
is "$rc" 1 "init: num_head 59223231, head_dim 1202618447 is refused with exit 1, no crash"
grep -q "huge.json: model.num_head: 59223231 is too large" "$T/err"; ok $? "... naming the key: $(cat "$T/err")"
[ ! -e "$T/huge.st" ]; ok $? "... and writes nothing"
run init --config "$CS" --seed 7 --mlm -o "$T/s2.st"
cmp -s "$T/s.st" "$T/s2.st"; ok $? "the same seed gives the same bytes (--mlm is the default)"
run init --config "$CS" --seed 8 -o "$T/s8.st"
cmp -s "$T/s.st" "$T/s8.st"; is $? 1 "another seed, other weights"
run init --config "$CS" --classes 3 -o "$T/c3.st"
is "$rc" 0 "init --classes 3"
python3 - "$T/n.st" "$T/c3.st" > "$T/names" <<'PY'
import json, struct, sys
for f in sys.argv[1:]:
    raw = open(f, "rb").read()
    (n,) = struct.unpack("<Q", raw[:8])
    h = json.loads(raw[8:8 + n])
    print(" ".join(sorted(k for k in h if k != "__metadata__")), h["__metadata__"]["nys_init_seed"])
PY
grep -q 'cls.predictions.decoder.weight.*encoder.layer.1.attention.self.conv.weight.* 0$' <(head -1 "$T/names")
ok $? "the MLM checkpoint: HF names, the head and the conv, nys_init_seed 0"
tail -1 "$T/names" | grep -q 'classifier.out_proj.weight' && ! tail -1 "$T/names" | grep -q cls.predictions
ok $? "the --classes checkpoint: a classifier, no MLM head"

# ---- forward ------------------------------------------------------------------------

ids 3 5 40 1 > "$T/ids3"
run forward --config "$CN" --checkpoint "$T/n.st" --ids "$T/ids3" -o "$T/n.npy"
is "$rc" 0 "forward, nystrom"
[ ! -s "$T/err" ]; ok $? "... quietly"
is "$(npy shape "$T/n.npy")" "3 64 64" "(lines, seq_len, transformer_dim): the config's seq_len, landmarks need it"
run forward --config "$CN" --checkpoint "$T/n.st" --ids "$T/ids3" -o "$T/n2.npy"
cmp -s "$T/n.npy" "$T/n2.npy"; ok $? "the same bytes again"
set -- $(npy ln "$T/n.npy")
python3 -c "import sys; sys.exit(not (float('$1') < 1e-5 and float('$2') < 1e-3))"
ok $? "every (b, t) row is a LayerNorm output of unit weight (mean $1, var - 1 $2): C is the last axis"
"$E" forward --config "$CN" --checkpoint "$T/n.st" < "$T/ids3" > "$T/n3.npy"
cmp -s "$T/n.npy" "$T/n3.npy"; ok $? "stdin and stdout"
"$E" forward --config "$CN" --checkpoint "$T/n.st" --ids - -o - < "$T/ids3" > "$T/n4.npy"
cmp -s "$T/n.npy" "$T/n4.npy"; ok $? "- for stdin and stdout"
zstd -q -c "$T/ids3" > "$T/ids3.zst"
run forward --config "$CN" --checkpoint "$T/n.st" --ids "$T/ids3.zst" -o "$T/n5.npy"
cmp -s "$T/n.npy" "$T/n5.npy"; ok $? "zstd-compressed id lines"
python3 -c '
import sys
for i, l in enumerate(open(sys.argv[1])):
    w = l.split()
    print(("\t" if i % 2 else "  ") + "  \t".join(w) + " \r")' "$T/ids3" > "$T/ids3.ws"
run forward --config "$CN" --checkpoint "$T/n.st" --ids "$T/ids3.ws" -o "$T/n6.npy"
cmp -s "$T/n.npy" "$T/n6.npy"; ok $? "tabs, runs of spaces, leading and trailing blanks, CRLF"
for b in 1 2; do
	run forward --config "$CN" --checkpoint "$T/n.st" --ids "$T/ids3" --batch $b -o "$T/nb$b.npy"
	cmp -s "$T/n.npy" "$T/nb$b.npy"; ok $? "nystrom, --batch $b: the same bytes (one sequence a forward: the pinv init couples a batch)"
done
run forward --config "$CN" --checkpoint "$T/n.st" --ids "$T/ids3" --length 32 -o "$T/n32.npy"
is "$rc $(npy shape "$T/n32.npy")" "0 3 32 64" "--length 32 overrides seq_len"

ids 5 1 30 2 > "$T/ids5"
run forward --config "$CS" --checkpoint "$T/s.st" --ids "$T/ids5" -o "$T/s.npy"
is "$rc" 0 "forward, softmax"
longest=$(awk '{ if (NF > m) m = NF } END { print m }' "$T/ids5")
is "$(npy shape "$T/s.npy")" "5 $longest 64" "softmax: padded to the longest line ($longest)"
for b in 1 2; do
	run forward --config "$CS" --checkpoint "$T/s.st" --ids "$T/ids5" --batch $b -o "$T/sb$b.npy"
	npy close "$T/s.npy" "$T/sb$b.npy" 1e-5 > "$T/cmp"; ok $? "softmax, --batch $b: the same within 1e-5 ($(cat "$T/cmp"))"
done
# padding: a line alone, then with a longer line after it in the batch
sed -n 1p "$T/ids5" > "$T/one"
{ sed -n 1p "$T/ids5"; ids 1 60 60 3; } > "$T/two"
len1=$(awk '{ print NF; exit }' "$T/one")
run forward --config "$CS" --checkpoint "$T/s.st" --ids "$T/one" -o "$T/one.npy"
run forward --config "$CS" --checkpoint "$T/s.st" --ids "$T/two" -o "$T/two.npy"
is "$(npy shape "$T/one.npy") / $(npy shape "$T/two.npy")" "1 $len1 64 / 2 60 64" "a line alone and padded beside a longer one"
npy same "$T/one.npy" 0 "$T/two.npy" 0 "$len1" 1e-5 > "$T/cmp"
ok $? "padding is masked: the line's $len1 hidden states are unchanged ($(cat "$T/cmp"))"
npy same "$T/one.npy" 0 "$T/s.npy" 0 "$len1" 1e-5 > "$T/cmp"
ok $? "... and the same within the 5-line batch ($(cat "$T/cmp"))"
run forward --config "$CS" --checkpoint "$T/s.st" --ids "$T/ids5" --length 64 -o "$T/s64.npy"
npy same "$T/s.npy" 2 "$T/s64.npy" 2 "$longest" 1e-5 > "$T/cmp"
ok $? "--length 64: the same states where there are tokens ($(cat "$T/cmp"))"

# logits
run forward --config "$CS" --checkpoint "$T/s.st" --ids "$T/ids5" --logits -o "$T/sl.npy"
is "$rc $(npy shape "$T/sl.npy")" "0 5 $longest 1000" "--logits: (lines, length, vocab_size)"
run forward --config "$CS" --checkpoint "$T/s.st" --ids "$T/one" --logits -o "$T/onel.npy"
npy same "$T/onel.npy" 0 "$T/sl.npy" 0 "$len1" 1e-4 > "$T/cmp"
ok $? "logits: padding does not reach them either ($(cat "$T/cmp"))"
run forward --config "$CN" --checkpoint "$T/n.st" --ids "$T/ids3" --logits --batch 2 -o "$T/nl.npy"
is "$rc $(npy shape "$T/nl.npy")" "0 3 64 1000" "--logits, nystrom"
run forward --config "$CS" --checkpoint "$T/c3.st" --ids "$T/ids5" -o "$T/c3.npy"
is "$rc" 0 "hidden states from a classifier checkpoint (the head is not needed)"
npy close "$T/c3.npy" "$T/s.npy" 0 > /dev/null; is $? 1 "... other weights (seed 0), other states"

# ---- hf-config ---------------------------------------------------------------------

run hf-config --config "$CN"
is "$rc" 0 "hf-config to stdout"
python3 - "$T/out" <<'PY' > "$T/hf"
import json, sys
c = json.load(open(sys.argv[1]))
print(c["model_type"], c["hidden_size"], c["num_landmarks"], c["segment_means_seq_len"], c["conv_kernel_size"], c["max_position_embeddings"])
PY
is "$(cat "$T/hf")" "nystromformer 64 8 64 5 64" "NystromformerConfig: hidden_size, num_landmarks, segment_means_seq_len, conv_kernel_size"
run hf-config --config "$CS" -o "$T/hf.json"
python3 -c 'import json, sys; c = json.load(open(sys.argv[1])); print(c["num_landmarks"], c["segment_means_seq_len"], c["conv_kernel_size"])' "$T/hf.json" > "$T/hf"
is "$rc $(cat "$T/hf")" "0 64 64 None" "softmax: -o FILE, num_landmarks = segment_means_seq_len (exact attention)"
model_edit "$CS" "$T/proj.json" embedding_dim=32
run hf-config --config "$T/proj.json" -o "$T/proj.hf"
is "$rc" 1 "a model transformers cannot express: exit 1"
grep -q 'embedding_dim' "$T/err" && [ ! -e "$T/proj.hf" ]; ok $? "... said why, nothing written"

# A checkpoint of another vocabulary than its config says (nys-train takes
# it from the shards): forward and hf-config --checkpoint use the checkpoint's.
model_edit "$CN" "$T/v500.json" vocab_size=500
run init --config "$T/v500.json" -o "$T/v500.st"
printf '5 6 7 8\n9 10\n' > "$T/v.ids"
run forward --config "$CN" --checkpoint "$T/v500.st" --ids "$T/v.ids" -o "$T/v.npy"
is "$rc" 0 "forward: a checkpoint of 500 pieces under a config that says 1000"
grep -q "v500.st has a vocabulary of 500 pieces .*: using it instead of vocab_size 1000" "$T/err"
ok $? "... with a note: $(cat "$T/err")"
run hf-config --config "$CN" --checkpoint "$T/v500.st" -o "$T/v.hf"
is "$rc $(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["vocab_size"])' "$T/v.hf")" "0 500" \
	"hf-config --checkpoint: the checkpoint's vocabulary"
model_edit "$CN" "$T/uneven.json" num_landmarks=7
run hf-config --config "$T/uneven.json" -o "$T/uneven.hf"
is "$rc" 1 "hf-config: uneven segments, which transformers cannot take, exit 1"
grep -q "does not divide" "$T/err" && [ ! -e "$T/uneven.hf" ]; ok $? "... said why, nothing written"

# ---- errors ---------------------------------------------------------------------------

# errN CONFIG IDS-TEXT EXPECTED-MESSAGE DESC [ARGS...]
errN() {
	local cfg=$1 text=$2 want=$3 desc=$4
	shift 4
	printf '%b' "$text" > "$T/bad.ids"
	run forward --config "$cfg" --checkpoint "$( [ "$cfg" = "$CN" ] && echo "$T/n.st" || echo "$T/s.st")" \
		--ids "$T/bad.ids" -o "$T/bad.npy" "$@"
	is "$rc" 1 "$desc: exit 1"
	grep -qF -- "nys-eval: $want" "$T/err"; ok $? "... 'nys-eval: $want' ($(head -c 300 "$T/err"))"
	[ ! -e "$T/bad.npy" ] && ! ls "$T" | grep -q 'bad.npy.tmp'; ok $? "... no output, no temporary file"
}
errN "$CS" '1 2 3\n4 1000 6\n' "$T/bad.ids:2: token id 1000 is outside the vocabulary (0..999)" "an id outside the vocabulary"
errN "$CS" '1 2 3\n4 5 6\n7 x8 9\n' "$T/bad.ids:3: 'x8' is not a token id" "a word that is not a number"
errN "$CS" '1 -2 3\n' "$T/bad.ids:1: '-2' is not a token id" "a negative id"
errN "$CS" '1 99999999999999999999999 3\n' "$T/bad.ids:1: token id 99999999999999999999999 is outside" "an id past 64 bits"
errN "$CS" "1 2\n$(seq -s ' ' 1 65)\n" "$T/bad.ids:2: 65 token ids, more than 64 (the config's max_seq_len)" "a line longer than max_seq_len"
errN "$CN" "$(seq -s ' ' 1 65)\n" "$T/bad.ids:1: 65 token ids, more than 64 (the config's seq_len" "nystrom: a line longer than seq_len"
errN "$CS" "1 2 3 4 5 6\n" "$T/bad.ids:1: 6 token ids, more than 5 (--length)" "a line longer than --length" --length 5
errN "$CS" "1 2\n\n3\n" "$T/bad.ids:2: an empty line" "an empty line"
errN "$CS" "" "$T/bad.ids: no sequences" "an empty input"
errN "$CS" "1 2\n" "--length 65 is longer than max_seq_len 64" "--length past max_seq_len" --length 65
errN "$CN" "1 2\n" "--length 4 is shorter than num_landmarks 8" "nystrom: --length below num_landmarks" --length 4
printf '5 6\n7 1000\n' | "$E" forward --config "$CS" --checkpoint "$T/s.st" > /dev/null 2> "$T/err"
is "$?" 1 "bad stdin: exit 1"
grep -qF 'nys-eval: (stdin):2: token id 1000' "$T/err"; ok $? "... named (stdin):2"

run forward --config "$CS" --checkpoint "$T/missing.st" --ids "$T/ids5" -o "$T/bad.npy"
is "$rc" 1 "a missing checkpoint: exit 1"
grep -q 'missing.st' "$T/err" && [ ! -e "$T/bad.npy" ]; ok $? "... named, nothing written"
run forward --config "$CS" --checkpoint "$T/ids5" --ids "$T/ids5" -o "$T/bad.npy"
is "$rc" 1 "a file that is no checkpoint: exit 1"
run forward --config "$T/missing.json" --checkpoint "$T/s.st" --ids "$T/ids5"
is "$rc" 1 "a missing config: exit 1"
model_edit "$CS" "$T/f128.json" transformer_hidden_dim=128
run forward --config "$T/f128.json" --checkpoint "$T/s.st" --ids "$T/one" -o "$T/bad.npy"
is "$rc" 1 "a checkpoint of another config: exit 1"
grep -q 'tensor nystromformer.encoder.layer.0.intermediate.dense.weight has shape (256, 64), expected (128, 64)' "$T/err"
ok $? "... the mis-shaped tensor named ($(head -c 300 "$T/err"))"
grep -q 'warning: .*saved with another model config .*transformer_hidden_dim' "$T/err"
ok $? "... after a warning naming the config keys that differ"
run forward --config "$CN" --checkpoint "$T/s.st" --ids "$T/one" -o "$T/bad.npy"
is "$rc" 1 "a softmax checkpoint for the nystrom config: exit 1"
grep -q 'attention.self.conv.weight is missing' "$T/err"; ok $? "... the missing conv weight named"
model_edit "$CN" "$T/noconv.json" -conv_kernel_size
run forward --config "$T/noconv.json" --checkpoint "$T/s.st" --ids "$T/one" -o "$T/w.npy"
is "$rc" 0 "same shapes, another attention: it runs ..."
grep -q "warning: $T/s.st was saved with another model config than $T/noconv.json (differing: .*attn_type.*)" "$T/err"
ok $? "... with a warning ($(head -c 300 "$T/err"))"
run forward --config "$CS" --checkpoint "$T/c3.st" --ids "$T/one" --logits -o "$T/bad.npy"
is "$rc" 1 "--logits from a classifier checkpoint: exit 1"
grep -q 'cls.predictions.* is missing' "$T/err"; ok $? "... the missing head tensor named"

# an error leaves an existing output as it was
cp "$T/s.npy" "$T/keep.npy"
printf '1 2\n3 1000\n' > "$T/bad.ids"
run forward --config "$CS" --checkpoint "$T/s.st" --ids "$T/bad.ids" -o "$T/keep.npy"
cmp -s "$T/s.npy" "$T/keep.npy"; ok $? "a failed run leaves an existing -o file untouched"
is "$(find "$T" -name '*.tmp.*' | wc -l)" 0 "no temporary files anywhere"
run init --config "$T/v500.json" -o "$T/nodir/x.st"
is "$rc" 1 "init into a missing directory: exit 1"

# ---- sanitizers (under make check SAN=1) ------------------------------------------------

cat "$T"/err.* | grep -q 'Sanitizer\|runtime error'; is $? 1 "no sanitizer reports"

done_testing
