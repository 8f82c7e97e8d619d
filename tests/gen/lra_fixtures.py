#!/usr/bin/env python3
"""Write the small LRA fixtures of tests/data/lra/ in each task's published
layout (tests/data/lra/README says where each layout comes from).  Plain
Python (zlib and struct for the PNGs); run once, its output is committed and
CI never runs it.  The values are made up: only the layouts are real."""
import os
import struct
import zlib

TOP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "lra")


def lcg(seed):
    """A tiny deterministic byte source (no numpy, no random module)."""
    x = seed
    while True:
        x = (x * 6364136223846793005 + 1442695040888963407) % (1 << 64)
        yield (x >> 33) & 0xFF


def cifar():
    d = os.path.join(TOP, "cifar-10-batches-bin")
    os.makedirs(d, exist_ok=True)
    src = lcg(7)
    files = ["data_batch_%d.bin" % i for i in range(1, 6)] + ["test_batch.bin"]
    for k, name in enumerate(files):
        recs = 4 if name == "test_batch.bin" else 3
        out = bytearray()
        for r in range(recs):
            label = (3 * k + r) % 10
            out.append(label)
            px = bytearray(next(src) for _ in range(3072))
            # some pure black pixels in every plane: value 0 is a pixel,
            # not padding
            for i in range(0, 3072, 97):
                px[i] = 0
            if r == 0:
                px[0] = px[1024] = px[2048] = 0  # the first pixel is black
            out += px
        with open(os.path.join(d, name), "wb") as f:
            f.write(out)
    with open(os.path.join(d, "batches.meta.txt"), "w") as f:
        f.write("airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n")


def png(path, w, h, pixels, colour):
    """An 8-bit PNG, greyscale (type 0) or RGB (type 2), every row filter 0."""
    raw = bytearray()
    ch = 3 if colour else 1
    for y in range(h):
        raw.append(0)
        raw += bytes(pixels[y * w * ch:(y + 1) * w * ch])

    def chunk(t, data):
        c = struct.pack(">I", len(data)) + t + data
        return c + struct.pack(">I", zlib.crc32(t + data) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2 if colour else 0, 0, 0, 0)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) +
                chunk(b"IDAT", zlib.compress(bytes(raw), 9)) + chunk(b"IEND", b""))


def pathfinder():
    base = os.path.join(TOP, "pathfinder32", "curv_contour_length_14")
    os.makedirs(os.path.join(base, "metadata"), exist_ok=True)
    src = lcg(11)
    n = 0
    for m in range(2):
        lines = []
        img_dir = os.path.join(base, "imgs", str(m))
        os.makedirs(img_dir, exist_ok=True)
        for i in range(5):
            colour = (m, i) == (1, 4)
            npx = 32 * 32 * (3 if colour else 1)
            # mostly black, as pathfinder images are, with bright strokes
            px = [next(src) if next(src) > 200 else 0 for _ in range(npx)]
            name = "sample_%d.png" % i
            png(os.path.join(img_dir, name), 32, 32, px, colour)
            label = (n * 7 + 3) % 2
            # folder, file, the image's number, the label, then the
            # generator's settings (not read)
            lines.append("imgs/%d %s %d %d 14 1.5 2 1 0.75" % (m, name, i, label))
            n += 1
        with open(os.path.join(base, "metadata", "%d.npy" % m), "w") as f:
            f.write("\n".join(lines) + "\n")


AAN = [
    ("1", "P03-1001", "P01-1017",
     "We present a statistical parser for Chinese trained on the Penn Chinese Treebank.",
     "This paper describes a lexicalized probabilistic model for parsing Chinese text."),
    ("0", "W04-3250", "J93-2004",
     "Machine translation evaluation with BLEU: a study of n-gram precision and recall.",
     "Building a large annotated corpus of English: the Penn Treebank."),
    ("1.0", "N06-1020", "P02-1040",
     "Improved statistical alignment models for phrase based translation; caf\u00e9 na\u00efve.",
     "BLEU: a method for automatic evaluation of machine translation."),
    ("0.0", "E99-1010", "C96-2141",
     "Finite-state morphology of Finnish\twith two-level rules? (no: a tab ends the field)",
     "HMM-based word alignment in statistical translation."),
]


def aan():
    d = os.path.join(TOP, "aan")
    os.makedirs(d, exist_ok=True)
    rows = {"train": AAN[:2] + AAN[2:3], "eval": AAN[1:2], "test": AAN[2:3]}
    for split, rs in rows.items():
        with open(os.path.join(d, "new_aan_pairs.%s.tsv" % split), "w", encoding="utf-8") as f:
            for r in rs:
                if "\t" in r[3]:
                    continue
                f.write("\t".join(r) + "\n")


def listops():
    d = os.path.join(TOP, "listops")
    os.makedirs(d, exist_ok=True)
    rows = {
        "train": [("( ( ( ( ( [SM 6 ) 5 ) 9 ) 0 ) ] )", 0),
                  ("( ( ( [MAX 3 ) ( ( ( [MIN 7 ) 2 ) ] ) ) ] )", 3),
                  ("( ( ( ( [MED 1 ) 8 ) 4 ) ] )", 4)],
        "val": [("( ( ( [MIN 9 ) ( ( ( [SM 5 ) 7 ) ] ) ) ] )", 2)],
        "test": [("( ( ( ( ( [MED 2 ) 9 ) 4 ) 7 ) ] )", 5),
                 ("( ( ( [MAX 0 ) 0 ) ] )", 0)],
    }
    for split, rs in rows.items():
        # Python's csv writer, as LRA's listops.py writes: CRLF line ends
        with open(os.path.join(d, "basic_%s.tsv" % split), "w", newline="") as f:
            f.write("Source\tTarget\r\n")
            for s, v in rs:
                f.write("%s\t%d\r\n" % (s, v))


if __name__ == "__main__":
    cifar()
    pathfinder()
    aan()
    listops()
