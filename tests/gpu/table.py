#!/usr/bin/env python3
"""make bench-gpu's tables, shared by their two sides: nys's rows (bench.sh
calls this file; tests/bench/attn_gpu.c prints the attention table in the
same columns) and PyTorch's (torch_step.py imports it), so that both count
FLOPs by one formula and print one row format, and the rows sit side by
side.  The standard library only: GPU machines run it without numpy.

MFU = tokens/s x F / 989 TFLOP/s (dense bf16 of an H100/H200 SXM), F the
model's FLOPs per token, forward and backward (3 x the forward's 2 FLOPs per
multiply-add), from the config's "model" section:

    F = 6 (L (3 C A + A C + 2 C I) + C^2 + 0.15 C V)          the products
      + 6 L H (3 m D + m^2 + k D + (4 n m^3 + m^2 D) / T)    Nystrom attention
      (softmax attention: 6 L H 2 T D instead of the second line)

L layers, C width, A = H D, I the feed-forward size, V the vocabulary
scored at the 15% masked rows (the sparse masked-LM head), m landmarks, k
the conv kernel, n the pseudo-inverse's iterations, T the length.

    table.py header
        the formula and the training table's header
    table.py row CONFIG BATCH NAME PRECISION LOG [FP32LOG]
        nys-train's row from its pretrain_output.log: the median tokens/s
        of the steps after the first; PRECISION bf16 with FP32LOG (the same
        run in fp32) says "not active" instead of numbers when the two runs'
        losses are the same bit for bit: mixed_precision changed nothing
"""
import json
import sys

PEAK = 989e12     # dense bf16, H100/H200 SXM
TARGET_MFU = 35   # issue 13's target, nystrom-512 in bf16 (reported, not a gate)

FORMULA = (
    "MFU = tokens/s x F / 989 TFLOP/s (dense bf16, H100/H200 SXM); F, FLOPs a token fwd+bwd:\n"
    "  F = 6 (L (3 C A + A C + 2 C I) + C^2 + 0.15 C V) + 6 L H (3 m D + m^2 + k D + (4 n m^3 + m^2 D) / T)\n"
    "  (L layers, C width, A = H D, I ffn, V vocab at the 15%% masked rows, m landmarks, k conv,\n"
    "  n pinv iterations, T length; tests/gpu/table.py).  Target (issue 13, reported, not a gate):\n"
    "  nystrom-512 in bf16 at %d%% MFU or more on an H200." % TARGET_MFU)

COLS = ("run", "config", "prec", "batch", "T", "tokens/s", "GFLOP/tok", "TFLOP/s", "MFU",
        "target", "peak MiB")
FMT = "| %-7s | %-12s | %-4s | %5s | %5s | %9s | %9s | %7s | %6s | %-10s | %8s |"


# The attention table, as tests/bench/attn_gpu.c prints it.
ATTN_TARGET_N, ATTN_TARGET_MS = 8192, 2.0
ATTN_COLS = ("run", "attention", "n", "forward ms", "backward ms", "fwd+bwd ms", "memory MiB",
             "target")
ATTN_FMT = "| %-7s | %-9s | %6s | %10s | %11s | %10s | %10s | %-11s |"


def attn_header():
    return "%s\n%s" % (ATTN_FMT % ATTN_COLS, "|" + "|".join(
        "-" * len(c) for c in (ATTN_FMT % ATTN_COLS).split("|")[1:-1]) + "|")


def attn_row(run, kind, n, fwd_ms, bwd_ms, mib):
    tot = fwd_ms + bwd_ms
    tgt = "-"
    if kind == "nystrom" and n == ATTN_TARGET_N:
        tgt = "< %g ms: %s" % (ATTN_TARGET_MS, "met" if tot < ATTN_TARGET_MS else "no")
    return ATTN_FMT % (run, kind, n, "%.3f" % fwd_ms, "%.3f" % bwd_ms, "%.3f" % tot,
                       "-" if mib is None else "%.1f" % mib, tgt)


def landmarks(m):
    """The landmarks nys uses: the published nystrom-512 config has
    num_landmarks and seq_len swapped (512 and 64), which nys_config takes
    back (libnys/model/nys_config.h)."""
    T = m["max_seq_len"]
    lm, sl = m.get("num_landmarks", 64), m.get("seq_len", T)
    if lm > sl:
        lm, sl = sl, lm
    return min(lm, sl, T)


def tiny(m):
    """The --tiny sizes of a "model" section (torch_step.py --tiny,
    BENCH_GPU_TINY=1): 2 layers of 64, the same kind of attention, length
    128 for the 512 configs and 256 for the longer ones."""
    T = 128 if m["max_seq_len"] <= 512 else 256
    return dict(m, num_layers=2, embedding_dim=64, transformer_dim=64,
                transformer_hidden_dim=128, num_head=2, head_dim=32, vocab_size=1000,
                max_seq_len=T, num_landmarks=T // 8, seq_len=T)


def flops_per_token(m):
    L, C, H, D = m["num_layers"], m["transformer_dim"], m["num_head"], m["head_dim"]
    I, V, T = m["transformer_hidden_dim"], m["vocab_size"], m["max_seq_len"]
    A = H * D
    dense = L * (3 * C * A + A * C + 2 * C * I) + C * C + 0.15 * C * V
    if m.get("attn_type") == "softmax":
        attn = L * H * 2 * T * D
    else:
        mm = landmarks(m)
        k = m.get("conv_kernel_size", 0) or 0
        n = m.get("inv_iterations", 6)
        attn = L * H * (3 * mm * D + mm * mm + k * D + (4 * n * mm ** 3 + mm * mm * D) / T)
    return 6 * (dense + attn)


def header():
    return "%s\n\n%s\n%s" % (FORMULA, FMT % COLS,
                             "|" + "|".join("-" * len(c) for c in
                                            (FMT % COLS).split("|")[1:-1]) + "|")


def target(name, prec, mfu):
    if prec != "bf16" or not name.startswith("nystrom-512"):
        return "-"
    return "%d%%: %s" % (TARGET_MFU, "met" if mfu >= TARGET_MFU else "no")


def row(run, name, prec, batch, T, tps, F, peak_mib=None):
    """One measured row; tps tokens/s, F FLOPs a token."""
    mfu = 100 * tps * F / PEAK
    return FMT % (run, name, prec, batch, T, "%.0f" % tps, "%.3f" % (F / 1e9),
                  "%.1f" % (tps * F / 1e12), "%.1f%%" % mfu, target(name, prec, mfu),
                  "-" if peak_mib is None else "%.0f" % peak_mib)


def note_row(run, name, prec, batch, T, what):
    """A row without numbers: what happened instead."""
    return "| %-7s | %-12s | %-4s | %5s | %5s | %s" % (run, name, prec, batch, T, what)


def log_lines(path):
    out = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                out.append(json.loads(line))
    return out


def median_rate(lines):
    rates = [l["tokens_per_s"] for l in lines if l.get("tokens_per_s")]
    rates = rates[1:] or rates  # the first step warms up
    return sorted(rates)[len(rates) // 2] if rates else 0


def main(argv):
    if argv[1:2] == ["header"]:
        print(header())
        return 0
    if argv[1:2] != ["row"] or len(argv) not in (7, 8):
        print(__doc__.strip().split("\n\n")[-1], file=sys.stderr)
        return 2
    cfg, batch, name, prec, log = argv[2:7]
    m = json.load(open(cfg))["model"]
    T = m["max_seq_len"]
    lines = log_lines(log)
    if len(argv) == 8:
        ref = log_lines(argv[7])
        losses = [l["loss"] for l in lines if "loss" in l]
        if losses and losses == [l["loss"] for l in ref if "loss" in l]:
            print(note_row("nys", name, prec, batch, T,
                           "not active: mixed_precision: true gave fp32's losses bit for "
                           "bit (no bf16 products in this build or on this device)"))
            return 0
    print(row("nys", name, prec, batch, T, median_rate(lines), flops_per_token(m)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
