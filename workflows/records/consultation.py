"""Course consultation records 課程諮詢紀錄: a course consultant teacher's (課程諮詢教師) session
with a student — when (a Taipei date and time), where, what was discussed, the advice given, and
an optional file (PDF, JPG or PNG of at most 2 MB, judged by its content).

Each consultant keeps his own records: he sees and corrects the ones he entered and those of a
consultant he currently stands in for (代理人, workflows/people/proxies); the counselling office
and the working group's overseers read them all. They are the school's own guidance notes about one
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
from workflows.core.actors import Actor, OnBehalf
from workflows.core.clock import (TAIPEI, academic_year_bounds, as_utc, format_taipei, now_or, semester_of,
                                  taipei_date, to_taipei)
from workflows.core.errors import Forbidden, InvalidInput, NotFound, RuleViolation, StorageFailed
from workflows.core.policy import MB, FileRule
from workflows.core.roles import Role
from workflows.core.unit_of_work import UnitOfWork
from workflows.items.uploads import Upload
from workflows.people.proxies import ProxyBook, unavailable_ids
from workflows.records import common
from workflows.records.engine import (Correction, Field, ImportCounts, Keepers, LimitError, RecordKind, correct,
                                      delete, enter, import_csv, text_of)
from workflows.school.csv_rows import parse_date
from workflows.school.filetypes import (HEAD_BYTES, SLOT_LABELS, TAIL_BYTES, FileRejected, check_file, format_size,
                                        safe_display_name)

FILE_MAX_BYTES = 2 * MB  # the one place the 2 MB limit lives
FILE_RULE = FileRule(kinds=("pdf", "jpg", "png"), max_bytes=FILE_MAX_BYTES)
FILE_LIMIT_TEXT = f"PDF、JPG、PNG，上限 {format_size(FILE_MAX_BYTES)}"
PLACE_MAX = 60
TEXT_MAX = 2000
# Before the 100 學年度 nothing here can have happened: an earlier date is a typing mistake.
EARLIEST_DAY = academic_year_bounds(100)[0]
READ_ALL = (Role.COUNSELLING, *common.OVERSEERS)


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


class Consultants(Keepers):
    """Each consultant keeps his own records (his proxy while he is away); nobody else enters,
    corrects or deletes them."""

    def for_new(self, uow: UnitOfWork, actor: Actor, kind: RecordKind, doing: str, now: datetime,
                keeper_id: int | None) -> tuple[dict, Actor]:
        consultant_id, acting = _consultant(actor, access(uow, actor, now=now), keeper_id)
        return {"consultant_id": consultant_id}, acting

    def for_change(self, uow: UnitOfWork, actor: Actor, kind: RecordKind, record_id: int, doing: str,
                   now: datetime) -> tuple[ConsultationRecord, Actor]:
        found = access(uow, actor, now=now)
        record = _load(uow, found, record_id, for_update=True)
        return record, _keeper(actor, found, record)


# -- the fields ------------------------------------------------------------------------------------

def held_at_of(day: date, clock: time) -> datetime:
    """A Taipei date and time (as the form and the file give them) as the stored UTC moment."""
    return as_utc(datetime.combine(day, clock.replace(tzinfo=None), TAIPEI))


def term_of(held_at: datetime) -> tuple[int, int]:
    """(學年度, 學期) of the Taipei day of a consultation: Aug–Jan semester 1, Feb–Jul semester 2."""
    return semester_of(taipei_date(held_at))


_CLOCK = re.compile(r"(\d{1,2}):(\d{2})")


def parse_clock(value: str) -> time:
    """14:30, 9:05 (full-width digits and colon too): a 24-hour Taipei time."""
    match = _CLOCK.fullmatch(unicodedata.normalize("NFKC", value).strip())
    if match is None or int(match.group(1)) > 23 or int(match.group(2)) > 59:
        raise ValueError(f"「{value}」不是有效的時間；請填 24 小時制 HH:MM，例如 14:30")
    return time(int(match.group(1)), int(match.group(2)))


def _moment(value) -> datetime:
    if not isinstance(value, datetime):
        raise InvalidInput("請填寫諮詢日期與時間。", field="held_at")
    if value.tzinfo is None:
        raise InvalidInput("諮詢時間須為臺北時間（含時區）。", field="held_at")
    return as_utc(value)


def _happened(moment: datetime, now: datetime) -> LimitError | None:
    if moment > now:
        return LimitError(f"{format_taipei(moment)} 晚於現在（{format_taipei(now)}），不能登錄尚未發生的諮詢",
                          rule="not_in_future", limit=format_taipei(now))
    if taipei_date(moment) < EARLIEST_DAY:
        return LimitError(f"{taipei_date(moment).isoformat()} 早於 {EARLIEST_DAY.isoformat()}，請確認是否填錯",
                          rule="too_early", limit=EARLIEST_DAY.isoformat())
    return None


def _with_term(moment: datetime) -> dict:
    year, semester = term_of(moment)
    return {"held_at": moment, "academic_year": year, "semester": semester}


@dataclass(frozen=True)
class Attachment:
    """The record's file as stored: its hash, kind judged by content, size and display name."""

    sha256: str
    kind: str
    size: int
    name: str

    def __str__(self) -> str:
        return f"{self.name}（{self.sha256[:12]}）"


def _upload(value) -> Upload | None:
    """A new file replaces the record's; None (no file) removes it."""
    return value if isinstance(value, Upload) else None


def _store(uow: UnitOfWork, upload: Upload) -> Attachment:
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
    return Attachment(stored.sha256, kind, stored.size, safe_display_name(upload.filename))


def _too_large() -> RuleViolation:
    return RuleViolation(f"附件超過上限 {format_size(FILE_MAX_BYTES)}，請縮小檔案後再上傳（{FILE_LIMIT_TEXT}）。",
                         rule="file_too_large", field="file", limit=FILE_MAX_BYTES)


def _file_columns(attachment: Attachment | None) -> dict:
    return {"file_sha256": attachment and attachment.sha256, "file_kind": attachment and attachment.kind,
            "file_size": attachment and attachment.size, "file_name": attachment and attachment.name}


def _attachment(record: ConsultationRecord) -> Attachment | None:
    if record.file_sha256 is None:
        return None
    return Attachment(record.file_sha256, record.file_kind, record.file_size, record.file_name or "附件")


def _summary(record: ConsultationRecord) -> str:
    return f"諮詢時間 {format_taipei(record.held_at)}，地點：{record.place}"


def _snapshot(record: ConsultationRecord) -> str:
    return (f"{_summary(record)}；諮詢內容：{record.content}；建議：{record.advice}；"
            f"附件：{_attachment(record) or '（空白）'}")


FIELDS = (
    Field("held_at", "諮詢時間", held_at_of, show=format_taipei, accept=_moment, check=_happened,
          cells=(Field("held_on", "諮詢日期", parse_date, aliases=("日期",)),
                 Field("held_time", "諮詢時間", parse_clock, aliases=("時間",))),
          stored=_with_term),
    text_of("place", "地點", PLACE_MAX, aliases=("諮詢地點",)),
    text_of("content", "諮詢內容", TEXT_MAX, aliases=("內容",)),
    text_of("advice", "建議", TEXT_MAX, aliases=("諮詢建議",)),
    Field("file", "附件", None, required=False, accept=_upload, keep=_store, stored=_file_columns,
          read=_attachment),  # not in a CSV file
)
KIND = RecordKind(common.CONSULTATION, ConsultationRecord, FIELDS, key=("held_at",), key_label="諮詢時間",
                  summary=_summary, snapshot=_snapshot, unique=False, file_hash=lambda record: record.file_sha256,
                  keepers=Consultants())
CSV_COLUMNS = KIND.columns


# -- use cases ----------------------------------------------------------------------------------

def enter_consultation(uow: UnitOfWork, actor: Actor, *, student_id: int, held_at: datetime, place: str,
                       content: str, advice: str, file: Upload | None = None,
                       for_consultant_id: int | None = None, now: datetime | None = None) -> ConsultationRecord:
    """登錄 one consultation. `held_at` is aware (the page combines the Taipei date and time);
    `file` (Upload.of(bytes, name) or Upload(stream, name)) is stored only once the rest is valid.
    A proxy of several absent consultants names which one with `for_consultant_id`."""
    return enter(uow, actor, KIND, student_id=student_id, keeper_id=for_consultant_id, now=now,
                 raw=dict(held_at=held_at, place=place, content=content, advice=advice, file=file))


def correct_consultation(uow: UnitOfWork, actor: Actor, record_id: int, *, expected_version: int | None,
                         now: datetime | None = None, **fields) -> Correction:
    """更正 the given fields: held_at, place, content, advice, and file (a new Upload replaces it,
    None removes it). The audit row lists 「欄位：舊 → 新」 and carries the file's hash after the
    change. Nothing changed: no audit row, nothing written."""
    return correct(uow, actor, KIND, record_id, expected_version=expected_version, raw=fields, now=now)


def delete_consultation(uow: UnitOfWork, actor: Actor, record_id: int, *, reason: str,
                        expected_version: int | None = None, now: datetime | None = None) -> None:
    """刪除 with a reason. The row goes; its audit row keeps the reason and everything it said."""
    delete(uow, actor, KIND, record_id, expected_version=expected_version, reason=reason, now=now)


def import_consultations(uow: UnitOfWork, actor: Actor, data: bytes, *, for_consultant_id: int | None = None,
                         now: datetime | None = None) -> ImportCounts:
    """匯入 (no files): the importing consultant (or the one he stands in for) is every row's
    consultant. A row for a consultation already on file (same student and moment) corrects it;
    the same file twice changes nothing. Any bad row: RowsRejected, nothing imported."""
    return import_csv(uow, actor, KIND, data, keeper_id=for_consultant_id, now=now)


def csv_template() -> bytes:
    return KIND.csv_template()


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


def consultation_file(uow: UnitOfWork, actor: Actor, record_id: int, *,
                      now: datetime | None = None) -> Attachment:
    """The record's file, for those who may read the record; NotFound when it has none."""
    attachment = _attachment(_load(uow, _reader(uow, actor, now_or(now)), record_id))
    if attachment is None:
        raise NotFound("這筆課程諮詢紀錄沒有附件。")
    return attachment
