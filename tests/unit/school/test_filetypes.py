"""File kinds are judged by content: real minimal files built here, names never consulted."""
from __future__ import annotations

import struct
import zipfile
import zlib
from io import BytesIO

import pytest

from workflows.school.filetypes import (
    FileRejected, KINDS, check_file, describe_content, detect_kind, format_size,
    safe_display_name,
)
from workflows.core.policy import MB, FileRule

DOCUMENT = FileRule(kinds=("pdf", "jpg", "png"), max_bytes=4 * MB)
MEDIA = FileRule(kinds=("mp3", "mp4"), max_bytes=10 * MB)


# --------------------------------------------------------------------------- builders

def make_pdf() -> bytes:
    objects = [
        b"1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n",
        b"2 0 obj\n<< /Type /Pages /Kids [3 0 R] /Count 1 >>\nendobj\n",
        b"3 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>\nendobj\n",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for obj in objects:
        offsets.append(len(out))
        out += obj
    xref = len(out)
    out += b"xref\n0 4\n0000000000 65535 f \n"
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size 4 /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(
        ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def make_png(width: int = 2, height: int = 2) -> bytes:
    raw = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n"
            + _png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + _png_chunk(b"IDAT", zlib.compress(raw))
            + _png_chunk(b"IEND", b""))


def make_jpeg() -> bytes:
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    dqt = b"\xff\xdb" + struct.pack(">H", 67) + b"\x00" + bytes(range(1, 65))
    return b"\xff\xd8" + app0 + dqt + b"\x12\x34\x56\xff\x00\x78" + b"\xff\xd9"


def make_mp4(major: bytes = b"isom", compatible: tuple[bytes, ...] = (b"isom", b"mp42")) -> bytes:
    body = major + struct.pack(">I", 0x200) + b"".join(compatible)
    ftyp = struct.pack(">I", 8 + len(body)) + b"ftyp" + body
    mdat = struct.pack(">I", 16) + b"mdat" + b"\x00" * 8
    return ftyp + mdat


def make_mp3_frames(count: int = 3) -> bytes:
    # MPEG-1 layer III, 128 kbit/s, 44.1 kHz, no padding: 144 * 128000 // 44100 = 417 bytes.
    header = b"\xff\xfb\x90\x00"
    return (header + b"\x00" * (417 - 4)) * count


def make_mp3_id3() -> bytes:
    tag_body = b"TIT2" + struct.pack(">I", 6) + b"\x00\x00" + b"\x03song\x00"
    size = len(tag_body)
    syncsafe = bytes([(size >> 21) & 0x7F, (size >> 14) & 0x7F, (size >> 7) & 0x7F, size & 0x7F])
    return b"ID3\x04\x00\x00" + syncsafe + tag_body + make_mp3_frames(2)


def make_elf() -> bytes:
    return b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 8 + b"\x02\x00\x3e\x00" + b"\x00" * 100


def make_exe() -> bytes:
    stub = bytearray(b"MZ" + b"\x90\x00" + b"\x00" * 56 + struct.pack("<I", 64))
    return bytes(stub) + b"PE\x00\x00" + b"\x00" * 200


def make_zip(names=("notes.txt",)) -> bytes:
    buf = BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name in names:
            zf.writestr(name, "hello")
    return buf.getvalue()


HTML = b"<!DOCTYPE html>\n<html><head><title>x</title></head><body>hi</body></html>\n"


def parts(data: bytes) -> tuple[bytes, int, bytes]:
    """What the store hands over: head (4096), size, tail (1024)."""
    return data[:4096], len(data), data[-1024:]


# --------------------------------------------------------------------------- detect_kind

@pytest.mark.parametrize("data, kind", [
    (make_pdf(), "pdf"),
    (make_png(), "png"),
    (make_jpeg(), "jpg"),
    (make_jpeg() + b"\x00" * 32, "jpg"),  # padding after EOI
    (make_mp4(), "mp4"),
    (make_mp4(major=b"mp42", compatible=(b"mp42", b"isom")), "mp4"),
    (make_mp4(major=b"XAVC", compatible=(b"XAVC", b"mp42", b"iso2")), "mp4"),
    (make_mp3_frames(), "mp3"),
    (make_mp3_id3(), "mp3"),
])
def test_detects_real_files(data, kind):
    head, size, tail = parts(data)
    assert detect_kind(head, size, tail) == kind
    assert detect_kind(head) == kind  # head alone: structure only


def test_large_file_detected_from_head_and_tail_only():
    pdf = make_pdf()
    big = pdf[:200] + b"% filler\n" * 100_000 + pdf[200:]
    head, size, tail = parts(big)
    assert detect_kind(head, size, tail) == "pdf"


def test_truncated_pdf_is_refused():
    pdf = make_pdf()
    cut = pdf[: pdf.index(b"%%EOF") - 10]
    assert detect_kind(*parts(cut)) is None
    # total_size alone tells that the head is the whole file: still refused
    assert detect_kind(cut, len(cut)) is None


def test_pdf_must_start_with_marker():
    assert detect_kind(b"\xef\xbb\xbf" + make_pdf()) is None  # the library would accept a BOM
    assert detect_kind(b"junk" + make_pdf()) is None


def test_truncated_png_and_jpeg_are_refused():
    png, jpeg = make_png(), make_jpeg()
    assert detect_kind(*parts(png[:-12])) is None
    assert detect_kind(*parts(jpeg[:-2])) is None


def test_png_needs_full_signature():
    png = make_png()
    assert detect_kind(b"\x89PNG" + b"\x00" * 4 + png[8:]) is None
    assert detect_kind(b"\x89PNG\r\n\x1a\n" + b"\x00" * 50) is None  # no IHDR


def test_mp4_needs_ftyp_at_offset_4_and_plausible_brand():
    assert detect_kind(b"\x00" * 4 + make_mp4()) is None
    assert detect_kind(make_mp4(major=b"qt  ", compatible=(b"qt  ",))) is None
    assert detect_kind(make_mp4(major=b"heic", compatible=(b"mif1", b"heic"))) is None
    assert detect_kind(make_mp4(major=b"\x00\x01\x02\x03", compatible=(b"isom",))) is None
    assert describe_content(make_mp4(major=b"qt  ", compatible=(b"qt  ",))) == \
        "QuickTime 影片 (mov)"


def test_mp3_frame_sync_bits():
    assert detect_kind(b"\xff\xf1\x50\x80" + b"\x00" * 100) is None  # AAC (ADTS): layer 00
    assert detect_kind(b"\xff\xeb\x90\x00" + b"\x00" * 100) is None  # reserved version
    assert detect_kind(b"\xff\xfb\xf0\x00" + b"\x00" * 100) is None  # bad bitrate index
    assert detect_kind(b"\xff\xfb\x9c\x00" + b"\x00" * 100) is None  # bad sample rate
    # MPEG-1 layer III with CRC protection (FF FA), which the library does not know
    frames = (b"\xff\xfa\x90\x00" + b"\x00" * 413) * 2
    assert detect_kind(frames) == "mp3"
    # a sync that is not followed by a second frame where one must be
    assert detect_kind(b"\xff\xfb\x90\x00" + b"\x01" * 1000) is None


def test_id3_header_validated():
    assert detect_kind(b"ID3\x09\x00\x00\x00\x00\x00\x10" + b"\x00" * 32) is None
    assert detect_kind(b"ID3\x03\x00\x00\x00\x00\x80\x10" + b"\x00" * 32) is None


@pytest.mark.parametrize("data, words", [
    (make_exe(), "Windows 執行檔 (exe)"),
    (make_elf(), "Linux 執行檔 (ELF)"),
    (b"\xcf\xfa\xed\xfe" + b"\x00" * 60, "macOS 執行檔 (Mach-O)"),
    (b"#!/bin/sh\nrm -rf /\n", "指令碼 (script)"),
    (make_zip(), "ZIP 壓縮檔"),
    (make_zip(("[Content_Types].xml", "word/document.xml")), "Word 文件 (docx)"),
    (HTML, "HTML 網頁"),
    (b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"></svg>', "SVG 向量圖"),
    (b"GIF89a" + b"\x00" * 40, "GIF 圖片"),
    (b"just some notes\n", "純文字檔"),
    (b"", "空白檔案"),
    (bytes(range(7, 200)) * 3, "無法辨識的格式"),
])
def test_other_content_is_not_ours_and_is_named(data, words):
    assert detect_kind(*parts(data)) is None if data else detect_kind(data) is None
    assert describe_content(data[:4096]) == words


def test_executable_renamed_pdf_is_not_a_pdf():
    # the name "report.pdf" is irrelevant: only the bytes are looked at
    for exe in (make_exe(), make_elf()):
        assert detect_kind(*parts(exe)) is None


def test_png_with_embedded_executable_is_a_png():
    png = make_png()
    polyglot = png[:-12] + _png_chunk(b"tEXt", b"x\x00" + make_exe()) + png[-12:]
    assert detect_kind(*parts(polyglot)) == "png"


def test_empty_input():
    assert detect_kind(b"") is None
    assert detect_kind(b"%PDF-1.4", total_size=0) is None


# --------------------------------------------------------------------------- check_file

def test_check_file_accepts_allowed_kinds():
    assert check_file(*parts(make_pdf()), DOCUMENT, slot="document", field="doc") == "pdf"
    assert check_file(*parts(make_png()), DOCUMENT, slot="document", field="doc") == "png"
    assert check_file(*parts(make_jpeg()), DOCUMENT, slot="document", field="doc") == "jpg"
    assert check_file(*parts(make_mp4()), MEDIA, slot="media", field="media") == "mp4"
    assert check_file(*parts(make_mp3_id3()), MEDIA, slot="media", field="media") == "mp3"


def test_executable_refused_with_words():
    with pytest.raises(FileRejected) as err:
        check_file(*parts(make_exe()), DOCUMENT, slot="document", field="document_file")
    e = err.value
    assert e.rule == "kind_not_allowed"
    assert e.field == "document_file"
    assert e.limit == ("pdf", "jpg", "png")
    assert e.message == "文件檔案內容為「Windows 執行檔 (exe)」，只接受 pdf、jpg、png"
    assert str(e) == e.message
    assert isinstance(e, ValueError)


@pytest.mark.parametrize("data, words", [
    (make_elf(), "Linux 執行檔 (ELF)"),
    (make_zip(), "ZIP 壓縮檔"),
    (HTML, "HTML 網頁"),
])
def test_other_content_refused_naming_it(data, words):
    with pytest.raises(FileRejected) as err:
        check_file(*parts(data), DOCUMENT, slot="document", field="f")
    assert err.value.rule == "kind_not_allowed"
    assert words in err.value.message
    assert "pdf、jpg、png" in err.value.message


def test_accepted_kind_in_wrong_slot():
    with pytest.raises(FileRejected) as err:
        check_file(*parts(make_mp4()), DOCUMENT, slot="document", field="f")
    assert err.value.rule == "kind_not_allowed"
    assert err.value.kind == "mp4"
    assert err.value.message == "文件檔案內容為「MP4 影片」，只接受 pdf、jpg、png"
    with pytest.raises(FileRejected) as err:
        check_file(*parts(make_pdf()), MEDIA, slot="media", field="m")
    assert err.value.message == "影音檔案內容為「PDF 文件」，只接受 mp3、mp4"


def test_truncated_pdf_refused_as_damaged():
    pdf = make_pdf()
    with pytest.raises(FileRejected) as err:
        check_file(*parts(pdf[:-30]), DOCUMENT, slot="document", field="f")
    assert err.value.rule == "unrecognised"
    assert "PDF 文件" in err.value.message and "不完整" in err.value.message
    assert "pdf、jpg、png" in err.value.message


def test_unrecognised_content():
    with pytest.raises(FileRejected) as err:
        check_file(*parts(bytes(range(7, 200)) * 3), MEDIA, slot="media", field="m")
    assert err.value.rule == "unrecognised"
    assert err.value.message == "影音檔案內容為「無法辨識的格式」，只接受 mp3、mp4"


def test_empty_file_refused():
    with pytest.raises(FileRejected) as err:
        check_file(b"", 0, b"", DOCUMENT, slot="document", field="f")
    assert err.value.rule == "empty"
    assert err.value.message == "文件檔案是空的（0 位元組）"


def test_size_limit_is_inclusive():
    pdf = make_pdf()
    rule = FileRule(kinds=("pdf",), max_bytes=len(pdf))
    assert check_file(*parts(pdf), rule, slot="document", field="f") == "pdf"
    padded = pdf + b"\n"
    with pytest.raises(FileRejected) as err:
        check_file(*parts(padded), rule, slot="document", field="f")
    assert err.value.rule == "too_large"
    assert err.value.limit == len(pdf)


def test_too_large_message_in_mb():
    head, _, tail = parts(make_mp4())
    with pytest.raises(FileRejected) as err:
        check_file(head, int(12.3 * MB), tail, MEDIA, slot="media", field="m")
    assert err.value.rule == "too_large"
    assert err.value.limit == 10 * MB
    assert err.value.message == "影音檔案 12.3 MB 超過上限 10 MB"
    # one byte over must not read "10 MB 超過上限 10 MB"
    with pytest.raises(FileRejected) as err:
        check_file(head, 10 * MB + 1, tail, MEDIA, slot="media", field="m")
    assert err.value.message == "影音檔案 10.1 MB 超過上限 10 MB"


def test_format_size():
    assert format_size(0) == "0 位元組"
    assert format_size(2 * MB) == "2 MB"
    assert format_size(1536) == "1.5 KB"


def test_unknown_slot_is_a_programming_error():
    with pytest.raises(ValueError):
        check_file(*parts(make_pdf()), DOCUMENT, slot="photo", field="f")


def test_kinds_constant():
    assert KINDS == ("pdf", "jpg", "png", "mp3", "mp4")


# --------------------------------------------------------------------------- safe_display_name

@pytest.mark.parametrize("raw, shown", [
    ("../../etc/passwd", "passwd"),
    ("a\\b\\c.pdf", "c.pdf"),
    ("C:\\Users\\me\\Desktop\\報告.pdf", "報告.pdf"),
    ("報告\x00.pdf", "報告.pdf"),
    ("第一\n學期\r\n報告.pdf", "第一 學期 報告.pdf"),
    ("  多   空白\t.pdf  ", "多 空白 .pdf"),
    (".hidden.pdf", "hidden.pdf"),
    ("...", "未命名"),
    ("", "未命名"),
    ("\x00\x01\n", "未命名"),
    ("folder/", "folder"),
    ("evil\u202efdp.exe", "evilfdp.exe"),  # right-to-left override removed
    ("普通報告.pdf", "普通報告.pdf"),
])
def test_safe_display_name(raw, shown):
    assert safe_display_name(raw) == shown


def test_safe_display_name_caps_length_keeping_extension():
    shown = safe_display_name("字" * 300 + ".pdf")
    assert len(shown) == 120
    assert shown.endswith(".pdf")
    assert shown.startswith("字字字")
    no_ext = safe_display_name("x" * 300)
    assert len(no_ext) == 120


def test_safe_display_name_has_no_separators_or_controls():
    for raw in ("a/b", "a\\b", "../", "..\\..\\x", "x\x7fy", "a\u2028b"):
        shown = safe_display_name(raw)
        assert "/" not in shown and "\\" not in shown
        assert all(ch.isprintable() for ch in shown)
