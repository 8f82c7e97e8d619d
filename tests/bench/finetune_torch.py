#!/usr/bin/env python3
"""make bench: the fine-tuning row's comparison, PyTorch eager.

    finetune_torch.py T B [steps]

The model and batch of `tests/bench/model T B steps cls` in PyTorch float32,
written from the authors' equations (mlpen/Nystromformer code/model.py,
attention_nystrom.py, run_glue.py's head) as plain modules run eagerly:
embeddings (word, position, token type; LayerNorm, dropout), 4 layers of
Nystrom attention (64 landmarks as segment means, the pseudo-inverse by 6
iterations from the original initialisation, the depthwise convolution of
33 over the values) and a GELU feed-forward, each with dropout, a residual
and LayerNorm; the authors' classification head on [CLS] (dropout, dense,
tanh, dropout, dense to 2 classes), cross-entropy; then AdamW (eps 1e-6,
weight decay 0.01).  Sentence pairs of 3/4 T to T tokens padded to T, the
padding mask applied.  Times `steps` steps after one warm-up and prints

    T B best-tokens/s median-tokens/s best-ms/step peak-RSS-MB

as the C program does.  Needs torch (make bench runs it only when the
interpreter BENCH_PYTHON, default python3, can import it).
"""
import math
import resource
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

V, C, HID, LAYERS, H, D, LM, CONV = 30000, 256, 1024, 4, 4, 64, 64, 33


class Attention(nn.Module):
    def __init__(self):
        super().__init__()
        self.q, self.k, self.v = (nn.Linear(C, H * D) for _ in range(3))
        self.conv = nn.Conv2d(H, H, (CONV, 1), padding=(CONV // 2, 0), bias=False, groups=H)
        self.out = nn.Linear(H * D, C)

    @staticmethod
    def pinv(m, iters=6):
        eye = torch.eye(m.size(-1), device=m.device)
        v = m.transpose(-1, -2) / (torch.max(m.sum(-2)) * torch.max(m.sum(-1)))
        for _ in range(iters):
            kv = m @ v
            v = 0.25 * v @ (13 * eye - kv @ (15 * eye - kv @ (7 * eye - kv)))
        return v

    def forward(self, x, mask):
        B, T, _ = x.shape
        split = lambda y: y.view(B, T, H, D).transpose(1, 2)
        q, k, v = split(self.q(x)), split(self.k(x)), split(self.v(x))
        y = nystrom(q, k, v, mask, LM, 6, self.conv)
        return self.out(y.transpose(1, 2).reshape(B, T, H * D))


def nystrom(q, k, v, mask, lm, iters, conv):
    """The authors' NystromAttention.forward on (B, H, T, D) with the mask
    (B, T): lm landmarks as segment means, the pseudo-inverse in iters
    iterations, the depthwise conv over the values (None: none).  Shared by
    lra_torch.py and tests/gpu/torch_step.py."""
    B, H, T, D = q.shape
    m = mask[:, None, :, None]
    q = q * m / math.sqrt(math.sqrt(D))
    k = k * m / math.sqrt(math.sqrt(D))
    ql = q.reshape(B, H, lm, T // lm, D).mean(-2)
    kl = k.reshape(B, H, lm, T // lm, D).mean(-2)
    k1 = F.softmax(q @ kl.transpose(-1, -2), -1)
    k2 = F.softmax(ql @ kl.transpose(-1, -2), -1)
    k3 = F.softmax(ql @ k.transpose(-1, -2) - 1e9 * (1 - mask[:, None, None, :]), -1)
    y = (k1 @ Attention.pinv(k2, iters)) @ (k3 @ v)
    return y + conv(v * m) if conv is not None else y


class Layer(nn.Module):
    def __init__(self):
        super().__init__()
        self.attn, self.ln1, self.ln2 = Attention(), nn.LayerNorm(C), nn.LayerNorm(C)
        self.ff = nn.Sequential(nn.Linear(C, HID), nn.GELU(approximate="tanh"), nn.Dropout(0.1),
                                nn.Linear(HID, C), nn.Dropout(0.1))
        self.drop = nn.Dropout(0.1)

    def forward(self, x, mask):
        x = self.ln1(x + self.drop(self.attn(x, mask)))
        return self.ln2(x + self.ff(x))


class Classifier(nn.Module):
    def __init__(self, T):
        super().__init__()
        self.word, self.pos, self.types = nn.Embedding(V, C), nn.Embedding(T, C), nn.Embedding(2, C)
        self.ln, self.drop = nn.LayerNorm(C), nn.Dropout(0.1)
        self.layers = nn.ModuleList(Layer() for _ in range(LAYERS))
        self.head = nn.Sequential(nn.Dropout(0.1), nn.Linear(C, C), nn.Tanh(), nn.Dropout(0.1),
                                  nn.Linear(C, 2))

    def forward(self, ids, types, mask, labels):
        pos = torch.arange(ids.size(1), device=ids.device)[None]
        x = self.drop(self.ln(self.word(ids) + self.pos(pos) + self.types(types)))
        for layer in self.layers:
            x = layer(x, mask)
        return F.cross_entropy(self.head(x[:, 0]), labels)


def main():
    T, B = int(sys.argv[1]), int(sys.argv[2])
    steps = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    torch.manual_seed(1)
    g = torch.Generator().manual_seed(12345)
    lens = T - torch.randint(0, T // 4 + 1, (B,), generator=g)
    ids = torch.randint(4, V, (B, T), generator=g)
    pos = torch.arange(T)[None]
    mask = (pos < lens[:, None]).float()
    types = ((pos > lens[:, None] // 2) & (pos < lens[:, None])).long()
    ids = torch.where(mask > 0, ids, torch.zeros_like(ids))
    ids[:, 0] = 2
    ids[torch.arange(B), lens // 2] = 3
    ids[torch.arange(B), lens - 1] = 3
    labels = torch.randint(0, 2, (B,), generator=g)
    model = Classifier(T).train()
    opt = torch.optim.AdamW(model.parameters(), lr=3e-5, eps=1e-6, weight_decay=0.01)
    dt = []
    for _ in range(steps + 1):
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=False)
        model(ids, types, mask, labels).backward()
        opt.step()
        dt.append(time.perf_counter() - t0)
    dt = sorted(dt[1:])
    best, median = dt[0], dt[len(dt) // 2]
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3
    print("%d %d %.0f %.0f %.1f %.1f" % (T, B, B * T / best, B * T / median, best * 1e3, rss))


if __name__ == "__main__":
    main()
