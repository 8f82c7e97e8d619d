#!/usr/bin/python3
"""Golden values for the whole model, from an independent reference.

The Nystromformer of the authors (mlpen/Nystromformer, code/model.py and
model_wrapper.py) with its masked-LM head, written here from the equations
in PyTorch float64; autograd supplies the gradient of the loss with respect
to every parameter.  The attention itself is the reference of
tests/gen/attn_golden.py (imported).  For each case it writes, under
tests/data:

  model_golden_CASE.safetensors      the checkpoint: every parameter in
                                     HuggingFace's Nystromformer names (the
                                     tied decoder weight and bias too), F64
  model_golden_CASE.ref.safetensors  the batch (ids I32, mask F64, labels
                                     I32) and what the model must give: loss
                                     (1), hidden (B, T, C), logits (M, V) at
                                     the labelled positions in (b, t) order,
                                     and grad.NAME for every parameter, F64
  model_golden_cases.json            the cases: name, what they cover, the
                                     "model" config (the authors' keys and
                                     ours), B, T, M

The files are plain safetensors (no nys_checksum: nys_st_load checks one
only when present).  CI uses the stored files; run this only to regenerate
them (Debian: python3-torch):

    /usr/bin/python3 tests/gen/model_golden.py
"""
import json
import math
import os
import struct
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import attn_golden  # noqa: E402  (the attention reference; sets float64)

torch.set_default_dtype(torch.float64)

EPS = 1e-5  # every LayerNorm of the model and of the head


def base_config(**kw):
    c = {
        "mixed_precision": False,
        "attention_grad_checkpointing": False,
        "gelu_grad_checkpointing": False,
        "vocab_size": 50,
        "num_sen_type": 1,
        "max_seq_len": 16,
        "embedding_dim": 16,
        "transformer_dim": 16,
        "transformer_hidden_dim": 32,
        "num_layers": 2,
        "dropout_prob": 0.1,
        "num_head": 2,
        "head_dim": 8,
        "attn_type": "nystrom",
        "num_landmarks": 4,
        "seq_len": 16,
    }
    c.update(kw)
    return {k: v for k, v in c.items() if v is not None}


# name, what it covers, the "model" config, batch shape, padded tokens at the
# end of the last sequence.
CASES = [
    dict(name="nys_conv",
         about="nystrom, 4 landmarks dividing T 16, conv 3, pinv original, two token types",
         model=base_config(conv_kernel_size=3, num_sen_type=2), B=2, T=16, pad=0),
    dict(name="nys_uneven_skip",
         about="nystrom, T 13 with 4 landmarks (uneven segments), 3 padded tokens, "
               "landmarks_skip_padding, conv 5",
         model=base_config(conv_kernel_size=5, landmarks_skip_padding=True), B=2, T=13, pad=3),
    dict(name="nys_new_init",
         about="nystrom, pinv init \"new\" (inv_init_coeff_option, as the authors' code reads), "
               "conv 3, 2 padded tokens",
         model=base_config(conv_kernel_size=3, inv_init_coeff_option="new"), B=2, T=16, pad=2),
    dict(name="nys_noconv",
         about="nystrom without conv, T 14 with 4 landmarks, 4 padded tokens counted as zeros "
               "in the means, inv_iterations 8",
         model=base_config(inv_iterations=8), B=2, T=14, pad=4),
    dict(name="softmax_pad",
         about="softmax attention, T 12, 4 padded tokens",
         model=base_config(attn_type="softmax", num_landmarks=None, seq_len=None), B=2, T=12, pad=4),
    dict(name="proj_e12",
         about="embedding_dim 12 != transformer_dim 16 (embeddings projection), nystrom, conv 3",
         model=base_config(embedding_dim=12, conv_kernel_size=3), B=2, T=16, pad=0),
    dict(name="nys_exact",
         about="nystrom with num_landmarks == seq_len (the exact softmax branch, -1e9 masking), "
               "T 12, 3 padded tokens, conv 3",
         model=base_config(num_landmarks=16, conv_kernel_size=3), B=2, T=12, pad=3),
    dict(name="softmax_erf_a12",
         about="softmax attention, num_head * head_dim 12 != transformer_dim 16, "
               "head_gelu \"erf\", T 15",
         model=base_config(attn_type="softmax", num_landmarks=None, seq_len=None, head_dim=6,
                           head_gelu="erf"), B=2, T=15, pad=0),
]


# ---- the parameters, in our table's order and HuggingFace's names ----------

def param_specs(c):
    """[(name, shape, kind)]: kind says how to draw the values."""
    V, E, C = c["vocab_size"], c["embedding_dim"], c["transformer_dim"]
    F, H, A = c["transformer_hidden_dim"], c["num_head"], c["num_head"] * c["head_dim"]
    p = "nystromformer."
    s = [(p + "embeddings.word_embeddings.weight", (V, E), "emb"),
         (p + "embeddings.position_embeddings.weight", (c["max_seq_len"] + 2, E), "emb"),
         (p + "embeddings.token_type_embeddings.weight", (c["num_sen_type"], E), "emb")]
    if E != C:
        s += [(p + "embeddings.projection.weight", (C, E), "lin"),
              (p + "embeddings.projection.bias", (C,), "lin")]
    s += [(p + "embeddings.LayerNorm.weight", (C,), "lnw"),
          (p + "embeddings.LayerNorm.bias", (C,), "lnb")]
    for l in range(c["num_layers"]):
        q = p + "encoder.layer.%d." % l
        for j in ("query", "key", "value"):
            s.append((q + "attention.self.%s.weight" % j, (A, C), "qk" if j != "value" else "lin"))
        for j in ("query", "key", "value"):
            s.append((q + "attention.self.%s.bias" % j, (A,), "lin"))
        if c["attn_type"] == "nystrom" and c.get("conv_kernel_size"):
            s.append((q + "attention.self.conv.weight", (H, 1, c["conv_kernel_size"], 1), "lin"))
        s += [(q + "attention.output.dense.weight", (C, A), "lin"),
              (q + "attention.output.dense.bias", (C,), "lin"),
              (q + "attention.output.LayerNorm.weight", (C,), "lnw"),
              (q + "attention.output.LayerNorm.bias", (C,), "lnb"),
              (q + "intermediate.dense.weight", (F, C), "lin"),
              (q + "intermediate.dense.bias", (F,), "lin"),
              (q + "output.dense.weight", (C, F), "lin"),
              (q + "output.dense.bias", (C,), "lin"),
              (q + "output.LayerNorm.weight", (C,), "lnw"),
              (q + "output.LayerNorm.bias", (C,), "lnb")]
    s += [("cls.predictions.transform.dense.weight", (E, C), "lin"),
          ("cls.predictions.transform.dense.bias", (E,), "lin"),
          ("cls.predictions.transform.LayerNorm.weight", (E,), "lnw"),
          ("cls.predictions.transform.LayerNorm.bias", (E,), "lnb"),
          ("cls.predictions.bias", (V,), "lnb")]
    return s


def draw(shape, kind, fan_in):
    if kind == "emb":
        return 0.3 * torch.randn(shape)
    if kind == "lnw":
        return 1 + 0.2 * torch.randn(shape)
    if kind == "lnb":
        return 0.1 * torch.randn(shape)
    # PyTorch's Linear / Conv2d range; the query and key weights twice that,
    # so that the attention is not nearly uniform.
    b = (2.0 if kind == "qk" else 1.0) / math.sqrt(fan_in)
    return b * (2 * torch.rand(shape) - 1)


def make_params(c):
    P = {}
    fan = None
    for name, shape, kind in param_specs(c):
        if name.endswith(".weight") and len(shape) >= 2:
            fan = 1
            for d in shape[1:]:
                fan *= d
        P[name] = draw(shape, kind, fan).requires_grad_(True)
    return P


# ---- the model ----------------------------------------------------------------

def layer_norm(x, w, b):
    mu = x.mean(dim=-1, keepdim=True)
    var = ((x - mu) ** 2).mean(dim=-1, keepdim=True)
    return (x - mu) / torch.sqrt(var + EPS) * w + b


def gelu_tanh(x):
    return 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))


def gelu_erf(x):
    return 0.5 * x * (1 + torch.erf(x / math.sqrt(2)))


def linear(x, w, b):
    return x @ w.transpose(0, 1) + b


def attention(c, Q, K, V, mask, conv):
    """Q, K, V (B, H, T, d) -> (B, H, T, d)."""
    if c["attn_type"] == "softmax":
        return attn_golden.softmax_attn(Q, K, V, mask)
    T = Q.shape[2]
    o = dict(landmarks=T if c["num_landmarks"] == c["seq_len"] else c["num_landmarks"],
             pinv_iters=c.get("inv_iterations", 6),
             pinv_init=1 if c.get("inv_init_coeff_option", c.get("inv_coeff_init_option",
                                                                 "original")) == "new" else 0,
             conv_k=c.get("conv_kernel_size", 0),
             unpadded_means=1 if c.get("landmarks_skip_padding") else 0)
    w = conv.reshape(conv.shape[0], conv.shape[2]) if conv is not None else None
    return attn_golden.nystrom(Q, K, V, mask, w, o)


def model(c, P, ids, mask, labels):
    B, T = ids.shape
    H, d = c["num_head"], c["head_dim"]
    p = "nystromformer."
    pos = torch.arange(T) + 2
    X = (P[p + "embeddings.word_embeddings.weight"][ids]
         + P[p + "embeddings.position_embeddings.weight"][pos][None, :, :]
         + P[p + "embeddings.token_type_embeddings.weight"][0][None, None, :])
    if c["embedding_dim"] != c["transformer_dim"]:
        X = linear(X, P[p + "embeddings.projection.weight"], P[p + "embeddings.projection.bias"])
    X = layer_norm(X, P[p + "embeddings.LayerNorm.weight"], P[p + "embeddings.LayerNorm.bias"])

    def heads(Y):
        return Y.reshape(B, T, H, d).transpose(1, 2)

    for l in range(c["num_layers"]):
        q = p + "encoder.layer.%d." % l
        a = q + "attention.self."
        Q = heads(linear(X, P[a + "query.weight"], P[a + "query.bias"]))
        K = heads(linear(X, P[a + "key.weight"], P[a + "key.bias"]))
        V = heads(linear(X, P[a + "value.weight"], P[a + "value.bias"]))
        att = attention(c, Q, K, V, mask, P.get(a + "conv.weight"))
        att = att.transpose(1, 2).reshape(B, T, H * d)
        out = linear(att, P[q + "attention.output.dense.weight"], P[q + "attention.output.dense.bias"])
        X = layer_norm(X + out, P[q + "attention.output.LayerNorm.weight"],
                       P[q + "attention.output.LayerNorm.bias"])
        ff = linear(gelu_tanh(linear(X, P[q + "intermediate.dense.weight"],
                                     P[q + "intermediate.dense.bias"])),
                    P[q + "output.dense.weight"], P[q + "output.dense.bias"])
        X = layer_norm(X + ff, P[q + "output.LayerNorm.weight"], P[q + "output.LayerNorm.bias"])
    hidden = X

    flat = labels.reshape(-1)
    rows = torch.nonzero(flat >= 0).reshape(-1)  # (b, t) order
    h = hidden.reshape(B * T, -1)[rows]
    h = linear(h, P["cls.predictions.transform.dense.weight"], P["cls.predictions.transform.dense.bias"])
    h = gelu_erf(h) if c.get("head_gelu") == "erf" else gelu_tanh(h)
    h = layer_norm(h, P["cls.predictions.transform.LayerNorm.weight"],
                   P["cls.predictions.transform.LayerNorm.bias"])
    logits = h @ P[p + "embeddings.word_embeddings.weight"].transpose(0, 1) + P["cls.predictions.bias"]
    tgt = flat[rows]
    ce = torch.logsumexp(logits, dim=-1) - logits.gather(1, tgt[:, None])[:, 0]
    loss = ce.sum() / (rows.numel() + 1e-6)
    return loss, hidden, logits


# ---- safetensors, written by hand ---------------------------------------------

def write_safetensors(path, tensors, meta):
    """tensors: [(name, tensor)] in order; float64 -> F64, int32 -> I32."""
    header, blobs, off = {}, [], 0
    for name, t in tensors:
        t = t.detach().contiguous()
        if t.dtype == torch.float64:
            dt, raw = "F64", struct.pack("<%dd" % t.numel(), *t.flatten().tolist())
        elif t.dtype == torch.int32:
            dt, raw = "I32", struct.pack("<%di" % t.numel(), *t.flatten().tolist())
        else:
            raise ValueError(t.dtype)
        header[name] = {"dtype": dt, "shape": list(t.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    header["__metadata__"] = meta
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for raw in blobs:
            f.write(raw)


def self_check():
    """The hand-written pieces agree with torch's own (which are not used)."""
    F = torch.nn.functional
    x, w, b = torch.randn(5, 7), torch.randn(7), torch.randn(7)
    assert torch.allclose(layer_norm(x, w, b), F.layer_norm(x, (7,), w, b, EPS), rtol=0, atol=1e-13)
    assert torch.allclose(gelu_tanh(x), F.gelu(x, approximate="tanh"), rtol=0, atol=1e-13)
    assert torch.allclose(gelu_erf(x), F.gelu(x), rtol=0, atol=1e-13)
    t = torch.randint(0, 7, (5,))
    assert torch.allclose(torch.logsumexp(x, -1) - x.gather(1, t[:, None])[:, 0],
                          F.cross_entropy(x, t, reduction="none"), rtol=0, atol=1e-13)


def main():
    self_check()
    here = os.path.dirname(os.path.abspath(__file__))
    data = os.path.join(here, "..", "data")
    gen = torch.Generator().manual_seed(20240611)
    torch.manual_seed(20240611)
    manifest = []
    for c in CASES:
        cfg = c["model"]
        B, T, V = c["B"], c["T"], cfg["vocab_size"]
        P = make_params(cfg)
        ids = torch.randint(0, V, (B, T), generator=gen, dtype=torch.int64)
        mask = torch.ones(B, T)
        if c["pad"]:
            mask[-1, T - c["pad"]:] = 0
            ids[-1, T - c["pad"]:] = 0  # the pad token
        labels = torch.full((B, T), -100, dtype=torch.int64)
        for b in range(B):
            n = int(mask[b].sum())
            pick = torch.randperm(n, generator=gen)[:max(2, round(0.35 * n))]
            labels[b, pick] = torch.randint(0, V, (pick.numel(),), generator=gen)
        loss, hidden, logits = model(cfg, P, ids, mask, labels)
        names = [n for n, _, _ in param_specs(cfg)]
        grads = torch.autograd.grad(loss, [P[n] for n in names])

        ckpt = [(n, P[n]) for n in names]
        ckpt += [("cls.predictions.decoder.weight", P["nystromformer.embeddings.word_embeddings.weight"]),
                 ("cls.predictions.decoder.bias", P["cls.predictions.bias"])]
        model_json = json.dumps(cfg, sort_keys=True, separators=(",", ":"))
        base = os.path.join(data, "model_golden_%s" % c["name"])
        write_safetensors(base + ".safetensors", ckpt,
                          {"format": "pt", "nys_model": model_json,
                           "generator": "tests/gen/model_golden.py"})
        ref = [("ids", ids.to(torch.int32)), ("mask", mask), ("labels", labels.to(torch.int32)),
               ("loss", loss.reshape(1)), ("hidden", hidden), ("logits", logits)]
        ref += [("grad." + n, g) for n, g in zip(names, grads)]
        write_safetensors(base + ".ref.safetensors", ref,
                          {"case": c["name"], "generator": "tests/gen/model_golden.py"})
        manifest.append(dict(name=c["name"], about=c["about"], model=cfg, B=B, T=T,
                             M=int(logits.shape[0])))
        print("%-16s loss %.6f, %d labels, %d parameters" %
              (c["name"], loss.item(), logits.shape[0], sum(P[n].numel() for n in names)))
    with open(os.path.join(data, "model_golden_cases.json"), "w") as f:
        json.dump({"generator": "tests/gen/model_golden.py", "torch": torch.__version__,
                   "cases": manifest}, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
