"""轉出交換包 → 轉入: school A's database to school B's in another database (a second SQLite file,
on both the SQLite and the PostgreSQL run of school A), with every hash checked and tampered
packages refused with nothing stored."""
from __future__ import annotations

import hashlib
import io
import json
import shutil
import zipfile

import pytest
from sqlalchemy import func, select

from persistence.db import Database, make_engine
from persistence.files import LocalFileStore
from persistence.tables import AuditEntry, Item, Staff, Student
from tests.world import IN_RECEIPT, World
from workflows.core.errors import Forbidden, InvalidInput
from workflows.central.transfer import export_transfer_package, import_transfer_package, mark_transferred_out


@pytest.fixture
def school_a(db, files) -> World:
    w = World(db, files)
    w.to_receipts((0,))
    w.upload(0, title="期末報告")
    w.upload_performance(0, title="科展")
    return w


@pytest.fixture
def school_b(sqlite_template, tmp_path):
    path = tmp_path / "receiving.sqlite3"
    shutil.copy(sqlite_template, path)
    database = Database(make_engine(f"sqlite:///{path}"))
    world = World(database, LocalFileStore(tmp_path / "files-b"), code="013302", students=1)
    yield world
    database.dispose()


def export(world, tmp_path) -> bytes:
    out = tmp_path / "out" / "package.zip"
    staff = world.staff()
    with world.uow() as uow:
        export_transfer_package(uow, staff, world.student_ids[0], out, now=IN_RECEIPT)
    return out.read_bytes()


def do_import(world, package):
    staff = world.staff()
    with world.uow() as uow:
        return import_transfer_package(uow, staff, package, student_no="3029999", class_name="201",
                                       grade=2, now=IN_RECEIPT)


def items_of(world, student_id):
    with world.uow() as uow:
        return [(i.kind, i.academic_year, i.semester, i.title, i.state, i.document_sha256,
                 i.certified_document_sha256, i.certified_at, i.selected_at)
                for i in uow.session.scalars(uow.select(Item).where(Item.student_id == student_id)
                                             .order_by(Item.title))]


def test_round_trip_keeps_every_item_state_certification_and_hash(school_a, school_b, tmp_path):
    before = items_of(school_a, school_a.student_ids[0])
    result = do_import(school_b, export(school_a, tmp_path))
    assert not result.reused_student and result.items == 3
    assert items_of(school_b, result.student_id) == before
    with school_b.uow() as uow:
        student = uow.get(Student, result.student_id)
        assert (student.name, student.class_name, student.grade) == ("學生0", "201", 2)
        item = uow.session.scalars(uow.select(Item).where(Item.state == "submitted_central")).one()
        assert uow.get(Staff, item.certified_by_id).name == "王老師"
        for sha in {i[5] for i in before}:
            assert school_b.files.verify(sha)
        audit = uow.session.scalars(uow.select(AuditEntry).where(AuditEntry.event == "transfer_in",
                                                                 AuditEntry.subject_kind != "student")).all()
        assert len(audit) == 3 and all("013301" in a.reason for a in audit)


def test_marking_the_export_final_makes_the_student_transferred_out(school_a):
    staff = school_a.staff()
    with school_a.uow() as uow:
        mark_transferred_out(uow, staff, school_a.student_ids[0], now=IN_RECEIPT)
    with school_a.uow() as uow:
        student = uow.get(Student, school_a.student_ids[0])
        assert student.status == "transferred_out" and student.departed_on.isoformat() == "2026-10-10"


def test_only_the_registry_exports(school_a, tmp_path):
    teacher = school_a.teacher
    with school_a.uow() as uow, pytest.raises(Forbidden):
        export_transfer_package(uow, teacher, school_a.student_ids[0], tmp_path / "x.zip", now=IN_RECEIPT)


def _rewrite(package: bytes, change) -> bytes:
    """The package with `change(entries)` applied to its {name: bytes} (a list of pairs)."""
    with zipfile.ZipFile(io.BytesIO(package)) as archive:
        entries = [(n, archive.read(n)) for n in archive.namelist()]
    entries = change(entries)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in entries:
            archive.writestr(name, data)
    return out.getvalue()


def _flip_file_byte(entries):
    return [(n, d[:-3] + b"X" + d[-2:] if n.startswith("files/") else d) for n, d in entries]


def _edit_manifest(entries):
    def edit(d):
        manifest = json.loads(d)
        manifest["items"][0]["state"] = "receipt_confirmed"
        return json.dumps(manifest).encode()
    return [(n, edit(d) if n == "manifest.json" else d) for n, d in entries]


def _drop_file(entries):
    first = next(n for n, _ in entries if n.startswith("files/"))
    return [(n, d) for n, d in entries if n != first]


def _slip(entries):
    return entries + [("../evil.txt", b"x")]


def _duplicate(entries):
    first = next(e for e in entries if e[0].startswith("files/"))
    return entries + [first]


def _extra(entries):
    return entries + [("files/unlisted.pdf", b"%PDF-1.4\n%%EOF\n")]


@pytest.mark.parametrize("tamper, words", [
    (_flip_file_byte, "SHA-256 或大小與 manifest.json 不符"),
    (_edit_manifest, "manifest.json 的 SHA-256"),
    (_drop_file, "缺少檔案"),
    (_slip, "不安全的路徑"),
    (_duplicate, "重複出現"),
    (_extra, "未列出的檔案"),
])
def test_a_tampered_package_is_refused_and_nothing_is_stored(school_a, school_b, tmp_path, tamper, words):
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate name on purpose
        package = _rewrite(export(school_a, tmp_path), tamper)
    before_files = set(school_b.files.iter_hashes())
    with school_b.uow() as uow:
        counts = [uow.session.scalar(select(func.count()).select_from(t)) for t in (Student, Item, Staff)]
    with pytest.raises(InvalidInput) as refused:
        do_import(school_b, package)
    assert words in refused.value.message and "未匯入任何資料" in refused.value.message
    with school_b.uow() as uow:
        assert [uow.session.scalar(select(func.count()).select_from(t)) for t in (Student, Item, Staff)] == counts
    assert set(school_b.files.iter_hashes()) == before_files


def test_the_same_package_twice_is_refused(school_a, school_b, tmp_path):
    package = export(school_a, tmp_path)
    do_import(school_b, package)
    with pytest.raises(Exception) as refused:
        do_import(school_b, package)
    assert "已經匯入過" in str(refused.value)
