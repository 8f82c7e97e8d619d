#!/bin/bash
# nys-eval import-hf and export-hf without transformers.  import-hf reads
# tests/data/hf-tiny, a folder transformers' own save_pretrained wrote
# (tests/gen/hf_interop.py, which also wrote transformers' MLM logits for
# its ids.txt): the config it writes, and nys-eval forward over it within
# 1e-5 of transformers, for the landmark branch and the exact one.
# export-hf: the files of the folder (names, JSON keys, tensor names, the
# tokenizer), its refusals with their messages, and that a refused or
# failed export leaves the folder as it was.  What transformers makes of an
# exported folder is checked by hand (tests/gen/hf_interop.py check).
. "$(dirname "$0")/lib.sh"
export LC_ALL=C
E=$BIN/nys-eval
TOP=${NYS_TOP:-$(dirname "$0")/..}
FIX=$(cd "$TOP/tests/data/hf-tiny" && pwd)
CN=$TOP/pipeline/configs/tiny-nystrom/config.json
CS=$TOP/pipeline/configs/tiny-softmax/config.json

if [ ! -x "$E" ]; then
	echo "1..0 # SKIP $E not built"
	exit 0
fi

run() { run_cmd "$E" "$@"; }

# py SCRIPT ARGS...: python3 (stdlib only) with the helpers below
cat > "$T/lib.py" <<'PY'
import ast, json, struct, sys
def npy(path):
    raw = open(path, "rb").read()
    assert raw[:6] == b"\x93NUMPY", path
    (hlen,) = struct.unpack("<H", raw[8:10])
    d = ast.literal_eval(raw[10:10 + hlen].decode("latin1").strip())
    assert d["descr"] == "<f4" and not d["fortran_order"], d
    n = 1
    for s in d["shape"]:
        n *= s
    return tuple(d["shape"]), struct.unpack("<%df" % n, raw[10 + hlen:])
def st(path):
    raw = open(path, "rb").read()
    (n,) = struct.unpack("<Q", raw[:8])
    h = json.loads(raw[8:8 + n])
    return h.pop("__metadata__", {}), h
def js(path):
    return json.load(open(path))
PY
py() { PYTHONPATH=$T python3 -c "from lib import *; $1" "${@:2}"; }

# close A B TOL: two .npy arrays of one shape, every value within TOL
close() {
	py '
(sa, a), (sb, b) = npy(sys.argv[1]), npy(sys.argv[2])
assert sa == sb, (sa, sb)
d = max(abs(x - y) for x, y in zip(a, b))
print("max difference %.2e" % d)
sys.exit(d > float(sys.argv[3]))' "$@"
}

# with_meta SRC DST JSON: a copy of checkpoint SRC with metadata added (the
# safetensors checksum covers the data only)
with_meta() {
	py '
meta, h = st(sys.argv[1]); raw = open(sys.argv[1], "rb").read()
(n,) = struct.unpack("<Q", raw[:8])
meta.update(json.loads(sys.argv[3])); h["__metadata__"] = meta
head = json.dumps(h).encode(); head += b" " * (-len(head) % 8)
open(sys.argv[2], "wb").write(struct.pack("<Q", len(head)) + head + raw[8 + n:])' "$@"
}

# ---- the command line ----------------------------------------------------------

run --help
grep -q 'import-hf' "$T/out" && grep -q 'export-hf' "$T/out"
ok $? "nys-eval --help lists import-hf and export-hf"
for sub in import-hf export-hf; do
	run "$sub" --help
	is "$rc" 0 "$sub --help exits 0"
	for opt in $(grep -oE -- '--[a-z][a-z0-9-]*' "$T/out" | sort -u); do
		grep -qF -- "${opt//-/\\-}" "$TOP/man/man1/nys-eval.1" || echo "$opt"
	done > "$T/missing"
	is "$(cat "$T/missing")" "" "$sub: every option of its --help is in nys-eval.1"
done
run import-hf
is "$rc" 2 "import-hf without DIR: usage error"
run import-hf "$FIX" "$FIX"
is "$rc" 2 "import-hf with two DIRs: usage error"
run export-hf -m "$FIX/spiece.model" -o "$T/x"
is "$rc" 2 "export-hf without --checkpoint: usage error"
run export-hf --checkpoint "$FIX/model.safetensors" -o "$T/x"
is "$rc" 2 "export-hf without -m: usage error"
run export-hf --checkpoint "$FIX/model.safetensors" -m "$FIX/spiece.model"
is "$rc" 2 "export-hf without -o: usage error"
run init --config "$CN" --head hf -o "$T/x"
is "$rc" 2 "init --head without --classes: usage error"
run init --config "$CN" --classes 2 --head gelu -o "$T/x"
is "$rc" 2 "init --head gelu (neither authors nor hf): usage error"

# ---- import-hf: transformers' save_pretrained folder ------------------------------

run import-hf "$FIX" -o "$T/c.json"
is "$rc" 0 "import-hf of a save_pretrained folder"
is "$(py '
c = js(sys.argv[1]); m = c["model"]
print(m["attn_type"], m["num_landmarks"], m["seq_len"], m["conv_kernel_size"], m["max_seq_len"],
      m["vocab_size"], m["transformer_dim"], m["embedding_dim"], m["num_head"], m["head_dim"],
      m["transformer_hidden_dim"], m["num_layers"], m["num_sen_type"])' "$T/c.json")" \
	"nystrom 8 32 3 32 120 16 16 2 8 32 2 2" "... its model section is transformers' config"
is "$(py 'c = js(sys.argv[1]); print(c["from_cp"], c["tokenizer_model"], c["tokenizer_lower"])' "$T/c.json")" \
	"$FIX/model.safetensors $FIX/spiece.model True" \
	"... the checkpoint is the folder's model.safetensors, the tokenizer its spiece.model, lower-cased"
echo "a b" | "$BIN/tokenize" encode -m "$FIX/spiece.model" > "$T/x.tok" &&
	fp=$("$BIN/tokenize" info "$T/x.tok" | sed -n 's/^fingerprint: //p')
is "$(py 'print(js(sys.argv[1])["tokenizer"])' "$T/c.json")" "$fp" \
	"... the fingerprint is the one token streams of that model carry"
is "$(py 'h = js(sys.argv[1])["hf"]; print(h["architecture"], h["num_labels"])' "$T/c.json")" \
	"NystromformerForMaskedLM 0" "... and the hf section records the architecture"

run forward --config "$T/c.json" --checkpoint "$FIX/model.safetensors" --ids "$FIX/ids.txt" \
	--logits -o "$T/logits.npy"
is "$rc" 0 "forward --logits over the imported config"
close "$T/logits.npy" "$FIX/logits.npy" 1e-5 > "$T/d"
ok $? "... equals transformers' logits within 1e-5 (landmarks 8 of 32, conv 3: $(cat "$T/d"))"

# the released models' branch: num_landmarks == segment_means_seq_len
mkdir "$T/exact"
cp "$FIX/model.safetensors" "$FIX/spiece.model" "$T/exact/"
py 'c = js(sys.argv[1]); c["num_landmarks"] = 32; json.dump(c, open(sys.argv[2], "w"))' \
	"$FIX/config.json" "$T/exact/config.json"
run import-hf "$T/exact" -o "$T/e.json"
is "$rc$(cat "$T/err")" "0" "import-hf of the exact branch, no tokenizer_config.json: no warning"
is "$(py 'c = js(sys.argv[1]); print(c["model"]["num_landmarks"], c["model"]["seq_len"], c["tokenizer_lower"])' "$T/e.json")" \
	"32 32 True" "... num_landmarks == seq_len, AlbertTokenizer's default lower-casing"
run forward --config "$T/e.json" --checkpoint "$T/exact/model.safetensors" --ids "$FIX/ids.txt" \
	--logits -o "$T/elogits.npy"
close "$T/elogits.npy" "$FIX/logits-exact.npy" 1e-5 > "$T/d"
ok $? "... forward equals transformers' exact-branch logits within 1e-5 ($(cat "$T/d"))"

# variants of the folder: what is refused, what is warned about
variant() { # NAME PYTHON-EDIT-OF-c: a copy of the fixture with config.json edited
	rm -rf "$T/$1"
	mkdir "$T/$1"
	cp "$FIX/model.safetensors" "$FIX/spiece.model" "$FIX/tokenizer_config.json" "$T/$1/"
	py "c = js(sys.argv[1]); $2; json.dump(c, open(sys.argv[2], 'w'))" \
		"$FIX/config.json" "$T/$1/config.json"
}
refused() { # NAME MESSAGE-PART DESCRIPTION
	run import-hf "$T/$1" -o "$T/$1.json"
	is "$rc" 1 "import-hf refuses $3: exit 1"
	grep -qF -- "$2" "$T/err" && [ ! -e "$T/$1.json" ]
	ok $? "... saying '$2', no config written"
}
variant act 'c["hidden_act"] = "relu"'
refused act 'hidden_act "relu"' "another activation"
variant bert 'c["model_type"] = "bert"'
refused bert 'model_type bert' "another model type"
variant eps 'c["layer_norm_eps"] = 1e-12'
refused eps 'layer_norm_eps' "another LayerNorm epsilon"
variant untied 'c["tie_word_embeddings"] = False'
refused untied 'tie_word_embeddings' "untied decoder weights"
variant newinit 'c["inv_coeff_init_option"] = True'
refused newinit 'inv_coeff_init_option' "the new pseudo-inverse initialisation"
variant uneven 'c["num_landmarks"] = 7'
refused uneven 'num_landmarks 7 does not divide segment_means_seq_len 32' "uneven segments"
variant wide 'c["hidden_size"] = 32'
refused wide 'nystromformer.embeddings.word_embeddings.weight' "weights of other shapes"
variant noweights 'pass'
rm "$T/noweights/model.safetensors"
refused noweights 'no model.safetensors' "a folder without model.safetensors"
run import-hf "$T/no-such-dir"
is "$rc" 1 "import-hf of a missing folder: exit 1"
variant notok 'pass'
rm "$T/notok/spiece.model" "$T/notok/tokenizer_config.json"
run import-hf "$T/notok" -o "$T/notok.json"
is "$rc" 0 "import-hf without spiece.model works"
grep -q 'no spiece.model' "$T/err" && py 'assert not {"tokenizer", "tokenizer_model", "tokenizer_lower"} & set(js(sys.argv[1]))' "$T/notok.json"
ok $? "... with a warning, and no tokenizer section"
variant cased 'pass'
echo '{"do_lower_case": false}' > "$T/cased/tokenizer_config.json"
run import-hf "$T/cased" -o "$T/cased.json"
is "$(py 'print(js(sys.argv[1])["tokenizer_lower"])' "$T/cased.json")" "False" \
	"import-hf takes do_lower_case from tokenizer_config.json"
variant cls 'c["architectures"] = ["NystromformerForSequenceClassification"]; c["id2label"] = {"0": "no", "1": "yes"}'
refused cls 'classifier.dense.weight' "a classifier folder without classifier weights"

# ---- export-hf -------------------------------------------------------------------

"$E" init --config "$CN" --seed 3 -o "$T/mlm.model" 2> /dev/null
run export-hf --checkpoint "$T/mlm.model" -m "$FIX/spiece.model" --lower -o "$T/hf"
is "$rc" 0 "export-hf of a masked-LM checkpoint"
grep -q 'records no tokenizer fingerprint' "$T/err"
ok $? "... warning that the checkpoint records no tokenizer fingerprint"
is "$(cd "$T/hf" && ls -A | tr '\n' ' ')" \
	"config.json model.safetensors spiece.model tokenizer.json tokenizer_config.json " \
	"... the folder's files, no staging directory left"
cmp -s "$FIX/spiece.model" "$T/hf/spiece.model"
ok $? "... spiece.model is the sentencepiece model byte for byte"
is "$(py '
c = js(sys.argv[1])
print(c["architectures"], c["model_type"], c["conv_kernel_size"], c["num_landmarks"],
      c["segment_means_seq_len"], c["max_position_embeddings"], c["hidden_size"], c["vocab_size"],
      c["hidden_act"], c["pad_token_id"], c["bos_token_id"], c["eos_token_id"], c["tie_word_embeddings"])' "$T/hf/config.json")" \
	"['NystromformerForMaskedLM'] nystromformer 5 8 64 64 64 1000 gelu_new 0 2 3 True" \
	"... config.json: NystromformerForMaskedLM, an integer conv_kernel_size, the special ids"
is "$(py '
t = js(sys.argv[1])
print(t["tokenizer_class"], t["do_lower_case"], t["keep_accents"], t["mask_token"], t["cls_token"],
      t["sep_token"], t["pad_token"], t["unk_token"], t["model_max_length"])' "$T/hf/tokenizer_config.json")" \
	"AlbertTokenizer True True [MASK] [CLS] [SEP] <pad> <unk> 64" \
	"... tokenizer_config.json: AlbertTokenizer, lower-cased, accents kept, special tokens"
is "$(py '
t = js(sys.argv[1]); m = t["model"]
print(m["type"], m["unk_id"], len(m["vocab"]), [a["content"] for a in t["added_tokens"]],
      [n["type"] for n in t["normalizer"]["normalizers"]], t["post_processor"]["type"],
      t["post_processor"]["special_tokens"]["[SEP]"]["ids"])' "$T/hf/tokenizer.json")" \
	"Unigram 1 120 ['<pad>', '<unk>', '[CLS]', '[SEP]', '[MASK]'] ['Replace', 'Replace', 'Lowercase'] TemplateProcessing [3]" \
	"... tokenizer.json: the Unigram pieces, special tokens, lower-casing, [CLS] A [SEP] B [SEP]"
is "$(py '
(m1, a), (m2, b) = st(sys.argv[1]), st(sys.argv[2])
print(m2.get("format"), sorted(a) == sorted(b), all(b[k]["dtype"] == "F32" and b[k]["shape"] == a[k]["shape"] for k in a))' \
	"$T/mlm.model" "$T/hf/model.safetensors")" "pt True True" \
	"... model.safetensors: the checkpoint's tensors by their names, float32, format pt"
run forward --config "$CN" --checkpoint "$T/hf/model.safetensors" --ids "$FIX/ids.txt" -o "$T/a.npy"
run forward --config "$CN" --checkpoint "$T/mlm.model" --ids "$FIX/ids.txt" -o "$T/b.npy"
close "$T/a.npy" "$T/b.npy" 0 > /dev/null
ok $? "... with the same weights (forward of both equal)"
run export-hf --checkpoint "$T/mlm.model" -m "$FIX/spiece.model" -o "$T/hf"
is "$rc" 0 "export-hf over an exported folder"
is "$(py 'print(js(sys.argv[1])["do_lower_case"])' "$T/hf/tokenizer_config.json") $(py 'print([n["type"] for n in js(sys.argv[1])["normalizer"]["normalizers"]])' "$T/hf/tokenizer.json")" \
	"False ['Replace', 'Replace']" "... without --lower: do_lower_case false, no Lowercase"

"$E" init --config "$CN" --classes 3 --head hf -o "$T/cls.model" 2> /dev/null
is "$(py 'print(st(sys.argv[1])[0].get("nys_cls_act"))' "$T/cls.model")" "gelu" \
	"init --head hf records nys_cls_act gelu"
run export-hf --checkpoint "$T/cls.model" -m "$FIX/spiece.model" -o "$T/hfc"
is "$rc" 0 "export-hf of a --head hf classifier"
is "$(py '
c = js(sys.argv[1])
print(c["architectures"], c["id2label"], c["label2id"], c["problem_type"])' "$T/hfc/config.json")" \
	"['NystromformerForSequenceClassification'] {'0': 'LABEL_0', '1': 'LABEL_1', '2': 'LABEL_2'} {'LABEL_0': 0, 'LABEL_1': 1, 'LABEL_2': 2} single_label_classification" \
	"... as NystromformerForSequenceClassification with id2label and label2id"
is "$(py '
h = st(sys.argv[1])[1]
print(sorted(k for k in h if not k.startswith("nystromformer.")), h["classifier.out_proj.weight"]["shape"])' "$T/hfc/model.safetensors")" \
	"['classifier.dense.bias', 'classifier.dense.weight', 'classifier.out_proj.bias', 'classifier.out_proj.weight'] [3, 64]" \
	"... its head tensors are classifier.dense and classifier.out_proj"
# class names from the checkpoint's nys_id2label, and a regression head
with_meta "$T/cls.model" "$T/named.model" '{"nys_id2label": "[\"neg\", \"neu\", \"pos\"]"}'
run export-hf --checkpoint "$T/named.model" -m "$FIX/spiece.model" -o "$T/hfn"
is "$rc $(py 'print(js(sys.argv[1])["id2label"]["2"])' "$T/hfn/config.json")" "0 pos" \
	"export-hf takes the class names from nys_id2label"
with_meta "$T/cls.model" "$T/glue.model" '{"nys_glue": "{\"task\": \"MNLI\", \"head\": \"hf\", \"labels\": [\"entailment\", \"neutral\", \"contradiction\"]}"}'
run export-hf --checkpoint "$T/glue.model" -m "$FIX/spiece.model" -o "$T/hfg"
is "$rc $(py 'print(js(sys.argv[1])["label2id"]["contradiction"])' "$T/hfg/config.json")" "0 2" \
	"export-hf takes the class names from nys-eval glue's nys_glue labels"
"$E" init --config "$CN" --classes 1 --head hf -o "$T/reg.model" 2> /dev/null
run export-hf --checkpoint "$T/reg.model" -m "$FIX/spiece.model" -o "$T/hfr"
is "$rc $(py 'print(js(sys.argv[1])["problem_type"])' "$T/hfr/config.json")" "0 regression" \
	"export-hf of a one-label classifier: problem_type regression"

# refusals: nothing written, an existing folder left as it was
mkdir "$T/keep"
echo old > "$T/keep/config.json"
xrefused() { # CHECKPOINT MESSAGE-PART DESCRIPTION [SPM]
	run export-hf --checkpoint "$1" -m "${4:-$FIX/spiece.model}" -o "$T/keep"
	is "$rc" 1 "export-hf refuses $3: exit 1"
	grep -qF -- "$2" "$T/err" && [ "$(cd "$T/keep" && ls -A)" = config.json ] &&
		[ "$(cat "$T/keep/config.json")" = old ]
	ok $? "... saying '$2', the folder as it was"
}
"$E" init --config "$CN" --classes 3 -o "$T/tanh.model" 2> /dev/null
xrefused "$T/tanh.model" "the classifier is the authors' head (dropout, dense, tanh)" "the authors' tanh head"
"$E" init --config "$CS" -o "$T/soft.model" 2> /dev/null
xrefused "$T/soft.model" "a softmax model" "a softmax model"
py 'c = js(sys.argv[1]); del c["model"]["conv_kernel_size"]; json.dump(c, open(sys.argv[2], "w"))' "$CN" "$T/noconv.json"
"$E" init --config "$T/noconv.json" -o "$T/noconv.model" 2> /dev/null
xrefused "$T/noconv.model" "no convolution (conv_kernel_size absent)" "a model without convolution"
py 'c = js(sys.argv[1]); c["model"]["num_landmarks"] = 6; json.dump(c, open(sys.argv[2], "w"))' "$CN" "$T/uneven.json"
"$E" init --config "$T/uneven.json" -o "$T/uneven.model" 2> /dev/null
xrefused "$T/uneven.model" "does not divide model.seq_len" "uneven segments"
xrefused "$FIX/model.safetensors" "no nys_model metadata" "a checkpoint without nys_model metadata"
with_meta "$T/mlm.model" "$T/fp.model" '{"nys_tokenizer": "0123456789abcdef"}'
xrefused "$T/fp.model" "but $T/fp.model was trained with 0123456789abcdef: not the same sentencepiece model" \
	"a sentencepiece model of another fingerprint"
if have_shared && [ -e "$SHARED/spm/albert-layout-30k-de.model" ]; then
	xrefused "$T/mlm.model" "30000 pieces, more than the vocabulary" "a tokenizer larger than the vocabulary" \
		"$SHARED/spm/albert-layout-30k-de.model"
else
	skip "no shared data: the 30k sentencepiece model"
	skip "no shared data: the 30k sentencepiece model"
fi

# ---- sanitizers (under make check SAN=1) ------------------------------------------------

cat "$T"/err.* | grep -q 'Sanitizer\|runtime error'; is $? 1 "no sanitizer reports"

done_testing
