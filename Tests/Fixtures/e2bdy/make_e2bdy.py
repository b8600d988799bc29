#!/usr/bin/env python3
"""Makes .e2bdy files the way encrypt2bdy did, with the libraries it used, for archiver's tests.

    make_e2bdy.py OUTDIR            fresh files of several sizes, in both formats (the tests run this)
    make_e2bdy.py --big SIZE OUT    one large file of random bytes in both formats, streamed (for memory checks)

Fernet (encrypt2bdy until mid-2023): `Fernet(key).encrypt(data)` written as the file, key from
`Fernet.generate_key()` in encrypt.key. AES Crypt (from December 2023): `pyAesCrypt.encryptStream` with a
64 KiB buffer and the passphrase USER_PASSKEY. Exits 3 when cryptography or pyAesCrypt is missing, so a test
fails instead of skipping: `scripts/install-deps.sh` installs them.
"""
import base64
import hashlib
import hmac
import os
import struct
import sys
import time

try:
    from cryptography.fernet import Fernet
    from cryptography.hazmat.primitives import padding
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    import pyAesCrypt
except ImportError as error:
    sys.stderr.write(f"make_e2bdy.py: {error}; run scripts/install-deps.sh (pip: cryptography pyAesCrypt)\n")
    sys.exit(3)

BUFFER = 64 * 1024  # encrypt2bdy's CHUNK_SIZE
PASSPHRASE = "correct horse battery staple"
NON_ASCII_PASSPHRASE = "密码 pässwörd 🔑"
# name -> plaintext size: empty, one byte short of a block, exactly one block, exactly one pyAesCrypt buffer
# (its last read is empty), a few blocks, and several buffers (about 3 MiB, not a multiple of 16).
SIZES = {
    "empty": 0,
    "small": 15,
    "block": 16,
    "buffer": BUFFER,
    "text": 1000,
    "multi": 3 * 1024 * 1024 + 7,
}


def write(path, data, mode=0o644):
    with open(path, "wb") as f:
        f.write(data)
    os.chmod(path, mode)


def aescrypt(plain_path, out_path, passphrase):
    with open(plain_path, "rb") as fin, open(out_path, "wb") as fout:
        pyAesCrypt.encryptStream(fin, fout, passphrase, BUFFER)


def fresh(outdir):
    os.makedirs(outdir, exist_ok=True)
    key = Fernet.generate_key()
    write(os.path.join(outdir, "encrypt.key"), key, 0o600)
    write(os.path.join(outdir, "other.key"), Fernet.generate_key(), 0o600)
    # USER_PASSKEY as a passphrase file: with the newline `echo` adds, which archiver strips.
    write(os.path.join(outdir, "passkey.txt"), (PASSPHRASE + "\n").encode(), 0o600)
    write(os.path.join(outdir, "passkey-nonascii.txt"), NON_ASCII_PASSPHRASE.encode("utf-8"), 0o600)
    write(os.path.join(outdir, "wrong-passkey.txt"), b"not the passphrase\n", 0o600)
    fernet = Fernet(key)
    for name, size in SIZES.items():
        data = os.urandom(size) if name != "text" else (b"encrypt2bdy \xe5\x8a\xa0\xe5\xaf\x86 " * 100)[:size]
        plain = os.path.join(outdir, name + ".bin")
        write(plain, data)
        write(os.path.join(outdir, name + ".fernet.e2bdy"), fernet.encrypt(data))
        aescrypt(plain, os.path.join(outdir, name + ".aes.e2bdy"), PASSPHRASE)
    aescrypt(os.path.join(outdir, "text.bin"), os.path.join(outdir, "text-nonascii.aes.e2bdy"), NON_ASCII_PASSPHRASE)
    print(outdir)


def big(size, out_prefix):
    """Streams `size` random bytes into OUT.bin, OUT.fernet.e2bdy and OUT.aes.e2bdy, never holding the file.

    Fernet.encrypt needs the whole file in memory, so the token is built here from its definition with the same
    primitives (checked against Fernet.decrypt on a small sample first)."""
    key = Fernet.generate_key()
    write(out_prefix + ".key", key, 0o600)
    raw = base64.urlsafe_b64decode(key)
    signing, encryption = raw[:16], raw[16:]

    def token_writer(out, chunks):
        iv = os.urandom(16)
        header = b"\x80" + struct.pack(">Q", int(time.time())) + iv
        mac = hmac.new(signing, header, hashlib.sha256)
        encryptor = Cipher(algorithms.AES(encryption), modes.CBC(iv)).encryptor()
        padder = padding.PKCS7(128).padder()
        pending = header

        def emit(data):
            nonlocal pending
            pending += data
            whole = len(pending) // 3 * 3
            out.write(base64.urlsafe_b64encode(pending[:whole]))
            pending = pending[whole:]

        for chunk in chunks:
            ct = encryptor.update(padder.update(chunk))
            mac.update(ct)
            emit(ct)
        ct = encryptor.update(padder.finalize()) + encryptor.finalize()
        mac.update(ct)
        emit(ct + mac.digest())
        out.write(base64.urlsafe_b64encode(pending))

    import io
    sample = io.BytesIO()
    token_writer(sample, [b"sample", b" text"])
    assert Fernet(key).decrypt(sample.getvalue()) == b"sample text"

    with open(out_prefix + ".bin", "wb") as f:
        left = size
        while left > 0:
            n = min(left, 1 << 20)
            f.write(os.urandom(n))
            left -= n

    def chunks():
        with open(out_prefix + ".bin", "rb") as f:
            while True:
                chunk = f.read(1 << 20)
                if not chunk:
                    return
                yield chunk

    with open(out_prefix + ".fernet.e2bdy", "wb") as out:
        token_writer(out, chunks())
    write(out_prefix + ".passkey", (PASSPHRASE + "\n").encode(), 0o600)
    aescrypt(out_prefix + ".bin", out_prefix + ".aes.e2bdy", PASSPHRASE)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--big":
        big(int(sys.argv[2]), sys.argv[3])
    elif len(sys.argv) == 2:
        fresh(sys.argv[1])
    else:
        sys.stderr.write(__doc__)
        sys.exit(64)
