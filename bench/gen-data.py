#!/usr/bin/env python3
"""Generates benchmark inputs: incompressible bytes, text-like bytes (~3-4:1 under gzip -6), or a tree of small
text files.

Usage: gen-data.py KIND SIZE OUT   (KIND: random | text, SIZE in MiB; or KIND tree, SIZE the number of files)
Text is made of 16 MiB blocks of pseudo-random words, each block with its letters permuted differently: gzip
sees the same statistics in every block, and deduplicating tools find nothing repeated. Large files cost little.
A tree spreads its files over 100 folders of 20 subfolders each (2,000 leaf folders from 2,000 files up), each
file 50 to 1,500 words; the same SIZE always gives the same tree.
"""
import os
import random
import sys

kind, size, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
block = 16 << 20
rng = random.Random(20261127)
if kind == "tree":
    # Seed 7, as the tree backup.sh generated inline before: trees already under bench/data stay valid.
    rng = random.Random(7)
    words = ["photo", "video", "note", "backup", "family", "trip", "2024", "the", "and", "of"]
    for i in range(size):
        d = os.path.join(out, f"d{i % 100:02d}", f"e{(i // 100) % 20:02d}")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, f"f{i:06d}.txt"), "w") as f:
            f.write(" ".join(rng.choice(words) for _ in range(rng.randint(50, 1500))))
    sys.exit(0)
size_mib = size
with open(out, "wb") as f:
    if kind == "random":
        for _ in range(size_mib):
            f.write(os.urandom(1 << 20))
    else:
        # A Zipf-like vocabulary, as in natural text: gzip -6 shrinks it about 3.5:1.
        words = [
            "".join(rng.choice("etaoinshrdlucmfwyp") for _ in range(rng.randint(2, 8)))
            for _ in range(800)
        ]
        weights = [1.0 / (rank + 1) ** 1.1 for rank in range(len(words))]
        parts, n = [], 0
        while n < block:
            count = rng.randint(6, 16)
            line = " ".join(rng.choices(words, weights, k=count)) + ".\n"
            parts.append(line)
            n += len(line)
        data = "".join(parts).encode()[:block]
        # Each 16 MiB block gets its own letter permutation: the same statistics (so the same ratio) but no
        # repeated content, so deduplicating tools (restic, borg) get no free ride.
        letters = b"etaoinshrdlucmfwyp"
        for i in range((size_mib + 15) // 16):
            shuffled = bytearray(letters)
            random.Random(i).shuffle(shuffled)
            piece = data.translate(bytes.maketrans(letters, bytes(shuffled)))
            f.write(piece if (i + 1) * 16 <= size_mib else piece[: (size_mib % 16) << 20])
