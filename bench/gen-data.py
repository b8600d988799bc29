#!/usr/bin/env python3
"""Generates benchmark inputs: incompressible bytes and text-like bytes (~3-4:1 under gzip -6).

Usage: gen-data.py KIND SIZE_MIB OUT   (KIND: random | text)
Text is made of 16 MiB blocks of pseudo-random words, each block with its letters permuted differently: gzip
sees the same statistics in every block, and deduplicating tools find nothing repeated. Large files cost little.
"""
import os
import random
import sys

kind, size_mib, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
block = 16 << 20
rng = random.Random(20261127)
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
