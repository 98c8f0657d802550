"""The local content-addressed store: acknowledged files are complete, durable and findable."""
from __future__ import annotations

import hashlib
import io
import os
import stat
from pathlib import Path

import pytest

import persistence.files as files_mod
from persistence.files import (
    FileStore, FileTooLarge, InvalidHash, LocalFileStore, StorageError, StoredFile, sha256_of,
)


def final_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and p.parent.name != "tmp"]


def temp_files(root: Path) -> list[Path]:
    return list((root / "tmp").iterdir())


@pytest.fixture
def store(tmp_path) -> LocalFileStore:
    return LocalFileStore(tmp_path / "files")


class CountingStream(io.BytesIO):
    def __init__(self, data: bytes):
        super().__init__(data)
        self.bytes_read = 0

    def read(self, size=-1):
        chunk = super().read(size)
        self.bytes_read += len(chunk)
        return chunk


class FailingStream(io.RawIOBase):
    """Yields some data, then fails as a dropped connection or a bad disk would."""

    def __init__(self, good: bytes, error: Exception):
        self.good, self.error, self.sent = good, error, False

    def readable(self):
        return True

    def read(self, size=-1):
        if not self.sent:
            self.sent = True
            return self.good
        raise self.error


def test_store_satisfies_protocol(store):
    assert isinstance(store, FileStore)


def test_put_open_round_trip(store, tmp_path):
    data = b"%PDF-1.4\n" + os.urandom(10_000) + b"\n%%EOF\n"
    stored = store.put(io.BytesIO(data), max_bytes=1_000_000)
    sha = hashlib.sha256(data).hexdigest()
    assert isinstance(stored, StoredFile)
    assert stored.sha256 == sha
    assert stored.size == len(data)
    assert stored.head == data[:4096]
    assert stored.tail == data[-1024:]
    with store.open(sha) as f:
        assert f.read() == data
    assert store.exists(sha)
    assert store.verify(sha)
    path = Path(store.path_hint(sha))
    assert path == tmp_path / "files" / sha[:2] / sha[2:4] / sha
    assert stat.S_IMODE(path.stat().st_mode) == 0o444
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o755
    assert stat.S_IMODE(path.parent.parent.stat().st_mode) == 0o755
    assert temp_files(tmp_path / "files") == []
    assert list(store.iter_hashes()) == [sha]


def test_small_file_head_and_tail(store):
    stored = store.put(io.BytesIO(b"abc"), max_bytes=10)
    assert (stored.head, stored.tail, stored.size) == (b"abc", b"abc", 3)


def test_large_file_streams_in_chunks(store):
    data = os.urandom(3 * files_mod.CHUNK_BYTES + 17)
    stored = store.put(io.BytesIO(data), max_bytes=len(data))
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    assert stored.tail == data[-1024:]
    assert store.verify(stored.sha256)


def test_identical_content_stored_once(store, tmp_path):
    a = store.put(io.BytesIO(b"same bytes"), max_bytes=100)
    b = store.put(io.BytesIO(b"same bytes"), max_bytes=100)
    assert a == b
    assert len(final_files(tmp_path / "files")) == 1
    assert temp_files(tmp_path / "files") == []


def test_identical_upload_resyncs_the_directory(store, monkeypatch):
    store.put(io.BytesIO(b"same bytes"), max_bytes=100)
    calls = []
    real_fsync = os.fsync

    def recording(fd):
        calls.append(stat.S_ISDIR(os.fstat(fd).st_mode))
        return real_fsync(fd)

    monkeypatch.setattr(files_mod.os, "fsync", recording)
    store.put(io.BytesIO(b"same bytes"), max_bytes=100)
    assert calls == [False, True]


def test_damaged_existing_copy_is_replaced_by_a_good_upload(store):
    a = store.put(io.BytesIO(b"precious"), max_bytes=100)
    path = Path(store.path_hint(a.sha256))
    path.chmod(0o644)
    path.write_bytes(b"precioUs")
    assert not store.verify(a.sha256)
    store.put(io.BytesIO(b"precious"), max_bytes=100)
    assert store.verify(a.sha256)


def test_exactly_max_bytes_is_accepted(store):
    stored = store.put(io.BytesIO(b"x" * 100), max_bytes=100)
    assert stored.size == 100


def test_too_large_leaves_nothing_and_stops_reading(store, tmp_path):
    stream = CountingStream(b"y" * 5000)
    with pytest.raises(FileTooLarge) as err:
        store.put(stream, max_bytes=1000)
    assert isinstance(err.value, ValueError)
    assert err.value.limit == 1000
    assert err.value.received_at_least == 1001
    assert stream.bytes_read == 1001
    assert final_files(tmp_path / "files") == []
    assert temp_files(tmp_path / "files") == []
    assert list(store.iter_hashes()) == []


def test_one_byte_over_is_refused(store, tmp_path):
    with pytest.raises(FileTooLarge):
        store.put(io.BytesIO(b"x" * 101), max_bytes=100)
    assert final_files(tmp_path / "files") == []


def test_failing_read_leaves_nothing(store, tmp_path):
    stream = FailingStream(b"partial data", OSError(5, "Input/output error"))
    with pytest.raises(StorageError) as err:
        store.put(stream, max_bytes=1000)
    assert str(err.value) == "檔案儲存失敗，請稍後再試"
    assert isinstance(err.value, RuntimeError)
    assert isinstance(err.value.__cause__, OSError)
    assert final_files(tmp_path / "files") == []
    assert temp_files(tmp_path / "files") == []


def test_disk_full_on_write_leaves_nothing(store, tmp_path, monkeypatch):
    def full(fd, data):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(files_mod.os, "write", full)
    with pytest.raises(StorageError) as err:
        store.put(io.BytesIO(b"data" * 100), max_bytes=1000)
    assert err.value.__cause__.errno == 28
    assert final_files(tmp_path / "files") == []
    assert temp_files(tmp_path / "files") == []


def test_failing_fsync_leaves_nothing(store, tmp_path, monkeypatch):
    def broken(fd):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(files_mod.os, "fsync", broken)
    with pytest.raises(StorageError):
        store.put(io.BytesIO(b"content"), max_bytes=1000)
    assert final_files(tmp_path / "files") == []
    assert temp_files(tmp_path / "files") == []
    assert not store.exists(hashlib.sha256(b"content").hexdigest())


def test_non_os_error_still_cleans_up(store, tmp_path):
    with pytest.raises(ZeroDivisionError):
        store.put(FailingStream(b"abc", ZeroDivisionError()), max_bytes=1000)
    assert temp_files(tmp_path / "files") == []
    assert final_files(tmp_path / "files") == []


def test_fsync_called_on_file_and_directories(store, monkeypatch):
    real_fsync = os.fsync
    synced: list[tuple[str, bool]] = []

    def recording(fd):
        synced.append((os.readlink(f"/proc/self/fd/{fd}") if os.path.exists("/proc/self/fd")
                       else str(fd), stat.S_ISDIR(os.fstat(fd).st_mode)))
        return real_fsync(fd)

    monkeypatch.setattr(files_mod.os, "fsync", recording)
    stored = store.put(io.BytesIO(b"durable"), max_bytes=100)
    final = Path(store.path_hint(stored.sha256))
    kinds = [is_dir for _, is_dir in synced]
    assert kinds[0] is False  # the file itself, before the rename
    assert kinds.count(False) == 1
    assert True in kinds
    if os.path.exists("/proc/self/fd"):
        names = [name for name, _ in synced]
        assert names[-1] == str(final.parent)  # the directory entry after the rename
        assert str(final.parent.parent) in names  # new directories: their parents are synced
        assert str(store.root) in names


def test_file_synced_first_and_directory_last(store, monkeypatch):
    store.put(io.BytesIO(b"first"), max_bytes=100)
    calls = []
    real_fsync = os.fsync

    def recording(fd):
        calls.append(stat.S_ISDIR(os.fstat(fd).st_mode))
        return real_fsync(fd)

    monkeypatch.setattr(files_mod.os, "fsync", recording)
    # the file is synced before the rename, its directory after it
    store.put(io.BytesIO(b"second"), max_bytes=100)
    assert calls[0] is False and calls[-1] is True


@pytest.mark.parametrize("bad", [
    "../x", "../" + "a" * 61, "A" * 64, "ab" * 31, "a" * 63, "a" * 65, "", "g" * 64,
    "a" * 64 + "\n", "/" + "a" * 63, None,
])
def test_invalid_hashes_refused(store, bad):
    for call in (store.open, store.exists, store.delete, store.verify, store.path_hint):
        with pytest.raises(InvalidHash):
            call(bad)


def test_open_unknown_hash(store):
    with pytest.raises(FileNotFoundError):
        store.open("0" * 64)
    assert not store.exists("0" * 64)
    assert not store.verify("0" * 64)


def test_verify_detects_corruption(store):
    stored = store.put(io.BytesIO(b"a student's certificate"), max_bytes=1000)
    path = Path(store.path_hint(stored.sha256))
    path.chmod(0o644)
    raw = bytearray(path.read_bytes())
    raw[3] ^= 0x01
    path.write_bytes(bytes(raw))
    assert not store.verify(stored.sha256)


def test_delete(store, tmp_path):
    stored = store.put(io.BytesIO(b"to be removed after retention"), max_bytes=1000)
    assert store.delete(stored.sha256) is True
    assert not store.exists(stored.sha256)
    assert store.delete(stored.sha256) is False
    assert list(store.iter_hashes()) == []


def test_iter_hashes_ignores_strays(store, tmp_path):
    a = store.put(io.BytesIO(b"one"), max_bytes=100)
    b = store.put(io.BytesIO(b"two"), max_bytes=100)
    (tmp_path / "files" / "tmp" / "put-x.part").write_bytes(b"partial")
    (tmp_path / "files" / "README").write_text("operators")
    assert sorted(store.iter_hashes()) == sorted([a.sha256, b.sha256])


def test_sweep_temp(store, tmp_path):
    stray = tmp_path / "files" / "tmp" / "put-old.part"
    stray.write_bytes(b"left by a crash")
    os.utime(stray, (1, 1))
    assert store.sweep_temp(older_than_seconds=60) == 1
    assert not stray.exists()


def test_sha256_of():
    data = os.urandom(3 * files_mod.CHUNK_BYTES // 2)
    assert sha256_of(io.BytesIO(data)) == hashlib.sha256(data).hexdigest()
