#!/usr/bin/env python3
"""Writes the generated seeds of fuzz/corpus/: age headers and files from the C2SP CCTV vectors, gzip and zlib
streams, and configs from examples/. The Baidu answers in fuzz/corpus/baidu-json/ are written by hand from
shared/baidu-netdisk-api.md and are not touched. Usage: fuzz/seed-corpus.py [CCTV_FOLDER]"""
import gzip
import hashlib
import os
import sys
import zlib

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.dirname(here)
cctv = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "..", "shared", "testdata", "age-cctv")
# The one identity the stream target decrypts with (FuzzEntries.identity); other vectors still seed the parser.
identity = "AGE-SECRET-KEY-1EGTZVFFV20835NWYV6270LXYVK2VKNX2MMDKWYKLMGR48UAWX40Q2P2LM0"
max_stream_seed = 70_000
# Two-chunk vectors are large; two of them are enough to seed the chunk-boundary paths.
large_stream_seeds = {"stream_two_chunks", "stream_bad_tag_second_chunk_full"}


def write(target, name, data):
    folder = os.path.join(here, "corpus", target)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data)


def vectors():
    for name in sorted(os.listdir(cctv)):
        if name.startswith("README"):
            continue
        raw = open(os.path.join(cctv, name), "rb").read()
        meta, _, body = raw.partition(b"\n\n")
        fields = dict(line.split(b": ", 1) for line in meta.split(b"\n") if b": " in line)
        if fields.get(b"compressed") == b"zlib":
            body = zlib.decompress(body)
        yield name, fields, body


for name, fields, body in vectors():
    if fields.get(b"armored") == b"yes":
        continue
    end = body.find(b"\n--- ")
    if end >= 0:
        newline = body.find(b"\n", end + 1)
        write("age-header", name, body[: newline + 1] if newline >= 0 else body)
    if fields.get(b"identity", b"").decode() == identity and (len(body) <= max_stream_seed or name in large_stream_seeds):
        write("age-stream", name, body)

text = b"".join(b"backup archive photo netdisk stream chunk %d\n" % i for i in range(3000))
write("gzip", "text.gz", gzip.compress(text, mtime=0))
write("gzip", "empty.gz", gzip.compress(b"", mtime=0))
write("gzip", "two-members.gz", gzip.compress(text[:5000], mtime=0) + gzip.compress(text[5000:9000], mtime=0))
write("gzip", "zeros-past-limit.gz", gzip.compress(bytes(2 << 20), compresslevel=9, mtime=0))
write("gzip", "stored.gz", gzip.compress(hashlib.sha256(b"x").digest() * 8, compresslevel=0, mtime=0))
write("gzip", "text.zlib", zlib.compress(text, 9))
write("gzip", "empty.zlib", zlib.compress(b""))
# A member with a file name, a comment and an extra field in its header (FLG 0x1c), as other gzips write them.
body = zlib.compressobj(6, zlib.DEFLATED, -15)
deflated = body.compress(text[:2000]) + body.flush()
header = bytes([0x1F, 0x8B, 8, 0x1C, 0, 0, 0, 0, 0, 3]) + b"\x04\x00AB\x00\x00" + b"notes.txt\x00" + b"hi\x00"
trailer = zlib.crc32(text[:2000]).to_bytes(4, "little") + (2000).to_bytes(4, "little")
write("gzip", "named.gz", header + deflated + trailer)

example = open(os.path.join(root, "examples", "config", "local.yml"), "rb").read()
write("config", "local.yml", example)
write("config", "local-with-env.yml", example + b"\0ARCHIVER_BACKEND=mock:\nENCRYPT_UPLOAD=0\nSYNC_INTERVAL=1h\n")
write("config", "baidu.yml", b"""catalog: /config/catalog.sqlite
backend: "baidu:photos"
recipients: [age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p]
encryption: on
compression: auto:3
naming: mirror
baidu:
  app_name: e2bdy
  app_key: abc
  secret_key: def
  token_file: /config/baidu-token.json
  upload_concurrency: 2
  slice_size: 4MiB
  max_object_size: 2GB
  endpoints:
    oauth: https://openapi.baidu.com
    api: https://pan.baidu.com
    upload: https://d.pcs.baidu.com
sources:
  - local: /hdd/photos
    remote: photos
    exclude: ["*.tmp", "**/cache/**"]
""")
write("config", "targets.yml", b"""catalog: catalog.sqlite
targets:
  - name: usb
    backend: "local:/mnt/usb/archive"
  - name: cloud
    backend: "mock:"
copies: 2
encryption: off
compression: 0
memory_limit: 256MiB
schedule: "@daily"
timezone: UTC
keep: {last: 3, daily: 7, weekly: 4, monthly: 12, deleted_days: 90}
sources:
  - local: data
    remote: data
""")
