"""Spreadsheet formula injection (issue 15), end to end: hostile item titles, student names and
classes, cadre units and positions and course subjects go into every roster workbook the project
writes (each batch kind; the file on disk, its download and the zip), and come back from openpyxl
and from the workbook's XML as text, never as a formula; the CSV templates read back with the
csv module; the JSON packages (self-download, transfer) keep every payload verbatim and hold no
spreadsheet of the project's making. On SQLite and PostgreSQL."""
from __future__ import annotations

import csv
import io
import json
import re
import shutil
import zipfile
from datetime import date, timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from persistence.db import Database, make_engine
from persistence.files import LocalFileStore
from persistence.tables import CadreRecord, GradeRecord, Item, Student
from tests import samples
from tests.integration.web.conftest import app, client, sign_in  # noqa: F401
from tests.unit.core.test_formula_injection import PAYLOADS, xml_read
from tests.world import AFTER_SELECTION, IN_RECEIPT, IN_SELECTION, IN_UPLOAD, YEAR, World
from workflows.central import batches
from workflows.items import certification, selection
from workflows.records import cadre, consultation, exploration, grades
from workflows.items.self_download import portfolio_zip
from workflows.central.transfer import export_transfer_package, import_transfer_package
from workflows.items.uploads import Upload, upload_course_outcome

LATER = AFTER_SELECTION + timedelta(days=1)
N = len(PAYLOADS)


def payload(n: int) -> str:
    return PAYLOADS[n % N]


@pytest.fixture
def world(db, files) -> World:
    """One student per payload; student n is named payload n, in class payload n+1 (its first 10
    characters, the column's size: each still starts with its trigger)."""
    w = World(db, files, students=N)
    for n in range(N):
        w.set_student(n, name=payload(n), class_name=payload(n + 1)[:10])
    return w


def select_items(world: World, kind: str) -> None:
    """Each student's item, titled payload n+2, uploaded (certified) and selected."""
    for n in range(N):
        if kind == "year_outcomes":
            item_id = world.upload(n, title=payload(n + 2))
            world.run(certification.submit, world.student(n), item_id, now=IN_UPLOAD)
            world.run(certification.certify, world.teacher, item_id, now=IN_UPLOAD)
        else:
            item_id = world.upload_performance(n, title=payload(n + 2))
        world.run(selection.select, world.student(n), item_id, now=IN_SELECTION)


def add_records(world: World, kind: str) -> None:
    """One record per student: a cadre record (unit payload n+3, position payload n+4) or a
    grade record (subject payload n+5), as the offices' workflows store them (setup only)."""
    with world.uow() as uow:
        for n, student_id in enumerate(world.student_ids):
            common = dict(school_id=world.school_id, student_id=student_id, academic_year=YEAR, semester=1,
                          created_at=AFTER_SELECTION, updated_at=AFTER_SELECTION)
            if kind == "semester_basic_cadre":
                uow.session.add(CadreRecord(**common, level="class", unit=payload(n + 3), position=payload(n + 4),
                                            starts_on=date(2025, 8, 1)))
            else:
                uow.session.add(GradeRecord(**common, record_kind="semester",
                                            course_code=f"{YEAR - 2}{world.code}H00100A1ML0101",
                                            subject=payload(n + 5), grade_level=1, credits=4, score=80,
                                            passed=True, makeup_score=None, credit_counted=True))
        uow.commit()


def export(world: World, kind: str, out) -> batches.ExportResult:
    semester = 0 if kind.startswith("year_") else 1
    staff = world.staff()
    batch_id = world.run(batches.create_batch, staff, kind, YEAR, semester, now=AFTER_SELECTION).id
    return world.run(batches.export_batch, staff, batch_id, out, now=LATER)


def assert_no_formula(data: bytes) -> dict[str, list[list]]:
    """Every cell of every sheet is text (or empty), in openpyxl and in the file's XML; the
    sheets' values by name."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for name in archive.namelist():
            if name.startswith("xl/worksheets/"):
                xml = archive.read(name).decode()
                assert "<f>" not in xml and "<f " not in xml and not re.search(r't="(e|str)"', xml), name
    book = load_workbook(io.BytesIO(data))
    values = {}
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.value is None or cell.data_type == "s", (sheet.title, cell.coordinate,
                                                                     cell.data_type, cell.value)
        values[sheet.title] = [list(row) for row in sheet.iter_rows(values_only=True)]
    return values


def stored(world: World):
    with world.uow() as uow:
        return ({s.id: s for s in uow.session.scalars(select(Student))},
                list(uow.session.scalars(select(Item))),
                list(uow.session.scalars(select(CadreRecord))), list(uow.session.scalars(select(GradeRecord))))


def by_name(rows: list[list], columns: tuple[str, ...]) -> list[dict]:
    header = rows[0]
    return [{c: row[header.index(c)] for c in columns} for row in rows[1:]]


def text(value: str):
    return xml_read(value) or None


@pytest.mark.parametrize("kind", ["year_outcomes", "year_performances"])
def test_item_rosters_write_titles_names_and_classes_as_text(world, tmp_path, kind):
    select_items(world, kind)
    result = export(world, kind, tmp_path)
    sheets = assert_no_formula(result.workbook.read_bytes())
    students, items, _, _ = stored(world)
    expected = sorted((text(students[i.student_id].name), text(students[i.student_id].class_name), text(i.title))
                      for i in items)
    got = sorted(tuple(r.values()) for r in by_name(sheets["名冊"], ("姓名", "班級", "名稱")))
    assert got == expected and len(got) == N
    # What the rows say is what the students typed: every payload, as stored (titles trimmed).
    assert {title for _, _, title in got} == {text(p.strip()) for p in PAYLOADS}
    assert {name for name, _, _ in got} == {text(p) for p in PAYLOADS}


@pytest.mark.parametrize("kind", ["semester_basic_cadre", "semester_courses"])
def test_semester_rosters_write_names_cadre_posts_and_subjects_as_text(world, tmp_path, kind):
    add_records(world, kind)
    result = export(world, kind, tmp_path)
    sheets = assert_no_formula(result.workbook.read_bytes())
    students, _, cadres, grade_records = stored(world)
    if kind == "semester_basic_cadre":
        assert sorted(tuple(r.values()) for r in by_name(sheets["名冊"], ("姓名", "班級"))) == sorted(
            (text(s.name), text(s.class_name)) for s in students.values())
        assert sorted(tuple(r.values()) for r in by_name(sheets["幹部紀錄"], ("姓名", "單位", "職稱"))) == sorted(
            (text(students[c.student_id].name), text(c.unit), text(c.position)) for c in cadres)
    else:
        assert sorted(tuple(r.values()) for r in by_name(sheets["名冊"], ("姓名", "科目名稱"))) == sorted(
            (text(students[g.student_id].name), text(g.subject)) for g in grade_records)
    assert len(sheets["名冊"]) == 1 + N


def test_the_downloaded_workbook_and_zip_hold_no_formula(world, app, client, tmp_path):  # noqa: F811
    from tests.integration.web.conftest import add_accounts
    add_accounts(world)
    app.config.update(NOW=LATER, EXPORT_DIR=str(tmp_path / "exports"))
    select_items(world, "year_outcomes")
    batch_id = export(world, "year_outcomes", tmp_path / "exports" / world.code).batch_id
    sign_in(client, "staff")
    workbook = client.get(f"/staff/batches/{batch_id}/download/workbook")
    assert workbook.status_code == 200
    names = {row[4] for row in assert_no_formula(workbook.data)["名冊"][1:]}
    assert names == {text(p) for p in PAYLOADS}
    archive = zipfile.ZipFile(io.BytesIO(client.get(f"/staff/batches/{batch_id}/download/zip").data))
    inside = [n for n in archive.namelist() if n.endswith(".xlsx")]
    assert len(inside) == 1 and assert_no_formula(archive.read(inside[0]))["名冊"] == \
        assert_no_formula(workbook.data)["名冊"]


@pytest.mark.parametrize("template, columns", [
    (consultation.csv_template, consultation.CSV_COLUMNS), (exploration.csv_template, exploration.CSV_COLUMNS),
    (cadre.cadre_csv_template, cadre.KIND.columns), (grades.grades_csv_template, grades.kind_for("").columns)])
def test_the_csv_templates_read_back_as_their_importers_headers(template, columns):
    data = template()
    assert data.startswith(b"\xef\xbb\xbf") and data.endswith(b"\r\n")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert rows == [[c.label for c in columns]]


# --- the JSON packages: verbatim, and no spreadsheet in them ----------------------------------

def hostile_item(world: World) -> int:
    """Student 0's course outcome with a payload title, description and file name, rejected by
    the teacher with a payload reason."""
    actor = world.student(0)
    with world.uow() as uow:
        item_id = upload_course_outcome(uow, actor, student_id=world.student_ids[0], course_id=world.course_id,
                                        title=PAYLOADS[0], description=PAYLOADS[1],
                                        document=Upload.of(samples.pdf("x"), "=cmd.pdf"), now=IN_UPLOAD)
    world.run(certification.submit, world.student(0), item_id, now=IN_UPLOAD)
    world.run(certification.reject, world.teacher, item_id, reason=PAYLOADS[4], now=IN_UPLOAD)
    return item_id


def no_spreadsheet(archive: zipfile.ZipFile) -> None:
    assert not [n for n in archive.namelist() if n.lower().endswith((".csv", ".xlsx", ".xls", ".ods"))]


def test_self_download_keeps_every_payload_verbatim(world):
    hostile_item(world)
    out, student = io.BytesIO(), world.student(0)
    with world.uow() as uow:
        portfolio_zip(uow, student, world.student_ids[0], out, now=IN_RECEIPT)
    archive = zipfile.ZipFile(io.BytesIO(out.getvalue()))
    no_spreadsheet(archive)
    manifest = json.loads(archive.read("manifest.json"))
    (item,) = manifest["items"]
    assert (manifest["name"], item["title"], item["files"][0]["name"]) == (PAYLOADS[0], PAYLOADS[0], "=cmd.pdf")


@pytest.fixture
def school_b(sqlite_template, tmp_path):
    path = tmp_path / "receiving.sqlite3"
    shutil.copy(sqlite_template, path)
    database = Database(make_engine(f"sqlite:///{path}"))
    yield World(database, LocalFileStore(tmp_path / "files-b"), code="013302", students=1)
    database.dispose()


def test_a_transfer_round_trip_keeps_every_payload_verbatim(world, school_b, tmp_path):
    hostile_item(world)
    out, staff = tmp_path / "package.zip", world.staff()
    with world.uow() as uow:
        export_transfer_package(uow, staff, world.student_ids[0], out, now=IN_RECEIPT)
    archive = zipfile.ZipFile(out)
    no_spreadsheet(archive)
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["student"]["name"] == PAYLOADS[0]
    staff_b = school_b.staff()
    with school_b.uow() as uow:
        result = import_transfer_package(uow, staff_b, out.read_bytes(), student_no="3029999",
                                         class_name=PAYLOADS[2], grade=2, now=IN_RECEIPT)
    with school_b.uow() as uow:
        student = uow.get(Student, result.student_id)
        (item,) = uow.session.scalars(uow.select(Item).where(Item.student_id == student.id))
        assert (student.name, item.title, item.description, item.rejection_reason) == (
            PAYLOADS[0], PAYLOADS[0], PAYLOADS[1], PAYLOADS[4])
