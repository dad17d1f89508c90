"""Passphrase encryption of a backup, streamed: a file of any size passes through in 1 MiB chunks.

    with EncryptingWriter(open(path, "wb"), passphrase) as out:   # out.write(...) as often as needed
    reader = DecryptingReader(open(path, "rb"), passphrase)       # reader.read(n) until b""

The key comes from the passphrase with scrypt (a fresh random salt per archive, memory-hard, so
each guess at a passphrase costs an attacker 128 MiB and a fraction of a second). The data is
cut into chunks, each sealed with AES-256-GCM under a nonce made of a random prefix, the chunk's
number and a flag marking the last chunk: the "STREAM" construction (Hoang, Reyhanitabar,
Rogaway and Vizár, 2015). So a chunk changed, moved, repeated or dropped, or the file cut short
even at a chunk boundary, fails to decrypt. Every chunk also authenticates the header (salt,
scrypt's cost, chunk size, prefix), so none of that can be altered either.

A check value derived from the passphrase (not the key itself) sits in the header, so a wrong
passphrase is told apart from a damaged file before anything is decrypted.

What a reader returns before the end is not yet known to be the whole archive: callers must not
act on it until read() has returned b"" (the last chunk authenticated).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import struct

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

MAGIC = b"PORTAL-BACKUP\n"
FORMAT = 1
CHUNK = 1 << 20
TAG = 16
# scrypt's cost: n = 2**17, r = 8 (128 MiB of memory per guess), p = 1, as in OWASP's advice.
LOG2_N, R, P = 17, 8, 1
# magic, format, salt, log2(n), r, p, chunk size, nonce prefix, passphrase check
HEADER = struct.Struct(f">{len(MAGIC)}sB16sBBBI7s32s")
MIN_PASSPHRASE = 16


class BackupCryptoError(Exception):
    """The archive cannot be opened: not a backup, wrong passphrase, or damaged. Says which."""


def _derive(passphrase: str, salt: bytes, log2_n: int, r: int, p: int) -> tuple[bytes, bytes]:
    if not (10 <= log2_n <= 22 and 1 <= r <= 32 and 1 <= p <= 16):
        raise BackupCryptoError("This backup's header is damaged (its key-derivation settings are impossible).")
    material = Scrypt(salt=salt, length=64, n=1 << log2_n, r=r, p=p).derive(passphrase.encode("utf-8"))
    return material[:32], hashlib.sha256(b"passphrase check" + material[32:]).digest()


def _nonce(prefix: bytes, counter: int, last: bool) -> bytes:
    if counter >= 1 << 32:
        raise BackupCryptoError("The archive is too large for one backup (4 PiB).")
    return prefix + struct.pack(">IB", counter, 1 if last else 0)


class EncryptingWriter:
    """A write-only file object that encrypts into `raw`. close() seals the last chunk (and
    closes `raw`); without it the archive is incomplete and will not open."""

    def __init__(self, raw, passphrase: str, *, chunk_size: int = CHUNK):
        salt, prefix = os.urandom(16), os.urandom(7)
        key, check = _derive(passphrase, salt, LOG2_N, R, P)
        self.header = HEADER.pack(MAGIC, FORMAT, salt, LOG2_N, R, P, chunk_size, prefix, check)
        self._raw, self._aead, self._prefix = raw, AESGCM(key), prefix
        self._chunk_size, self._buffer, self._counter = chunk_size, bytearray(), 0
        self._raw.write(self.header)
        self.closed = False

    def write(self, data) -> int:
        self._buffer += data
        # Keep back at least one byte: the last chunk must be known as last when it is sealed.
        while len(self._buffer) > self._chunk_size:
            self._seal(bytes(self._buffer[: self._chunk_size]), last=False)
            del self._buffer[: self._chunk_size]
        return len(data)

    def _seal(self, plaintext: bytes, *, last: bool) -> None:
        nonce = _nonce(self._prefix, self._counter, last)
        self._raw.write(self._aead.encrypt(nonce, plaintext, self.header))
        self._counter += 1

    def close(self) -> None:
        if self.closed:
            return
        self._seal(bytes(self._buffer), last=True)
        self._buffer.clear()
        self.closed = True
        self._raw.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        if exc_info[0] is None:
            self.close()
        else:
            self._raw.close()


def read_header(raw) -> tuple[bytes, tuple]:
    header = raw.read(HEADER.size)
    if len(header) < HEADER.size or not header.startswith(MAGIC):
        raise BackupCryptoError("This file is not a portal backup (it does not start as one).")
    fields = HEADER.unpack(header)
    if fields[1] != FORMAT:
        raise BackupCryptoError(
            f"This backup is in format {fields[1]}; this portal reads format {FORMAT}. "
            "Restore it with the portal version that made it."
        )
    return header, fields


class DecryptingReader:
    """A read-only file object over an archive made by EncryptingWriter. Opening it checks the
    passphrase; read() raises BackupCryptoError at the first chunk that fails to authenticate."""

    def __init__(self, raw, passphrase: str):
        header, (_, _, salt, log2_n, r, p, chunk_size, prefix, check) = read_header(raw)
        if not 1 <= chunk_size <= 64 * CHUNK:
            raise BackupCryptoError("This backup's header is damaged (its chunk size is impossible).")
        key, expected = _derive(passphrase, salt, log2_n, r, p)
        if not hmac.compare_digest(check, expected):
            raise BackupCryptoError(
                "The passphrase does not open this backup. Check PORTAL_BACKUP_PASSPHRASE: it must be "
                "the one in force when the backup was made."
            )
        self._raw, self._header, self._aead, self._prefix = raw, header, AESGCM(key), prefix
        self._sealed_size = chunk_size + TAG
        self._counter, self._buffer, self._done = 0, bytearray(), False
        self._pending = raw.read(self._sealed_size)

    def _open_next(self) -> None:
        sealed = self._pending
        self._pending = self._raw.read(self._sealed_size)
        last = not self._pending
        if len(sealed) < TAG or (not last and len(sealed) != self._sealed_size):
            raise BackupCryptoError("This backup is damaged or cut short: it ends in the middle of a chunk.")
        try:
            self._buffer += self._aead.decrypt(_nonce(self._prefix, self._counter, last), sealed, self._header)
        except InvalidTag:
            raise BackupCryptoError(
                f"This backup is damaged, cut short or has been altered (chunk {self._counter + 1} "
                "does not authenticate). Nothing was restored from it."
            ) from None
        self._counter += 1
        self._done = last

    def read(self, size: int = -1) -> bytes:
        while not self._done and (size < 0 or len(self._buffer) < size):
            self._open_next()
        if size < 0:
            size = len(self._buffer)
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data

    def close(self) -> None:
        self._raw.close()
