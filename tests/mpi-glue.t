#!/bin/bash
# nys-eval glue data-parallel under mpirun (nys-eval(1), nys_finetune.h):
# on small GLUE subsets (MRPC and CoLA from the shared data, an STS-B of
# MRPC's sentences with made-up scores) fine-tuning with -np 2 and -np 3
# equals one process given the same --micro: bitwise with --exact-reduce
# (the summary, the log but its timings, the prediction files, the saved
# model), within float rounding of the gradients' sum without it (STS-B's
# Pearson and Spearman within 1e-4; measured 2e-6 to 5e-6); scoring a saved model (--eval-only) is
# bitwise one process's on any number of ranks, the predictions gathered
# so that accuracy, F1, MCC, Pearson and Spearman are those of one process;
# rank 0 alone writes; a damaged TSV stops every rank with its message.
. "$(dirname "$0")/lib.sh"
export LC_ALL=C
TOP=${NYS_TOP:-$(dirname "$0")/..}
EV=$BIN/nys-eval
export PATH="$BIN:$PATH"

if ! command -v mpirun > /dev/null; then
	skip "mpirun not found (make deps installs openmpi-bin)"
	done_testing
	exit
fi
if ! have_shared || [ ! -d "$SHARED/glue/MRPC" ] || [ ! -f "$SHARED/spm/albert-layout-30k-de.model" ]; then
	skip "shared data (GLUE, an ALBERT-layout sentencepiece model) not found"
	done_testing
	exit
fi
mpi_env
# a launch of 3 sanitized ranks on a busy machine takes minutes
MPI_LIMIT=600
# on N ranks: one is a plain process
ranks() {
	local n=$1
	shift
	if [ "$n" = 1 ]; then "$@"; else mpi "$n" "$@"; fi
}

# ---- a small fresh model and the tasks' subsets -----------------------------------
cd "$T" || exit 1
python3 - "$TOP/pipeline/configs/tiny-nystrom/config.json" cfg.json <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["model"].update(vocab_size=30000, max_seq_len=32, seq_len=32, embedding_dim=32,
                  transformer_dim=32, transformer_hidden_dim=64, num_head=2, head_dim=16,
                  num_landmarks=4)
c["model_checkpoints"] = "ck"
c["glue_dataset_folder"] = "glue"
json.dump(c, open(sys.argv[2], "w"), indent=1)
PY
mkdir -p ck glue/MRPC glue/CoLA glue/STS-B
"$EV" init --config cfg.json --mlm -o ck/init.model
ok $? "a fresh checkpoint (nys-eval init)"
# (CoLA's first rows are all acceptable: rows from all over its files)
head -n 30 "$SHARED/glue/MRPC/train.tsv" > glue/MRPC/train.tsv
head -n 23 "$SHARED/glue/MRPC/dev.tsv" > glue/MRPC/dev.tsv
awk 'NR % 25 == 1' "$SHARED/glue/CoLA/train.tsv" | head -n 32 > glue/CoLA/train.tsv
awk 'NR % 40 == 1' "$SHARED/glue/CoLA/dev.tsv" | head -n 24 > glue/CoLA/dev.tsv
for t in MRPC CoLA; do
	head -n 11 "$SHARED/glue/$t/test.tsv" > glue/$t/test.tsv
done
python3 - "$SHARED/glue/MRPC/train.tsv" glue/STS-B <<'PY'
import random, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1], encoding="utf-8-sig")][1:60]
r = random.Random(3)
hdr = "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2"
for name, part, gold in (("train", rows[:29], 1), ("dev", rows[29:50], 1), ("test", rows[50:59], 0)):
    with open(f"{sys.argv[2]}/{name}.tsv", "w") as f:
        f.write(hdr + ("\tscore\n" if gold else "\n"))
        for i, x in enumerate(part):
            score = f"\t{r.uniform(0, 5):.3f}" if gold else ""
            f.write(f"{i}\tmain-news\tMSRpar\t2012\t{i}\tnone\tnone\t{x[3]}\t{x[4]}{score}\n")
PY
G="$EV glue --config cfg.json -m $SHARED/spm/albert-layout-30k-de.model --batch_size 8 --micro 2"
FT="--checkpoint ck/init.model --lr 3e-3"
# epochs by task: CoLA's predictions are of both classes by then (MRPC's
# small model predicts one class whatever it is given: F1 is still
# computed from the gathered predictions)
declare -A EP=([MRPC]=2 [CoLA]=3 [STS-B]=3)

# ---- --exact-reduce: bitwise one process ---------------------------------------------
for t in MRPC CoLA STS-B; do
	for n in 1 2 3; do
		# shellcheck disable=SC2086
		ranks $n $G $FT --epoch ${EP[$t]} --task $t --exact-reduce --predict p$t$n --save $t$n.model \
			> $t$n.out 2> $t$n.err
		st=$?
		ok $st "$t, --exact-reduce, $n rank(s): exit 0"
		[ $st -eq 0 ] || sed 's/^/# /' $t$n.err
		cp ck/glue-$t-init-0.003-8-${EP[$t]}.log $t$n.log
	done
	for n in 2 3; do
		cmp -s ${t}1.out $t$n.out && cmp_log ${t}1.log $t$n.log
		ok $? "$t, $n ranks: the summary and the log of one process ($(grep -o '"best":{"dev":{[^}]*}' $t$n.out))"
		diff -r p${t}1 p$t$n > /dev/null && cmp -s ${t}1.model $t$n.model
		ok $? "$t, $n ranks: the prediction files and the saved model, bitwise"
	done
	is "$(wc -l < ${t}3.log | tr -d ' ')" ${EP[$t]} "$t, 3 ranks: rank 0 alone wrote the log (a line an epoch)"
	is "$(grep -c "epoch ${EP[$t]}: train loss" ${t}3.err)" 1 "$t, 3 ranks: rank 0 alone speaks"
done
grep -qF 'gradients: summed exactly on the host over MPI' MRPC2.err
ok $? "rank 0 says which sum of the gradients it uses"
is "$(cut -f2 pCoLA1/CoLA.dev.tsv | sort -u | tr '\n' ' ')" "0 1 prediction " \
	"... on predictions of both classes (CoLA: MCC $(grep -o '"matthews_correlation":[^,}]*' CoLA1.out | head -n 1))"

# ---- scoring a saved model: bitwise on any number of ranks ----------------------------
for t in MRPC CoLA STS-B; do
	for n in 1 2 3; do
		# shellcheck disable=SC2086
		ranks $n $G --checkpoint ${t}1.model --eval-only --batch_size 3 --task $t --predict e$t$n -q > e$t$n.out
	done
	cmp -s e${t}1.out e${t}2.out && cmp -s e${t}1.out e${t}3.out &&
		diff -r e${t}1 e${t}2 > /dev/null && diff -r e${t}1 e${t}3 > /dev/null
	ok $? "$t --eval-only on 2 and 3 ranks: the scores and prediction files of one process ($(cat e${t}3.out))"
done

# ---- without --exact-reduce: within float rounding ----------------------------------
for n in 1 2 3; do
	# shellcheck disable=SC2086
	ranks $n $G $FT --epoch 3 --task STS-B -q > f$n.out
	ok $? "STS-B, the plain sum, $n rank(s): exit 0"
done
for n in 2 3; do
	python3 - f1.out f$n.out <<'PY'
import json, sys
a, b = (json.load(open(p))["last"]["dev"] for p in sys.argv[1:])
d = max(abs(a[k] - b[k]) for k in a)
print(f"# {sys.argv[2]}: largest difference {d:.2e}")
sys.exit(0 if d <= 1e-4 else 1)
PY
	ok $? "STS-B, $n ranks: Pearson and Spearman within 1e-4 of one process's"
done

# ---- a damaged TSV stops every rank ---------------------------------------------------
cp -r glue/MRPC glue/MRPC.good
printf '1\t2\n' >> glue/MRPC/dev.tsv
# shellcheck disable=SC2086
ranks 3 $G $FT --epoch 1 --task MRPC -q > /dev/null 2> bad.err
st=$?
ok $((st == 0 || st == 124)) "a damaged dev.tsv on 3 ranks: the job fails (exit $st), no hang"
grep -q "rank [0-9] of 3: .*dev.tsv:24" bad.err; ok $? "... naming the file and line: $(grep -m1 'dev.tsv' bad.err)"

done_testing
