"""What a file *is*, judged from its content and never from its name.

Students upload one document (pdf/jpg/png) and one media file (mp3/mp4) per item (seed 002,
"檔案格式、大小"). A file's name says nothing reliable about its content, so:

* `detect_kind` looks at the first bytes (``head``, normally the first 4096 bytes), the last bytes
  (``tail``, normally the last 1024 bytes) and the total size. It uses the `filetype` library to
  name magic numbers and adds the stricter checks the library lacks: the library accepts a PDF
  after a byte-order mark, a PNG from 4 of its 8 signature bytes, only three MP3 sync patterns and
  only three MP4 brands, and never looks at the end of a file, so it cannot see truncation.
* `describe_content` names, in words a student understands (zh-TW), what some content looks like,
  for error messages ("Windows 執行檔 (exe)", "ZIP 壓縮檔", ...).
* `check_file` applies one slot's `FileRule` and raises `FileRejected` with a zh-TW message.
* `safe_display_name` makes a user's file name safe to *show*. File names from users are never
  used as paths: stored files are addressed by their SHA-256 (see `persistence.files`).
"""
from __future__ import annotations

import math
import re
import unicodedata

import filetype

from persistence.vocabulary import FileKind
from workflows.core.policy import FileRule

KINDS: tuple[str, ...] = FileKind.codes()

HEAD_BYTES = 4096
TAIL_BYTES = 1024

KIND_LABELS: dict[str, str] = FileKind.labels()

SLOT_LABELS: dict[str, str] = {"document": "文件檔案", "media": "影音檔案"}

EMPTY_LABEL = "空白檔案"
UNKNOWN_LABEL = "無法辨識的格式"

# Names for what the `filetype` library recognises but we do not accept (by its extension).
_OTHER_LABELS: dict[str, str] = {
    "exe": "Windows 執行檔 (exe)",
    "elf": "Linux 執行檔 (ELF)",
    "wasm": "WebAssembly 程式 (wasm)",
    "zip": "ZIP 壓縮檔",
    "rar": "RAR 壓縮檔",
    "7z": "7-Zip 壓縮檔",
    "gz": "gzip 壓縮檔",
    "bz2": "bzip2 壓縮檔",
    "xz": "xz 壓縮檔",
    "tar": "tar 封存檔",
    "zst": "Zstandard 壓縮檔",
    "lz4": "LZ4 壓縮檔",
    "cab": "Windows 安裝封裝檔 (cab)",
    "deb": "Linux 安裝封裝檔 (deb)",
    "rpm": "Linux 安裝封裝檔 (rpm)",
    "crx": "Chrome 擴充功能 (crx)",
    "doc": "Word 文件 (doc)",
    "docx": "Word 文件 (docx)",
    "xls": "Excel 試算表 (xls)",
    "xlsx": "Excel 試算表 (xlsx)",
    "ppt": "PowerPoint 簡報 (ppt)",
    "pptx": "PowerPoint 簡報 (pptx)",
    "odt": "OpenDocument 文件 (odt)",
    "ods": "OpenDocument 試算表 (ods)",
    "odp": "OpenDocument 簡報 (odp)",
    "rtf": "RTF 文件 (rtf)",
    "epub": "電子書 (epub)",
    "ps": "PostScript 檔 (ps)",
    "sqlite": "SQLite 資料庫",
    "swf": "Flash 動畫 (swf)",
    "gif": "GIF 圖片",
    "webp": "WebP 圖片",
    "bmp": "BMP 圖片",
    "tif": "TIFF 圖片",
    "heic": "HEIC 照片 (heic)",
    "avif": "AVIF 圖片 (avif)",
    "jpx": "JPEG 2000 圖片 (jp2)",
    "jxr": "JPEG XR 圖片 (jxr)",
    "psd": "Photoshop 檔 (psd)",
    "xcf": "GIMP 圖檔 (xcf)",
    "ico": "圖示檔 (ico)",
    "cr2": "相機 RAW 檔 (cr2)",
    "dwg": "AutoCAD 圖檔 (dwg)",
    "dcm": "DICOM 醫學影像 (dcm)",
    "mov": "QuickTime 影片 (mov)",
    "m4v": "M4V 影片 (m4v)",
    "3gp": "3GP 影片 (3gp)",
    "avi": "AVI 影片 (avi)",
    "mkv": "MKV 影片 (mkv)",
    "webm": "WebM 影片 (webm)",
    "wmv": "WMV 影片 (wmv)",
    "flv": "Flash 影片 (flv)",
    "mpg": "MPEG 影片 (mpg)",
    "m4a": "M4A 音訊 (m4a)",
    "aac": "AAC 音訊 (aac)",
    "wav": "WAV 音訊 (wav)",
    "ogg": "Ogg 音訊 (ogg)",
    "flac": "FLAC 音訊 (flac)",
    "amr": "AMR 錄音檔 (amr)",
    "aiff": "AIFF 音訊 (aiff)",
    "mid": "MIDI 音樂檔 (mid)",
    "woff": "字型檔 (woff)",
    "woff2": "字型檔 (woff2)",
    "ttf": "字型檔 (ttf)",
    "otf": "字型檔 (otf)",
    "eot": "字型檔 (eot)",
}

# Library extensions that correspond to one of our kinds (used to spot damaged files).
_LIBRARY_TO_KIND = {"pdf": "pdf", "jpg": "jpg", "png": "png", "apng": "png", "mp3": "mp3",
                    "mp4": "mp4"}

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_IHDR = b"\x00\x00\x00\x0dIHDR"
_PNG_IEND = b"IEND\xaeB`\x82"  # chunk type + its fixed CRC

# ISO-BMFF brands that mean "an MP4 file" (ISO/IEC 14496-12/14 and common camera/phone brands).
_MP4_BRANDS = frozenset({
    "isom", "iso2", "iso3", "iso4", "iso5", "iso6", "iso8", "iso9",
    "mp41", "mp42", "mp71", "avc1", "M4V ", "M4VH", "M4VP", "dash", "MSNV", "NDAS", "mmp4",
    "XAVC", "f4v ",
})
# Major brands that are a different format even when they list an MP4 brand as compatible.
_NOT_MP4_MAJOR_PREFIXES = ("qt", "3g", "hei", "hev", "mif", "msf", "avi", "jp", "crx")

# MPEG audio layer III bit rates (kbit/s) by bitrate index; 0 = free format, 15 = invalid.
_MP3_BITRATES_V1 = (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, -1)
_MP3_BITRATES_V2 = (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160, -1)
_MP3_SAMPLE_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}


# --------------------------------------------------------------------------- detection

def detect_kind(head: bytes, total_size: int | None = None,
                tail: bytes | None = None) -> str | None:
    """The accepted kind ("pdf", "jpg", "png", "mp3", "mp4") this content is, or None.

    ``head`` is the start of the file (4096 bytes are plenty), ``tail`` its last bytes (1024).
    Without ``tail`` the end-of-file checks (PDF ``%%EOF``, JPEG EOI, PNG IEND) are skipped,
    unless ``total_size`` shows that ``head`` holds the whole file. Every other content,
    executables, archives, office files, web pages included, gives None: use
    `describe_content` to say what it is.
    """
    head = bytes(head or b"")
    if not head or total_size == 0:
        return None
    if tail is None and total_size is not None and total_size <= len(head):
        tail = head[-TAIL_BYTES:]  # the head is the whole file
    elif tail is not None:
        tail = bytes(tail[-TAIL_BYTES:])

    # The library names the magic number; our own checks below decide, always anchored at
    # offset 0, so content that starts "MZ" (or anything else) can never pass as one of ours.
    library_guess = _library_extension(head)
    candidates = []
    if library_guess in _LIBRARY_TO_KIND:
        candidates.append(_LIBRARY_TO_KIND[library_guess])
    candidates.extend(k for k in KINDS if k not in candidates)
    for kind in candidates:
        if _CHECKS[kind](head, total_size, tail):
            return kind
    return None


def _library_extension(head: bytes) -> str | None:
    try:
        guess = filetype.guess(bytes(head))  # bytes only: a str would be opened as a path
    except Exception:  # a matcher choking on odd input must not break an upload
        return None
    return guess.extension if guess is not None else None


def _is_pdf(head: bytes, total_size: int | None, tail: bytes | None) -> bool:
    if not (head.startswith(b"%PDF-") and head[5:6].isdigit()):
        return False
    return tail is None or b"%%EOF" in tail[-TAIL_BYTES:]


def _is_png(head: bytes, total_size: int | None, tail: bytes | None) -> bool:
    if head[:8] != _PNG_SIGNATURE or head[8:16] != _PNG_IHDR:
        return False
    return tail is None or _PNG_IEND in tail[-TAIL_BYTES:]


def _is_jpeg(head: bytes, total_size: int | None, tail: bytes | None) -> bool:
    # SOI (FF D8) followed by the first marker (FF xx, xx = C0..FE: APPn, DQT, DHT, SOF, COM...).
    if len(head) < 4 or head[:3] != b"\xff\xd8\xff" or not 0xC0 <= head[3] <= 0xFE:
        return False
    if tail is None:
        return True
    # FF D9 cannot occur inside entropy-coded data (FF is stuffed as FF 00), so a file that ends
    # with it, after optional padding, was not cut off.
    end = tail.rstrip(b"\x00\xff\r\n\t ")
    if end.endswith(b"\xff\xd9"):
        return True
    # Samsung phones append a trailer after EOI that ends with "SEFT".
    return tail.endswith(b"SEFT")


def _is_mp4(head: bytes, total_size: int | None, tail: bytes | None) -> bool:
    if len(head) < 16 or head[4:8] != b"ftyp":
        return False
    box_size = int.from_bytes(head[0:4], "big")
    if box_size < 16 or box_size % 4 or box_size > HEAD_BYTES:
        return False
    if total_size is not None and box_size > total_size:
        return False
    raw_brands = [head[i:i + 4] for i in range(16, min(box_size, len(head)) - 3, 4)]
    major_raw = head[8:12]
    if not all(0x20 <= b <= 0x7E for b in major_raw):
        return False
    major = major_raw.decode("ascii")
    compatible = {b.decode("ascii", errors="replace") for b in raw_brands}
    if major in _MP4_BRANDS:
        return True
    if major.lower().startswith(_NOT_MP4_MAJOR_PREFIXES):
        return False
    return bool(compatible & _MP4_BRANDS)


def _is_mp3(head: bytes, total_size: int | None, tail: bytes | None) -> bool:
    if head.startswith(b"ID3"):
        # ID3v2 header: "ID3", version 2..4, revision, flags, four 7-bit ("syncsafe") size bytes.
        return (len(head) >= 10 and 2 <= head[3] <= 4 and head[4] != 0xFF
                and all(b < 0x80 for b in head[6:10]))
    first = _mp3_frame(head, 0)
    if first is None:
        return False
    version, length = first
    following = length  # a second frame must follow right after the first, when we can see it
    visible = len(head) if total_size is None else min(len(head), total_size)
    if following + 4 <= visible:
        second = _mp3_frame(head, following)
        if second is None or second[0] != version:
            return False
    return True


def _mp3_frame(buf: bytes, at: int) -> tuple[int, int] | None:
    """(version bits, frame length) of an MPEG audio layer III frame header at ``at``, or None."""
    if len(buf) < at + 4:
        return None
    b1, b2 = buf[at + 1], buf[at + 2]
    if buf[at] != 0xFF or b1 & 0xE0 != 0xE0:  # 11 sync bits
        return None
    version = (b1 >> 3) & 0b11  # 3 = MPEG-1, 2 = MPEG-2, 0 = MPEG-2.5, 1 = reserved
    layer = (b1 >> 1) & 0b11  # 1 = layer III
    if version == 1 or layer != 1:
        return None
    bitrate_index, rate_index, padding = b2 >> 4, (b2 >> 2) & 0b11, (b2 >> 1) & 1
    if bitrate_index in (0, 15) or rate_index == 3:
        return None
    bitrate = (_MP3_BITRATES_V1 if version == 3 else _MP3_BITRATES_V2)[bitrate_index] * 1000
    sample_rate = _MP3_SAMPLE_RATES[version][rate_index]
    length = (144 if version == 3 else 72) * bitrate // sample_rate + padding
    return version, length


_CHECKS = {"pdf": _is_pdf, "jpg": _is_jpeg, "png": _is_png, "mp3": _is_mp3, "mp4": _is_mp4}


# --------------------------------------------------------------------------- description

def describe_content(head: bytes) -> str:
    """What ``head`` (the start of a file) looks like, in zh-TW words for messages."""
    head = bytes(head or b"")
    if not head:
        return EMPTY_LABEL
    kind = detect_kind(head)
    if kind is not None:
        return KIND_LABELS[kind]

    own = _describe_own(head)
    if own is not None:
        return own
    ext = _library_extension(head)
    if ext in _LIBRARY_TO_KIND:  # starts like one of ours but fails our structural checks
        return f"損毀或不標準的 {ext.upper() if ext != 'apng' else 'PNG'} 檔"
    if ext is not None:
        return _OTHER_LABELS.get(ext, f"{ext.upper()} 檔案 ({ext})")
    text = _describe_text(head)
    if text is not None:
        return text
    return UNKNOWN_LABEL


def _describe_own(head: bytes) -> str | None:
    """Checks the library does not do (or does too loosely)."""
    if head[:2] == b"MZ":
        return _OTHER_LABELS["exe"]
    if head[:4] == b"\x7fELF":
        return _OTHER_LABELS["elf"]
    if head[:4] in (b"\xfe\xed\xfa\xce", b"\xfe\xed\xfa\xcf", b"\xce\xfa\xed\xfe",
                    b"\xcf\xfa\xed\xfe"):
        return "macOS 執行檔 (Mach-O)"
    if head[:4] == b"\xca\xfe\xba\xbe":
        # Universal Mach-O binaries and Java class files share this magic number.
        if len(head) >= 8 and int.from_bytes(head[4:8], "big") < 45:
            return "macOS 執行檔 (Mach-O)"
        return "Java 程式 (class)"
    if head[:2] == b"#!":
        return "指令碼 (script)"
    if head[:4] == b"PK\x03\x04":
        return _describe_zip(head)
    if head[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        return "舊版 Office 文件 (doc/xls/ppt)"
    if head[:8] == b"L\x00\x00\x00\x01\x14\x02\x00":
        return "Windows 捷徑 (lnk)"
    if head[:4] == b"GIF8":
        return _OTHER_LABELS["gif"]
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return _OTHER_LABELS["webp"]
    if len(head) >= 12 and head[4:8] == b"ftyp":
        major = head[8:12].decode("ascii", errors="replace").lower()
        if major.startswith("qt"):
            return _OTHER_LABELS["mov"]
        if major.startswith("3g"):
            return _OTHER_LABELS["3gp"]
        if major.startswith(("hei", "hev", "mif", "msf")):
            return _OTHER_LABELS["heic"]
        if major.startswith("avi"):
            return _OTHER_LABELS["avif"]
    return _describe_markup(head)


def _describe_zip(head: bytes) -> str:
    if b"word/" in head:
        return _OTHER_LABELS["docx"]
    if b"xl/" in head:
        return _OTHER_LABELS["xlsx"]
    if b"ppt/" in head:
        return _OTHER_LABELS["pptx"]
    if head[30:38] == b"mimetype":
        mime = head[38:90]
        for odf, ext in ((b"opendocument.text", "odt"), (b"opendocument.spreadsheet", "ods"),
                         (b"opendocument.presentation", "odp"), (b"epub", "epub")):
            if odf in mime:
                return _OTHER_LABELS[ext]
    if b"AndroidManifest.xml" in head or b"classes.dex" in head:
        return "Android 應用程式 (apk)"
    if b"META-INF/MANIFEST.MF" in head:
        return "Java 程式 (jar)"
    return _OTHER_LABELS["zip"]


def _text_start(head: bytes) -> str | None:
    """The first ~1 KB as lower-case text with BOM and leading whitespace removed, if text."""
    sample = head[:1024]
    for bom, codec in ((b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16-le"),
                       (b"\xfe\xff", "utf-16-be")):
        if sample.startswith(bom):
            sample, encoding = sample[len(bom):], codec
            break
    else:
        encoding = "utf-8"
    if encoding.startswith("utf-16") and len(sample) % 2:
        sample = sample[:-1]
    for cut in range(4):  # the sample may end in the middle of a multi-byte character
        try:
            text = sample[:len(sample) - cut].decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        return None
    return text.lstrip().lower()


def _describe_markup(head: bytes) -> str | None:
    text = _text_start(head)
    if text is None:
        return None
    if text.startswith("<!doctype html") or text.startswith("<html") or any(
            tag in text for tag in ("<html", "<head>", "<body", "<script")):
        return "HTML 網頁"
    if "<svg" in text and (text.startswith("<") or text.startswith("<?xml")):
        return "SVG 向量圖"
    if text.startswith("<?xml"):
        return "XML 文件"
    if text.startswith("{\\rtf"):
        return _OTHER_LABELS["rtf"]
    return None


def _describe_text(head: bytes) -> str | None:
    text = _text_start(head)
    if text is None or "\x00" in text:
        return None
    printable = sum(1 for c in text if c.isprintable() or c in "\r\n\t")
    if text and printable / len(text) >= 0.95:
        return "純文字檔"
    return None


# --------------------------------------------------------------------------- rules

class FileRejected(ValueError):
    """A file that a slot's `FileRule` refuses.

    Attributes:
        field: the form field the file came from (as given by the caller).
        rule: "empty", "too_large", "kind_not_allowed" or "unrecognised".
        limit: for "too_large" the size limit in bytes; for "kind_not_allowed" and
            "unrecognised" the allowed kinds (a tuple); for "empty" None.
        message: zh-TW, for the student.
        slot: "document" or "media".
        size: the file's size in bytes.
        detected: what the content looks like, in zh-TW words (None for "too_large").
        kind: the accepted kind detected, when there is one (e.g. "mp4" in a document slot).
    """

    def __init__(self, message: str, *, field: str, rule: str, limit: int | tuple[str, ...] | None,
                 slot: str, size: int, detected: str | None = None,
                 kind: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.rule = rule
        self.limit = limit
        self.slot = slot
        self.size = size
        self.detected = detected
        self.kind = kind


def check_file(data_head: bytes, size: int, tail: bytes, rule: FileRule, *, slot: str,
               field: str) -> str:
    """The kind of an uploaded file if ``rule`` accepts it; otherwise raises `FileRejected`.

    ``data_head``: the first bytes (4096), ``tail``: the last bytes (1024), ``size``: the total.
    Checks, in order: empty, too large, content kind.
    """
    if slot not in SLOT_LABELS:
        raise ValueError(f"unknown slot {slot!r}; expected 'document' or 'media'")
    label = SLOT_LABELS[slot]
    allowed = "、".join(rule.kinds)

    def reject(message: str, code: str, limit, detected=None, kind=None):
        return FileRejected(message, field=field, rule=code, limit=limit, slot=slot, size=size,
                            detected=detected, kind=kind)

    if size <= 0 or not data_head:
        raise reject(f"{label}是空的（0 位元組）", "empty", None, detected=EMPTY_LABEL)
    if size > rule.max_bytes:
        shown, limit_shown = _format_over(size, rule.max_bytes)
        raise reject(f"{label} {shown} 超過上限 {limit_shown}", "too_large", rule.max_bytes)

    kind = detect_kind(data_head, size, tail)
    if kind is not None:
        foreign = embedded_foreign(data_head, tail)
        if foreign is not None:
            raise reject(f"{label}開頭像「{KIND_LABELS[kind]}」，但同時夾帶「{foreign}」（多重格式檔案），"
                         f"基於安全不予接受；請另存為單純的 {allowed} 後再上傳", "polyglot",
                         tuple(rule.kinds), detected=foreign, kind=kind)
        if kind in rule.kinds:
            return kind
        described = KIND_LABELS[kind]
        raise reject(f"{label}內容為「{described}」，只接受 {allowed}", "kind_not_allowed",
                     tuple(rule.kinds), detected=described, kind=kind)

    looks_like = detect_kind(data_head)  # the start is fine: the end is missing or broken
    described = describe_content(data_head)
    if looks_like is not None and looks_like not in rule.kinds:
        raise reject(f"{label}內容為「{described}」，只接受 {allowed}", "kind_not_allowed",
                     tuple(rule.kinds), detected=described)
    if looks_like is not None or described.startswith("損毀"):
        raise reject(f"{label}內容看起來是「{described}」，但檔案不完整或已損毀（可能是上傳中斷"
                     f"或存檔失敗），請重新存檔後再上傳；只接受 {allowed}", "unrecognised",
                     tuple(rule.kinds), detected=described)
    if described == UNKNOWN_LABEL:
        raise reject(f"{label}內容為「{described}」，只接受 {allowed}", "unrecognised",
                     tuple(rule.kinds), detected=described)
    raise reject(f"{label}內容為「{described}」，只接受 {allowed}", "kind_not_allowed",
                 tuple(rule.kinds), detected=described)


def format_size(n: int, *, round_up: bool = False) -> str:
    """A byte count for people: "512 位元組", "12.3 KB", "10 MB" (1 MB = 1024 × 1024 bytes)."""
    value, _unit, name = _size_parts(n, round_up)
    if name == "位元組":
        return f"{n} 位元組"
    text = f"{value:.1f}".rstrip("0").rstrip(".")
    return f"{text} {name}"


def _size_parts(n: int, round_up: bool) -> tuple[float, int, str]:
    if n < 1024:
        return float(n), 1, "位元組"
    unit, name = (1024 * 1024, "MB") if n >= 1024 * 1024 else (1024, "KB")
    tenths = n * 10 / unit
    tenths = math.ceil(tenths - 1e-9) if round_up else round(tenths)
    return tenths / 10, unit, name


def _format_over(size: int, limit: int) -> tuple[str, str]:
    """How to show a size that exceeds ``limit`` so that it visibly does."""
    limit_shown = format_size(limit)
    for round_up in (False, True):
        value, unit, _name = _size_parts(size, round_up)
        if value * unit > limit:
            return format_size(size, round_up=round_up), limit_shown
    return f"{size:,} 位元組", f"{limit:,} 位元組"


# --------------------------------------------------------------------------- polyglots

# Signatures of another format found inside an accepted one (a "polyglot": the same bytes open
# as a PDF and as an archive or a program). Four- and eight-byte signatures occur by chance in
# compressed data about once in 4 GB of head and tail, so a real document is not refused.
_FOREIGN_IN_HEAD = ((b"\x7fELF\x01", "elf"), (b"\x7fELF\x02", "elf"), (b"PK\x03\x04", "zip"),
                    (b"PE\x00\x00L\x01", "exe"), (b"PE\x00\x00d\x86", "exe"))
_FOREIGN_IN_TAIL = ((b"PK\x05\x06", "zip"), (b"PK\x01\x02", "zip"))


def embedded_foreign(head: bytes, tail: bytes | None) -> str | None:
    """What foreign format (zh-TW words) hides after the start of ``head`` or in ``tail``, or None.

    Looks past offset 0 (where the accepted kind's own magic number is): an executable's header
    or a ZIP's entries at the start, a ZIP's central directory at the end.
    """
    body = bytes(head or b"")[1:]
    for signature, ext in _FOREIGN_IN_HEAD:
        if signature in body:
            return _OTHER_LABELS[ext]
    end = bytes(tail or b"")
    for signature, ext in _FOREIGN_IN_TAIL:
        if signature in end:
            return _OTHER_LABELS[ext]
    return None


# --------------------------------------------------------------------------- names

_UNSAFE_NAME_CATEGORIES = {"Cc", "Cf", "Zl", "Zp"}


def unsafe_name_reason(name: str) -> str | None:
    """Why a user's file name is refused (zh-TW), or None. Names are never paths here, but a
    name with a directory part or an invisible character is a forgery or a broken client:
    "../x.pdf", "a/b.pdf", "a\\b.pdf", a NUL, a newline, a right-to-left override."""
    text = str(name or "")
    if "/" in text or "\\" in text:
        return "含有路徑分隔字元（/ 或 \\）"
    if any(unicodedata.category(ch) in _UNSAFE_NAME_CATEGORIES for ch in text):
        return "含有控制字元或不可見的格式字元"
    if text.strip(". ") == "":
        return "只有句點或空白"
    return None


_DISPLAY_MAX = 120
_MAX_EXTENSION = 16
_INVISIBLE_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}
_WHITESPACE = re.compile(r"\s+")


def safe_display_name(name: str) -> str:
    """A user's file name made safe to show (never to use as a path).

    Drops directory parts (both ``/`` and ``\\``), control and invisible formatting characters
    (NUL, newlines, bidi overrides that could show "exe.pdf" as "fdp.exe"), leading dots;
    collapses whitespace; caps the result at 120 characters keeping the extension. An empty
    result becomes "未命名".
    """
    text = unicodedata.normalize("NFC", str(name or ""))
    cleaned = []
    for ch in text:
        if ch.isspace():
            cleaned.append(" ")
        elif unicodedata.category(ch) in _INVISIBLE_CATEGORIES:
            continue
        else:
            cleaned.append(ch)
    text = "".join(cleaned)
    parts = [p for p in re.split(r"[/\\]", text) if p.strip()]
    text = parts[-1] if parts else ""
    text = _WHITESPACE.sub(" ", text).strip()
    while text.startswith(".") or text.startswith(" "):
        text = text.lstrip(". ")
    if not text:
        return "未命名"
    if len(text) > _DISPLAY_MAX:
        stem, dot, ext = text.rpartition(".")
        if dot and stem and 0 < len(ext) <= _MAX_EXTENSION and " " not in ext:
            keep = _DISPLAY_MAX - len(ext) - 2  # "…" + "."
            text = stem[:keep].rstrip() + "…." + ext
        else:
            text = text[:_DISPLAY_MAX - 1].rstrip() + "…"
    return text
