#!/usr/bin/env python3
"""cmp_st.py A B [TOL]: compare two safetensors files tensor by tensor
(nys-checkpoint(5): a model or a training checkpoint), the float32 ones
by max |a - b| / max |b|, the others byte for byte.  Prints one line:
the tensors, the worst relative difference and where; exit 0 when every
tensor is within TOL (default 0: bitwise), 1 otherwise.  No numpy: the
GPU machines run it from the standard library alone."""
import array
import json
import struct
import sys


def load(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    head = json.loads(raw[8:8 + n])
    head.pop("__metadata__", None)
    data = raw[8 + n:]
    out = {}
    for name, t in head.items():
        lo, hi = t["data_offsets"]
        out[name] = (t["dtype"], t["shape"], data[lo:hi])
    return out


def main():
    a, b = load(sys.argv[1]), load(sys.argv[2])
    tol = float(sys.argv[3]) if len(sys.argv) > 3 else 0.0
    if sorted(a) != sorted(b):
        print("different tensors: %s" % sorted(set(a) ^ set(b)))
        return 1
    worst, where = 0.0, "-"
    for name in sorted(a):
        da, sa, ra = a[name]
        db, sb, rb = b[name]
        if da != db or sa != sb:
            print("%s: %s %s against %s %s" % (name, da, sa, db, sb))
            return 1
        if da != "F32":
            err = 0.0 if ra == rb else float("inf")
        else:
            x, y = array.array("f"), array.array("f")
            x.frombytes(ra)
            y.frombytes(rb)
            big = max((abs(v) for v in y), default=0.0)
            diff = max((abs(u - v) if u == u and v == v else float("inf")
                        for u, v in zip(x, y)), default=0.0)
            err = diff / big if big > 0 else diff
        if not err <= worst:
            worst, where = err, name
    print("%d tensors, worst relative difference %.2e (%s), bound %.0e"
          % (len(a), worst, where, tol))
    return 0 if worst <= tol else 1


if __name__ == "__main__":
    sys.exit(main())
