#!/usr/bin/env python3
"""Helpers for scripts/crash-trials.sh: make the source tree, change it between runs, compare trees.

  crash-trials.py make SRC BIGSIZE SEED     ~200 small files in nested folders and one large file
  crash-trials.py mutate SRC SEED [big]     a few appends, replacements, truncations, new and deleted files;
                                            with `big`, also rewrites a block inside the large file (same size)
  crash-trials.py compare SRC RESTORED      prints "files F lost L corrupt C extra E", exits 1 unless all zero

Names are handled as bytes, so any name the tree holds is compared exactly.
"""
import hashlib
import os
import random
import sys

BIG = b"big/multi-slice.bin"


def small_files(src):
    found = []
    for folder, _, names in os.walk(src):
        for name in names:
            path = os.path.join(folder, name)
            if not path.endswith(BIG):
                found.append(path)
    return sorted(found)


def content(rng, size):
    # Half compressible text, half random bytes, so both gzip paths (stored and deflated) are exercised.
    if rng.random() < 0.5:
        words = [b"backup ", b"restore ", b"photo ", b"slice ", b"catalog ", b"night\n"]
        out = bytearray()
        while len(out) < size:
            out += rng.choice(words)
        return bytes(out[:size])
    return rng.randbytes(size)


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as handle:
        handle.write(data)


def make(src, big_size, seed):
    rng = random.Random(seed)
    src = os.fsencode(src)
    for index in range(200):
        depth = rng.randint(0, 3)
        folder = os.path.join(src, *[b"d%d" % rng.randint(0, 4) for _ in range(depth)])
        size = 0 if index % 17 == 0 else rng.choice([rng.randint(1, 300), rng.randint(300, 8000), rng.randint(8000, 70000)])
        write(os.path.join(folder, b"f%03d.%s" % (index, rng.choice([b"txt", b"bin", b"jpg"]))), content(rng, size))
    write(os.path.join(src, BIG), rng.randbytes(big_size))


def mutate(src, seed, big):
    rng = random.Random(seed)
    src = os.fsencode(src)
    files = small_files(src)
    done = []
    for _ in range(rng.randint(2, 5)):
        kind = rng.choice(["append", "replace", "empty", "new", "delete"])
        path = rng.choice(files)
        if not os.path.exists(path) and kind != "new":
            continue
        if kind == "append":
            with open(path, "ab") as handle:
                handle.write(content(rng, rng.randint(1, 5000)))
        elif kind == "replace":
            # Same size as before half of the time: only the mtime and ctime tell the change.
            size = os.path.getsize(path) if rng.random() < 0.5 else rng.randint(1, 20000)
            write(path, content(rng, size))
        elif kind == "empty":
            write(path, b"")
        elif kind == "new":
            path = os.path.join(os.path.dirname(path), b"new-%d.dat" % rng.randint(0, 10**9))
            write(path, content(rng, rng.randint(0, 30000)))
        else:
            os.unlink(path)
        done.append(kind)
    if big:
        path = os.path.join(src, BIG)
        size = os.path.getsize(path)
        with open(path, "r+b") as handle:
            handle.seek(rng.randint(0, max(0, size - 4096)))
            handle.write(rng.randbytes(min(4096, size)))
        done.append("big")
    print(" ".join(done))


def tree(root):
    entries = {}
    for folder, _, names in os.walk(root):
        for name in names:
            path = os.path.join(folder, name)
            relative = os.path.relpath(path, root)
            if os.path.islink(path):
                entries[relative] = b"link:" + os.readlink(path)
            else:
                digest = hashlib.sha256()
                with open(path, "rb") as handle:
                    for block in iter(lambda: handle.read(1 << 20), b""):
                        digest.update(block)
                entries[relative] = digest.digest()
    return entries


def compare(src, restored):
    left = tree(os.fsencode(src))
    right = tree(os.fsencode(restored)) if os.path.isdir(restored) else {}
    lost = sorted(set(left) - set(right))
    extra = sorted(set(right) - set(left))
    corrupt = sorted(name for name in set(left) & set(right) if left[name] != right[name])
    print(f"files {len(left)} lost {len(lost)} corrupt {len(corrupt)} extra {len(extra)}")
    for label, names in (("lost", lost), ("corrupt", corrupt), ("extra", extra)):
        for name in names[:5]:
            print(f"  {label}: {os.fsdecode(name)}", file=sys.stderr)
    return 1 if lost or corrupt or extra else 0


if __name__ == "__main__":
    command = sys.argv[1]
    if command == "make":
        make(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    elif command == "mutate":
        mutate(sys.argv[2], int(sys.argv[3]), len(sys.argv) > 4 and sys.argv[4] == "big")
    elif command == "compare":
        sys.exit(compare(sys.argv[2], sys.argv[3]))
    else:
        sys.exit(f"unknown command {command}")
