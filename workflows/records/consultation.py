"""Course consultation records 課程諮詢紀錄: a course consultant teacher's (課程諮詢教師) session
with a student — when (a Taipei date and time), where, what was discussed, the advice given, and
an optional file (PDF, JPG or PNG of at most 2 MB, judged by its content).

Each consultant keeps his own records: he sees and corrects the ones he entered and those of a
consultant he currently stands in for (代理人, workflows/proxies); the counselling office and the
working group's overseers read them all. They are the school's own guidance notes about one
student: no submission batch ever carries them to the central database.
"""
from __future__ import annotations

import io
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime, time

from persistence.files import FileTooLarge, StorageError
from persistence.tables import ConsultationRecord, Staff, StaffRole, Student
from workflows.core import spreadsheet_text
from workflows.core.actors import Actor, OnBehalf
from workflows.core.clock import (TAIPEI, academic_year_bounds, as_utc, format_taipei, semester_of,
                             taipei_date, to_taipei)
from workflows.school.csv_rows import Column, Parsed, Row, RowError, parse_date, parse_file
from workflows.core.errors import DomainError, Forbidden, InvalidInput, NotFound, RuleViolation, StorageFailed
from workflows.school.filetypes import (HEAD_BYTES, SLOT_LABELS, TAIL_BYTES, FileRejected, check_file, format_size,
                                 safe_display_name)
from workflows.school.imports import ImportRejected
from workflows.core.policy import MB, FileRule
from workflows.people.proxies import ProxyBook, unavailable_ids
from workflows.records import common
from workflows.core.roles import Role
from workflows.items.rules import REASON_MAX, text_field
from workflows.core.unit_of_work import UnitOfWork, now_or
from workflows.items.uploads import Upload

KIND = common.CONSULTATION
FILE_MAX_BYTES = 2 * MB  # the one place the 2 MB limit lives
FILE_RULE = FileRule(kinds=("pdf", "jpg", "png"), max_bytes=FILE_MAX_BYTES)
FILE_LIMIT_TEXT = f"PDF、JPG、PNG，上限 {format_size(FILE_MAX_BYTES)}"
PLACE_MAX = 60
TEXT_MAX = 2000
# Before the 100 學年度 nothing here can have happened: an earlier date is a typing mistake.
EARLIEST_DAY = academic_year_bounds(100)[0]
READ_ALL = (Role.COUNSELLING, *common.OVERSEERS)
FIELD_LABELS = {"held_at": "諮詢時間", "place": "地點", "content": "諮詢內容", "advice": "建議", "file": "附件"}
UNCHANGED = object()  # a keyword of a correction the caller leaves as it is

CSV_COLUMNS = (
    Column("student_no", "學號"),
    Column("held_on", "諮詢日期", ("日期",)),
    Column("held_time", "諮詢時間", ("時間",)),
    Column("place", "地點", ("諮詢地點",)),
    Column("content", "諮詢內容", ("內容",)),
    Column("advice", "建議", ("諮詢建議",)),
)


# -- shared with the exploration records (workflows/records/exploration.py) -----------------------

class RecordImportRejected(ImportRejected):
    """A records file had bad rows; nothing was imported."""

    def __init__(self, label: str, errors: list[RowError]):
        DomainError.__init__(self, f"{label}檔案有 {len(errors)} 個錯誤，整份檔案未匯入，請修正後重新匯入。",
                             errors=[str(e) for e in errors])
        self.errors = errors


@dataclass(frozen=True)
class Correction:
    """A correction's outcome: the changes as the audit row lists them (none: nothing written)."""

    record: object
    changes: list[str]


@dataclass
class ImportSummary:
    added: int = 0
    updated: int = 0
    unchanged: int = 0


def find_student(uow: UnitOfWork, student_no: str) -> Student:
    """The school's student with this number (學號), or InvalidInput naming the field."""
    student_no = (student_no or "").strip()
    if not student_no:
        raise InvalidInput("請填寫學號。", field="student_no")
    student = common.students_by_no(uow, [student_no]).get(student_no)
    if student is None:
        raise InvalidInput(f"找不到學號「{student_no}」的學生。", field="student_no")
    return student


# -- who keeps which records ---------------------------------------------------------------------

@dataclass(frozen=True)
class ConsultationAccess:
    reads_all: bool
    # Consultants whose records this actor keeps today: None for himself, else for whom he acts.
    acts_for: dict[int, OnBehalf | None] = field(default_factory=dict)

    def reads(self, consultant_id: int) -> bool:
        return self.reads_all or consultant_id in self.acts_for


def access(uow: UnitOfWork, actor: Actor, *, now: datetime | None = None) -> ConsultationAccess:
    """What the actor may do with consultation records on the Taipei day of `now`. A consultant
    marked unavailable keeps nothing that day: his first available proxy does (ProxyBook)."""
    uow.require_member(actor)
    if actor.kind in ("system", "platform"):
        return ConsultationAccess(True)
    if not actor.is_staff or actor.id is None:
        return ConsultationAccess(False)
    on = taipei_date(now_or(now))
    away = unavailable_ids(uow, on)
    acts: dict[int, OnBehalf | None] = {}
    if actor.has(Role.COURSE_CONSULTANT) and actor.id not in away:
        acts[actor.id] = None
    absent = {sid: name for sid, name, active in uow.session.execute(
        uow.select(Staff.id).add_columns(Staff.name, Staff.active)
        .join(StaffRole, (StaffRole.school_id == Staff.school_id) & (StaffRole.staff_id == Staff.id))
        .where(StaffRole.role == Role.COURSE_CONSULTANT.value).distinct())
        if sid != actor.id and (sid in away or not active)}
    if absent:
        book = ProxyBook.load(uow, on, principals=sorted(absent), unavailable=away)
        for sid in sorted(absent):
            if book.acting_for(sid) == actor.id:
                acts[sid] = OnBehalf("staff", sid, absent[sid])
    return ConsultationAccess(actor.has(*READ_ALL), acts)


def _reader(uow, actor: Actor, now: datetime) -> ConsultationAccess:
    found = access(uow, actor, now=now)
    if not (found.reads_all or found.acts_for):
        raise Forbidden("只有課程諮詢教師（或其代理人）、輔導室與工作小組可以查看課程諮詢紀錄。")
    return found


def _consultant(actor: Actor, found: ConsultationAccess, for_consultant_id: int | None) -> tuple[int, Actor]:
    """Whose record a new entry is, and the actor to audit with."""
    chosen = for_consultant_id
    if chosen is None:
        if actor.id in found.acts_for:
            chosen = actor.id
        elif len(found.acts_for) == 1:
            chosen = next(iter(found.acts_for))
        elif found.acts_for:
            raise InvalidInput("你目前代理多位課程諮詢教師，請選擇這筆紀錄要登錄在哪一位名下。",
                               field="consultant_id")
    if chosen is None or chosen not in found.acts_for:
        raise Forbidden("只有課程諮詢教師本人（或他目前的代理人）可以登錄他的課程諮詢紀錄。")
    return chosen, _as(actor, found, chosen)


def _as(actor: Actor, found: ConsultationAccess, consultant_id: int) -> Actor:
    behalf = found.acts_for[consultant_id]
    return actor.acting_for(behalf) if behalf else actor


def _load(uow, found: ConsultationAccess, record_id: int, *, for_update: bool = False) -> ConsultationRecord:
    record = uow.get(ConsultationRecord, record_id, for_update=for_update, what="課程諮詢紀錄")
    if not found.reads(record.consultant_id):  # another consultant's notes: as if not there
        raise NotFound(f"找不到課程諮詢紀錄（編號 {record_id}）")
    return record


def _keeper(actor: Actor, found: ConsultationAccess, record: ConsultationRecord) -> Actor:
    if record.consultant_id not in found.acts_for:
        raise Forbidden("只有登錄這筆紀錄的課程諮詢教師（或他目前的代理人）可以更正或刪除。")
    return _as(actor, found, record.consultant_id)


def enter_choices(uow: UnitOfWork, actor: Actor, *, now: datetime | None = None) -> list[tuple[int, str]]:
    """(staff id, label) of the consultants in whose name the actor may enter records today:
    himself first, then those he stands in for, marked 代理."""
    found = access(uow, actor, now=now)
    return [(sid, f"{behalf.name}（代理）" if behalf else actor.name) for sid, behalf in found.acts_for.items()]


# -- the fields ------------------------------------------------------------------------------------

def held_at_of(day: date, clock: time) -> datetime:
    """A Taipei date and time (as the form and the file give them) as the stored UTC moment."""
    return as_utc(datetime.combine(day, clock.replace(tzinfo=None), TAIPEI))


def term_of(held_at: datetime) -> tuple[int, int]:
    """(學年度, 學期) of the Taipei day of a consultation: Aug–Jan semester 1, Feb–Jul semester 2."""
    return semester_of(taipei_date(held_at))


def _held_at(value, now: datetime) -> datetime:
    if not isinstance(value, datetime):
        raise InvalidInput("請填寫諮詢日期與時間。", field="held_at")
    if value.tzinfo is None:
        raise InvalidInput("諮詢時間須為臺北時間（含時區）。", field="held_at")
    moment = as_utc(value)
    if moment > now:
        raise RuleViolation(f"諮詢時間 {format_taipei(moment)} 晚於現在（{format_taipei(now)}），"
                            "不能登錄尚未發生的諮詢。", rule="not_in_future", field="held_at",
                            limit=format_taipei(now))
    if taipei_date(moment) < EARLIEST_DAY:
        raise RuleViolation(f"諮詢日期 {taipei_date(moment).isoformat()} 早於 {EARLIEST_DAY.isoformat()}，"
                            "請確認是否填錯。", rule="too_early", field="held_at", limit=EARLIEST_DAY.isoformat())
    return moment


def _texts(place, content, advice) -> dict:
    return {"place": text_field(place, field="place", label="地點", max_chars=PLACE_MAX, required=True),
            "content": text_field(content, field="content", label="諮詢內容", max_chars=TEXT_MAX, required=True),
            "advice": text_field(advice, field="advice", label="建議", max_chars=TEXT_MAX, required=True)}


@dataclass(frozen=True)
class _Stored:
    sha256: str
    kind: str
    size: int
    name: str


def _store(uow: UnitOfWork, upload: Upload) -> _Stored:
    """The file judged by its content as uploads are, then on stable storage (fsync'd). At 2 MB
    it is judged in memory first, so a refused file never reaches the store."""
    data = upload.stream.read(FILE_MAX_BYTES + 1)
    if len(data) > FILE_MAX_BYTES:
        raise _too_large()
    try:
        kind = check_file(data[:HEAD_BYTES], len(data), data[-TAIL_BYTES:], FILE_RULE, slot="document", field="file")
    except FileRejected as error:
        raise RuleViolation(error.message.replace(SLOT_LABELS["document"], "附件", 1), rule=error.rule,
                            field="file", limit=error.limit) from error
    uow.hold_file_store()
    try:
        stored = uow.files.put(io.BytesIO(data), max_bytes=FILE_MAX_BYTES)
    except FileTooLarge as error:
        raise _too_large() from error
    except StorageError as error:
        raise StorageFailed(error.message, reason=error.reason, field="file") from error
    return _Stored(stored.sha256, kind, stored.size, safe_display_name(upload.filename))


def _too_large() -> RuleViolation:
    return RuleViolation(f"附件超過上限 {format_size(FILE_MAX_BYTES)}，請縮小檔案後再上傳（{FILE_LIMIT_TEXT}）。",
                         rule="file_too_large", field="file", limit=FILE_MAX_BYTES)


def _attach(record: ConsultationRecord, stored: _Stored | None) -> None:
    record.file_sha256 = stored.sha256 if stored else None
    record.file_kind = stored.kind if stored else None
    record.file_size = stored.size if stored else None
    record.file_name = stored.name if stored else None


def _file_text(name: str | None, sha256: str | None) -> str:
    return f"{name}（{sha256[:12]}）" if sha256 else "（空白）"


def _snapshot(record: ConsultationRecord, student_no: str | None = None) -> str:
    who = f"學號 {student_no}，" if student_no else ""
    return (f"{who}諮詢時間 {format_taipei(record.held_at)}，地點：{record.place}；諮詢內容：{record.content}；"
            f"建議：{record.advice}；附件：{_file_text(record.file_name, record.file_sha256)}")


# -- use cases ----------------------------------------------------------------------------------

def enter_consultation(uow: UnitOfWork, actor: Actor, *, student_id: int, held_at: datetime, place: str,
                       content: str, advice: str, file: Upload | None = None,
                       for_consultant_id: int | None = None, now: datetime | None = None) -> ConsultationRecord:
    """登錄 one consultation. `held_at` is aware (the page combines the Taipei date and time);
    `file` (Upload.of(bytes, name) or Upload(stream, name)) is stored only once the rest is valid.
    A proxy of several absent consultants names which one with `for_consultant_id`."""
    now = now_or(now)
    common.forbid_students(actor)
    found = access(uow, actor, now=now)
    consultant_id, acting = _consultant(actor, found, for_consultant_id)
    student = common.require_student(uow, student_id)
    moment = _held_at(held_at, now)
    values = _texts(place, content, advice)
    stored = _store(uow, file) if file is not None else None
    year, semester = term_of(moment)
    record = ConsultationRecord(school_id=uow.school_id, student_id=student.id, consultant_id=consultant_id,
                                academic_year=year, semester=semester, held_at=moment, created_at=now,
                                updated_at=now, **values)
    _attach(record, stored)
    uow.session.add(record)
    uow.flush()
    common.audit(uow, KIND, record, event="enter", actor=acting, at=now,
                 reason=f"諮詢時間 {format_taipei(moment)}，地點：{record.place}", file_hash=record.file_sha256)
    uow.commit()
    return record


def correct_consultation(uow: UnitOfWork, actor: Actor, record_id: int, *, expected_version: int | None,
                         held_at=UNCHANGED, place=UNCHANGED, content=UNCHANGED, advice=UNCHANGED,
                         file=UNCHANGED, now: datetime | None = None) -> Correction:
    """更正: the given fields (a new Upload replaces the file, None removes it). The audit row
    lists 「欄位：舊 → 新」 and carries the file's hash after the change. Nothing changed: no
    audit row, nothing written."""
    now = now_or(now)
    common.forbid_students(actor)
    found = access(uow, actor, now=now)
    record = _load(uow, found, record_id, for_update=True)
    acting = _keeper(actor, found, record)
    common.require_version(record, expected_version, KIND)
    moment = record.held_at if held_at is UNCHANGED else _held_at(held_at, now)
    texts = _texts(record.place if place is UNCHANGED else place,
                   record.content if content is UNCHANGED else content,
                   record.advice if advice is UNCHANGED else advice)
    stored = _store(uow, file) if isinstance(file, Upload) else None
    changes = []
    if moment != record.held_at:
        changes.append(f"{FIELD_LABELS['held_at']}：{format_taipei(record.held_at)} → {format_taipei(moment)}")
        record.held_at = moment
        record.academic_year, record.semester = term_of(moment)
    changes += common.apply_changes(record, texts, FIELD_LABELS)
    if file is not UNCHANGED and (stored.sha256 if stored else None, stored.name if stored else None) \
            != (record.file_sha256, record.file_name if record.file_sha256 else None):
        changes.append(f"{FIELD_LABELS['file']}：{_file_text(record.file_name, record.file_sha256)} → "
                       f"{_file_text(stored.name if stored else None, stored.sha256 if stored else None)}")
        _attach(record, stored)
    if not changes:
        return Correction(record, [])
    record.updated_at = now
    uow.flush()
    common.audit(uow, KIND, record, event="correct", actor=acting, at=now, reason="；".join(changes),
                 file_hash=record.file_sha256)
    uow.commit()
    return Correction(record, changes)


def delete_consultation(uow: UnitOfWork, actor: Actor, record_id: int, *, reason: str,
                        expected_version: int | None = None, now: datetime | None = None) -> None:
    """刪除 with a reason. The row goes; its audit row keeps the reason and everything it said."""
    now = now_or(now)
    common.forbid_students(actor)
    why = text_field(reason, field="reason", label="刪除原因", max_chars=REASON_MAX, required=True)
    found = access(uow, actor, now=now)
    record = _load(uow, found, record_id, for_update=True)
    acting = _keeper(actor, found, record)
    common.require_version(record, expected_version, KIND)
    student = common.require_student(uow, record.student_id)
    common.delete_audited(uow, KIND, record, actor=acting, at=now, why=why,
                          snapshot=_snapshot(record, student.student_no), file_hash=record.file_sha256)


# -- what the pages show --------------------------------------------------------------------------

@dataclass(frozen=True)
class ConsultationView:
    id: int
    version: int
    student_id: int
    student_no: str
    student_name: str
    class_name: str
    consultant_id: int
    consultant_name: str
    academic_year: int
    semester: int
    held_at: datetime
    place: str
    content: str
    advice: str
    file_name: str | None
    file_kind: str | None
    file_size: int | None
    can_correct: bool

    @property
    def held_on(self) -> date:
        return taipei_date(self.held_at)

    @property
    def held_time(self) -> str:
        return f"{to_taipei(self.held_at):%H:%M}"

    @property
    def file_size_text(self) -> str:
        return format_size(self.file_size) if self.file_size is not None else ""


def _views(uow, found: ConsultationAccess, query) -> list[ConsultationView]:
    record = ConsultationRecord
    rows = uow.session.execute(
        query.add_columns(Student.student_no, Student.name, Student.class_name, Staff.name)
        .join(Student, (Student.school_id == record.school_id) & (Student.id == record.student_id))
        .join(Staff, (Staff.school_id == record.school_id) & (Staff.id == record.consultant_id))
        .order_by(ConsultationRecord.held_at, ConsultationRecord.id)).all()
    return [ConsultationView(r.id, r.version, r.student_id, no, name, class_name, r.consultant_id, consultant,
                             r.academic_year, r.semester, r.held_at, r.place, r.content, r.advice, r.file_name,
                             r.file_kind, r.file_size, r.consultant_id in found.acts_for)
            for r, no, name, class_name, consultant in rows]


def list_consultations(uow: UnitOfWork, actor: Actor, *, academic_year: int, semester: int,
                       now: datetime | None = None) -> list[ConsultationView]:
    """One term's records the actor may read, oldest first."""
    found = _reader(uow, actor, now_or(now))
    query = uow.select(ConsultationRecord).where(ConsultationRecord.academic_year == academic_year,
                                                 ConsultationRecord.semester == semester)
    if not found.reads_all:
        query = query.where(ConsultationRecord.consultant_id.in_(sorted(found.acts_for)))
    return _views(uow, found, query)


def get_consultation(uow: UnitOfWork, actor: Actor, record_id: int, *,
                     now: datetime | None = None) -> ConsultationView:
    found = _reader(uow, actor, now_or(now))
    record = _load(uow, found, record_id)
    return _views(uow, found, uow.select(ConsultationRecord).where(ConsultationRecord.id == record.id))[0]


@dataclass(frozen=True)
class StoredFileRef:
    sha256: str
    kind: str
    name: str


def consultation_file(uow: UnitOfWork, actor: Actor, record_id: int, *,
                      now: datetime | None = None) -> StoredFileRef:
    """The record's file, for those who may read the record; NotFound when it has none."""
    found = _reader(uow, actor, now_or(now))
    record = _load(uow, found, record_id)
    if record.file_sha256 is None:
        raise NotFound("這筆課程諮詢紀錄沒有附件。")
    return StoredFileRef(record.file_sha256, record.file_kind, record.file_name or "附件")


# -- CSV import (no files) ------------------------------------------------------------------------

@dataclass(frozen=True)
class ConsultationRow:
    line: int
    student_no: str
    held_at: datetime
    place: str
    content: str
    advice: str


_CLOCK = re.compile(r"(\d{1,2}):(\d{2})")


def parse_clock(value: str) -> time:
    """14:30, 9:05 (full-width digits and colon too): a 24-hour Taipei time."""
    match = _CLOCK.fullmatch(unicodedata.normalize("NFKC", value).strip())
    if match is None or int(match.group(1)) > 23 or int(match.group(2)) > 59:
        raise ValueError(f"「{value}」不是有效的時間；請填 24 小時制 HH:MM，例如 14:30")
    return time(int(match.group(1)), int(match.group(2)))


def parse_consultations(data: bytes, *, now: datetime, student_nos: set[str] | None = None) -> Parsed[ConsultationRow]:
    """The file's rows, every field checked (student numbers against `student_nos`, the
    school's, when given); errors by line and column."""
    seen: dict[tuple[str, datetime], int] = {}

    def build(row: Row) -> ConsultationRow | None:
        student_no = row.required("student_no")
        if student_no and student_nos is not None and student_no not in student_nos:
            row.error("student_no", f"找不到學號「{student_no}」的學生")
        day = row.convert("held_on", parse_date)
        clock = row.convert("held_time", parse_clock)
        place = row.text("place", PLACE_MAX)
        content = row.text("content", TEXT_MAX)
        advice = row.text("advice", TEXT_MAX)
        moment = None
        if day is not None and clock is not None:
            try:
                moment = _held_at(held_at_of(day, clock), now)
            except DomainError as error:
                row.error("held_on", error.message)
        if student_no and moment is not None:
            earlier = seen.setdefault((student_no, moment), row.line)
            if earlier != row.line:
                row.error("student_no", f"學號「{student_no}」在 {format_taipei(moment)} 的諮詢與第 {earlier} 行重複")
        if row.failed:
            return None
        return ConsultationRow(row.line, student_no, moment, place, content, advice)

    return parse_file(data, CSV_COLUMNS, build)


def import_consultations(uow: UnitOfWork, actor: Actor, data: bytes, *, for_consultant_id: int | None = None,
                         now: datetime | None = None) -> ImportSummary:
    """匯入: the importing consultant (or the one he stands in for) is every row's consultant. A
    row for a consultation already on file (same student and moment) corrects it; the same file
    twice changes nothing. Any bad row: RecordImportRejected, nothing imported."""
    now = now_or(now)
    common.forbid_students(actor)
    found = access(uow, actor, now=now)
    consultant_id, acting = _consultant(actor, found, for_consultant_id)
    school_nos = set(uow.session.scalars(uow.select(Student.student_no)))
    parsed = parse_consultations(data, now=now, student_nos=school_nos)
    if parsed.errors:
        raise RecordImportRejected(common.LABELS[KIND], parsed.errors)
    students = common.students_by_no(uow, [row.student_no for row in parsed.rows])
    existing = {(r.student_id, r.held_at): r for r in uow.session.scalars(uow.select(ConsultationRecord).where(
        ConsultationRecord.consultant_id == consultant_id,
        ConsultationRecord.student_id.in_(sorted(s.id for s in students.values()))))}
    summary = ImportSummary()
    for row in parsed.rows:
        student = students[row.student_no]
        texts = {"place": row.place, "content": row.content, "advice": row.advice}
        record = existing.get((student.id, row.held_at))
        if record is None:
            year, semester = term_of(row.held_at)
            record = ConsultationRecord(school_id=uow.school_id, student_id=student.id,
                                        consultant_id=consultant_id, academic_year=year, semester=semester,
                                        held_at=row.held_at, created_at=now, updated_at=now, **texts)
            uow.session.add(record)
            uow.flush()
            existing[(student.id, row.held_at)] = record
            common.audit(uow, KIND, record, event="import", actor=acting, at=now,
                         reason=f"匯入第 {row.line} 行：諮詢時間 {format_taipei(row.held_at)}，地點：{row.place}")
            summary.added += 1
            continue
        changes = common.apply_changes(record, texts, FIELD_LABELS)
        if not changes:
            summary.unchanged += 1
            continue
        record.updated_at = now
        uow.flush()
        common.audit(uow, KIND, record, event="correct", actor=acting, at=now,
                     reason=f"匯入第 {row.line} 行：" + "；".join(changes), file_hash=record.file_sha256)
        summary.updated += 1
    uow.commit()
    return summary


def csv_template() -> bytes:
    return spreadsheet_text.csv_template(c.label for c in CSV_COLUMNS)
