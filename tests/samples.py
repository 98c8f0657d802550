"""Small real files for tests: each is what its kind's magic and structure say it is."""
from __future__ import annotations

import struct
import zlib


def pdf(marker: str = "x") -> bytes:
    body = f"1 0 obj << /Type /Catalog >> endobj % {marker}\n".encode()
    return b"%PDF-1.4\n" + body + b"trailer << /Root 1 0 R >>\n%%EOF\n"


def png(width: int = 1, height: int = 1) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    raw = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def mp4(size: int = 64) -> bytes:
    ftyp = struct.pack(">I", 24) + b"ftypisom" + struct.pack(">I", 512) + b"isomiso2"
    free = struct.pack(">I", size) + b"free" + b"\x00" * (size - 8)
    return ftyp + free


def exe() -> bytes:
    return b"MZ" + b"\x90\x00" * 30 + b"This program cannot be run in DOS mode" + b"\x00" * 64


def big(size: int, head: bytes | None = None) -> bytes:
    """A PDF of exactly `size` bytes."""
    start = head or b"%PDF-1.4\n"
    end = b"\n%%EOF\n"
    return start + b"0" * (size - len(start) - len(end)) + end


def jpeg() -> bytes:
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    dqt = b"\xff\xdb" + struct.pack(">H", 67) + b"\x00" + bytes(range(1, 65))
    return b"\xff\xd8" + app0 + dqt + b"\x12\x34\x56\xff\x00\x78" + b"\xff\xd9"


def mp3(frames: int = 3) -> bytes:
    """MPEG-1 layer III frames (128 kbit/s, 44.1 kHz: 417 bytes each)."""
    return (b"\xff\xfb\x90\x00" + b"\x00" * 413) * frames
