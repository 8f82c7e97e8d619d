#!/usr/bin/env python3
"""make bench-gpu's PyTorch side: the same training step and the same
attention as nys's rows, in PyTorch eager, printed in the columns of
tests/gpu/table.py so that the two sit side by side.

    torch_step.py [--device cuda|cpu] [--tiny] [--what train,attn]
                  [--steps N] [--reps N] [--nmax N] [--budget SECONDS]

The model is the authors' (mlpen/Nystromformer, code/model.py and
model_wrapper.py) as nys builds it (libnys/model/nys_model.h), read from
pipeline/configs/nystrom-512 and nystrom-4096: embeddings (word, position,
type; LayerNorm, dropout), post-LN layers of Nystrom attention (landmarks as
segment means, the iterative pseudo-inverse from the original
initialisation, 6 iterations, the depthwise conv of the config's
conv_kernel_size over the values) and a tanh-GELU feed-forward, dropout
0.1; the masked-LM head at the 15% masked rows only (dense, GELU,
LayerNorm, the decoder tied to the word embeddings), the authors' loss
(sum / (labels + 1e-6)); AdamW.  Batches 32 x 512 and 4 x 4096 of random
ids, fp32 (TF32 off, true fp32 as nys's cuBLAS calls) and bf16 autocast
with the attention and the pseudo-inverse kept in fp32, as the authors'
code does (autocast off around them).  tokens/s is the median of N timed
steps after one warm-up, each ended by a synchronize.

The attention rows: one Nystrom attention call, forward then backward, at
n = 512 ... NMAX (batch 1, 12 heads, head size 64, 64 landmarks, conv 65,
6 iterations), the best of REPS after a warm-up; memory is the peak the
CUDA allocator held during the call (inputs and gradients included), as
attn_gpu counts every buffer the call takes.

Without torch, or (--device cuda) without a GPU torch can use, it prints one
"pytorch: skipped, ..." line and exits 0.  --tiny shrinks every size (2
layers of 64, sequences of 128 and 256, attention up to n = 1024 with 2
heads), to check the script on a CPU before a GPU machine first runs it.
--budget stops starting rows after SECONDS (a row says so), so that a phase
limit cuts between rows.
"""
import argparse
import json
import math
import os
import sys
import time

START = time.time()  # --budget counts from here, torch's import included
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "bench"))
import table  # noqa: E402

try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError as err:
    if __name__ == "__main__":
        print("pytorch: skipped, %s cannot import torch (%s)" % (sys.executable, err))
        sys.exit(0)
    raise
import finetune_torch  # noqa: E402

nystrom = finetune_torch.nystrom  # the authors' attention, as make bench has it


def depthwise_conv(H, k):
    return nn.Conv2d(H, H, (k, 1), padding=(k // 2, 0), bias=False, groups=H)


class Attention(nn.Module):
    def __init__(self, c):
        super().__init__()
        C, self.H, self.D = c["transformer_dim"], c["num_head"], c["head_dim"]
        A = self.H * self.D
        self.m, self.iters = table.landmarks(c), c.get("inv_iterations", 6)
        self.q, self.k, self.v = (nn.Linear(C, A) for _ in range(3))
        k = c.get("conv_kernel_size") or 0
        self.conv = depthwise_conv(self.H, k) if k else None
        self.out = nn.Linear(A, C)

    def forward(self, x, mask):
        B, T, _ = x.shape
        split = lambda y: y.view(B, T, self.H, self.D).transpose(1, 2)  # noqa: E731
        q, k, v = split(self.q(x)), split(self.k(x)), split(self.v(x))
        # the authors keep the attention in fp32 under autocast
        with torch.autocast(device_type=x.device.type, enabled=False):
            y = nystrom(q.float(), k.float(), v.float(), mask.float(), self.m, self.iters,
                        self.conv)
        return self.out(y.transpose(1, 2).reshape(B, T, self.H * self.D))


class Layer(nn.Module):
    def __init__(self, c):
        super().__init__()
        C, I, p = c["transformer_dim"], c["transformer_hidden_dim"], c["dropout_prob"]
        self.attn, self.ln1, self.ln2 = Attention(c), nn.LayerNorm(C), nn.LayerNorm(C)
        self.ff = nn.Sequential(nn.Linear(C, I), nn.GELU(approximate="tanh"), nn.Dropout(p),
                                nn.Linear(I, C), nn.Dropout(p))
        self.drop = nn.Dropout(p)

    def forward(self, x, mask):
        x = self.ln1(x + self.drop(self.attn(x, mask)))
        return self.ln2(x + self.ff(x))


class MaskedLM(nn.Module):
    def __init__(self, c):
        super().__init__()
        V, E, C = c["vocab_size"], c["embedding_dim"], c["transformer_dim"]
        T, p = c["max_seq_len"], c["dropout_prob"]
        self.word, self.pos = nn.Embedding(V, E), nn.Embedding(T + 2, E)
        self.types = nn.Embedding(c["num_sen_type"], E)
        self.ln, self.drop = nn.LayerNorm(E), nn.Dropout(p)
        self.proj = nn.Linear(E, C) if E != C else None
        self.layers = nn.ModuleList(Layer(c) for _ in range(c["num_layers"]))
        self.head = nn.Sequential(nn.Linear(C, E), nn.GELU(approximate="tanh"), nn.LayerNorm(E))
        self.bias = nn.Parameter(torch.zeros(V))
        for e in (self.word, self.pos, self.types):  # BERT's N(0, 0.02), as nys-eval init
            nn.init.normal_(e.weight, std=0.02)

    def forward(self, ids, labels):
        B, T = ids.shape
        pos = torch.arange(2, T + 2, device=ids.device)[None]
        x = self.drop(self.ln(self.word(ids) + self.pos(pos) + self.types(torch.zeros_like(ids))))
        if self.proj is not None:
            x = self.proj(x)
        mask = torch.ones(B, T, device=ids.device)  # pretraining passes no padding
        for layer in self.layers:
            x = layer(x, mask)
        rows = labels.view(-1) >= 0  # the sparse head: the masked rows only
        h = self.head(x.view(B * T, -1)[rows])
        logits = h @ self.word.weight.t() + self.bias
        lab = labels.view(-1)[rows]
        return F.cross_entropy(logits.float(), lab, reduction="sum") / (lab.numel() + 1e-6)


def sync(dev):
    if dev.type == "cuda":
        torch.cuda.synchronize()


def peak_start(dev):
    if dev.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def peak_mib(dev):
    return torch.cuda.max_memory_allocated() / 1048576 if dev.type == "cuda" else None


def is_oom(e):
    return isinstance(e, getattr(torch.cuda, "OutOfMemoryError", ())) or \
        "out of memory" in str(e)


def train_rows(dev, a, out):
    for name, batch in (("nystrom-512", 32), ("nystrom-4096", 4)):
        cfg = os.path.join(HERE, "..", "..", "pipeline", "configs", name, "config.json")
        c = json.load(open(cfg))["model"]
        if a.tiny:
            c, batch = table.tiny(c), 2
        T, F_tok = c["max_seq_len"], table.flops_per_token(c)
        for prec in ("fp32", "bf16"):
            if a.budget and time.time() - a.t0 > a.budget:
                out(table.note_row("pytorch", name, prec, batch, T,
                                   "not run: past the --budget of %gs" % a.budget))
                continue
            model = opt = None
            try:
                torch.manual_seed(1)
                peak_start(dev)
                model = MaskedLM(c).to(dev).train()
                opt = torch.optim.AdamW(model.parameters(), lr=1e-4, eps=1e-6,
                                        weight_decay=0.01)
                g = torch.Generator(device="cpu").manual_seed(12345)
                ids = torch.randint(5, c["vocab_size"], (batch, T), generator=g)
                picked = torch.rand(batch, T, generator=g) < 0.15
                labels = torch.where(picked, ids, torch.full_like(ids, -100))
                ids = torch.where(picked, torch.full_like(ids, 4), ids).to(dev)
                labels = labels.to(dev)
                dt = []
                for _ in range(a.steps + 1):
                    sync(dev)
                    t0 = time.perf_counter()
                    opt.zero_grad(set_to_none=True)
                    with torch.autocast(device_type=dev.type, dtype=torch.bfloat16,
                                        enabled=prec == "bf16"):
                        loss = model(ids, labels)
                    loss.backward()
                    opt.step()
                    sync(dev)
                    dt.append(time.perf_counter() - t0)
                if not math.isfinite(loss.item()):
                    raise RuntimeError("the loss is %r" % loss.item())
                dt = sorted(dt[1:])
                tps = batch * T / dt[len(dt) // 2]
                out(table.row("pytorch", name, prec, batch, T, tps, F_tok, peak_mib(dev)))
            except RuntimeError as e:
                what = "out of memory" if is_oom(e) else "failed: %s" % str(e).split("\n")[0]
                out(table.note_row("pytorch", name, prec, batch, T, what))
            del model, opt
            if dev.type == "cuda":
                torch.cuda.empty_cache()


def attn_rows(dev, a, out):
    H, D, m, conv_k, iters = (2, 32, 16, 65, 6) if a.tiny else (12, 64, 64, 65, 6)
    n, nmax = (256, min(a.nmax, 1024)) if a.tiny else (512, a.nmax)
    torch.manual_seed(1)
    conv = depthwise_conv(H, conv_k).to(dev)
    while n <= nmax:
        if a.budget and time.time() - a.t0 > a.budget:
            out("| %-7s | %-9s | %6d | not run: past the --budget of %gs" %
                ("pytorch", "nystrom", n, a.budget))
            n *= 2
            continue
        try:
            peak_start(dev)
            q, k, v = (torch.rand(1, H, n, D, device=dev) * 2 - 1 for _ in range(3))
            for t in (q, k, v):
                t.requires_grad_(True)
            mask = torch.ones(1, n, device=dev)
            dout = torch.rand(1, H, n, D, device=dev) * 2 - 1
            best_f = best_b = float("inf")
            for r in range(a.reps + 1):  # the first pair warms up
                sync(dev)
                t0 = time.perf_counter()
                y = nystrom(q, k, v, mask, m, iters, conv)
                sync(dev)
                t1 = time.perf_counter()
                y.backward(dout)
                sync(dev)
                t2 = time.perf_counter()
                if r:
                    best_f, best_b = min(best_f, t1 - t0), min(best_b, t2 - t1)
                finite = bool(torch.isfinite(q.grad).all())
                for t in (q, k, v):
                    t.grad = None
                conv.weight.grad = None
                del y
            if not finite:
                raise RuntimeError("dq is not finite")
            out(table.attn_row("pytorch", "nystrom", n, best_f * 1e3, best_b * 1e3,
                               peak_mib(dev)))
        except RuntimeError as e:
            what = "out of memory" if is_oom(e) else "failed: %s" % str(e).split("\n")[0]
            out("| %-7s | %-9s | %6d | %s" % ("pytorch", "nystrom", n, what))
            break
        finally:
            q = k = v = dout = None
        n *= 2


def main():
    ap = argparse.ArgumentParser(description="make bench-gpu's PyTorch rows")
    ap.add_argument("--device", choices=("cuda", "cpu"), default="cuda")
    ap.add_argument("--tiny", action="store_true", help="small sizes, to check the script")
    ap.add_argument("--what", default="train,attn", help="train, attn or both (train,attn)")
    ap.add_argument("--steps", type=int, default=4, help="timed training steps (default 4)")
    ap.add_argument("--reps", type=int, default=5, help="timed attention calls (default 5)")
    ap.add_argument("--nmax", type=int, default=65536, help="the longest attention (65536)")
    ap.add_argument("--budget", type=float, default=0, help="seconds; 0: no limit")
    a = ap.parse_args()
    what = set(a.what.split(","))
    if not what <= {"train", "attn"} or a.steps < 1 or a.reps < 1:
        ap.error("--what takes train and attn; --steps and --reps at least 1")
    a.t0 = START

    def out(line):
        print(line, flush=True)

    if a.device == "cuda" and not torch.cuda.is_available():
        out("pytorch: skipped, torch %s sees no usable GPU (CUDA %s)" %
            (torch.__version__, torch.version.cuda))
        return 0
    dev = torch.device(a.device)
    # true fp32 for the fp32 rows, as nys's cuBLAS calls (no TF32)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    where = torch.cuda.get_device_name() if dev.type == "cuda" else "the CPU"
    out("pytorch: torch %s on %s, eager%s" % (torch.__version__, where,
                                               ", --tiny sizes" if a.tiny else ""))
    if "train" in what:
        out("\nTraining steps, PyTorch eager (the authors' math; median of %d steps)\n" % a.steps)
        out(table.header())
        train_rows(dev, a, out)
    if "attn" in what:
        out("\nAttention, PyTorch eager, forward+backward, fp32 (best of %d)\n" % a.reps)
        out(table.attn_header())
        attn_rows(dev, a, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
