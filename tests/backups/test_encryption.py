"""The archive's encryption: what goes in comes out, and only with the passphrase; any change to
the file (a byte, a chunk moved, dropped or added, the end cut off) is refused."""

import io
import os

import pytest

from backups import crypto
from backups.crypto import BackupCryptoError, DecryptingReader, EncryptingWriter

PASSPHRASE = "correct horse battery staple"
CHUNK = 64


@pytest.fixture(autouse=True)
def cheap_key_derivation(monkeypatch):
    """scrypt at 2**10 rather than 2**17: the cost is recorded in the header and honoured when
    reading, which is part of what is tested."""
    monkeypatch.setattr(crypto, "LOG2_N", 10)


class Kept(io.BytesIO):
    def close(self):  # keep the bytes readable after the writer closes its file
        pass


def encrypt(data: bytes, *, writes=None) -> bytes:
    out = Kept()
    with EncryptingWriter(out, PASSPHRASE, chunk_size=CHUNK) as writer:
        for start in range(0, len(data), writes or max(len(data), 1)):
            writer.write(data[start : start + (writes or len(data))])
    return out.getvalue()


def decrypt(data: bytes, passphrase=PASSPHRASE, *, reads=-1) -> bytes:
    reader = DecryptingReader(io.BytesIO(data), passphrase)
    found = bytearray()
    while chunk := reader.read(reads):
        found += chunk
    return bytes(found)


def chunks(archive: bytes) -> tuple[bytes, list[bytes]]:
    header, body = archive[: crypto.HEADER.size], archive[crypto.HEADER.size :]
    size = CHUNK + crypto.TAG
    return header, [body[i : i + size] for i in range(0, len(body), size)]


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK, 3 * CHUNK + 5])
@pytest.mark.parametrize("writes,reads", [(None, -1), (7, 5), (CHUNK, 1000)])
def test_what_goes_in_comes_out(size, writes, reads):
    data = os.urandom(size)
    assert decrypt(encrypt(data, writes=writes), reads=reads) == data


def test_the_archive_does_not_contain_the_data_in_clear():
    data = b"Mary Smith, parent of Amy Smith " * 20
    archive = encrypt(data)
    assert b"Mary Smith" not in archive
    assert encrypt(data) != archive  # a fresh salt and nonce each time


def test_a_wrong_passphrase_is_told_apart_from_damage():
    with pytest.raises(BackupCryptoError, match="The passphrase does not open this backup"):
        decrypt(encrypt(b"data"), "correct horse battery stapler")


def test_a_file_that_is_not_a_backup_is_refused():
    with pytest.raises(BackupCryptoError, match="not a portal backup"):
        decrypt(b"%PDF-1.7\n" + os.urandom(200))


def test_a_backup_in_a_later_format_is_refused_with_what_to_do():
    archive = bytearray(encrypt(b"data"))
    archive[len(crypto.MAGIC)] = crypto.FORMAT + 1
    with pytest.raises(BackupCryptoError, match="Restore it with the portal version that made it"):
        decrypt(bytes(archive))


@pytest.mark.parametrize("where", ["first chunk", "middle chunk", "last chunk", "last byte"])
def test_one_changed_byte_is_refused(where):
    archive = encrypt(os.urandom(3 * CHUNK + 10))
    header = crypto.HEADER.size
    offset = {
        "first chunk": header + 3,
        "middle chunk": header + CHUNK + crypto.TAG + 10,
        "last chunk": header + 3 * (CHUNK + crypto.TAG) + 2,
        "last byte": len(archive) - 1,
    }[where]
    changed = bytearray(archive)
    changed[offset] ^= 0x01
    with pytest.raises(BackupCryptoError, match="damaged, cut short or has been altered"):
        decrypt(bytes(changed))


def test_a_changed_chunk_size_in_the_header_is_refused():
    archive = bytearray(encrypt(os.urandom(3 * CHUNK)))
    # The chunk size sits just before the nonce prefix and the passphrase check.
    offset = crypto.HEADER.size - 32 - 7 - 1
    archive[offset] ^= 0x01
    with pytest.raises(BackupCryptoError):
        decrypt(bytes(archive))


def test_an_archive_cut_short_at_a_chunk_boundary_is_refused():
    header, parts = chunks(encrypt(os.urandom(3 * CHUNK + 10)))
    with pytest.raises(BackupCryptoError, match="cut short"):
        decrypt(header + b"".join(parts[:-1]))


def test_an_archive_cut_short_inside_a_chunk_is_refused():
    archive = encrypt(os.urandom(3 * CHUNK + 10))
    with pytest.raises(BackupCryptoError, match="cut short"):
        decrypt(archive[: crypto.HEADER.size + CHUNK + 5])


def test_chunks_swapped_or_repeated_are_refused():
    header, parts = chunks(encrypt(os.urandom(3 * CHUNK + 10)))
    with pytest.raises(BackupCryptoError, match="altered"):
        decrypt(header + parts[1] + parts[0] + b"".join(parts[2:]))
    with pytest.raises(BackupCryptoError, match="altered"):
        decrypt(header + parts[0] + parts[0] + b"".join(parts[1:]))


def test_anything_appended_is_refused():
    archive = encrypt(os.urandom(2 * CHUNK))
    with pytest.raises(BackupCryptoError, match="altered"):
        decrypt(archive + b"\x00" * (CHUNK + crypto.TAG))
