#!/bin/bash
# make bench: throughput tables on real data.  Inputs are built in a
# scratch directory from the shared data (the enwiki pages repeated to about
# 120 MB of XML; the Gutenberg books repeated to about 50 MB).
set -eu
BIN=${NYS_BIN:?}
SHARED=${NYS_SHARED:?}
REPS=${BENCH_REPS:-3}
T=$(mktemp -d "${TMPDIR:-/tmp}/nys-bench.XXXXXX")
trap 'rm -rf "$T"' EXIT

[ -d "$SHARED" ] || { echo "bench: no shared data at $SHARED" >&2; exit 1; }

# Best wall time of $REPS runs of a command, in seconds.
best() {
	local b="" t0 t1 t
	for _ in $(seq "$REPS"); do
		t0=$(date +%s.%N)
		"$@" > /dev/null
		t1=$(date +%s.%N)
		t=$(echo "$t1 - $t0" | bc -l)
		if [ -z "$b" ] || [ "$(echo "$t < $b" | bc -l)" = 1 ]; then b=$t; fi
	done
	echo "$b"
}

row() { # name bytes seconds
	printf '| %-44s | %8.1f | %7.3f | %8.1f |\n' "$1" "$(echo "$2 / 1000000" | bc -l)" "$3" \
		"$(echo "$2 / 1000000 / $3" | bc -l)"
}

header() {
	printf '\n%s (%s cores, best of %s)\n\n' "$1" "$(nproc)" "$REPS"
	printf '| %-44s | %8s | %7s | %8s |\n' "run" "MB in" "s" "MB/s"
	printf '|%s|%s|%s|%s|\n' "----------------------------------------------" "----------" "---------" "----------"
}

python3 - "$SHARED/wiki/enwiki-2016-206pages.xml.bz2" "$T/big.xml" <<'PY'
import bz2, sys
s = bz2.open(sys.argv[1]).read()
a = s.index(b"  <page>"); b = s.rindex(b"</page>") + len(b"</page>\n")
pages = s[a:b]
n = int(120e6 / len(pages)) + 1
with open(sys.argv[2], "wb") as f:
    f.write(s[:a]); f.write(pages * n); f.write(s[b:])
PY
xml=$(stat -c %s "$T/big.xml")
zstd -q -1 "$T/big.xml" -o "$T/big.xml.zst"

header "wikiextract: enwiki 2016 pages repeated to $((xml / 1000000)) MB of XML"
row "wikiextract -j 1 big.xml" "$xml" "$(best "$BIN/wikiextract" -j 1 "$T/big.xml")"
row "wikiextract -j 2 big.xml" "$xml" "$(best "$BIN/wikiextract" -j 2 "$T/big.xml")"
row "wikiextract big.xml (default -j $(nproc))" "$xml" "$(best "$BIN/wikiextract" "$T/big.xml")"
row "wikiextract --json big.xml" "$xml" "$(best "$BIN/wikiextract" --json "$T/big.xml")"
row "wikiextract big.xml.zst" "$xml" "$(best "$BIN/wikiextract" "$T/big.xml.zst")"
row "wikiextract -o DIR -b 1M big.xml" "$xml" "$(best "$BIN/wikiextract" -o "$T/out" -b 1M "$T/big.xml")"
row "wikiextract -o DIR -b 1M -c big.xml (zstd)" "$xml" "$(best "$BIN/wikiextract" -o "$T/outz" -b 1M -c "$T/big.xml")"
if python3 -c 'import wikiextractor' 2> /dev/null; then
	# The tool users run today, when installed (pip install wikiextractor),
	# once, on the first 25 MB of the same input.
	head -c 25000000 "$T/big.xml" | sed '$d' > "$T/mid.xml"
	echo '</page></mediawiki>' >> "$T/mid.xml"
	mid=$(stat -c %s "$T/mid.xml")
	t0=$(date +%s.%N)
	python3 -m wikiextractor.WikiExtractor -q --processes "$(nproc)" -o "$T/we" "$T/mid.xml" 2> /dev/null || true
	t1=$(date +%s.%N)
	row "WikiExtractor 3 (python, $(nproc) processes, 25 MB)" "$mid" "$(echo "$t1 - $t0" | bc -l)"
fi
echo
echo "target: at least 150 MB of XML per second on a 2-core machine"

# --- bzip2 input: the same pages as Wikimedia lays out its multistream
# dumps (the header, then a stream per 100 pages, then the end), and as one
# stream of 900 kB blocks; medians of $BZ_REPS, against decoding by bzcat
# and by lbzip2 in a pipe.
BZ_REPS=${BENCH_BZ_REPS:-5}
median() {
	local t0 t1 ts=()
	for _ in $(seq "$BZ_REPS"); do
		t0=$(date +%s.%N)
		"$@" > /dev/null
		t1=$(date +%s.%N)
		ts+=("$(echo "$t1 - $t0" | bc -l)")
	done
	printf '%s\n' "${ts[@]}" | sort -g | awk '{a[NR] = $1} END {print NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'
}
python3 - "$T/big.xml" "$T/big.ms.bz2" <<'PY'
import bz2, re, sys
from multiprocessing import Pool
s = open(sys.argv[1], "rb").read()
a = s.index(b"  <page>"); b = s.rindex(b"</page>") + len(b"</page>\n")
pages = re.findall(rb"  <page>.*?</page>\n", s[a:b], re.S)
parts = [s[:a]] + [b"".join(pages[i:i + 100]) for i in range(0, len(pages), 100)] + [s[b:]]
with Pool() as p, open(sys.argv[2], "wb") as f:
    for c in p.imap(bz2.compress, parts, 8):
        f.write(c)
PY
if command -v lbzip2 > /dev/null; then
	lbzip2 -9 -c "$T/big.xml" > "$T/big.1s.bz2"
else
	bzip2 -9 -c "$T/big.xml" > "$T/big.1s.bz2"
fi
pipe() { # DECODER... : DECODER FILE | wikiextract -j $J
	"$@" | "$BIN/wikiextract" -j "$J"
}
cat_j() { "${NYS_TESTBIN:?}/incat" "$@"; }
for f in ms 1s; do
	z=$T/big.$f.bz2
	if [ $f = ms ]; then what="multistream, a stream per 100 pages"; else what="one stream, 900 kB blocks"; fi
	printf '\nbzip2 input: %s MB of XML as %s MB of bzip2 (%s; %s cores, load %s; median of %s)\n\n' \
		"$((xml / 1000000))" "$(($(stat -c %s "$z") / 1000000))" "$what" "$(nproc)" \
		"$(cut -d' ' -f1-3 /proc/loadavg)" "$BZ_REPS"
	printf '| %-44s | %8s | %7s | %8s |\n' "run" "MB XML" "s" "MB/s"
	printf '|%s|%s|%s|%s|\n' "----------------------------------------------" "----------" "---------" "----------"
	row "decode: bzcat" "$xml" "$(median bzcat "$z")"
	if command -v lbzip2 > /dev/null; then
		row "decode: lbzip2 -dc -n 1" "$xml" "$(median lbzip2 -dc -n 1 "$z")"
		row "decode: lbzip2 -dc -n 2" "$xml" "$(median lbzip2 -dc -n 2 "$z")"
	fi
	d1=$(median cat_j -j 1 "$z"); row "decode: nys_in -j 1 (incat)" "$xml" "$d1"
	d2=$(median cat_j -j 2 "$z"); row "decode: nys_in -j 2 (incat)" "$xml" "$d2"
	for J in 1 2; do
		row "bzcat | wikiextract -j $J" "$xml" "$(median pipe bzcat "$z")"
		if command -v lbzip2 > /dev/null; then
			lp=$(median pipe lbzip2 -dc -n "$J" "$z")
			row "lbzip2 -dc -n $J | wikiextract -j $J" "$xml" "$lp"
		fi
		row "wikiextract -j $J big.bz2" "$xml" "$(median "$BIN/wikiextract" -j "$J" "$z")"
	done
	echo
	printf 'decoding alone, -j 2 against -j 1: %.2f x\n' "$(echo "$d1 / $d2" | bc -l)"
done
echo
echo "target: on 2 cores wikiextract -j 2 on the .bz2 at least as fast as lbzip2 -dc | wikiextract; decoding scaling with -j"

if [ -x "$BIN/preprocess" ]; then
	"$BIN/wikiextract" "$T/big.xml" > "$T/wiki.txt"
	for _ in $(seq 40); do cat "$SHARED"/books/*.txt; done > "$T/books.txt"
	wiki=$(stat -c %s "$T/wiki.txt")
	books=$(stat -c %s "$T/books.txt")
	header "preprocess"
	row "preprocess -f wiki (wikiextract output)" "$wiki" "$(best "$BIN/preprocess" -q -f wiki "$T/wiki.txt")"
	row "preprocess -f text (books x40, boilerplate kept)" "$books" "$(best "$BIN/preprocess" -q -f text --keep-boilerplate "$T/books.txt")"
	row "preprocess -f bookcorpus (same books)" "$books" "$(best "$BIN/preprocess" -q -f bookcorpus "$T/books.txt")"
	row "preprocess -f wiki -o DIR (zstd partitions)" "$wiki" "$(best "$BIN/preprocess" -q -f wiki -o "$T/pp" --name w "$T/wiki.txt")"
fi

if [ -x "$BIN/tokenize" ] && command -v spm_encode > /dev/null; then
	M=$SHARED/spm/albert-layout-30k-de.model
	# The books as unified text, 40 times over (120 documents, ~33 MB);
	# spm_encode gets the same lines.
	for _ in $(seq 40); do "$BIN/preprocess" -q -f text "$SHARED"/books/*.txt; done > "$T/books.u"
	grep -v '^$' "$T/books.u" > "$T/books.lines"
	text=$(stat -c %s "$T/books.lines")
	"$BIN/tokenize" encode -m "$M" -o "$T/books.tok" "$T/books.u"
	ntok=$("$BIN/tokenize" info "$T/books.tok" | awk '/tokens/ {for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+$/) n = $i} END {print n}')
	header "tokenize encode (albert-layout-30k-de.model; the books x40: $((text / 1000000)) MB of text, $ntok tokens)"
	t_spm=$(best spm_encode --model "$M" --output_format=id "$T/books.lines")
	row "spm_encode --output_format=id" "$text" "$t_spm"
	notes=""
	for j in 1 2; do
		t=$(best "$BIN/tokenize" encode -m "$M" -j $j -o "$T/b.tok" "$T/books.u")
		row "tokenize encode -j $j (token stream)" "$text" "$t"
		notes="$notes$(printf -- '-j %s: %.2f x spm_encode, %.1f M tokens/s' "$j" "$(echo "$t_spm / $t" | bc -l)" "$(echo "$ntok / $t / 1000000" | bc -l)")\n"
	done
	t=$(best "$BIN/tokenize" encode -m "$M" --format ids -o "$T/b.ids" "$T/books.u")
	row "tokenize encode --format ids" "$text" "$t"
	echo
	printf '%b' "$notes"
	echo "target: tokenize -j 2 at least 1.8 x spm_encode"

	if [ -x "$BIN/shard" ]; then
		for _ in $(seq 12); do cat "$T/books.tok"; done > "$T/many.tok"
		total=$((ntok * 12))
		printf '\nshard (the books stream x12, %s tokens; %s cores, best of %s)\n\n' "$total" "$(nproc)" "$REPS"
		printf '| %-44s | %9s | %7s | %12s |\n' "run" "M tokens" "s" "M tokens/s"
		printf '|%s|%s|%s|%s|\n' "----------------------------------------------" "-----------" "---------" "--------------"
		for n in 512 4096; do
			t=$(best "$BIN/shard" -q -n $n -o "$T/sh$n" --name books "$T/many.tok")
			printf '| %-44s | %9.1f | %7.3f | %12.1f |\n' "shard -n $n (zstd shards, lists)" \
				"$(echo "$total / 1000000" | bc -l)" "$t" "$(echo "$total / $t / 1000000" | bc -l)"
		done
		echo
		echo "target: at least 100 M tokens/s"
	fi
fi

if [ -x "${NYS_BENCHBIN:-}/attn" ]; then
	printf '\nattention forward+backward (batch 1, 4 heads, head size 64; Nystrom: 64 landmarks, conv 33; float; best of 3)\n\n'
	printf '| %-26s | %6s | %10s | %14s | %12s |\n' "attention" "n" "ms" "op memory MB" "peak RSS MB"
	printf '|%s|%s|%s|%s|%s|\n' "----------------------------" "--------" "------------" "----------------" "--------------"
	for n in 512 1024 2048 4096 8192 16384; do
		"$NYS_BENCHBIN/attn" nystrom $n 3 | awk '{printf "| %-26s | %6d | %10.1f | %14.1f | %12.1f |\n", $1, $2, $3, $4, $5}'
	done
	# On a CPU that OpenBLAS does not recognise it falls back to its SSE3
	# (Prescott) kernels; nys_blas_tune then picks them from the CPU's
	# features.  The rows below are what the fallback would give.
	for n in 4096 8192; do
		OPENBLAS_CORETYPE=Prescott "$NYS_BENCHBIN/attn" nystrom $n 3 | awk '{printf "| %-26s | %6d | %10.1f | %14.1f | %12.1f |\n", $1 " (SSE3 kernels)", $2, $3, $4, $5}'
	done
	# softmax is quadratic: up to 8192 (16384 would need 2 GB of scores and minutes)
	for n in 512 1024 2048 4096 8192; do
		"$NYS_BENCHBIN/attn" softmax $n 1 | awk '{printf "| %-26s | %6d | %10.1f | %14.1f | %12.1f |\n", $1, $2, $3, $4, $5}'
	done
	echo
	echo "targets: Nystrom at n = 4096 in at most 40 ms, at 8192 in at most 130 ms, memory linear in n"
fi

if [ -x "${NYS_BENCHBIN:-}/model" ]; then
	printf '\nmasked-LM training steps (4 layers, width 256, 4 heads of 64, vocabulary 30000, Nystrom 64 landmarks, conv 33; 15%% labelled; forward, backward, AdamW; 7 steps after one)\n\n'
	printf '| %-26s | %14s | %16s | %12s | %12s |\n' "length x batch" "tokens/s best" "tokens/s median" "ms/step best" "peak RSS MB"
	printf '|%s|%s|%s|%s|%s|\n' "----------------------------" "----------------" "------------------" "--------------" "--------------"
	for tb in "512 8" "4096 1"; do
		# shellcheck disable=SC2086
		"$NYS_BENCHBIN/model" $tb 7 | awk '{printf "| %-26s | %14d | %16d | %12.1f | %12.1f |\n", $1 " x " $2, $3, $4, $5, $6}'
	done
	echo
	echo "targets: at least 3500 tokens/s at 512 x 8 and 4000 at 4096 x 1, peak memory under 1 GB"
	echo "(the authors' PyTorch code: 1100 and 1300 tokens/s here, 2.9 GB)"
fi

if [ -x "${NYS_BENCHBIN:-}/model" ]; then
	# GLUE fine-tuning: MRPC-length pairs (96 to 128 tokens, padded to 128 and
	# masked), batch 32, the authors' two-class head; against PyTorch eager
	# running the same math on the same batch (tests/bench/finetune_torch.py)
	# when BENCH_PYTHON (default python3) has torch.
	PY=${BENCH_PYTHON:-python3}
	printf '\nfine-tuning steps (the model above with 2 token types and the authors'"'"' classifier head; pairs of 96-128 tokens padded to 128, batch 32; forward, backward, AdamW; 7 steps after one)\n\n'
	printf '| %-26s | %14s | %16s | %12s | %12s |\n' "program" "tokens/s best" "tokens/s median" "ms/step best" "peak RSS MB"
	printf '|%s|%s|%s|%s|%s|\n' "----------------------------" "----------------" "------------------" "--------------" "--------------"
	ft=$("$NYS_BENCHBIN/model" 128 32 7 cls)
	echo "$ft" | awk '{printf "| %-26s | %14d | %16d | %12.1f | %12.1f |\n", "nys", $3, $4, $5, $6}'
	if "$PY" -c 'import torch' 2> /dev/null; then
		pt=$("$PY" "$(dirname "$0")/bench/finetune_torch.py" 128 32 7) || { echo "bench: finetune_torch.py failed" >&2; exit 1; }
		echo "$pt" | awk -v v="$("$PY" -c 'import torch; print(torch.__version__)')" \
			'{printf "| %-26s | %14d | %16d | %12.1f | %12.1f |\n", "PyTorch " v " eager", $3, $4, $5, $6}'
		echo
		printf 'nys against PyTorch eager: %.2f x (best), %.2f x (median)\n' \
			"$(echo "$ft $pt" | awk '{print $3 / $9}')" "$(echo "$ft $pt" | awk '{print $4 / $10}')"
	else
		echo
		echo "(no PyTorch row: $PY cannot import torch; set BENCH_PYTHON to an interpreter that can)"
	fi
	echo "target: at least 4 x PyTorch eager"
fi

if [ -x "${NYS_BENCHBIN:-}/lra" ]; then
	# LRA training (the authors' LRA model, lra_config.py's sizes) at
	# ListOps' shape, 2048 x 32 as their runs, against PyTorch eager of the
	# same model (tests/bench/lra_torch.py) when BENCH_PYTHON has torch.
	PY=${BENCH_PYTHON:-python3}
	printf '\nLRA training steps (2 layers, width 64, 2 heads of 32, FFN 128; ListOps 2048 x 32, up to a fifth padding; forward, backward, AdamW; 3 steps after one)\n\n'
	printf '| %-26s | %14s | %16s | %12s | %12s |\n' "program, attention" "tokens/s best" "tokens/s median" "ms/step best" "peak RSS MB"
	printf '|%s|%s|%s|%s|%s|\n' "----------------------------" "----------------" "------------------" "--------------" "--------------"
	torch_ok=0
	"$PY" -c 'import torch' 2> /dev/null && torch_ok=1
	for a in nystrom-64 linformer-256 performer-256 reformer-2 linear softmax; do
		r=$("$NYS_BENCHBIN/lra" $a 2048 32 3) || { echo "bench: lra $a failed" >&2; exit 1; }
		echo "$r" | awk '{printf "| %-26s | %14d | %16d | %12.1f | %12.1f |\n", "nys " $1, $4, $5, $6, $7}'
		case $a in nystrom-64|linear|softmax) ;; *) continue ;; esac
		if [ $torch_ok = 1 ]; then
			pt=$("$PY" "$(dirname "$0")/bench/lra_torch.py" $a 2048 32 3) || { echo "bench: lra_torch.py failed" >&2; exit 1; }
			echo "$pt" | awk '{printf "| %-26s | %14d | %16d | %12.1f | %12.1f |\n", "PyTorch eager " $1, $4, $5, $6, $7}'
		fi
	done
	echo
	[ $torch_ok = 1 ] || echo "(no PyTorch rows: $PY cannot import torch; set BENCH_PYTHON to an interpreter that can)"
fi

# --- data-parallel scaling (nys-train under mpirun, libnys/dist): the same
# steps on 1 rank of 1 thread, 2 ranks of 1 thread each and 1 rank of 2
# threads, so that the cost of summing the gradients over the ranks (a
# reduce and a broadcast of all the float gradients each step) shows
# against threads sharing one process.  Needs mpirun and the books' token
# stream of the tokenize section.
if command -v mpirun > /dev/null && [ -f "${T}/books.tok" ]; then
	"$BIN/shard" -q -n 128 -o "$T/dp" --name books "$T/books.tok"
	python3 - "$(dirname "$0")/../pipeline/configs/tiny-nystrom/config.json" "$T/dp.json" "$T/dp" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["model"].update(vocab_size=30000, max_seq_len=128, seq_len=128, embedding_dim=256,
                  transformer_dim=256, transformer_hidden_dim=1024, num_layers=4, num_head=4,
                  head_dim=64, num_landmarks=64, conv_kernel_size=33)
c["data_folder"] = sys.argv[3]
c["model_checkpoints"] = sys.argv[2][:-5] + ".ck"
c["pretraining_setting"].update(batch_size=16, batches_per_epoch=100, epoch=1,
                                validate_batches_per_epoch=0, batches_per_report=1)
c["gpu_setting"] = {"inst_per_gpu": 4}
json.dump(c, open(sys.argv[2], "w"), indent=1)
PY
	export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl_vader_single_copy_mechanism=none
	# median tokens/s of steps 3 to 8 of a run (after the arenas are made)
	dp_run() {
		rm -rf "$T/dp.ck"
		"$@" -q --config "$T/dp.json" --steps 8 || return 1
		sed -n '3,8p' "$T/dp.ck/pretrain_output.log" | grep -o '"tokens_per_s":[0-9.]*' | cut -d: -f2 |
			sort -g | awk '{a[NR] = $1} END {print (a[3] + a[4]) / 2}'
	}
	printf '\ndata-parallel masked-LM steps (4 layers, width 256, vocabulary 30000, 128 x 16 tokens a step in micro-batches of 4; median of steps 3-8)\n\n'
	printf '| %-44s | %14s | %10s |\n' "run" "tokens/s" "vs 1 x 1"
	printf '|%s|%s|%s|\n' "----------------------------------------------" "----------------" "------------"
	s11=$(dp_run "$BIN/nys-train" --threads 1)
	s21=$(dp_run mpirun -np 2 --bind-to none "$BIN/nys-train" --threads 1)
	s12=$(dp_run "$BIN/nys-train" --threads 2)
	s2x=$(dp_run mpirun -np 2 --bind-to none "$BIN/nys-train" --threads 1 --exact-reduce)
	for r in "1 rank x 1 thread:$s11" "mpirun -np 2, 1 thread each:$s21" "1 rank x 2 threads:$s12" \
		"mpirun -np 2, 1 thread each, --exact-reduce:$s2x"; do
		printf '| %-44s | %14.0f | %9.2f x |\n' "${r%%:*}" "${r##*:}" "$(echo "${r##*:} / $s11" | bc -l)"
	done
	echo
	echo "(2 ranks against 2 threads: the all-reduce's cost, and the threads' own losses in the ops)"
fi
