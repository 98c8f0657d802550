"""Where uploaded files live: a small storage interface and a local content-addressed store.

In 2021 the national platform lost 25,210 students' uploads to a disk fault. The rule here is
that a file acknowledged to a user is on stable storage: `LocalFileStore.put` returns only after
the content is fsync'ed, atomically renamed into place and the directory entry fsync'ed. Any
failure before that raises, and nothing half-written is ever visible at a final path.

Files are addressed by the SHA-256 of their content (``root/ab/cd/<sha256>``). File names from
users never reach this module; hashes are validated before they become paths, so no caller can
escape ``root``.
"""
from __future__ import annotations

import contextlib
import errno
import hashlib
import logging
import os
import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Iterator, Protocol, runtime_checkable

log = logging.getLogger(__name__)

HEAD_BYTES = 4096
TAIL_BYTES = 1024
CHUNK_BYTES = 1024 * 1024
FILE_MODE = 0o444
DIR_MODE = 0o755
TMP_DIR = "tmp"

STORAGE_FAILED_MESSAGE = "檔案儲存失敗，請稍後再試"
NO_SPACE_MESSAGE = "檔案儲存空間不足，上傳未完成，請稍後再試或通知管理者。"
WRITE_ERROR_MESSAGE = "檔案儲存區寫入錯誤，上傳未完成，請稍後再試或通知管理者。"
# Errors that mean "no room": the operator must free space; anything else is a device fault.
NO_SPACE_ERRNOS = frozenset(e for e in (errno.ENOSPC, getattr(errno, "EDQUOT", None)) if e is not None)

_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class StoredFile:
    """A file safely stored: its content hash, size, and first/last bytes for type checks."""

    sha256: str
    size: int
    head: bytes  # first 4096 bytes
    tail: bytes  # last 1024 bytes


class FileTooLarge(ValueError):
    """More than ``limit`` bytes arrived; nothing was stored."""

    def __init__(self, limit: int, received_at_least: int) -> None:
        self.limit = limit
        self.received_at_least = received_at_least
        self.message = f"檔案超過大小上限（{limit:,} 位元組）"
        super().__init__(self.message)


class StorageError(RuntimeError):
    """The file could not be stored durably; the upload must not be acknowledged.

    ``reason``: "no_space" (disk full, quota), "write_error" (the store's disk failed) or
    "failed" (anything else, e.g. the upload stream broke off)."""

    def __init__(self, message: str = STORAGE_FAILED_MESSAGE, reason: str = "failed") -> None:
        self.message = message
        self.reason = reason
        super().__init__(message)

    @classmethod
    def of(cls, exc: OSError) -> "StorageError":
        """The error a failed write, sync or rename on the store becomes."""
        if exc.errno in NO_SPACE_ERRNOS:
            return cls(NO_SPACE_MESSAGE, "no_space")
        return cls(WRITE_ERROR_MESSAGE, "write_error")


class InvalidHash(ValueError):
    """A string that is not 64 lower-case hex digits was used as a content address."""


@runtime_checkable
class FileStore(Protocol):
    """Content-addressed file storage. A local disk today; an object store could follow."""

    def put(self, stream: BinaryIO, *, max_bytes: int) -> StoredFile: ...

    def open(self, sha256: str) -> BinaryIO: ...

    def exists(self, sha256: str) -> bool: ...

    def path_hint(self, sha256: str) -> str: ...

    def delete(self, sha256: str) -> bool: ...

    def iter_hashes(self) -> Iterator[str]: ...

    def verify(self, sha256: str) -> bool: ...


def validate_sha256(sha256: str) -> str:
    """``sha256`` if it is exactly 64 lower-case hex digits; otherwise `InvalidHash`."""
    if not isinstance(sha256, str) or _SHA256.fullmatch(sha256) is None:
        raise InvalidHash(f"not a sha256 hex digest: {sha256!r}")
    return sha256


def sha256_of(stream: BinaryIO) -> str:
    """The SHA-256 (hex) of everything ``stream`` yields from its current position."""
    digest = hashlib.sha256()
    while chunk := stream.read(CHUNK_BYTES):
        digest.update(chunk)
    return digest.hexdigest()


class LocalFileStore:
    """Files on a local filesystem under ``root/ab/cd/<sha256>``, read-only, fsync'ed.

    Temporary files are written in ``root/tmp`` (same filesystem, so the final rename is
    atomic). A process that dies mid-upload may leave a ``*.part`` file there, never a partial
    file at a final path; `sweep_temp` removes old ones.
    """

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        self.tmp = self.root / TMP_DIR
        self._ensure_dir(self.root)
        self._ensure_dir(self.tmp)

    # ----------------------------------------------------------------- paths

    def _path(self, sha256: str) -> Path:
        validate_sha256(sha256)
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def path_hint(self, sha256: str) -> str:
        """Where the file is (or would be), for operators."""
        return str(self._path(sha256))

    # ----------------------------------------------------------------- writing

    def put(self, stream: BinaryIO, *, max_bytes: int) -> StoredFile:
        """Store everything ``stream`` yields; return only once it is durable.

        Raises `FileTooLarge` when more than ``max_bytes`` arrive (reading at most
        ``max_bytes + 1``), `StorageError` on any I/O failure. In both cases nothing remains.
        """
        if max_bytes < 0:
            raise ValueError("max_bytes must be >= 0")
        try:
            fd, tmp_name = tempfile.mkstemp(dir=self.tmp, prefix="put-", suffix=".part")
        except OSError as exc:
            raise self._failed("create temporary file", exc, StorageError.of(exc)) from exc
        tmp_path = Path(tmp_name)
        fd_open = True
        try:
            digest = hashlib.sha256()
            head = bytearray()
            tail = b""
            size = 0
            while True:
                # Never ask for more than max_bytes + 1 in total: one byte past the limit is
                # enough to know the file is too large.
                try:
                    chunk = stream.read(min(CHUNK_BYTES, max_bytes + 1 - size))
                except OSError as exc:
                    # The sender's side broke, not the store's disk: the generic message.
                    raise _ReadFailed() from exc
                if chunk is None:  # a non-blocking stream with no data: treat as a failure
                    raise BlockingIOError("stream returned no data (non-blocking read)")
                if not chunk:
                    break
                size += len(chunk)
                if size > max_bytes:
                    raise FileTooLarge(max_bytes, size)
                digest.update(chunk)
                if len(head) < HEAD_BYTES:
                    head += chunk[:HEAD_BYTES - len(head)]
                tail = (tail + chunk[-TAIL_BYTES:])[-TAIL_BYTES:]
                _write_all(fd, chunk)
            os.fchmod(fd, FILE_MODE)  # before the fsync, so the mode is durable too
            os.fsync(fd)
            fd_open = False
            os.close(fd)
            sha256 = digest.hexdigest()
            self._install(tmp_path, sha256, size)
        except FileTooLarge:
            self._discard(fd if fd_open else None, tmp_path)
            raise
        except _ReadFailed as failed:
            self._discard(fd if fd_open else None, tmp_path)
            exc = failed.__cause__
            raise self._failed("read upload", exc, StorageError()) from exc
        except OSError as exc:
            # Disk full, quota, I/O error at the write, the fsync or the rename.
            self._discard(fd if fd_open else None, tmp_path)
            raise self._failed("write", exc, StorageError.of(exc)) from exc
        except BaseException:
            self._discard(fd if fd_open else None, tmp_path)
            raise
        return StoredFile(sha256=sha256, size=size, head=bytes(head), tail=tail)

    def _install(self, tmp_path: Path, sha256: str, size: int) -> None:
        """Move a complete, fsync'ed temporary file to its final path (or keep the existing one)."""
        final = self._path(sha256)
        self._ensure_dir(final.parent.parent)
        self._ensure_dir(final.parent)
        if final.exists() and self._intact(final, sha256, size):
            # Same content is already stored: keep it. Its directory entry is synced again, as
            # the earlier upload may have failed at exactly that step and not been acknowledged.
            self._discard(None, tmp_path)
            fsync_dir(final.parent)
            return
        # Either new, or the existing copy is damaged: replace it with the good one.
        os.replace(tmp_path, final)
        # After the rename the file is complete at its final path. If this fsync fails the
        # upload is not acknowledged, but the file stays: it may be another upload's copy.
        fsync_dir(final.parent)

    def _intact(self, path: Path, sha256: str, size: int) -> bool:
        try:
            if path.stat().st_size != size:
                log.error("stored file %s has the wrong size; replacing it", path)
                return False
            with open(path, "rb") as f:
                if sha256_of(f) == sha256:
                    return True
        except OSError:
            log.exception("cannot read stored file %s; replacing it", path)
            return False
        log.error("stored file %s does not match its hash; replacing it", path)
        return False

    def _ensure_dir(self, path: Path) -> None:
        """Create ``path`` (0o755) if missing and fsync its parent so the entry is durable."""
        if path.is_dir():
            return
        if path.parent != path and not path.parent.is_dir():
            self._ensure_dir(path.parent)
        try:
            os.mkdir(path, DIR_MODE)
        except FileExistsError:
            if not path.is_dir():
                raise
            return
        os.chmod(path, DIR_MODE)  # the umask may have narrowed it
        fsync_dir(path.parent)

    def _discard(self, fd: int | None, tmp_path: Path) -> None:
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)
        with contextlib.suppress(FileNotFoundError):
            try:
                tmp_path.unlink()
            except OSError:
                log.exception("cannot remove temporary file %s", tmp_path)

    def _failed(self, step: str, exc: OSError, error: StorageError) -> StorageError:
        log.error("file store %s: %s failed: %s", self.root, step, exc, exc_info=exc)
        return error

    # ----------------------------------------------------------------- reading

    def open(self, sha256: str) -> BinaryIO:
        path = self._path(sha256)
        if not path.is_file():
            raise FileNotFoundError(f"no stored file {sha256}")
        return open(path, "rb")

    def exists(self, sha256: str) -> bool:
        return self._path(sha256).is_file()

    def verify(self, sha256: str) -> bool:
        """Whether the stored content still hashes to ``sha256`` (False if missing/unreadable)."""
        path = self._path(sha256)
        try:
            with open(path, "rb") as f:
                return sha256_of(f) == sha256
        except OSError:
            return False

    def iter_hashes(self) -> Iterator[str]:
        """Every stored hash (the temporary area excluded), in no guaranteed order."""
        for first in sorted(self.root.iterdir()):
            if len(first.name) != 2 or not first.is_dir():
                continue
            for second in sorted(first.iterdir()):
                if len(second.name) != 2 or not second.is_dir():
                    continue
                for entry in sorted(second.iterdir()):
                    name = entry.name
                    if (_SHA256.fullmatch(name) and name[:2] == first.name
                            and name[2:4] == second.name and entry.is_file()):
                        yield name

    # ----------------------------------------------------------------- removal

    def delete(self, sha256: str) -> bool:
        """Remove a stored file (retention ended). True if it existed."""
        path = self._path(sha256)
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        fsync_dir(path.parent)
        return True

    def sweep_temp(self, older_than_seconds: float = 24 * 3600) -> int:
        """Remove temporary files left by interrupted uploads; returns how many."""
        cutoff = time.time() - older_than_seconds
        removed = 0
        for entry in self.tmp.iterdir():
            with contextlib.suppress(FileNotFoundError):
                if entry.is_file() and entry.stat().st_mtime < cutoff:
                    entry.unlink()
                    removed += 1
        return removed


class _ReadFailed(Exception):
    """Reading the upload stream raised an OSError (its __cause__)."""


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        if written <= 0:
            raise OSError("write returned 0 bytes")
        view = view[written:]


def fsync_dir(path: Path) -> None:
    """Make a directory's entries (a new or renamed file) durable."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
