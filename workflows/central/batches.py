"""Central submission batches 提交批次 (seed 002: 提交資料 → 產生收訖明細 → 學生確認).

A batch is one category and period: semester basic data and cadre records, semester course
records, the year's selected course outcomes, the year's selected multiple performances; grade
12 (高三) batches are split by track (學術群 / 專業群) and round (梯次). Staff create a batch, export
it in the central database's roster layout (workflows/central/roster.py) with the files and a SHA-256
manifest, upload it by hand, then confirm the upload (`submit_batch`): the items move to
submitted_central. Receipts (收訖明細) come from the receipt import, not from here.

Every change of a batch goes through its machine (states/batch.py) via workflows/core/transitions.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from openpyxl import Workbook
from sqlalchemy import func

from persistence.vocabulary import BATCH_KIND_LABELS, ITEM_KIND_OF_BATCH, TRACK_LABELS, CadreLevel
from persistence.files import CHUNK_BYTES, fsync_dir, sha256_of
from persistence.tables import (BATCH_KINDS, GRADE12_TRACKS, BatchEntry, CadreRecord, Course,
                                GradeRecord, Item, Receipt, Student, SubmissionBatch)
from states import MACHINES, state_label
from workflows.central import disputes, roster
from workflows.core.actors import Actor
from workflows.core.clock import format_taipei, now_or
from workflows.core.errors import CorruptState, InvalidInput, NotFound, RuleViolation
from workflows.core.guards import require_current
from workflows.core.policy import KIND_LABELS
from workflows.people.offices import require_submission_office
from workflows.core.roles import DIVISION_LABELS, Division, EnrolmentStatus
from workflows.core.spreadsheet_text import append_text_row
from workflows.core.transitions import fire, require_allowed, start
from workflows.core.unit_of_work import UnitOfWork
from persistence.vocabulary import PERFORMANCE_CATEGORIES

GRADE12 = 3  # students.grade of 高三
RESUBMIT = "resubmit"  # Item.resolution of a dispute settled by correcting and resubmitting
_THIS_BATCH = "這個提交批次"  # how the stale-page guard names the batch


def require_submitter(uow: UnitOfWork, actor: Actor, now: datetime | None = None) -> Actor:
    return require_submission_office(uow, actor, "處理中央資料庫提交批次", now=now)


def _who(students) -> str:
    return "、".join(f"{s.student_no} {s.name}" for s in students)


def _live_batches(uow: UnitOfWork):
    """Batches that count for "each student at most once": not cancelled, not a resubmission."""
    return uow.select(SubmissionBatch).where(SubmissionBatch.state != "cancelled",
                                             SubmissionBatch.resubmission_of_id.is_(None))


def _already_batched(uow: UnitOfWork, kind: str, academic_year: int, semester: int, round_: int,
                     student_ids: list[int]) -> set[int]:
    batch_ids = _live_batches(uow).where(
        SubmissionBatch.kind == kind, SubmissionBatch.academic_year == academic_year,
        SubmissionBatch.semester == semester, SubmissionBatch.round == round_,
    ).with_only_columns(SubmissionBatch.id)
    return set(uow.session.scalars(
        uow.select(BatchEntry.student_id).where(BatchEntry.batch_id.in_(batch_ids),
                                                BatchEntry.student_id.in_(student_ids))))


def _period(kind: str, semester: int | None) -> int:
    if kind not in BATCH_KINDS:
        raise InvalidInput(f"不明的批次類別「{kind}」；可選：{'、'.join(BATCH_KINDS)}", field="kind")
    if kind in ITEM_KIND_OF_BATCH:
        if semester not in (None, 0):
            raise InvalidInput(f"{BATCH_KIND_LABELS[kind]}以學年為單位，不指定學期。", field="semester")
        return 0
    if semester not in (1, 2):
        raise InvalidInput(f"{BATCH_KIND_LABELS[kind]}須指定第 1 或第 2 學期。", field="semester")
    return semester


def create_batch(uow: UnitOfWork, actor: Actor, kind: str, academic_year: int, semester: int | None = 0,
                 *, track: str | None = None, round: int = 1, student_ids: list[int] | None = None,
                 division: str = Division.DAY.value, now: datetime | None = None) -> SubmissionBatch:
    """建立提交批次. Year kinds carry one entry per selected item of the year; basic data and
    cadre one entry per enrolled student; course records one per enrolled student with grade
    records for the term (`roster.grade_semesters`), the others being left out.

    A grade-12 batch (`track` given) takes the enrolled grade-3 students of that track (學術群 /
    專業群) and division, or the explicit `student_ids`, all of grade 3 and of that track. An
    explicit list naming anyone already in a live batch of the same kind, year, semester and round,
    or (course records) without grades for the term, is refused with the students named; without
    a list they are left out — so create the grade-12 batches before the whole-school one."""
    now = now_or(now)
    actor = require_submitter(uow, actor, now)
    semester = _period(kind, semester)
    if track is not None and track not in GRADE12_TRACKS:
        raise InvalidInput(f"高三群別只有學術群（academic）或專業群（professional），收到「{track}」。", field="track")
    if track is None and round != 1:
        raise InvalidInput("只有高三批次分梯次；一般批次為第 1 梯次。", field="round")
    if round not in roster.GRADE12_ROUND_OFFSETS:
        raise InvalidInput(f"高三提交只有第 1、2 梯次，收到第 {round} 梯次。", field="round")
    if division not in {d.value for d in Division}:
        allowed = "、".join(f"{label}（{d.value}）" for d, label in DIVISION_LABELS.items())
        raise InvalidInput(f"部別只有{allowed}，收到「{division}」。", field="division", rule="one_of",
                           allowed=[d.value for d in Division])

    listed = student_ids is not None
    students, division = _candidates(uow, kind, track, student_ids, division)
    candidates = len(students)
    batch = SubmissionBatch(school_id=uow.school_id, kind=kind, academic_year=academic_year,
                            semester=semester, track=track, round=round, created_at=now)

    taken = _already_batched(uow, kind, academic_year, semester, round, [s.id for s in students])
    if taken and listed:
        raise RuleViolation(
            f"每位學生在同一類別、學年度、學期與梯次只能提交一次；已在其他批次：{_who(s for s in students if s.id in taken)}",
            rule="once_per_batch_kind", field="student_ids",
            student_nos=[s.student_no for s in students if s.id in taken])
    students = [s for s in students if s.id not in taken]

    if kind == "semester_courses":
        graded = _with_grades(uow, academic_year, semester, [s.id for s in students])
        ungraded = [s for s in students if s.id not in graded]
        if ungraded and listed:
            raise RuleViolation(
                f"修課紀錄只提交有成績紀錄的學生；沒有 {_term(batch)}成績紀錄：{_who(ungraded)}",
                rule="grades_required", field="student_ids", student_nos=[s.student_no for s in ungraded])
        students = [s for s in students if s.id in graded]

    item_kind = ITEM_KIND_OF_BATCH.get(kind)
    if item_kind is not None:
        items = list(uow.session.scalars(
            uow.select(Item).where(Item.kind == item_kind, Item.academic_year == academic_year,
                                   Item.state == "selected", Item.student_id.in_([s.id for s in students]))
            .order_by(Item.student_id, Item.id)))
        pairs = [(item.student_id, item.id) for item in items]
    else:
        pairs = [(s.id, None) for s in students]
    if not pairs:
        raise RuleViolation(_nothing_to_submit(batch, division, item_kind, candidates, len(taken)),
                            rule="empty_batch")

    start(uow.session, batch, event="create", actor=actor, at=now, reason=_describe(batch, division))
    uow.session.add_all(BatchEntry(school_id=uow.school_id, batch_id=batch.id, student_id=sid, item_id=iid)
                        for sid, iid in pairs)
    uow.commit()
    return batch


def _candidates(uow: UnitOfWork, kind: str, track: str | None, student_ids: list[int] | None,
                division: str) -> tuple[list[Student], str]:
    """The students a batch may take, and their division: the explicit list (checked, never
    silently trimmed) or, without one, the division's students (of the track, for grade 12)."""
    query = uow.select(Student)
    if student_ids is not None:
        wanted = set(student_ids)
        if len(wanted) != len(student_ids):
            raise InvalidInput("學生名單有重複。", field="student_ids")
        students = list(uow.session.scalars(query.where(Student.id.in_(wanted)).order_by(Student.student_no)))
        missing = wanted - {s.id for s in students}
        if missing:
            raise NotFound(f"找不到學生（編號 {'、'.join(map(str, sorted(missing)))}）")
        divisions = {s.division for s in students}
        if len(divisions) > 1:
            raise RuleViolation("日間部與進修部學生須分開提交（名冊別不同）。", rule="one_division",
                                field="student_ids")
        division = divisions.pop() if divisions else division
    else:
        query = query.where(Student.division == division)
        if track is not None:
            query = query.where(Student.grade == GRADE12, Student.track == track,
                                Student.status == EnrolmentStatus.ENROLLED.value)
        students = list(uow.session.scalars(query.order_by(Student.student_no)))
    if kind not in ITEM_KIND_OF_BATCH:
        not_enrolled = [s for s in students if s.status != EnrolmentStatus.ENROLLED.value]
        if student_ids is not None and not_enrolled:
            raise RuleViolation(f"學期資料只提交在學學生；不在學：{_who(not_enrolled)}",
                                rule="enrolled_only", field="student_ids")
        students = [s for s in students if s.status == EnrolmentStatus.ENROLLED.value]
    if track is not None:
        wrong_grade = [s for s in students if s.grade != GRADE12]
        if wrong_grade:
            raise RuleViolation(f"高三批次只能包含三年級學生；不是三年級：{_who(wrong_grade)}",
                                rule="grade12_only", field="student_ids")
        wrong_track = [s for s in students if s.track != track]
        if wrong_track:
            wanted_label = TRACK_LABELS[track]
            named = "、".join(f"{s.student_no} {s.name}（{TRACK_LABELS.get(s.track, '未設定群別')}）"
                             for s in wrong_track)
            raise RuleViolation(f"高三{wanted_label}批次只能包含{wanted_label}學生；群別不符：{named}",
                                rule="track_mismatch", field="student_ids",
                                student_nos=[s.student_no for s in wrong_track])
    return students, division


def _with_grades(uow: UnitOfWork, academic_year: int, semester: int, student_ids: list[int]) -> set[int]:
    if not student_ids:
        return set()
    return set(uow.session.scalars(uow.select(GradeRecord.student_id).where(
        GradeRecord.academic_year == academic_year,
        GradeRecord.semester.in_(roster.grade_semesters(semester)),
        GradeRecord.student_id.in_(student_ids)).distinct()))


def _term(batch: SubmissionBatch) -> str:
    text = f"{batch.academic_year} 學年度第 {batch.semester} 學期"
    return text + ("（含學年成績）" if 0 in roster.grade_semesters(batch.semester) else "")


def _nothing_to_submit(batch: SubmissionBatch, division: str, item_kind: str | None, candidates: int,
                       taken: int) -> str:
    if batch.track and not candidates:
        why = (f"沒有{TRACK_LABELS[batch.track]}的在學三年級學生"
               "（群別由學生名冊的「群別」欄設定）。")
    elif item_kind is not None:
        why = "沒有已勾選的項目。"
    elif batch.kind == "semester_courses":
        why = f"沒有任何在學學生有 {_term(batch)}的成績紀錄（學業成績），請先登錄或匯入成績。"
    else:
        why = "沒有在學學生。"
    if taken:
        why += f"另有 {taken} 位學生已在同類別、同期間與梯次的其他批次。"
    return f"沒有可提交的資料：{_describe(batch, division)}{why}"


def _describe(batch: SubmissionBatch, division: str | None = None) -> str:
    text = f"{batch.academic_year} 學年度" + (f"第 {batch.semester} 學期" if batch.semester else "")
    text += BATCH_KIND_LABELS[batch.kind]
    if batch.track:
        text += f"（高三{TRACK_LABELS[batch.track]}第 {batch.round} 梯次）"
    if division and division != Division.DAY.value:
        text += f"（{DIVISION_LABELS[Division(division)]}）"
    if batch.resubmission_of_id:
        text += f"（重新提交批次 #{batch.resubmission_of_id}）"
    return text


# --- export ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ExportResult:
    batch_id: int
    directory: Path
    workbook: Path
    workbook_sha256: str
    roster_type: roster.RosterType
    rows: int  # rows of the first data sheet (名冊), the cover's 筆數
    files: int
    sheet_rows: dict[str, int] = field(default_factory=dict)  # every data sheet's row count, by name


_UNSAFE = re.compile(r"[^0-9A-Za-z_-]+")


def _safe(text: str) -> str:
    """Only ASCII letters, digits, _ and -: a file name no system mangles and no path escapes."""
    return _UNSAFE.sub("_", text).strip("_") or "x"


def _fsync_file(path: Path) -> None:
    with open(path, "rb+") as f:
        os.fsync(f.fileno())


def _copy_stored(uow: UnitOfWork, sha256: str, target: Path) -> int:
    """Copy one stored file, checking on the way that its bytes still have their hash."""
    digest, size = hashlib.sha256(), 0
    with uow.files.open(sha256) as source, open(target, "wb") as out:
        while chunk := source.read(CHUNK_BYTES):
            digest.update(chunk)
            size += len(chunk)
            out.write(chunk)
        out.flush()
        os.fsync(out.fileno())
    if digest.hexdigest() != sha256:
        raise CorruptState(f"儲存的檔案內容與紀錄的 SHA-256 不符（{sha256}），已停止匯出；請通知平臺管理者。",
                           sha256=sha256)
    return size


def _entries(uow: UnitOfWork, batch: SubmissionBatch) -> list[tuple[Student, Item | None, Course | None]]:
    rows = uow.session.execute(
        uow.select(BatchEntry).add_columns(Student, Item, Course)
        .join(Student, (Student.school_id == BatchEntry.school_id) & (Student.id == BatchEntry.student_id))
        .outerjoin(Item, (Item.school_id == BatchEntry.school_id) & (Item.id == BatchEntry.item_id))
        .outerjoin(Course, (Course.school_id == Item.school_id) & (Course.id == Item.course_id))
        .where(BatchEntry.batch_id == batch.id)
        .order_by(Student.class_name, Student.student_no, BatchEntry.item_id)).all()
    return [(student, item, course) for _, student, item, course in rows]


def batch_roster_type(uow: UnitOfWork, batch: SubmissionBatch, students=None) -> roster.RosterType:
    if students is None:
        students = [s for s, _, _ in _entries(uow, batch)]
    divisions = {s.division for s in students} or {Division.DAY.value}
    if len(divisions) > 1:
        raise RuleViolation("批次中同時有日間部與進修部學生，無法決定名冊別。", rule="one_division")
    return roster.roster_type(batch.kind, division=divisions.pop(),
                              grade12_round=batch.round if batch.track else None)


def export_batch(uow: UnitOfWork, actor: Actor, batch_id: int, out_dir: str | Path, *,
                 expected_version: int | None = None, now: datetime | None = None) -> ExportResult:
    """匯出名冊: the roster workbook, the items' files and manifest.json in
    `out_dir/batch-<id>/`, all fsync'ed before the batch records the workbook's hash. Exporting
    again replaces the directory (the previous workbook's hash stays in the audit)."""
    now = now_or(now)
    actor = require_submitter(uow, actor, now)
    batch = uow.get(SubmissionBatch, batch_id, for_update=True, what="提交批次")
    require_current(batch, expected_version, what=_THIS_BATCH)
    require_allowed(batch, "export")
    if uow.files is None:
        raise CorruptState("沒有設定檔案儲存位置，無法匯出檔案。")
    entries = _entries(uow, batch)
    kind_type = batch_roster_type(uow, batch, [s for s, _, _ in entries])
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    final = out_dir / f"batch-{batch.id}"
    work = Path(tempfile.mkdtemp(prefix=f".batch-{batch.id}-", suffix=".part", dir=out_dir))
    try:
        (work / roster.FILES_DIR).mkdir()
        manifest_files, rows = [], []
        for student, item, course in entries:
            values = _identity(student)
            if item is not None:
                values.update(item_kind=_item_kind_label(item), title=item.title,
                              course_code=course.code if course else "")
                for slot in ("document", "media"):
                    sha256 = getattr(item, f"{slot}_sha256")
                    if not sha256:
                        values[f"{slot}_file"] = values[f"{slot}_sha256"] = ""
                        continue
                    extension = _safe(getattr(item, f"{slot}_kind") or "bin").lower()
                    name = f"{_safe(student.student_no)}_{item.id}_{slot}.{extension}"
                    size = _copy_stored(uow, sha256, work / roster.FILES_DIR / name)
                    values[f"{slot}_file"], values[f"{slot}_sha256"] = name, sha256
                    manifest_files.append({
                        "path": f"{roster.FILES_DIR}/{name}", "sha256": sha256, "size": size,
                        "item_id": item.id, "slot": slot, "student_no": student.student_no,
                        "original_name": getattr(item, f"{slot}_name")})
            rows.append(values)
        fsync_dir(work / roster.FILES_DIR)

        workbook_name = roster.WORKBOOK_NAME.format(
            school_code=uow.school.code, academic_year=batch.academic_year, semester=batch.semester,
            roster_code=kind_type.code, batch_id=batch.id)
        students = {s.id: s for s, _, _ in entries}
        sheets = [(sheet, rows if sheet.rows_of == "entries"
                   else _RECORD_ROWS[sheet.rows_of](uow, batch, students))
                  for sheet in roster.sheets_for(batch.kind)]
        cover = {"school_code": uow.school.code, "academic_year": str(batch.academic_year),
                 "semester": str(batch.semester), "roster_code": kind_type.code,
                 "roster_name": kind_type.name, "round": str(batch.round),
                 "track": TRACK_LABELS.get(batch.track, ""), "batch_id": str(batch.id)}
        cover.update((sheet.count_key, str(len(sheet_rows))) for sheet, sheet_rows in sheets)
        _write_workbook(work / workbook_name, roster.cover_rows_for(batch.kind), cover, sheets, now)
        with open(work / workbook_name, "rb") as f:
            workbook_sha256 = sha256_of(f)
        workbook_size = (work / workbook_name).stat().st_size

        manifest = {"school_code": uow.school.code, "batch_id": batch.id,
                    "academic_year": batch.academic_year, "semester": batch.semester,
                    "roster_type": kind_type.code, "exported_at": now.isoformat(),
                    "workbook": {"path": workbook_name, "sha256": workbook_sha256, "size": workbook_size},
                    "files": manifest_files}
        with open(work / roster.MANIFEST_NAME, "w", encoding="utf-8") as f:
            json.dump(manifest, f, ensure_ascii=False, indent=2)
            f.flush()
            os.fsync(f.fileno())
        fsync_dir(work)
        old = None
        if final.exists():  # an earlier export of this batch: replaced as a whole
            old = out_dir / f".batch-{batch.id}-old-{os.getpid()}"
            os.rename(final, old)
        try:
            os.rename(work, final)
        except BaseException:
            if old is not None:  # put the earlier export back: never leave none behind
                os.rename(old, final)
            raise
        fsync_dir(out_dir)
        if old is not None:  # only once the new export is in place
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise

    counts = {sheet.name: len(sheet_rows) for sheet, sheet_rows in sheets}
    first = len(sheets[0][1])
    batch.export_sha256, batch.exported_at = workbook_sha256, now
    fire(uow.session, batch, "export", actor=actor, at=now,
         reason=f"名冊別 {kind_type.label}：{workbook_name}（SHA-256 {workbook_sha256}），"
                f"{first} 筆" + "".join(f"，{name} {n} 筆" for name, n in list(counts.items())[1:])
                + f"，檔案 {len(manifest_files)} 個")
    uow.commit()
    return ExportResult(batch.id, final, final / workbook_name, workbook_sha256, kind_type,
                        first, len(manifest_files), counts)


def _identity(student: Student) -> dict[str, str]:
    """The cells that say who a row is about; rows are keyed by 身分證號 and 出生日期."""
    return {
        "national_id": student.national_id,
        "birth_date": roster.roc_birth_date(student.birth_date),
        "class_name": student.class_name, "student_no": student.student_no,
        "name": student.name, "grade": str(student.grade),
        "division": DIVISION_LABELS.get(Division(student.division), student.division),
    }


def _cadre_rows(uow: UnitOfWork, batch: SubmissionBatch, students: dict[int, Student]) -> list[dict[str, str]]:
    """幹部紀錄: one row per cadre record of the batch's `students` (by id, in roster order) in the
    batch's term."""
    records = uow.session.scalars(uow.select(CadreRecord).where(
        CadreRecord.academic_year == batch.academic_year, CadreRecord.semester == batch.semester,
        CadreRecord.student_id.in_(_student_ids_of(uow, batch)))).all()
    order = {student_id: n for n, student_id in enumerate(students)}
    rows = []
    for record in sorted(records, key=lambda r: (order[r.student_id], r.starts_on, r.id)):
        rows.append({
            **_identity(students[record.student_id]),
            "academic_year": str(record.academic_year), "semester": str(record.semester),
            "level": CadreLevel(record.level).label,
            "unit": record.unit, "position": record.position,
            "starts_on": roster.roc_date(record.starts_on, label="起始日期", field="starts_on"),
            "ends_on": roster.roc_date(record.ends_on, label="結束日期", field="ends_on") if record.ends_on else "",
        })
    return rows


def _grade_rows(uow: UnitOfWork, batch: SubmissionBatch, students: dict[int, Student]) -> list[dict[str, str]]:
    """修課紀錄: one row per grade record of the batch's `students` in the batch's term (and the
    year grades in a semester-2 batch); per student the term's rows first, by kind and code."""
    records = uow.session.scalars(uow.select(GradeRecord).where(
        GradeRecord.academic_year == batch.academic_year,
        GradeRecord.semester.in_(roster.grade_semesters(batch.semester)),
        GradeRecord.student_id.in_(_student_ids_of(uow, batch)))).all()
    order = {student_id: n for n, student_id in enumerate(students)}
    kinds = {kind: n for n, kind in enumerate(roster.GRADE_KIND_CELLS)}
    rows = []
    for record in sorted(records, key=lambda r: (order[r.student_id], r.semester == 0,
                                                 kinds.get(r.record_kind, len(kinds)), r.course_code, r.id)):
        rows.append({
            **_identity(students[record.student_id]),
            "academic_year": str(record.academic_year), "semester": str(record.semester),
            "record_kind": roster.GRADE_KIND_CELLS.get(record.record_kind, record.record_kind),
            "course_code": record.course_code, "subject": record.subject,
            "grade_level": str(record.grade_level), "credits": str(record.credits),
            "score": _number(record.score), "passed": roster.YES_NO[bool(record.passed)],
            "makeup_score": _number(record.makeup_score),
            "credit_counted": roster.YES_NO[bool(record.credit_counted)],
        })
    return rows


def _number(value: int | None) -> str:
    return "" if value is None else str(value)


def _student_ids_of(uow: UnitOfWork, batch: SubmissionBatch):
    return uow.select(BatchEntry.student_id).where(BatchEntry.batch_id == batch.id)


# Which records fill a data sheet other than the batch's own entries (roster.DataSheet.rows_of).
_RECORD_ROWS = {"cadre": _cadre_rows, "grades": _grade_rows}


def _item_kind_label(item: Item) -> str:
    label = KIND_LABELS[item.kind]
    if item.category:
        label += f"－{PERFORMANCE_CATEGORIES.get(item.category, item.category)}"
    return label


def _write_workbook(path: Path, cover_rows, cover: dict[str, str], sheets, now: datetime) -> None:
    book = Workbook()
    cover_sheet = book.active
    cover_sheet.title = roster.COVER_SHEET
    # Every cell through spreadsheet_text: a student's title or name is text, never a formula.
    for label, key in cover_rows:
        append_text_row(cover_sheet, [label, cover[key]])
    written = [cover_sheet]
    for sheet, rows in sheets:
        data = book.create_sheet(sheet.name)
        append_text_row(data, [label for label, _ in sheet.columns])
        for values in rows:
            append_text_row(data, [values.get(key, "") for _, key in sheet.columns])
        written.append(data)
    for sheet_ in written:  # text, so ID numbers, codes and 0970301 keep their zeros
        for row in sheet_.iter_rows():
            for cell in row:
                cell.number_format = "@"
    stamp = now.replace(tzinfo=None)
    book.properties.created = book.properties.modified = stamp
    book.save(path)
    _fsync_file(path)


# --- submit, cancel, resubmit --------------------------------------------------------------

def submit_batch(uow: UnitOfWork, actor: Actor, batch_id: int, *, expected_version: int | None = None,
                 now: datetime | None = None) -> SubmissionBatch:
    """確認已上傳中央資料庫: the staff confirm the exported roster was uploaded. The batch moves to
    submitted and each of its items to submitted_central (one audit row per item): `submit_central`
    from selected, or — in a resubmission batch — `resubmit_central` from resolved for an item
    whose dispute was settled by correcting it (resolution 'resubmit')."""
    now = now_or(now)
    actor = require_submitter(uow, actor, now)
    batch = uow.get(SubmissionBatch, batch_id, for_update=True, what="提交批次")
    require_current(batch, expected_version, what=_THIS_BATCH)
    fire(uow.session, batch, "submit", actor=actor, at=now, reason=_describe(batch))
    batch.submitted_at = now
    item_ids = uow.select(BatchEntry.item_id).where(BatchEntry.batch_id == batch.id,
                                                    BatchEntry.item_id.is_not(None))
    items = uow.session.scalars(uow.select(Item).where(Item.id.in_(item_ids))
                                .order_by(Item.id).with_for_update()).all()
    for item in items:
        if batch.resubmission_of_id is not None and item.state == "resolved" and item.resolution == RESUBMIT:
            fire(uow.session, item, "resubmit_central", actor=actor, at=now,
                 reason=f"重新提交批次 #{batch.id}（原批次 #{batch.resubmission_of_id}）")
        else:  # anything else not `selected` is refused with its state named
            fire(uow.session, item, "submit_central", actor=actor, at=now, reason=f"提交批次 #{batch.id}")
        item.updated_at = now
    uow.commit()
    return batch


def cancel_batch(uow: UnitOfWork, actor: Actor, batch_id: int, *, reason: str | None = None,
                 expected_version: int | None = None, now: datetime | None = None) -> SubmissionBatch:
    """取消批次 (before it is submitted): its students and items can go in a new batch."""
    now = now_or(now)
    actor = require_submitter(uow, actor, now)
    batch = uow.get(SubmissionBatch, batch_id, for_update=True, what="提交批次")
    require_current(batch, expected_version, what=_THIS_BATCH)
    fire(uow.session, batch, "cancel", actor=actor, at=now, reason=reason)
    batch.closed_at = now
    uow.commit()
    return batch


def create_resubmission_batch(uow: UnitOfWork, actor: Actor, batch_id: int, *,
                              now: datetime | None = None) -> SubmissionBatch:
    """重新提交批次: the items of `batch_id` whose dispute was settled by correcting them
    (resolution 'resubmit', state resolved) and that no live resubmission batch carries yet; for a
    semester batch, the students whose receipt dispute was settled that way (their corrected
    records go in the new batch's roster)."""
    now = now_or(now)
    actor = require_submitter(uow, actor, now)
    old = uow.get(SubmissionBatch, batch_id, what="提交批次")
    if old.kind not in ITEM_KIND_OF_BATCH:
        pairs = _students_to_resubmit(uow, old)
    else:
        pairs = _items_to_resubmit(uow, old)
    if not pairs:
        what = "項目" if old.kind in ITEM_KIND_OF_BATCH else "學生"
        raise RuleViolation(f"批次 #{old.id} 沒有處理結果為「更正後重新提交」且尚未重新提交的{what}。",
                            rule="nothing_to_resubmit")
    batch = SubmissionBatch(school_id=uow.school_id, kind=old.kind, academic_year=old.academic_year,
                            semester=old.semester, track=old.track, round=old.round,
                            resubmission_of_id=old.id, created_at=now)
    start(uow.session, batch, event="create", actor=actor, at=now, reason=_describe(batch))
    uow.session.add_all(BatchEntry(school_id=uow.school_id, batch_id=batch.id, student_id=student_id,
                                   item_id=item_id) for student_id, item_id in pairs)
    uow.commit()
    return batch


def _carried_by_resubmissions(uow: UnitOfWork, old: SubmissionBatch, column):
    return (uow.select(column).join(
        SubmissionBatch, (SubmissionBatch.school_id == BatchEntry.school_id) & (SubmissionBatch.id == BatchEntry.batch_id))
        .where(SubmissionBatch.resubmission_of_id == old.id, SubmissionBatch.state != "cancelled"))


def _items_to_resubmit(uow: UnitOfWork, old: SubmissionBatch) -> list[tuple[int, int | None]]:
    carried = _carried_by_resubmissions(uow, old, BatchEntry.item_id).where(BatchEntry.item_id.is_not(None))
    items = uow.session.scalars(
        uow.select(Item).join(BatchEntry, (BatchEntry.school_id == Item.school_id) & (BatchEntry.item_id == Item.id))
        .where(BatchEntry.batch_id == old.id, Item.state == "resolved", Item.resolution == RESUBMIT,
               Item.id.not_in(carried))
        .order_by(Item.student_id, Item.id))
    return [(item.student_id, item.id) for item in items]


def _students_to_resubmit(uow: UnitOfWork, old: SubmissionBatch) -> list[tuple[int, int | None]]:
    """The semester batch's students whose receipt dispute was settled with 'resubmit' and whom
    no live resubmission batch of it carries yet."""
    carried = set(uow.session.scalars(_carried_by_resubmissions(uow, old, BatchEntry.student_id)))
    disputed = dict(uow.session.execute(uow.select(Receipt).where(
        Receipt.batch_id == old.id, Receipt.state == "disputed")
        .with_only_columns(Receipt.id, Receipt.student_id)).all())
    settled = disputes.receipt_resolutions(uow, disputed)
    return [(student_id, None) for student_id in sorted({
        disputed[receipt_id] for receipt_id, (kind, _, _) in settled.items() if kind == RESUBMIT} - carried)]


# --- reading -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class BatchRow:
    id: int
    kind: str
    kind_label: str
    description: str
    state: str
    state_label: str
    students: int
    items: int
    export_sha256: str | None
    created_at: datetime
    exported_at: datetime | None
    submitted_at: datetime | None
    resubmission_of_id: int | None

    @property
    def created_text(self) -> str:
        return format_taipei(self.created_at)


def list_batches(uow: UnitOfWork, actor: Actor, academic_year: int | None = None, *,
                 now: datetime | None = None) -> list[BatchRow]:
    """The school's batches, newest first, with their student and item counts."""
    require_submitter(uow, actor, now)
    query = uow.select(SubmissionBatch)
    if academic_year is not None:
        query = query.where(SubmissionBatch.academic_year == academic_year)
    batches = list(uow.session.scalars(query.order_by(SubmissionBatch.id.desc())))
    counts = {batch_id: (students, items) for batch_id, students, items in uow.session.execute(
        uow.select(BatchEntry.batch_id).add_columns(func.count(func.distinct(BatchEntry.student_id)),
                                                    func.count(BatchEntry.item_id))
        .where(BatchEntry.batch_id.in_([b.id for b in batches])).group_by(BatchEntry.batch_id))}
    return [BatchRow(b.id, b.kind, BATCH_KIND_LABELS[b.kind], _describe(b), b.state,
                     state_label(MACHINES["batch"], b.state), *counts.get(b.id, (0, 0)),
                     b.export_sha256, b.created_at, b.exported_at, b.submitted_at, b.resubmission_of_id)
            for b in batches]


def batch_entries(uow: UnitOfWork, actor: Actor, batch_id: int, *,
                  now: datetime | None = None) -> list[tuple[Student, Item | None]]:
    require_submitter(uow, actor, now)
    batch = uow.get(SubmissionBatch, batch_id, what="提交批次")
    return [(student, item) for student, item, _ in _entries(uow, batch)]
