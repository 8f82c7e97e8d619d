#!/bin/bash
# Mixed precision (kernels/README.md, nys-train(1)): a config's
# mixed_precision, or nys-train --precision, puts the dense layers'
# products in bf16 on CUDA; the CPU accepts both and computes in float32,
# so on the CPU a mixed-precision run is bit for bit the float32 one and
# says nothing about precision.  Random token shards (mktok, shard): no
# shared data needed.  (The bf16 products themselves are tested in
# backend_ops, on a GPU or kernels/emu, and in gpu_step on a GPU.)
. "$(dirname "$0")/lib.sh"
export LC_ALL=C
TOP=${NYS_TOP:-$(dirname "$0")/..}
TB=${NYS_TESTBIN:?}
TR=$BIN/nys-train

"$TB/mktok" -r 20000 -z -v 1000 -o "$T/r.tok" && "$BIN/shard" -n 64 -q -k 32 -o "$T/data" "$T/r.tok"
ok $? "random token shards (mktok, shard-64)"
# config NAME MIXED: the tiny Nystrom config, mixed_precision MIXED
config() {
	python3 - "$TOP/pipeline/configs/tiny-nystrom/config.json" "$T/$1.json" "$T/data" "$2" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["data_folder"], c["model_checkpoints"] = sys.argv[3], sys.argv[2][:-5] + ".ck"
c["model"]["mixed_precision"] = sys.argv[4] == "true"
c["pretraining_setting"].update(batch_size=4, batches_per_epoch=20, epoch=1,
                                validate_batches_per_epoch=1)
c["gpu_setting"] = {"inst_per_gpu": 2}
json.dump(c, open(sys.argv[2], "w"))
PY
}
config fp32 false
config mixed true
config flag false
S=stop-00000003.cp

run_cmd "$TR" --config "$T/fp32.json" --device cpu --steps 3
ok $rc "cpu, mixed_precision false: 3 steps"
run_cmd "$TR" --config "$T/mixed.json" --device cpu --steps 3
ok $rc "cpu, mixed_precision true: 3 steps"
grep -qi "bf16\|precision\|warning" "$T/err"; is "$?" 1 "... and nothing said about precision"
cmp_cp "$T/fp32.ck/$S" "$T/mixed.ck/$S"
ok $? "... bit for bit the float32 run (the CPU computes in float32)"
run_cmd "$TR" --config "$T/flag.json" --device cpu --steps 3 --precision bf16
ok $rc "cpu, --precision bf16: 3 steps"
cmp_cp "$T/fp32.ck/$S" "$T/flag.ck/$S"
ok $? "... bit for bit the float32 run"

run_cmd "$TR" --config "$T/fp32.json" --precision fp16
is "$rc" 2 "--precision fp16: a usage error (exit 2)"
grep -q "^nys-train: --precision: expected fp32 or bf16, got 'fp16'" "$T/err"
ok $? "... saying what it takes"
"$TR" --help | grep -q -- "--precision"; ok $? "--help lists --precision"
check_man_options nys-train "$TOP/man/man1/nys-train.1"
done_testing
