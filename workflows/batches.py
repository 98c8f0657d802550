"""Central submission batches 提交批次 (seed 002: 提交資料 → 產生收訖明細 → 學生確認).

A batch is one category and period: semester basic data and cadre records, semester course
records, the year's selected course outcomes, the year's selected multiple performances; grade
12 (高三) batches are split by track (學術群 / 專業群) and round (梯次). Staff create a batch, export
it in the central database's roster layout (workflows/roster.py) with the files and a SHA-256
manifest, upload it by hand, then confirm the upload (`submit_batch`): the items move to
submitted_central. Receipts (收訖明細) come from the receipt import, not from here.

Every change of a batch goes through its machine (states/batch.py) via workflows/transitions.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from openpyxl import Workbook
from sqlalchemy import func

from persistence.files import CHUNK_BYTES, fsync_dir, sha256_of
from persistence.tables import (BATCH_KINDS, GRADE12_TRACKS, BatchEntry, Course, Item, Student,
                                SubmissionBatch)
from states import MACHINES, state_label
from workflows import roster
from workflows.actors import Actor
from workflows.clock import format_taipei
from workflows.errors import CorruptState, InvalidInput, NotFound, RuleViolation
from workflows.policy import KIND_LABELS
from workflows.receipts import require_submission_office
from workflows.roles import DIVISION_LABELS, Division, EnrolmentStatus
from workflows.transitions import fire, require_allowed, start
from workflows.unit_of_work import UnitOfWork, now_or
from workflows.uploads import PERFORMANCE_CATEGORIES

GRADE12 = 3  # students.grade of 高三
RESUBMIT = "resubmit"  # Item.resolution of a dispute settled by correcting and resubmitting


def require_submitter(uow: UnitOfWork, actor: Actor) -> Actor:
    return require_submission_office(uow, actor, "處理中央資料庫提交批次")


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
    if kind in roster.ITEM_KIND_OF_BATCH:
        if semester not in (None, 0):
            raise InvalidInput(f"{roster.BATCH_KIND_LABELS[kind]}以學年為單位，不指定學期。", field="semester")
        return 0
    if semester not in (1, 2):
        raise InvalidInput(f"{roster.BATCH_KIND_LABELS[kind]}須指定第 1 或第 2 學期。", field="semester")
    return semester


def create_batch(uow: UnitOfWork, actor: Actor, kind: str, academic_year: int, semester: int | None = 0,
                 *, track: str | None = None, round: int = 1, student_ids: list[int] | None = None,
                 division: str = Division.DAY.value, now: datetime | None = None) -> SubmissionBatch:
    """建立提交批次. Year kinds carry one entry per selected item of the year; semester kinds one
    entry per enrolled student. A grade-12 batch (`track` given) takes the explicit list of that
    track's grade-3 students (students have no track column) and refuses anyone already in a live
    batch of the same kind, year, semester and round. A whole-school batch leaves out students
    already in such a batch (create the grade-12 batches first)."""
    now = now_or(now)
    require_submitter(uow, actor)
    semester = _period(kind, semester)
    if track is not None and track not in GRADE12_TRACKS:
        raise InvalidInput(f"高三群別只有學術群（academic）或專業群（professional），收到「{track}」。", field="track")
    if track is None and round != 1:
        raise InvalidInput("只有高三批次分梯次；一般批次為第 1 梯次。", field="round")
    if round not in roster.GRADE12_ROUND_OFFSETS:
        raise InvalidInput(f"高三提交只有第 1、2 梯次，收到第 {round} 梯次。", field="round")
    if track is not None and not student_ids:
        raise InvalidInput("高三批次請指定該群別的學生（學號）。", field="student_ids")

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
        division = divisions.pop()
    else:
        students = list(uow.session.scalars(query.where(Student.division == division)
                                            .order_by(Student.student_no)))
    if kind not in roster.ITEM_KIND_OF_BATCH:
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

    taken = _already_batched(uow, kind, academic_year, semester, round, [s.id for s in students])
    if taken and student_ids is not None:
        raise RuleViolation(
            f"每位學生在同一類別、學年度、學期與梯次只能提交一次；已在其他批次：{_who(s for s in students if s.id in taken)}",
            rule="once_per_batch_kind", field="student_ids",
            student_nos=[s.student_no for s in students if s.id in taken])
    students = [s for s in students if s.id not in taken]

    by_id = {s.id: s for s in students}
    item_kind = roster.ITEM_KIND_OF_BATCH.get(kind)
    if item_kind is not None:
        items = list(uow.session.scalars(
            uow.select(Item).where(Item.kind == item_kind, Item.academic_year == academic_year,
                                   Item.state == "selected", Item.student_id.in_(list(by_id)))
            .order_by(Item.student_id, Item.id)))
        pairs = [(item.student_id, item.id) for item in items]
    else:
        pairs = [(s.id, None) for s in students]
    if not pairs:
        raise RuleViolation(f"沒有可提交的資料：{academic_year} 學年度{roster.BATCH_KIND_LABELS[kind]}"
                            + ("沒有已勾選的項目。" if item_kind else "沒有在學學生。"),
                            rule="empty_batch")

    batch = SubmissionBatch(school_id=uow.school_id, kind=kind, academic_year=academic_year,
                            semester=semester, track=track, round=round, created_at=now)
    start(uow.session, batch, event="create", actor=actor, at=now, reason=_describe(batch, division))
    uow.session.add_all(BatchEntry(school_id=uow.school_id, batch_id=batch.id, student_id=sid, item_id=iid)
                        for sid, iid in pairs)
    uow.commit()
    return batch


def _describe(batch: SubmissionBatch, division: str | None = None) -> str:
    text = f"{batch.academic_year} 學年度" + (f"第 {batch.semester} 學期" if batch.semester else "")
    text += roster.BATCH_KIND_LABELS[batch.kind]
    if batch.track:
        text += f"（高三{roster.TRACK_LABELS[batch.track]}第 {batch.round} 梯次）"
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
    rows: int
    files: int


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
                 now: datetime | None = None) -> ExportResult:
    """匯出名冊: the roster workbook, the items' files and manifest.json in
    `out_dir/batch-<id>/`, all fsync'ed before the batch records the workbook's hash. Exporting
    again replaces the directory (the previous workbook's hash stays in the audit)."""
    now = now_or(now)
    require_submitter(uow, actor)
    batch = uow.get(SubmissionBatch, batch_id, for_update=True, what="提交批次")
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
            values = {
                "national_id": student.national_id,
                "birth_date": roster.roc_birth_date(student.birth_date),
                "class_name": student.class_name, "student_no": student.student_no,
                "name": student.name, "grade": str(student.grade),
                "division": DIVISION_LABELS.get(Division(student.division), student.division),
            }
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
        cover = {"school_code": uow.school.code, "academic_year": str(batch.academic_year),
                 "semester": str(batch.semester), "roster_code": kind_type.code,
                 "roster_name": kind_type.name, "round": str(batch.round),
                 "track": roster.TRACK_LABELS.get(batch.track, ""), "batch_id": str(batch.id),
                 "rows": str(len(rows))}
        _write_workbook(work / workbook_name, cover, roster.columns_for(batch.kind), rows, now)
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

    batch.export_sha256, batch.exported_at = workbook_sha256, now
    fire(uow.session, batch, "export", actor=actor, at=now,
         reason=f"名冊別 {kind_type.label}：{workbook_name}（SHA-256 {workbook_sha256}），"
                f"{len(rows)} 筆，檔案 {len(manifest_files)} 個")
    uow.commit()
    return ExportResult(batch.id, final, final / workbook_name, workbook_sha256, kind_type,
                        len(rows), len(manifest_files))


def _item_kind_label(item: Item) -> str:
    label = KIND_LABELS[item.kind]
    if item.category:
        label += f"－{PERFORMANCE_CATEGORIES.get(item.category, item.category)}"
    return label


def _write_workbook(path: Path, cover: dict[str, str], columns, rows: list[dict], now: datetime) -> None:
    book = Workbook()
    sheet = book.active
    sheet.title = roster.COVER_SHEET
    for label, key in roster.COVER_ROWS:
        sheet.append([label, cover[key]])
    data = book.create_sheet(roster.DATA_SHEET)
    data.append([label for label, _ in columns])
    for values in rows:
        data.append([values.get(key, "") for _, key in columns])
    for sheet_ in (sheet, data):  # text, so ID numbers, codes and 0970301 keep their zeros
        for row in sheet_.iter_rows():
            for cell in row:
                cell.number_format = "@"
    stamp = now.replace(tzinfo=None)
    book.properties.created = book.properties.modified = stamp
    book.save(path)
    _fsync_file(path)


# --- submit, cancel, resubmit --------------------------------------------------------------

def submit_batch(uow: UnitOfWork, actor: Actor, batch_id: int, *, now: datetime | None = None) -> SubmissionBatch:
    """確認已上傳中央資料庫: the staff confirm the exported roster was uploaded. The batch moves to
    submitted and each of its items to submitted_central (one audit row per item): `submit_central`
    from selected, or — in a resubmission batch — `resubmit_central` from resolved for an item
    whose dispute was settled by correcting it (resolution 'resubmit')."""
    now = now_or(now)
    require_submitter(uow, actor)
    batch = uow.get(SubmissionBatch, batch_id, for_update=True, what="提交批次")
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
                 now: datetime | None = None) -> SubmissionBatch:
    """取消批次 (before it is submitted): its students and items can go in a new batch."""
    now = now_or(now)
    require_submitter(uow, actor)
    batch = uow.get(SubmissionBatch, batch_id, for_update=True, what="提交批次")
    fire(uow.session, batch, "cancel", actor=actor, at=now, reason=reason)
    batch.closed_at = now
    uow.commit()
    return batch


def create_resubmission_batch(uow: UnitOfWork, actor: Actor, batch_id: int, *,
                              now: datetime | None = None) -> SubmissionBatch:
    """重新提交批次: the items of `batch_id` whose dispute was settled by correcting them
    (resolution 'resubmit', state resolved) and that no live resubmission batch carries yet."""
    now = now_or(now)
    require_submitter(uow, actor)
    old = uow.get(SubmissionBatch, batch_id, what="提交批次")
    carried = (uow.select(BatchEntry.item_id).join(
        SubmissionBatch, (SubmissionBatch.school_id == BatchEntry.school_id) & (SubmissionBatch.id == BatchEntry.batch_id))
        .where(SubmissionBatch.resubmission_of_id == old.id, SubmissionBatch.state != "cancelled",
               BatchEntry.item_id.is_not(None)))
    items = list(uow.session.scalars(
        uow.select(Item).join(BatchEntry, (BatchEntry.school_id == Item.school_id) & (BatchEntry.item_id == Item.id))
        .where(BatchEntry.batch_id == old.id, Item.state == "resolved", Item.resolution == RESUBMIT,
               Item.id.not_in(carried))
        .order_by(Item.student_id, Item.id)))
    if not items:
        raise RuleViolation(f"批次 #{old.id} 沒有處理結果為「更正後重新提交」且尚未重新提交的項目。",
                            rule="nothing_to_resubmit")
    batch = SubmissionBatch(school_id=uow.school_id, kind=old.kind, academic_year=old.academic_year,
                            semester=old.semester, track=old.track, round=old.round,
                            resubmission_of_id=old.id, created_at=now)
    start(uow.session, batch, event="create", actor=actor, at=now, reason=_describe(batch))
    uow.session.add_all(BatchEntry(school_id=uow.school_id, batch_id=batch.id, student_id=item.student_id,
                                   item_id=item.id) for item in items)
    uow.commit()
    return batch


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


def list_batches(uow: UnitOfWork, actor: Actor, academic_year: int | None = None) -> list[BatchRow]:
    """The school's batches, newest first, with their student and item counts."""
    require_submitter(uow, actor)
    query = uow.select(SubmissionBatch)
    if academic_year is not None:
        query = query.where(SubmissionBatch.academic_year == academic_year)
    batches = list(uow.session.scalars(query.order_by(SubmissionBatch.id.desc())))
    counts = {batch_id: (students, items) for batch_id, students, items in uow.session.execute(
        uow.select(BatchEntry.batch_id).add_columns(func.count(func.distinct(BatchEntry.student_id)),
                                                    func.count(BatchEntry.item_id))
        .where(BatchEntry.batch_id.in_([b.id for b in batches])).group_by(BatchEntry.batch_id))}
    return [BatchRow(b.id, b.kind, roster.BATCH_KIND_LABELS[b.kind], _describe(b), b.state,
                     state_label(MACHINES["batch"], b.state), *counts.get(b.id, (0, 0)),
                     b.export_sha256, b.created_at, b.exported_at, b.submitted_at, b.resubmission_of_id)
            for b in batches]


def batch_entries(uow: UnitOfWork, actor: Actor, batch_id: int) -> list[tuple[Student, Item | None]]:
    require_submitter(uow, actor)
    batch = uow.get(SubmissionBatch, batch_id, what="提交批次")
    return [(student, item) for student, item, _ in _entries(uow, batch)]
