#!/usr/bin/env python3
"""make bench: the LRA row's comparison, PyTorch eager.

    lra_torch.py ATTN T B [steps]

The model and batch of `tests/bench/lra ATTN T B steps` in PyTorch float32,
written from the authors' LRA equations (mlpen/Nystromformer, LRA/code/
model.py, model_wrapper.py, attention_*.py) as plain modules run eagerly:
word and learned position embeddings, dropout; 2 pre-LayerNorm layers of
2 heads of 32 with a GELU feed-forward of 128, dropouts and residuals; the
final LayerNorm, the mean over the unpadded tokens and the classifier
(dense 64 -> 128, ReLU, dense -> 10), cross-entropy; then AdamW (eps 1e-6,
no weight decay).  ATTN: softmax (with attention dropout), nystrom-M
(segment means, 6 pseudo-inverse iterations, conv 35 over the values) or
linear (elu + 1).  Documents of 4/5 T to T tokens, padded and masked.
Prints, as the C program does,

    ATTN T B best-tokens/s median-tokens/s best-ms/step peak-RSS-MB

Needs torch (make bench runs it only when BENCH_PYTHON can import it).
"""
import math
import os
import resource
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import finetune_torch  # noqa: E402  (its Nystrom attention)

V, C, HID, LAYERS, H, D, CLASSES, CONV = 17, 64, 128, 2, 2, 32, 10, 35


class Attention(nn.Module):
    def __init__(self, kind, m):
        super().__init__()
        self.kind, self.m = kind, m
        self.q, self.k, self.v = (nn.Linear(C, H * D) for _ in range(3))
        self.out = nn.Linear(H * D, C)
        self.drop = nn.Dropout(0.1)
        if kind == "nystrom":
            self.conv = nn.Conv2d(H, H, (CONV, 1), padding=(CONV // 2, 0), bias=False, groups=H)

    def forward(self, x, mask):
        B, T, _ = x.shape
        split = lambda y: y.view(B, T, H, D).transpose(1, 2)
        q, k, v = split(self.q(x)), split(self.k(x)), split(self.v(x))
        m = mask[:, None, :, None]
        if self.kind == "softmax":
            s = q @ k.transpose(-1, -2) / math.sqrt(D) - 1e6 * (1 - mask[:, None, None, :])
            y = self.drop(F.softmax(s, -1)) @ v
        elif self.kind == "linear":
            fq = F.elu(q) + 1
            fk = (F.elu(k) + 1) * m
            y = fq @ (fk.transpose(-1, -2) @ (v * m))
            y = y / (fq @ fk.sum(-2)[..., None])
        else:
            y = finetune_torch.nystrom(q, k, v, mask, self.m, 6, self.conv)
        return self.out(y.transpose(1, 2).reshape(B, T, H * D))


class Layer(nn.Module):
    def __init__(self, kind, m):
        super().__init__()
        self.attn, self.ln1, self.ln2 = Attention(kind, m), nn.LayerNorm(C), nn.LayerNorm(C)
        self.ff = nn.Sequential(nn.Linear(C, HID), nn.GELU(), nn.Dropout(0.1),
                                nn.Linear(HID, C), nn.Dropout(0.1))
        self.drop = nn.Dropout(0.1)

    def forward(self, x, mask):
        x = x + self.drop(self.attn(self.ln1(x), mask))
        return x + self.ff(self.ln2(x))


class Model(nn.Module):
    def __init__(self, kind, m, T):
        super().__init__()
        self.word, self.pos = nn.Embedding(V, C), nn.Embedding(T, C)
        self.drop, self.ln = nn.Dropout(0.1), nn.LayerNorm(C)
        self.layers = nn.ModuleList(Layer(kind, m) for _ in range(LAYERS))
        self.head = nn.Sequential(nn.Linear(C, HID), nn.ReLU(), nn.Linear(HID, CLASSES))

    def forward(self, ids, mask, labels):
        pos = torch.arange(ids.size(1), device=ids.device)[None]
        x = self.drop(self.word(ids) + self.pos(pos))
        for layer in self.layers:
            x = layer(x, mask)
        x = self.ln(x) * mask[:, :, None]
        pooled = x.sum(1) / mask.sum(1, keepdim=True).clamp(min=1)
        return F.cross_entropy(self.head(pooled), labels)


def main():
    attn, T, B = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    steps = int(sys.argv[4]) if len(sys.argv) > 4 else 3
    kind, _, m = attn.partition("-")
    torch.manual_seed(1)
    g = torch.Generator().manual_seed(12345)
    lens = T - torch.randint(0, T // 5 + 1, (B,), generator=g)
    pos = torch.arange(T)[None]
    mask = (pos < lens[:, None]).float()
    ids = torch.where(mask > 0, torch.randint(1, V, (B, T), generator=g), torch.zeros(B, T).long())
    labels = torch.randint(0, CLASSES, (B,), generator=g)
    model = Model(kind, int(m or 0), T).train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, eps=1e-6, weight_decay=0)
    dt = []
    for _ in range(steps + 1):
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=False)
        model(ids, mask, labels).backward()
        opt.step()
        dt.append(time.perf_counter() - t0)
    dt = sorted(dt[1:])
    best, median = dt[0], dt[len(dt) // 2]
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3
    print("%s %d %d %.0f %.0f %.1f %.1f" % (attn, T, B, B * T / best, B * T / median, best * 1e3, rss))


if __name__ == "__main__":
    main()
