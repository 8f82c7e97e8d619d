#!/usr/bin/python3
"""nys-eval against transformers' NystromformerForMaskedLM (a check by hand).

For a tiny Nystrom config (conv, E == C, the original pseudo-inverse
initialisation, length == seq_len) and a tiny softmax config: make a
checkpoint with `nys-eval init`, its config.json with `nys-eval hf-config`,
load both with from_pretrained, run both on random ids and print the
largest differences of the final hidden states and of the MLM logits.
Not run by CI (it needs torch and transformers), e.g. in a venv:

    python3 -m venv /tmp/hfvenv
    /tmp/hfvenv/bin/pip install torch transformers safetensors numpy
    make bin/nys-eval && /tmp/hfvenv/bin/python tests/gen/hf_check.py

Last run with transformers 5.24.0 and torch 2.15.0 (CPU): every difference
at most 1.5e-6.  tests/gen/hf_interop.py checks import-hf and export-hf.

transformers runs the pseudo-inverse initialisation over the whole batch,
as the authors' code does; nys-eval runs such a model one sequence at a
time (see nys-eval(1)), so the Nystrom comparison feeds transformers one
sequence at a time too, and prints the batched difference besides.
Without padding: transformers masks only the softmax scores, the authors'
code (and nys) also the queries, keys and values, so padded Nystrom
outputs differ by design; padded softmax outputs are compared at the
unpadded positions.  Exit status 1 when a difference exceeds --tol.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
from transformers import NystromformerForMaskedLM
from transformers.utils import logging as hf_logging

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def nys(binary, *args, stdin=None):
    r = subprocess.run([binary, *args], input=stdin, capture_output=True)
    if r.returncode:
        sys.exit("%s %s: %s" % (binary, " ".join(args), r.stderr.decode()))
    return r.stdout


def write_ids(path, rows):
    with open(path, "w") as f:
        for r in rows:
            f.write(" ".join(map(str, r)) + "\n")


def hf_run(model, ids, mask=None):
    with torch.no_grad():
        out = model(input_ids=torch.tensor(ids, dtype=torch.long),
                    attention_mask=None if mask is None else torch.tensor(mask),
                    output_hidden_states=True)
    return out.hidden_states[-1].numpy(), out.logits.numpy()


def load_hf(d):
    """from_pretrained(d), in eval mode.  transformers 5's NystromformerConfig
    is a strict dataclass whose conv_kernel_size must be an int, though its
    attention still reads None as "no convolution" (as transformers 4 took
    it from config.json): for such a model the config is loaded without the
    key (a conv of 65 is built, and its weights are missing from the file),
    then each layer's convolution is switched off."""
    path = os.path.join(d, "config.json")
    with open(path) as f:
        cfg = json.load(f)
    if "conv_kernel_size" not in cfg or cfg["conv_kernel_size"] is not None:
        model, info = NystromformerForMaskedLM.from_pretrained(d, output_loading_info=True)
        return model.eval(), info
    try:
        model, info = NystromformerForMaskedLM.from_pretrained(d, output_loading_info=True)
        return model.eval(), info
    except Exception as err:  # transformers >= 5: conv_kernel_size null refused
        print("# from_pretrained refuses conv_kernel_size null (%s: %s); loading "
              "without it and switching the convolution off"
              % (type(err).__name__, str(err).splitlines()[-1].strip()))
    with tempfile.TemporaryDirectory() as d2:
        del cfg["conv_kernel_size"]
        with open(os.path.join(d2, "config.json"), "w") as f:
            json.dump(cfg, f)
        os.symlink(os.path.join(d, "model.safetensors"), os.path.join(d2, "model.safetensors"))
        model, info = NystromformerForMaskedLM.from_pretrained(d2, output_loading_info=True)
    for layer in model.nystromformer.encoder.layer:
        att = layer.attention.self
        att.conv_kernel_size = None
        del att.conv
    info["missing_keys"] = {k for k in info["missing_keys"] if not k.endswith(".conv.weight")}
    return model.eval(), info


def check(name, cfg_path, binary, seed, batch, length, tol, padded):
    with open(cfg_path) as f:
        model_cfg = json.load(f)["model"]
    V = model_cfg["vocab_size"]
    worst = 0.0
    with tempfile.TemporaryDirectory() as d:
        nys(binary, "init", "--config", cfg_path, "--seed", str(seed),
            "-o", os.path.join(d, "model.safetensors"))
        nys(binary, "hf-config", "--config", cfg_path, "-o", os.path.join(d, "config.json"))
        model, info = load_hf(d)
        bad = {k: v for k, v in info.items() if v}
        if bad:
            sys.exit("%s: from_pretrained: %s" % (name, bad))

        rng = np.random.default_rng(seed)
        ids = rng.integers(0, V, size=(batch, length)).tolist()
        write_ids(os.path.join(d, "ids"), ids)
        for what, extra in (("hidden", []), ("logits", ["--logits"])):
            out = os.path.join(d, what + ".npy")
            nys(binary, "forward", "--config", cfg_path, "--checkpoint",
                os.path.join(d, "model.safetensors"), "--ids", os.path.join(d, "ids"),
                "-o", out, *extra)
            ours = np.load(out)
            assert ours.shape == (batch, length, V if extra else model_cfg["transformer_dim"])
            one = [hf_run(model, [row]) for row in ids]
            theirs = np.concatenate([h if what == "hidden" else l for h, l in one])
            diff = float(np.abs(ours - theirs).max())
            scale = float(np.abs(theirs).max())
            batched = hf_run(model, ids)[0 if what == "hidden" else 1]
            bdiff = float(np.abs(ours - batched).max())
            print("%-8s %-7s shape %-16s max |nys - hf| %.3e (max |hf| %.3g); "
                  "hf batched of %d: %.3e" % (name, what, ours.shape, diff, scale, batch, bdiff))
            worst = max(worst, diff / max(scale, 1.0))

        if padded:
            # shorter lines, padded by both; compare where there are tokens
            lens = [length - 7 * i for i in range(batch)]
            rows = [r[:n] for r, n in zip(ids, lens)]
            write_ids(os.path.join(d, "pids"), rows)
            out = os.path.join(d, "padded.npy")
            nys(binary, "forward", "--config", cfg_path, "--checkpoint",
                os.path.join(d, "model.safetensors"), "--ids", os.path.join(d, "pids"),
                "-o", out, "--length", str(length))
            ours = np.load(out)
            full = [r + [0] * (length - len(r)) for r in rows]
            mask = [[1] * len(r) + [0] * (length - len(r)) for r in rows]
            theirs = hf_run(model, full, mask)[0]
            diff = max(float(np.abs(ours[i, :n] - theirs[i, :n]).max())
                       for i, n in enumerate(lens))
            print("%-8s %-7s lengths %s padded to %d: max |nys - hf| at tokens %.3e"
                  % (name, "padded", lens, length, diff))
            worst = max(worst, diff)
    return worst <= tol


def variant(src, dst, **changes):
    """A copy of config src with some "model" keys changed (None: removed)."""
    with open(src) as f:
        cfg = json.load(f)
    for k, v in changes.items():
        if v is None:
            cfg["model"].pop(k, None)
        else:
            cfg["model"][k] = v
    with open(dst, "w") as f:
        json.dump(cfg, f)
    return dst


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin", default=os.path.join(TOP, "bin", "nys-eval"))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--tol", type=float, default=1e-4,
                    help="largest difference accepted, relative to max(1, max |hf|)")
    ap.add_argument("--full", action="store_true",
                    help="also the published nystrom-512 (12 layers, 768 wide, 64 landmarks, "
                         "conv 33; a 500 MB checkpoint), 2 sequences")
    a = ap.parse_args()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    torch.manual_seed(a.seed)
    cfgs = os.path.join(TOP, "pipeline", "configs")
    tn = os.path.join(cfgs, "tiny-nystrom", "config.json")
    ok = True
    with tempfile.TemporaryDirectory() as d:
        # Nystrom: the length must be seq_len (64), the authors' reshape
        ok &= check("nystrom", tn, a.bin, a.seed, a.batch, 64, a.tol, padded=False)
        ok &= check("noconv", variant(tn, os.path.join(d, "noconv.json"), conv_kernel_size=None),
                    a.bin, a.seed, a.batch, 64, a.tol, padded=False)
        # num_landmarks == seq_len: both take exact softmax attention, any length
        ok &= check("exact", variant(tn, os.path.join(d, "exact.json"), num_landmarks=64),
                    a.bin, a.seed, a.batch, 50, a.tol, padded=False)
        ok &= check("softmax", os.path.join(cfgs, "tiny-softmax", "config.json"), a.bin,
                    a.seed, a.batch, 50, a.tol, padded=True)
        if a.full:
            ok &= check("n512", os.path.join(cfgs, "nystrom-512", "config.json"), a.bin,
                        a.seed, 2, 512, a.tol, padded=False)
    print("ok" if ok else "DIFFERENT (beyond --tol %g)" % a.tol)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
