"""TFRecord framing without TensorFlow: a streaming reader with CRC32C checks, and a writer.

A TFRecord file is records back to back, each::

    uint64 LE  length
    uint32 LE  masked CRC32C of the 8 length bytes
    bytes      data (length bytes)
    uint32 LE  masked CRC32C of the data

with ``mask(crc) = ((crc >> 15) | (crc << 17)) + 0xa282ead8 (mod 2**32)``.

The reader holds one chunk of the file at a time (constant memory, whatever the file
size), checks both CRCs of every record and names the byte offset of the record in every
error, so a corrupt download is reported at the place it breaks.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterable, Iterator
from typing import BinaryIO

import crc32c

from ..errors import DataError

_MASK_DELTA = 0xA282EAD8
_HEADER = struct.Struct("<QI")
_FOOTER = struct.Struct("<I")
HEADER_SIZE = _HEADER.size  # 12
FOOTER_SIZE = _FOOTER.size  # 4
CHUNK = 1 << 22


def masked_crc(data: bytes | memoryview) -> int:
    """The masked CRC32C that TFRecord stores for ``data``."""
    crc = crc32c.crc32c(data)
    return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF


def encode(data: bytes) -> bytes:
    """One framed record holding ``data``."""
    length = struct.pack("<Q", len(data))
    return length + struct.pack("<I", masked_crc(length)) + data + _FOOTER.pack(masked_crc(data))


def write_records(f: BinaryIO, records: Iterable[bytes]) -> int:
    """Write ``records`` framed to the binary file ``f``; returns the bytes written."""
    n = 0
    for data in records:
        blob = encode(data)
        f.write(blob)
        n += len(blob)
    return n


def looks_like_tfrecord(path: os.PathLike | str) -> bool:
    """Whether the file starts with a TFRecord header whose length CRC checks out."""
    with open(path, "rb") as f:
        head = f.read(HEADER_SIZE)
    if len(head) < HEADER_SIZE:
        return False
    _, crc = _HEADER.unpack(head)
    return crc == masked_crc(head[:8])


def iter_records(
    f: BinaryIO,
    name: str = "the file",
    size: int | None = None,
    chunk: int = CHUNK,
    on_chunk=None,
) -> Iterator[tuple[int, bytes]]:
    """Yield ``(byte offset, data)`` of every record of the binary stream ``f``.

    ``size`` (the stream's total length, when known) lets a record that claims more bytes
    than the file holds fail at once instead of being read. ``on_chunk(block)`` sees
    every block read (to hash the file or show progress on the same pass). Raises
    ``DataError`` naming ``name`` and the record's byte offset on any framing fault.
    """
    buf = b""
    pos = 0  # start of the current record inside buf
    base = 0  # file offset of buf[0]
    eof = False

    def fill(need: int) -> bool:
        """Make at least ``need`` bytes available from ``pos``; False at end of file."""
        nonlocal buf, pos, base, eof
        while len(buf) - pos < need and not eof:
            block = f.read(chunk)  # bounded reads: a bogus length never allocates much
            if not block:
                eof = True
                break
            if on_chunk is not None:
                on_chunk(block)
            buf = buf[pos:] + block
            base += pos
            pos = 0
        return len(buf) - pos >= need

    crc = crc32c.crc32c
    unpack_header = _HEADER.unpack_from
    unpack_footer = _FOOTER.unpack_from
    while True:
        if len(buf) - pos < HEADER_SIZE and not fill(HEADER_SIZE):
            left = len(buf) - pos
            if left == 0:
                return
            raise DataError(
                f"{name} is truncated: the record at byte offset {base + pos} has only "
                f"{left} of its {HEADER_SIZE} header bytes."
            )
        offset = base + pos
        length, length_crc = unpack_header(buf, pos)
        c = crc(buf[pos : pos + 8])
        if (((c >> 15) | (c << 17)) + _MASK_DELTA) & 0xFFFFFFFF != length_crc:
            raise DataError(
                f"{name} is corrupt: the length CRC of the record at byte offset {offset} "
                f"does not match (expected a TFRecord header)."
            )
        need = HEADER_SIZE + length + FOOTER_SIZE
        if size is not None and offset + need > size:
            raise DataError(
                f"{name} is truncated: the record at byte offset {offset} needs {need} "
                f"bytes but the file ends {size - offset} bytes after it starts."
            )
        if len(buf) - pos < need and not fill(need):
            raise DataError(
                f"{name} is truncated: the record at byte offset {offset} needs {need} "
                f"bytes but the file ends {len(buf) - pos} bytes after it starts."
            )
        start = pos + HEADER_SIZE
        data = buf[start : start + length]
        c = crc(data)
        if (((c >> 15) | (c << 17)) + _MASK_DELTA) & 0xFFFFFFFF != unpack_footer(
            buf, start + length
        )[0]:
            raise DataError(
                f"{name} is corrupt: the data CRC of the record at byte offset {offset} "
                f"does not match (the file is damaged; download it again)."
            )
        pos += need
        yield offset, data


def read_file(path: os.PathLike | str, on_chunk=None) -> Iterator[tuple[int, bytes]]:
    """``iter_records`` over the file at ``path`` (its size bounds every record)."""
    name = os.path.basename(os.fspath(path))
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        yield from iter_records(f, name=name, size=size, on_chunk=on_chunk)
