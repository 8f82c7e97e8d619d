#!/usr/bin/python3
"""Reference values for libnys/model/optim.c, from PyTorch itself.

(a) torch.optim.lr_scheduler.OneCycleLR (anneal_strategy='linear',
    three_phase=False, cycle_momentum=True on AdamW): lr and betas[0] at
    chosen steps, stepping the real scheduler (step 0 = right after
    construction), and the steps at which torch raises;
(b) torch.optim.AdamW + OneCycleLR on float32 parameters, 20 steps with
    stored gradients: the parameters after every step and the state
    (exp_avg, exp_avg_sq) at the end.

Writes tests/data/optim_ref.json (cases; doubles as float.hex() strings so
that they are read back exactly; tensor offsets) and tests/data/optim_ref.bin
(the float32 tensors, little-endian).  CI uses the stored files; run this only
to regenerate them (Debian: python3-torch):

    /usr/bin/python3 tests/gen/optim_ref.py
"""
import json
import os
import struct
import warnings

import torch
from torch.optim.lr_scheduler import OneCycleLR

warnings.simplefilter("ignore")  # lr_scheduler.step() before optimizer.step()


def sched(max_lr, total, pct, points, **kw):
    """Step a real OneCycleLR through max(points) steps; lr and beta1 at the
    points, and whether each point (or construction) raised."""
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.AdamW([p], lr=max_lr, betas=(0.9, 0.999))
    out = {"max_lr": max_lr.hex(), "total_steps": total, "pct_start": pct.hex()}
    for k in ("div_factor", "final_div_factor", "base_momentum", "max_momentum"):
        if k in kw:
            out[k] = float(kw[k]).hex()
    pts, raises = [], []
    try:
        s = OneCycleLR(opt, max_lr=max_lr, total_steps=total, pct_start=pct,
                       anneal_strategy="linear", **kw)
    except (ValueError, ZeroDivisionError):
        out["points"], out["raises"] = [], [0]
        return out
    want = sorted(set(points))
    for step in range(0, want[-1] + 1):
        if step > 0:
            try:
                s.step()
            except (ValueError, ZeroDivisionError):
                raises.append(step)
                break
        if step in want:
            g = opt.param_groups[0]
            pts.append([step, float(g["lr"]).hex(), float(g["betas"][0]).hex()])
    out["points"], out["raises"] = pts, raises
    return out


def schedules():
    T = 100 * 5000  # the authors' nystrom-512: 100 epochs of 5000 batches
    cases = [
        # the authors' setting: peak 1e-4, warmup 0.01 of 500000 steps
        sched(1e-4, T, 0.01, [0, 1, 2, 2500, 4998, 4999, 5000, 5001, 252499,
                              400000, 499998, 499999, 500000, 500001]),
        # the trajectory's schedule, every step and one too many
        sched(1e-3, 20, 0.3, list(range(22))),
        sched(5e-4, 1000, 0.333, [0, 1, 166, 331, 332, 333, 334, 665, 998, 999, 1000, 1001]),
        # end of warmup at step 1.1: a fractional phase boundary
        sched(0.1, 7, 0.3, list(range(9))),
        # pct_start * total < 1: no warmup step at all (end_step -0.5)
        sched(2e-5, 50, 0.01, list(range(52))),
        # pct_start 1: warmup to the end, torch divides by zero at step total
        sched(1.0, 10, 1.0, list(range(12))),
        # pct_start * total == 1: end_step 0, 0/0 at construction
        sched(3e-4, 10, 0.1, [0, 1]),
        sched(1e-2, 5, 0.0, list(range(7))),
        sched(1e-3, 1, 0.3, [0, 1, 2]),
        sched(6e-4, 100, 0.25, list(range(0, 102, 3)) + [24, 25, 99, 100],
              div_factor=10.0, final_div_factor=100.0, base_momentum=0.8, max_momentum=0.9),
    ]
    return cases


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    data = os.path.join(here, "..", "data")
    blob = bytearray()

    def put(t):
        off = len(blob) // 4
        t = t.detach().to(torch.float32).flatten().contiguous()
        blob.extend(struct.pack("<%df" % t.numel(), *t.tolist()))
        return [off, t.numel()]

    torch.manual_seed(20240611)
    n, steps = 300, 20
    p0 = torch.randn(n) * 0.1
    p0[::50] = 0.0
    p0[7::41] *= 100.0
    # each element keeps its own gradient scale, from 1e-7 to 1e2
    scale = 10.0 ** (torch.rand(n) * 9 - 7)
    grads = torch.randn(steps, n) * scale
    grads[:, 1] = 0.0                   # a parameter that never gets a gradient
    grads[::3, ::37] = 0.0              # and some that miss steps
    grads[5, 100:110] = -grads[4, 100:110]  # sign flips
    grads = grads.to(torch.float32)
    adamw = {"n": n, "steps": steps, "p0": put(p0), "grads": put(grads), "cases": []}

    for max_lr, total, pct, wd, eps, beta2, every in [
        (1e-3, 20, 0.3, 0.01, 1e-6, 0.999, True),   # the authors' AdamW settings
        (3e-2, 25, 0.2, 0.1, 1e-8, 0.99, False),
    ]:
        p = torch.nn.Parameter(p0.clone())
        opt = torch.optim.AdamW([p], lr=max_lr, betas=(0.9, beta2), eps=eps,
                                weight_decay=wd, foreach=False)
        s = OneCycleLR(opt, max_lr=max_lr, total_steps=total, pct_start=pct,
                       anneal_strategy="linear")
        lrs, b1s, traj = [], [], []
        for k in range(steps):
            p.grad = grads[k].clone()
            g = opt.param_groups[0]
            lrs.append(float(g["lr"]).hex())
            b1s.append(float(g["betas"][0]).hex())
            opt.step()
            s.step()
            traj.append(p.detach().clone())
        st = opt.state[p]
        c = {"max_lr": max_lr.hex(), "total_steps": total, "pct_start": pct.hex(),
             "weight_decay": wd.hex(), "eps": eps.hex(), "beta2": beta2.hex(),
             "lr_used": lrs, "beta1_used": b1s,
             "p": put(p), "m": put(st["exp_avg"]), "v": put(st["exp_avg_sq"])}
        if every:
            c["p_each_step"] = put(torch.stack(traj))
        adamw["cases"].append(c)

    with open(os.path.join(data, "optim_ref.bin"), "wb") as f:
        f.write(blob)
    with open(os.path.join(data, "optim_ref.json"), "w") as f:
        json.dump({"generator": "tests/gen/optim_ref.py", "torch": torch.__version__,
                   "schedule": schedules(), "adamw": adamw}, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
