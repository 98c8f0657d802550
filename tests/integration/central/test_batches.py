"""Central submission batches 提交批次: created from the selected items, exported in the roster
layout (read back with openpyxl), confirmed as uploaded, and resubmitted after disputes; and
the course roster pre-check 預檢."""
from __future__ import annotations

import hashlib
import io
import json
from datetime import date, datetime, timedelta, timezone

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from persistence.tables import (AuditEntry, BatchEntry, CadreRecord, ConsultationRecord, Course,
                                ExplorationRecord, GradeRecord, Item, Student, SubmissionBatch)
from tests import samples
from tests.world import AFTER_SELECTION, IN_SELECTION, IN_UPLOAD, YEAR, World
from workflows.central import batches
from workflows.items import certification, selection
from workflows.core import transitions
from workflows.core.errors import Conflict, Forbidden, InvalidInput, InvalidTransition, RuleViolation
from workflows.central.precheck import precheck_courses

LATER = AFTER_SELECTION + timedelta(days=1)


@pytest.fixture
def world(db, files):
    return World(db, files)


def selected_outcomes(world, students=(0, 1, 2)) -> dict[int, int]:
    """Each student's course outcome uploaded, certified and selected: {student index: item id}."""
    found = {}
    for n in students:
        item_id = world.upload(n, title=f"作品{n}")
        world.run(certification.submit, world.student(n), item_id, now=IN_UPLOAD)
        world.run(certification.certify, world.teacher, item_id, now=IN_UPLOAD)
        world.run(selection.select, world.student(n), item_id, now=IN_SELECTION)
        found[n] = item_id
    return found


def create(world, kind="year_outcomes", semester=0, **kwargs) -> int:
    return world.run(batches.create_batch, world.staff(), kind, YEAR, semester, now=AFTER_SELECTION, **kwargs).id


def export(world, batch_id, out, now=LATER):
    return world.run(batches.export_batch, world.staff(), batch_id, out, now=now)


def sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def rows_of(sheet) -> list[list]:
    return [list(row) for row in sheet.iter_rows(values_only=True)]


def test_an_exported_roster_reads_back_cell_by_cell_with_files_and_hashes(world, tmp_path):
    items = selected_outcomes(world)
    batch_id = create(world)
    result = export(world, batch_id, tmp_path / "out")

    book = load_workbook(result.workbook)
    assert book.sheetnames == ["封面", "名冊"]
    assert rows_of(book["封面"]) == [
        ["學校代碼", "013301"], ["學年度", "114"], ["學期", "0"], ["名冊別", "26"],
        ["名冊名稱", "課程學習成果名冊"], ["梯次", "1"], ["群別", None], ["批次編號", str(batch_id)],
        ["筆數", "3"]]
    data = rows_of(book["名冊"])
    assert data[0] == ["身分證號", "出生日期", "班級", "學號", "姓名", "項目類別", "課程代碼", "名稱",
                       "文件檔名", "文件SHA-256", "影音檔名", "影音SHA-256"]
    with world.uow() as uow:
        students = {s.id: s for s in uow.session.scalars(select(Student))}
        stored = {i.id: i for i in uow.session.scalars(select(Item))}
        course = uow.get(Course, world.course_id)
    assert len(data) == 1 + len(items)
    by_id_number = {row[0]: row for row in data[1:]}
    for n, birth in ((0, "0980101"), (2, "0980103")):  # World: born 2009-01-(1+n)
        item, student = stored[items[n]], students[world.student_ids[n]]
        row = by_id_number[student.national_id]
        assert row[1:8] == [birth, "101", student.student_no, f"學生{n}", "課程學習成果", course.code, f"作品{n}"]
        assert row[9] == item.document_sha256 and row[10] is None and row[11] is None
        copied = result.directory / "files" / row[8]
        assert copied.is_file() and sha256(copied) == item.document_sha256

    manifest = json.loads((result.directory / "manifest.json").read_text(encoding="utf-8"))
    assert {entry["item_id"] for entry in manifest["files"]} == set(items.values())
    for entry in manifest["files"]:
        on_disk = result.directory / entry["path"]
        assert entry["sha256"] == sha256(on_disk) == stored[entry["item_id"]].document_sha256
        assert entry["size"] == on_disk.stat().st_size == stored[entry["item_id"]].document_size
    assert manifest["workbook"]["sha256"] == sha256(result.workbook) == result.workbook_sha256

    with world.uow() as uow:
        batch = uow.get(SubmissionBatch, batch_id)
        assert (batch.state, batch.export_sha256) == ("exported", sha256(result.workbook))
        audit = uow.session.scalars(select(AuditEntry).where(AuditEntry.subject_kind == "batch",
                                                             AuditEntry.subject_id == batch_id)
                                    .order_by(AuditEntry.id)).all()
    assert [(a.event, a.to_state) for a in audit] == [("create", "prepared"), ("export", "exported")]
    assert result.workbook_sha256 in audit[-1].reason


def test_exporting_again_replaces_the_directory_and_records_the_new_hash(world, tmp_path):
    selected_outcomes(world, (0,))
    batch_id = create(world)
    out = tmp_path / "out"
    first = export(world, batch_id, out)
    second = export(world, batch_id, out, now=LATER + timedelta(hours=1))
    assert [p.name for p in out.iterdir()] == [f"batch-{batch_id}"]  # no leftovers
    assert first.workbook_sha256 != second.workbook_sha256
    with world.uow() as uow:
        assert uow.get(SubmissionBatch, batch_id).export_sha256 == sha256(second.workbook)


def test_submitting_moves_every_item_to_submitted_central_with_one_audit_row_each(world, tmp_path):
    items = selected_outcomes(world)
    batch_id = create(world)
    export(world, batch_id, tmp_path)
    world.run(batches.submit_batch, world.staff(), batch_id, now=LATER)
    with world.uow() as uow:
        assert uow.get(SubmissionBatch, batch_id).state == "submitted"
        assert {uow.get(Item, i).state for i in items.values()} == {"submitted_central"}
        audit = uow.session.scalars(select(AuditEntry).where(AuditEntry.event == "submit_central")).all()
    assert sorted(a.subject_id for a in audit) == sorted(items.values())
    assert {a.actor_id for a in audit} == {world.staff_id}


def test_the_batch_machine_refuses_events_out_of_order(world, tmp_path):
    selected_outcomes(world, (0,))
    batch_id = create(world)
    with pytest.raises(InvalidTransition) as refused:
        world.run(batches.submit_batch, world.staff(), batch_id, now=LATER)
    assert refused.value.status == 409
    assert "已建立" in refused.value.message and "匯出名冊" in refused.value.message
    assert refused.value.details["allowed_events"] == ["export", "cancel"]
    with world.uow() as uow:  # nothing moved
        assert uow.get(SubmissionBatch, batch_id).state == "prepared"
        assert uow.session.scalars(select(Item.state)).all() == ["selected"]

    export(world, batch_id, tmp_path)
    world.run(batches.submit_batch, world.staff(), batch_id, now=LATER)
    with pytest.raises(InvalidTransition) as refused:
        world.run(batches.cancel_batch, world.staff(), batch_id, now=LATER)
    assert refused.value.details["state"] == "submitted"
    with pytest.raises(InvalidTransition):
        export(world, batch_id, tmp_path / "again")
    assert not (tmp_path / "again").exists()


def test_a_stale_batch_page_changes_nothing(world, tmp_path):
    selected_outcomes(world, (0,))
    batch_id = create(world)
    with world.uow() as uow:
        seen = uow.get(SubmissionBatch, batch_id).version
    world.run(batches.export_batch, world.staff(), batch_id, tmp_path, expected_version=seen, now=LATER)
    for change in (lambda: world.run(batches.export_batch, world.staff(), batch_id, tmp_path / "again",
                                     expected_version=seen, now=LATER),
                   lambda: world.run(batches.submit_batch, world.staff(), batch_id, expected_version=seen, now=LATER),
                   lambda: world.run(batches.cancel_batch, world.staff(), batch_id, expected_version=seen, now=LATER)):
        with pytest.raises(Conflict) as refused:
            change()
        assert "這個提交批次在你開啟頁面後已被變更" in refused.value.message
        assert refused.value.details["state"] == "exported"
    assert not (tmp_path / "again").exists()
    with world.uow() as uow:
        assert uow.get(SubmissionBatch, batch_id).state == "exported"
        assert uow.session.scalars(select(Item.state)).all() == ["selected"]


def test_only_submission_offices_handle_batches(world):
    selected_outcomes(world, (0,))
    with pytest.raises(Forbidden):
        world.run(batches.create_batch, world.teacher, "year_outcomes", YEAR, 0, now=AFTER_SELECTION)


def test_a_year_without_selected_items_makes_no_batch(world):
    with pytest.raises(RuleViolation, match="沒有可提交的資料"):
        create(world)
    with pytest.raises(InvalidInput, match="學期"):
        create(world, "semester_courses", 0)


def test_grade12_batches_take_each_student_once_per_kind_year_and_round(world, tmp_path):
    selected_outcomes(world)
    world.set_student(0, grade=3, track="academic")
    world.set_student(1, grade=3, track="professional")
    ids = world.student_ids
    with world.uow() as uow:
        numbers = [uow.get(Student, i).student_no for i in ids]
    academic = create(world, track="academic", student_ids=[ids[0]])
    world.set_student(1, track="academic")  # for a moment, so the list below is of one track
    with pytest.raises(RuleViolation) as refused:
        create(world, track="academic", student_ids=[ids[1], ids[0]])
    assert f"{numbers[0]} 學生0" in refused.value.message and "學生1" not in refused.value.message
    assert refused.value.details["student_nos"] == [numbers[0]]
    world.set_student(1, track="professional")
    with pytest.raises(RuleViolation, match=f"{numbers[2]} 學生2"):  # grade 1
        create(world, track="professional", student_ids=[ids[2]])
    professional = create(world, track="professional", student_ids=[ids[1]])
    # A whole-school batch leaves out whoever is in a grade-12 batch already.
    rest = create(world)
    with world.uow() as uow:
        members = {b: set(uow.session.scalars(select(BatchEntry.student_id).where(BatchEntry.batch_id == b)))
                   for b in (academic, professional, rest)}
    assert members == {academic: {ids[0]}, professional: {ids[1]}, rest: {ids[2]}}

    result = export(world, academic, tmp_path)
    cover = dict(rows_of(load_workbook(result.workbook)["封面"]))
    assert (cover["名冊別"], cover["群別"], cover["梯次"]) == ("36", "學術群", "1")
    # A cancelled batch frees its students; the second round is a batch of its own.
    world.run(batches.cancel_batch, world.staff(), academic, now=LATER)
    again = create(world, track="academic", student_ids=[ids[0]])
    assert again != academic


def add_cadre(world, n: int, year: int, semester: int, *, level="class", unit="101 班", position="班長",
              starts_on=date(2025, 8, 1), ends_on=None) -> int:
    """A cadre record as the activities section's workflow would store it (setup only)."""
    with world.uow() as uow:
        record = CadreRecord(school_id=world.school_id, student_id=world.student_ids[n], academic_year=year,
                             semester=semester, level=level, unit=unit, position=position,
                             starts_on=starts_on, ends_on=ends_on, created_at=AFTER_SELECTION,
                             updated_at=AFTER_SELECTION)
        uow.session.add(record)
        uow.commit()
        return record.id


def add_grade(world, n: int, year: int, semester: int, *, kind="semester", code=None, subject="國語文",
              grade_level=1, credits=4, score=80, passed=True, makeup_score=None, counted=True) -> int:
    """A grade record as the registry's workflow would store it (setup only)."""
    with world.uow() as uow:
        record = GradeRecord(school_id=world.school_id, student_id=world.student_ids[n], academic_year=year,
                             semester=semester, record_kind=kind,
                             course_code=code or f"{YEAR - 2}{world.code}H00100A1ML0101", subject=subject,
                             grade_level=grade_level, credits=credits, score=score, passed=passed,
                             makeup_score=makeup_score, credit_counted=counted,
                             created_at=AFTER_SELECTION, updated_at=AFTER_SELECTION)
        uow.session.add(record)
        uow.commit()
        return record.id


def members_of(world, batch_id) -> set[int]:
    with world.uow() as uow:
        return set(uow.session.scalars(select(BatchEntry.student_id).where(BatchEntry.batch_id == batch_id)))


def batch_count(world) -> int:
    with world.uow() as uow:
        return uow.session.scalar(select(func.count()).select_from(SubmissionBatch))


def test_a_grade12_batch_without_a_list_takes_the_tracks_enrolled_grade3_students_once(db, files, tmp_path):
    world = World(db, files, students=6)
    for n, values in {0: {"track": "academic"}, 1: {"track": "academic"}, 2: {"track": "professional"},
                      4: {"track": "academic", "division": "continuing"}}.items():
        world.set_student(n, grade=3, **values)
    world.depart(3, grade=3, track="academic")  # graduated: not enrolled
    world.set_student(5, grade=2)
    ids = world.student_ids
    basic = dict(kind="semester_basic_cadre", semester=1)

    academic = create(world, **basic, track="academic")
    assert members_of(world, academic) == {ids[0], ids[1]}
    assert members_of(world, create(world, **basic, track="professional")) == {ids[2]}
    assert members_of(world, create(world, **basic, track="academic", division="continuing")) == {ids[4]}
    assert members_of(world, create(world, **basic)) == {ids[5]}  # the whole school: the rest
    assert members_of(world, create(world, **basic, track="academic", round=2)) == {ids[0], ids[1]}
    with pytest.raises(RuleViolation, match="沒有專業群的在學三年級學生"):
        create(world, **basic, track="professional", division="continuing")

    # Once per kind, period and round: a second first-round academic batch has nobody left.
    before = batch_count(world)
    with pytest.raises(RuleViolation) as refused:
        create(world, **basic, track="academic")
    assert refused.value.details["rule"] == "empty_batch"
    assert "高三學術群第 1 梯次" in refused.value.message and "2 位學生已在" in refused.value.message
    assert batch_count(world) == before
    # ... while another kind of the same term is a batch of its own.
    add_grade(world, 1, YEAR, 1)
    assert members_of(world, create(world, "semester_courses", 1, track="academic")) == {ids[1]}

    cover = dict(rows_of(load_workbook(export(world, academic, tmp_path).workbook)["封面"]))
    assert (cover["名冊別"], cover["群別"], cover["梯次"], cover["筆數"]) == ("34", "學術群", "1", "2")


def test_a_listed_student_of_another_track_or_none_is_refused_by_name(world):
    world.set_student(0, grade=3, track="academic")
    world.set_student(1, grade=3, track="professional")
    world.set_student(2, grade=3)
    ids = world.student_ids
    with pytest.raises(RuleViolation) as refused:
        create(world, "semester_basic_cadre", 1, track="academic", student_ids=list(ids))
    error = refused.value
    assert error.details["rule"] == "track_mismatch"
    assert "學生1（專業群）" in error.message and "學生2（未設定群別）" in error.message
    assert "學生0" not in error.message
    assert batch_count(world) == 0
    assert members_of(world, create(world, "semester_basic_cadre", 1, track="academic",
                                    student_ids=[ids[0]])) == {ids[0]}


def test_semester_batches_carry_every_enrolled_student(world, tmp_path):
    world.depart(2)
    batch_id = create(world, "semester_basic_cadre", 1)
    result = export(world, batch_id, tmp_path)
    book = load_workbook(result.workbook)
    assert dict(rows_of(book["封面"]))["名冊別"] == "24"
    data = rows_of(book["名冊"])
    assert data[0] == ["身分證號", "出生日期", "班級", "學號", "姓名", "年級", "部別"]
    assert [row[4] for row in data[1:]] == ["學生0", "學生1"]
    assert data[1][1] == "0980101" and data[1][5:] == ["1", "日間部"]
    assert json.loads((result.directory / "manifest.json").read_text(encoding="utf-8"))["files"] == []


def test_a_basic_data_batch_carries_the_terms_cadre_records_sheet(world, tmp_path):
    world.depart(2)
    add_cadre(world, 0, YEAR, 1, level="club", unit="熱音社", position="社長", starts_on=date(2025, 9, 1))
    add_cadre(world, 0, YEAR, 1, level="school", unit="學生會", position="會長", ends_on=date(2026, 1, 31))
    add_cadre(world, 1, YEAR, 1, ends_on=date(2026, 1, 31))
    add_cadre(world, 0, YEAR, 2, position="副班長", starts_on=date(2026, 2, 1))  # another term
    add_cadre(world, 1, YEAR - 1, 1, position="風紀股長", starts_on=date(2024, 8, 1))  # another year
    add_cadre(world, 2, YEAR, 1, level="school", unit="學生會", position="總務")  # not enrolled: not in the batch
    batch_id = create(world, "semester_basic_cadre", 1)
    result = export(world, batch_id, tmp_path)

    book = load_workbook(result.workbook)
    assert book.sheetnames == ["封面", "名冊", "幹部紀錄"]
    assert rows_of(book["封面"]) == [
        ["學校代碼", "013301"], ["學年度", "114"], ["學期", "1"], ["名冊別", "24"], ["名冊名稱", "幹部經歷名冊"],
        ["梯次", "1"], ["群別", None], ["批次編號", str(batch_id)], ["筆數", "2"], ["幹部紀錄筆數", "3"]]
    with world.uow() as uow:
        s0, s1 = (uow.get(Student, world.student_ids[n]) for n in (0, 1))
    assert rows_of(book["幹部紀錄"]) == [
        ["身分證號", "出生日期", "學號", "姓名", "學年度", "學期", "幹部層級", "單位", "職稱", "起始日期", "結束日期"],
        [s0.national_id, "0980101", s0.student_no, "學生0", "114", "1", "校級", "學生會", "會長", "1140801", "1150131"],
        [s0.national_id, "0980101", s0.student_no, "學生0", "114", "1", "社團", "熱音社", "社長", "1140901", None],
        [s1.national_id, "0980102", s1.student_no, "學生1", "114", "1", "班級", "101 班", "班長", "1140801", "1150131"],
    ]
    assert [row[4] for row in rows_of(book["名冊"])[1:]] == ["學生0", "學生1"]
    assert (result.rows, result.sheet_rows) == (2, {"名冊": 2, "幹部紀錄": 3})
    with world.uow() as uow:
        reason = uow.session.scalars(select(AuditEntry.reason).where(
            AuditEntry.subject_kind == "batch", AuditEntry.event == "export")).one()
    assert "2 筆，幹部紀錄 3 筆" in reason


def test_a_semester2_course_batch_carries_the_terms_grades_make_ups_and_year_grades(world, tmp_path):
    english, chinese = (f"{YEAR - 2}{world.code}H00100A1ML01{n}" for n in ("03", "01"))
    add_grade(world, 0, YEAR, 2, kind="makeup", code=english, subject="英語文", score=55, makeup_score=62)
    add_grade(world, 0, YEAR, 2, code=english, subject="英語文", score=55, passed=False, counted=False)
    add_grade(world, 0, YEAR, 0, kind="year", code=chinese, credits=8, score=70)
    add_grade(world, 0, YEAR, 1, code=chinese, score=66)  # semester 1: its own batch
    add_grade(world, 0, YEAR - 1, 2, code=chinese, score=90)  # last year
    add_grade(world, 2, YEAR, 1, code=chinese, score=75)  # nothing in semester 2
    ids = world.student_ids

    # An explicit list naming a student without grades for the term is refused, naming them.
    with pytest.raises(RuleViolation) as refused:
        create(world, "semester_courses", 2, student_ids=[ids[0], ids[1]])
    assert refused.value.details["rule"] == "grades_required"
    assert "學生1" in refused.value.message and "學生0" not in refused.value.message
    assert "114 學年度第 2 學期（含學年成績）" in refused.value.message
    assert batch_count(world) == 0
    # No grades at all for the term: nothing to submit, and the message says grades are missing.
    with pytest.raises(RuleViolation, match="沒有可提交的資料.*成績紀錄") as empty:
        world.run(batches.create_batch, world.staff(), "semester_courses", YEAR - 1, 1, now=AFTER_SELECTION)
    assert empty.value.details["rule"] == "empty_batch"

    batch_id = create(world, "semester_courses", 2)
    assert members_of(world, batch_id) == {ids[0]}  # students 1 and 2 have no grades for the term
    result = export(world, batch_id, tmp_path)
    book = load_workbook(result.workbook)
    assert book.sheetnames == ["封面", "名冊"]
    cover = rows_of(book["封面"])
    assert cover[2:5] == [["學期", "2"], ["名冊別", "41"], ["名冊名稱", "日間部學業成績名冊"]]
    assert cover[-1] == ["筆數", "3"] and len(cover) == 9
    with world.uow() as uow:
        s0 = uow.get(Student, ids[0])
    key = [s0.national_id, "0980101", s0.student_no, "學生0", "114"]
    assert rows_of(book["名冊"]) == [
        ["身分證號", "出生日期", "學號", "姓名", "學年度", "學期", "成績類別", "課程代碼", "科目名稱", "年級",
         "學分數", "學期成績", "及格", "補考成績", "採計學分"],
        [*key, "2", "學期成績", english, "英語文", "1", "4", "55", "否", None, "否"],
        [*key, "2", "補考", english, "英語文", "1", "4", "55", "是", "62", "是"],
        [*key, "0", "學年成績", chinese, "國語文", "1", "8", "70", "是", None, "是"],
    ]


def test_consultation_and_exploration_records_never_reach_any_export(world, files, tmp_path):
    selected_outcomes(world, (0,))
    performance = world.upload_performance(1)
    world.run(selection.select, world.student(1), performance, now=IN_SELECTION)
    add_cadre(world, 0, YEAR, 1)
    add_grade(world, 0, YEAR, 1)
    secret = samples.pdf("諮詢紀錄附件")
    stored = files.put(io.BytesIO(secret), max_bytes=2 * 1024 * 1024)
    with world.uow() as uow:
        uow.session.add(ConsultationRecord(
            school_id=world.school_id, student_id=world.student_ids[0], consultant_id=world.teacher_id,
            academic_year=YEAR, semester=1, held_at=datetime(2025, 10, 1, 6, 0, tzinfo=timezone.utc),
            place="諮詢室甲", content="諮詢內容：想轉讀資訊學群", advice="建議：選修程式設計",
            file_sha256=stored.sha256, file_name="諮詢紀錄.pdf", file_kind="pdf", file_size=stored.size,
            created_at=AFTER_SELECTION, updated_at=AFTER_SELECTION))
        uow.session.add(ExplorationRecord(
            school_id=world.school_id, student_id=world.student_ids[0], academic_year=YEAR, semester=1,
            held_on=date(2025, 10, 2), career_group="information", activity="學群探索營隊",
            notes="探索心得：喜歡寫程式", created_at=AFTER_SELECTION, updated_at=AFTER_SELECTION))
        uow.commit()

    out = tmp_path / "out"
    for kind, semester in (("semester_basic_cadre", 1), ("semester_courses", 1), ("year_outcomes", 0),
                           ("year_performances", 0)):
        export(world, create(world, kind, semester), out)
    written, workbooks = [], 0
    for path in sorted(out.rglob("*")):
        if not path.is_file():
            continue
        assert sha256(path) != stored.sha256  # the consultation file is never copied
        if path.suffix == ".xlsx":
            workbooks += 1
            book = load_workbook(path)
            written.append(" ".join(book.sheetnames))
            written.extend(str(cell) for sheet in book for row in sheet.iter_rows(values_only=True)
                           for cell in row if cell is not None)
        elif path.suffix == ".json":
            written.append(path.read_text(encoding="utf-8"))
    text = "\n".join(written)
    assert workbooks == 4 and "幹部紀錄" in text and "國語文" in text  # the exports did carry records
    for marker in ("諮詢室甲", "想轉讀資訊學群", "選修程式設計", "諮詢紀錄", "學群探索營隊", "喜歡寫程式",
                   "information", stored.sha256):
        assert marker not in text


def settle(world, item_id: int, resolution: str) -> None:
    """The student disputes the item and the office settles it (the disputes workflow's result)."""
    staff = world.staff()
    with world.uow() as uow:
        item = uow.get(Item, item_id, for_update=True)
        transitions.fire(uow.session, item, "dispute", actor=staff, at=LATER, reason="檔案不符")
        uow.flush()
        transitions.fire(uow.session, item, "resolve", actor=staff, at=LATER, reason="已處理")
        item.resolution, item.resolution_note = resolution, "已處理"
        uow.commit()


def test_a_resubmission_batch_carries_only_items_marked_for_resubmission(world, tmp_path):
    items = selected_outcomes(world)
    batch_id = create(world)
    export(world, batch_id, tmp_path)
    world.run(batches.submit_batch, world.staff(), batch_id, now=LATER)
    with pytest.raises(RuleViolation, match="重新提交"):
        world.run(batches.create_resubmission_batch, world.staff(), batch_id, now=LATER)
    settle(world, items[0], "resubmit")
    settle(world, items[1], "answered")

    again = world.run(batches.create_resubmission_batch, world.staff(), batch_id, now=LATER).id
    with world.uow() as uow:
        batch = uow.get(SubmissionBatch, again)
        assert (batch.resubmission_of_id, batch.kind, batch.state) == (batch_id, "year_outcomes", "prepared")
        assert uow.session.scalars(select(BatchEntry.item_id).where(BatchEntry.batch_id == again)).all() == [items[0]]
    with pytest.raises(RuleViolation):  # already carried
        world.run(batches.create_resubmission_batch, world.staff(), batch_id, now=LATER)

    result = export(world, again, tmp_path)
    assert [row[7] for row in rows_of(load_workbook(result.workbook)["名冊"])[1:]] == ["作品0"]
    world.run(batches.submit_batch, world.staff(), again, now=LATER)
    with world.uow() as uow:
        assert [uow.get(Item, items[n]).state for n in (0, 1, 2)] == [
            "submitted_central", "resolved", "submitted_central"]
        moves = uow.session.execute(select(AuditEntry.subject_id, AuditEntry.from_state, AuditEntry.to_state)
                                    .where(AuditEntry.event == "resubmit_central")).all()
        assert moves == [(items[0], "resolved", "submitted_central")]


def test_submitting_a_resubmission_batch_refuses_an_item_no_longer_resolved(world, tmp_path):
    items = selected_outcomes(world, students=(0,))
    batch_id = create(world)
    export(world, batch_id, tmp_path)
    world.run(batches.submit_batch, world.staff(), batch_id, now=LATER)
    settle(world, items[0], "resubmit")
    again = world.run(batches.create_resubmission_batch, world.staff(), batch_id, now=LATER).id
    export(world, again, tmp_path)
    # The item reached the central database another way meanwhile (an operator's fix).
    staff = world.staff()
    with world.uow() as uow:
        item = uow.get(Item, items[0], for_update=True)
        transitions.fire(uow.session, item, "resubmit_central", actor=staff, at=LATER, reason="人工補送")
        uow.commit()
    with pytest.raises(InvalidTransition):
        world.run(batches.submit_batch, world.staff(), again, now=LATER)
    with world.uow() as uow:
        assert uow.get(SubmissionBatch, again).state == "exported"
        assert uow.session.scalars(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.event == "resubmit_central")).one() == 1


def test_the_precheck_reports_every_bad_course_code_by_row(world):
    bad = {  # name → code; rows follow the code order
        "短代碼": "11201330",                                # sorts first: row 1
        "外校代碼": "112999999H00100A1ML0104",               # row 6 (after 013301's)
        "全形代碼": "112013301H00100A1ML01０5",              # row 4 (after World's 0101, 0102)
        "數學專題": "112013301H00100A8ML0106",               # category 8, not a group activity: row 5
    }
    with world.uow() as uow:
        for name, code in bad.items():
            uow.session.add(Course(school_id=world.school_id, academic_year=YEAR, semester=1, code=code,
                                   name=name, teacher_id=world.teacher_id))
        uow.commit()
    report = world.run(precheck_courses, world.staff(), YEAR, 1)
    assert report.courses == 6 and not report.ok
    assert [(p.row, p.course) for p in report.problems] == [
        (1, "短代碼"), (4, "全形代碼"), (5, "數學專題"), (6, "外校代碼")]
    messages = {p.course: p.message for p in report.problems}
    assert "23 碼" in messages["短代碼"]
    assert "全形" in messages["全形代碼"]
    assert "本校代碼「013301」不符" in messages["外校代碼"]
    assert "第 17 碼" in messages["數學專題"]
    assert str(report.problems[0]).startswith("第 1 列 短代碼（11201330）：")
    assert world.run(precheck_courses, world.staff(), YEAR, 2).ok


def test_the_command_line_creates_exports_submits_and_lists(world, db, files, tmp_path):
    from click.testing import CliRunner

    from web.cli import main

    selected_outcomes(world, (0,))
    base = ["--db", db.engine.url.render_as_string(hide_password=False), "--data-dir", str(files.root),
            "batch"]
    runner = CliRunner()
    created = runner.invoke(main, [*base, "create", "--school", world.code, "year_outcomes", str(YEAR)])
    assert created.exit_code == 0, created.output
    assert "已建立提交批次 #1：學生 1 位、項目 1 件" in created.output
    exported = runner.invoke(main, [*base, "export", "--school", world.code, "1", "--out", str(tmp_path / "out")])
    assert exported.exit_code == 0 and "名冊別 26 課程學習成果名冊" in exported.output
    assert runner.invoke(main, [*base, "submit", "--school", world.code, "1"]).exit_code == 0
    listed = runner.invoke(main, [*base, "list", "--school", world.code])
    assert "已上傳中央資料庫" in listed.output and "項目 1 件" in listed.output
    refused = runner.invoke(main, [*base, "submit", "--school", world.code, "1"])
    assert refused.exit_code == 1 and "錯誤：目前狀態為「已上傳中央資料庫」" in refused.output
    checked = runner.invoke(main, [*base, "precheck", "--school", world.code, str(YEAR), "1"])
    assert checked.exit_code == 0 and "2 門課程，全部通過" in checked.output


def test_the_command_line_creates_a_grade12_batch_by_track_without_a_student_list(world, db, files):
    from click.testing import CliRunner

    from web.cli import main

    for n in (0, 2):
        world.set_student(n, grade=3, track="academic")
    world.set_student(1, grade=3, track="professional")
    base = ["--db", db.engine.url.render_as_string(hide_password=False), "--data-dir", str(files.root),
            "batch", "create", "--school", world.code, "semester_basic_cadre", str(YEAR), "--semester", "1"]
    created = CliRunner().invoke(main, [*base, "--track", "academic"])
    assert created.exit_code == 0, created.output
    assert "已建立提交批次 #1：學生 2 位。" in created.output
    assert members_of(world, 1) == {world.student_ids[0], world.student_ids[2]}
    again = CliRunner().invoke(main, [*base, "--track", "academic"])
    assert again.exit_code == 1 and "沒有可提交的資料" in again.output
