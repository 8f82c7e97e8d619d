#!/usr/bin/python3
"""nys-eval import-hf and export-hf against transformers (by hand, not CI).

Run with transformers 5.24.0 (the version this was written and run with;
5.x has Nystromformer), torch 2.15 (CPU), safetensors, sentencepiece and
numpy, e.g.:

    python3 -m venv /tmp/hfvenv
    /tmp/hfvenv/bin/pip install torch transformers safetensors numpy sentencepiece
    make && /tmp/hfvenv/bin/python tests/gen/hf_interop.py fixture SPM.model
    /tmp/hfvenv/bin/python tests/gen/hf_interop.py check

fixture SPM.model: (re)writes tests/data/hf-tiny/, which tests/hf.t uses
  without transformers: a tiny random NystromformerForMaskedLM written by
  transformers' own save_pretrained (config.json, model.safetensors), the
  sentencepiece model as spiece.model with a tokenizer_config.json, fixed
  ids (ids.txt) and transformers' MLM logits for them (logits.npy), and
  the same for the exact branch (num_landmarks == segment_means_seq_len,
  as the released uw-madison models: logits-exact.npy).  The fixture was
  made with `tokenize train -o spm --vocab-size 120 --lower` over the
  first 150 KB of shared/data/books/alice29.txt.

check: the proofs by hand, printing each difference:
  1. import-hf of a save_pretrained folder, nys-eval forward --logits
     against transformers' logits (landmarks and the exact branch);
  2. export-hf of a nys MLM checkpoint: AutoModelForMaskedLM and
     AutoTokenizer load it, pipeline("fill-mask") runs, the logits equal
     nys-eval forward's;
  3. export-hf of a --head hf classifier: NystromformerForSequenceClassification
     loads it with its id2label; its logits against the head computed from
     nys-eval forward's hidden states and the checkpoint's head weights.
Exit status 1 when a difference exceeds --tol (1e-5 relative to max(1, |x|)).
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import torch
import transformers
from safetensors.numpy import load_file
from transformers import (AutoModelForMaskedLM, AutoTokenizer, NystromformerConfig,
                          NystromformerForMaskedLM, NystromformerForSequenceClassification,
                          pipeline)

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
NYS = os.path.join(TOP, "bin", "nys-eval")
FIXTURE = os.path.join(TOP, "tests", "data", "hf-tiny")


def nys(*args):
    r = subprocess.run([NYS, *args], capture_output=True)
    if r.returncode:
        sys.exit("nys-eval %s: %s" % (" ".join(args), r.stderr.decode()))
    return r.stdout


def tiny_config(**kw):
    c = dict(vocab_size=120, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
             intermediate_size=32, max_position_embeddings=32, segment_means_seq_len=32,
             num_landmarks=8, conv_kernel_size=3, type_vocab_size=2, pad_token_id=0,
             bos_token_id=2, eos_token_id=3)
    c.update(kw)
    return NystromformerConfig(**c)


def scrambled(model, seed):
    """Weights far from the initialiser's tiny ones, so that outputs differ
    visibly from position to position (LayerNorm weights around 1)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            r = torch.randn(p.shape, generator=g)
            p.copy_(1 + 0.1 * r if "LayerNorm.weight" in name else 0.3 * r)
    return model.eval()


def per_sequence_logits(model, ids):
    # the original pseudo-inverse initialisation couples a batch; nys runs
    # such a model one sequence at a time
    with torch.no_grad():
        return np.concatenate([model(input_ids=torch.tensor([r])).logits.numpy() for r in ids])


def fixed_ids(V, B=3, T=32, seed=0):
    return np.random.default_rng(seed).integers(5, V, size=(B, T)).tolist()


def write_ids(path, ids):
    with open(path, "w") as f:
        for r in ids:
            f.write(" ".join(map(str, r)) + "\n")


def tokenizer_config(lower):
    return {"tokenizer_class": "AlbertTokenizer", "do_lower_case": lower, "keep_accents": True}


def make_fixture(spm):
    torch.manual_seed(0)
    model = scrambled(NystromformerForMaskedLM(tiny_config()), 1)
    if os.path.isdir(FIXTURE):
        shutil.rmtree(FIXTURE)
    model.save_pretrained(FIXTURE)
    shutil.copy(spm, os.path.join(FIXTURE, "spiece.model"))
    with open(os.path.join(FIXTURE, "tokenizer_config.json"), "w") as f:
        json.dump(tokenizer_config(True), f, indent=2)
        f.write("\n")
    ids = fixed_ids(120)
    write_ids(os.path.join(FIXTURE, "ids.txt"), ids)
    np.save(os.path.join(FIXTURE, "logits.npy"), per_sequence_logits(model, ids).astype("<f4"))
    exact = NystromformerForMaskedLM(tiny_config(num_landmarks=32)).eval()
    exact.load_state_dict(model.state_dict())
    np.save(os.path.join(FIXTURE, "logits-exact.npy"),
            per_sequence_logits(exact, ids).astype("<f4"))
    print("wrote %s with transformers %s: %s" % (FIXTURE, transformers.__version__,
                                               sorted(os.listdir(FIXTURE))))


def report(what, ours, theirs, tol):
    diff = float(np.abs(ours - theirs).max())
    scale = max(1.0, float(np.abs(theirs).max()))
    print("%-44s shape %-14s max |nys - hf| %.3e (max |hf| %.3g)"
          % (what, tuple(ours.shape), diff, float(np.abs(theirs).max())))
    return diff / scale <= tol


def check_import(d, tol):
    ok = True
    for name, kw in (("landmarks 8 of 32, conv 3", {}),
                     ("exact branch (released models'), conv 3", {"num_landmarks": 32})):
        torch.manual_seed(0)
        model = scrambled(NystromformerForMaskedLM(tiny_config(**kw)), 2)
        src = os.path.join(d, "hf-src")
        model.save_pretrained(src)
        nys("import-hf", src, "-o", os.path.join(d, "imported.json"))
        ids = fixed_ids(120, seed=3)
        write_ids(os.path.join(d, "ids"), ids)
        out = os.path.join(d, "logits.npy")
        nys("forward", "--config", os.path.join(d, "imported.json"), "--checkpoint",
            os.path.join(src, "model.safetensors"), "--ids", os.path.join(d, "ids"), "--logits",
            "-o", out)
        ok &= report("import-hf %s" % name, np.load(out), per_sequence_logits(model, ids), tol)
        shutil.rmtree(src)
    return ok


def nys_config(d, **model):
    m = dict(vocab_size=120, num_sen_type=2, max_seq_len=32, embedding_dim=16,
             transformer_dim=16, transformer_hidden_dim=32, num_layers=2, num_head=2,
             head_dim=8, dropout_prob=0.1, attn_type="nystrom", num_landmarks=8, seq_len=32,
             conv_kernel_size=3)
    m.update(model)
    path = os.path.join(d, "nys.json")
    with open(path, "w") as f:
        json.dump({"model": m}, f)
    return path


def check_export_mlm(d, spm, tol):
    ok = True
    # the pipeline on the exact branch, as the released models are:
    # transformers' landmark branch takes no attention mask (it adds a
    # (T, T) mask to (landmarks, T) scores) and only exactly
    # segment_means_seq_len tokens, so fill-mask cannot run it
    for name, lm in (("exact branch", 32), ("landmarks 8 of 32", 8)):
        cfg = nys_config(d, num_landmarks=lm)
        ck = os.path.join(d, "mlm.model")
        nys("init", "--config", cfg, "--seed", "5", "-o", ck)
        out = os.path.join(d, "hf-mlm")
        nys("export-hf", "--checkpoint", ck, "-m", spm, "--lower", "-o", out)
        print("export-hf MLM (%s) files:" % name, sorted(os.listdir(out)))
        model = AutoModelForMaskedLM.from_pretrained(out).eval()
        print("AutoModelForMaskedLM:", type(model).__name__)
        if lm == 32:
            tok = AutoTokenizer.from_pretrained(out)
            print("AutoTokenizer:", type(tok).__name__, "mask", tok.mask_token, tok.mask_token_id)
            text = "Alice was beginning to get very %s of sitting" % tok.mask_token
            print("tokenizer:", tok.tokenize(text), tok(text)["input_ids"])
            plain = "Alice was beginning to get very tired of sitting by her sister on the bank"
            r = subprocess.run([os.path.join(TOP, "bin", "tokenize"), "encode", "-m", spm,
                                "--lower", "--format", "ids"], input=plain.encode(),
                               capture_output=True, check=True)
            ours = [int(x) for x in r.stdout.split()]
            theirs = tok(plain)["input_ids"]
            print("AutoTokenizer ids == [CLS] + tokenize encode --lower + [SEP]:",
                  theirs == [tok.cls_token_id] + ours + [tok.sep_token_id])
            ok &= theirs == [tok.cls_token_id] + ours + [tok.sep_token_id]
            fill = pipeline("fill-mask", model=out)
            res = fill(text)
            print("fill-mask top 3:", [(r["token_str"], round(r["score"], 4)) for r in res[:3]])
        ids = fixed_ids(120, seed=4)
        write_ids(os.path.join(d, "ids"), ids)
        npy = os.path.join(d, "mlm.npy")
        nys("forward", "--config", cfg, "--checkpoint", ck, "--ids", os.path.join(d, "ids"),
            "--logits", "-o", npy)
        ok &= report("export-hf MLM %s: logits" % name, np.load(npy),
                     per_sequence_logits(model, ids), tol)
        shutil.rmtree(out)
    return ok


def gelu_new(x):
    return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))


def check_export_classifier(d, spm, tol):
    cfg = nys_config(d)
    ck = os.path.join(d, "cls.model")
    nys("init", "--config", cfg, "--seed", "6", "--classes", "3", "--head", "hf", "-o", ck)
    out = os.path.join(d, "hf-cls")
    nys("export-hf", "--checkpoint", ck, "-m", spm, "-o", out)
    model = NystromformerForSequenceClassification.from_pretrained(out).eval()
    print("NystromformerForSequenceClassification: num_labels", model.config.num_labels,
          "id2label", model.config.id2label)
    ids = fixed_ids(120, seed=7)
    write_ids(os.path.join(d, "ids"), ids)
    npy = os.path.join(d, "hidden.npy")
    nys("forward", "--config", cfg, "--checkpoint", ck, "--ids", os.path.join(d, "ids"),
        "-o", npy)
    h = np.load(npy)[:, 0, :].astype(np.float64)
    w = load_file(ck)
    x = gelu_new(h @ w["classifier.dense.weight"].T.astype(np.float64) + w["classifier.dense.bias"])
    ours = x @ w["classifier.out_proj.weight"].T.astype(np.float64) + w["classifier.out_proj.bias"]
    with torch.no_grad():
        theirs = np.concatenate([model(input_ids=torch.tensor([r])).logits.numpy() for r in ids])
    ok = report("export-hf classifier (--head hf) logits", ours, theirs, tol)
    r = subprocess.run([NYS, "init", "--config", cfg, "--classes", "3", "-o",
                        os.path.join(d, "tanh.model")], capture_output=True)
    r = subprocess.run([NYS, "export-hf", "--checkpoint", os.path.join(d, "tanh.model"), "-m",
                        spm, "-o", os.path.join(d, "hf-tanh")], capture_output=True)
    print("export-hf of the authors' tanh head: exit %d: %s" % (r.returncode,
                                                              r.stderr.decode().strip()))
    return ok and r.returncode == 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("what", choices=["fixture", "check"])
    ap.add_argument("spm", nargs="?", default=os.path.join(FIXTURE, "spiece.model"))
    ap.add_argument("--tol", type=float, default=1e-5)
    a = ap.parse_args()
    transformers.logging.set_verbosity_error()
    print("transformers %s, torch %s" % (transformers.__version__, torch.__version__))
    if a.what == "fixture":
        make_fixture(a.spm)
        return 0
    with tempfile.TemporaryDirectory() as d:
        ok = check_import(d, a.tol)
        ok &= check_export_mlm(d, a.spm, a.tol)
        ok &= check_export_classifier(d, a.spm, a.tol)
    print("all within %g" % a.tol if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
