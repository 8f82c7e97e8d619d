#!/usr/bin/python3
"""Golden values for the attention ops, from an independent reference.

Written from the equations of the issue and the authors' attention code in
PyTorch (autograd supplies the gradients), in float64.  Writes
tests/data/attn_golden.json (cases, options, tensor offsets) and
tests/data/attn_golden.bin (the tensors, float64 little-endian).  CI uses the
stored files; run this only to regenerate them (Debian: python3-torch):

    /usr/bin/python3 tests/gen/attn_golden.py
"""
import json
import math
import os
import struct

import torch

torch.manual_seed(1234)
torch.set_default_dtype(torch.float64)


def segment_means(X, mask, m, unpadded):
    """(B, H, T, D) -> (B, H, m, D); uneven segments: the first (s+1)m - T
    hold s tokens, the rest s + 1."""
    B, H, T, D = X.shape
    s = T // m
    n_short = (s + 1) * m - T if T % m else m
    sizes = [s] * n_short + [s + 1] * (m - n_short)
    out, at = [], 0
    for size in sizes:
        seg = X[:, :, at:at + size, :]
        if unpadded:
            w = mask[:, None, at:at + size, None]
            cnt = w.sum(dim=2, keepdim=True)
            out.append((seg * w).sum(dim=2, keepdim=True) / cnt.clamp(min=1))
        else:
            out.append(seg.mean(dim=2, keepdim=True))
        at += size
    return torch.cat(out, dim=2)


def pinv(K, iters, init):
    I = torch.eye(K.shape[-1])
    if init == 0:   # original: one c for the whole batch
        V = 1 / torch.max(torch.sum(K, dim=-2)) * K.transpose(-1, -2)
    else:           # per matrix: ||K||_1
        a = torch.max(torch.sum(K, dim=-2), dim=-1).values[:, :, None, None]
        V = 1 / a * K.transpose(-1, -2)
    for _ in range(iters):
        KV = K @ V
        V = (0.25 * V) @ (13 * I - KV @ (15 * I - KV @ (7 * I - KV)))
    return V


def nystrom(Q, K, V, mask, w, o):
    D = Q.shape[-1]
    Qs = Q * mask[:, None, :, None] / math.sqrt(math.sqrt(D))
    Ks = K * mask[:, None, :, None] / math.sqrt(math.sqrt(D))
    T = Q.shape[2]
    neg = 1e9 * (1 - mask[:, None, None, :])
    if o["landmarks"] == T:
        X = torch.softmax(Qs @ Ks.transpose(-1, -2) - neg, dim=-1) @ V
    else:
        Ql = segment_means(Qs, mask, o["landmarks"], o["unpadded_means"])
        Kl = segment_means(Ks, mask, o["landmarks"], o["unpadded_means"])
        k1 = torch.softmax(Qs @ Kl.transpose(-1, -2), dim=-1)
        k2 = torch.softmax(Ql @ Kl.transpose(-1, -2), dim=-1)
        k3 = torch.softmax(Ql @ Ks.transpose(-1, -2) - neg, dim=-1)
        X = (k1 @ pinv(k2, o["pinv_iters"], o["pinv_init"])) @ (k3 @ V)
    if o["conv_k"]:
        H, k = w.shape
        Vm = V * mask[:, None, :, None]
        X = X + torch.nn.functional.conv2d(Vm, w[:, None, :, None], padding=(k // 2, 0), groups=H)
    return X


def softmax_attn(Q, K, V, mask):
    D = Q.shape[-1]
    S = Q @ K.transpose(-1, -2) / math.sqrt(D) - 1e6 * (1 - mask[:, None, None, :])
    return torch.softmax(S, dim=-1) @ V


CASES = [
    dict(name="nystrom T12 m4 conv3 original padded", kind="nystrom", B=2, H=2, T=12, D=4,
         landmarks=4, pinv_iters=6, pinv_init=0, conv_k=3, unpadded_means=0, pad=3),
    dict(name="nystrom T13 m4 uneven per-matrix", kind="nystrom", B=2, H=2, T=13, D=4,
         landmarks=4, pinv_iters=6, pinv_init=1, conv_k=0, unpadded_means=0, pad=0),
    dict(name="nystrom T13 m3 unpadded means conv5 padded", kind="nystrom", B=2, H=3, T=13, D=5,
         landmarks=3, pinv_iters=6, pinv_init=1, conv_k=5, unpadded_means=1, pad=4),
    dict(name="nystrom T8 m8 falls back to softmax", kind="nystrom", B=1, H=2, T=8, D=4,
         landmarks=8, pinv_iters=6, pinv_init=0, conv_k=3, unpadded_means=0, pad=2),
    dict(name="nystrom T32 m8 iters 10", kind="nystrom", B=1, H=2, T=32, D=8,
         landmarks=8, pinv_iters=10, pinv_init=0, conv_k=0, unpadded_means=0, pad=5),
    dict(name="softmax T10 padded", kind="softmax", B=2, H=2, T=10, D=4, pad=3),
]


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    data = os.path.join(here, "..", "data")
    blob = bytearray()
    manifest = []

    def put(t):
        off = len(blob) // 8
        blob.extend(struct.pack("<%dd" % t.numel(), *t.detach().flatten().tolist()))
        return [off, t.numel()]

    for c in CASES:
        B, H, T, D = c["B"], c["H"], c["T"], c["D"]
        Q = torch.randn(B, H, T, D, requires_grad=True)
        K = torch.randn(B, H, T, D, requires_grad=True)
        V = torch.randn(B, H, T, D, requires_grad=True)
        mask = torch.ones(B, T)
        if c["pad"]:
            mask[-1, T - c["pad"]:] = 0
        k = c.get("conv_k", 0)
        w = torch.randn(H, max(k, 1), requires_grad=True)
        out = nystrom(Q, K, V, mask, w, c) if c["kind"] == "nystrom" else softmax_attn(Q, K, V, mask)
        G = torch.randn_like(out)
        (out * G).sum().backward()
        t = dict(q=put(Q), k=put(K), v=put(V), mask=put(mask), out=put(out), g=put(G),
                 dq=put(Q.grad), dk=put(K.grad), dv=put(V.grad))
        if c["kind"] == "nystrom" and k:
            t["convw"] = put(w)
            t["dconvw"] = put(w.grad)
        manifest.append(dict(case=c, tensors=t))
    with open(os.path.join(data, "attn_golden.bin"), "wb") as f:
        f.write(blob)
    with open(os.path.join(data, "attn_golden.json"), "w") as f:
        json.dump({"generator": "tests/gen/attn_golden.py", "torch": torch.__version__,
                   "dtype": "float64 little-endian", "cases": manifest}, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
