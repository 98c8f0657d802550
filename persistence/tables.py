"""SQLAlchemy 2.x tables. Every row belongs to a school (school_id); child rows reference their
parents through (school_id, id) pairs, so the database itself refuses a row that points into
another school.
"""
from __future__ import annotations

from datetime import date, datetime, timezone

from sqlalchemy import (Boolean, CheckConstraint, Column, Date, DateTime, Float, ForeignKey,
                        ForeignKeyConstraint, Index, Integer, LargeBinary, MetaData, String, Table,
                        Text, TypeDecorator, Unicode, UniqueConstraint, column, text)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from persistence.vocabulary import (AccountKind, BatchKind, CadreLevel, GradeCorrectionKind,
                                    GradeCorrectionReason, GradeRecordKind, ItemKind, OutboxStatus,
                                    RecipientKind, SignInKind, Track, TrainingKind,
                                    UnavailabilityReason, WindowKind)
from states import MACHINES, state_ids

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator):
    """Aware UTC in Python, UTC in the database, on SQLite and PostgreSQL alike."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where UTC is required")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class _SchoolIdStandIn:
    """`SchoolScoped.school_id`: every school-scoped table maps its own school_id column; the
    scoping criterion (persistence/scoping.py) is one lambda analysed once against the marker
    class, which needs a column there. A descriptor, not a column, so declarative never maps or
    warns about it; on a mapped class the mapped attribute takes its place."""

    def __get__(self, instance, owner):
        return column("school_id", Integer)


class SchoolScoped:
    """Marker for tables whose rows belong to one school: a school's unit of work sees only its
    own rows of these (see persistence/scoping.py)."""

    school_id = _SchoolIdStandIn()


def _in(column: str, values) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in sorted(values))})"


def _school_fk(columns: list[str], target: str) -> ForeignKeyConstraint:
    table = target
    return ForeignKeyConstraint(["school_id", *columns], [f"{table}.school_id", f"{table}.id"])


class School(Base):
    __tablename__ = "schools"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(6), unique=True)  # 學校代碼
    name: Mapped[str] = mapped_column(String(100))
    policy_name: Mapped[str] = mapped_column(String(60))
    policy_toml: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Staff(SchoolScoped, Base):
    """Teachers and administrative staff (教職員)."""

    __tablename__ = "staff"
    __table_args__ = (UniqueConstraint("school_id", "staff_no"), UniqueConstraint("school_id", "id"))
    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"), index=True)
    staff_no: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(40))
    email: Mapped[str | None] = mapped_column(String(200))
    division: Mapped[str] = mapped_column(String(12), default="day")
    external: Mapped[bool] = mapped_column(Boolean, default=False)  # 外校教師
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # A departed teacher who may still certify keeps a certify-only account until this day
    # (Taipei, inclusive; 減緩原帳號消滅時間); after it the account cannot sign in.
    certify_only_until: Mapped[date | None] = mapped_column(Date)


class StaffRole(SchoolScoped, Base):
    __tablename__ = "staff_roles"
    __table_args__ = (_school_fk(["staff_id"], "staff"),)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"), primary_key=True)
    staff_id: Mapped[int] = mapped_column(primary_key=True)
    role: Mapped[str] = mapped_column(String(32), primary_key=True)


class SchoolClass(SchoolScoped, Base):
    """A class (班級) in one academic year, with its homeroom teacher (導師)."""

    __tablename__ = "school_classes"
    __table_args__ = (UniqueConstraint("school_id", "academic_year", "name"),
                      _school_fk(["homeroom_staff_id"], "staff"))
    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"), index=True)
    academic_year: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(10))
    homeroom_staff_id: Mapped[int | None] = mapped_column(Integer)


GRADE12_TRACKS = Track.codes()


class Student(SchoolScoped, Base):
    __tablename__ = "students"
    __table_args__ = (UniqueConstraint("school_id", "student_no"),
                      UniqueConstraint("school_id", "national_id"),
                      UniqueConstraint("school_id", "id"),
                      CheckConstraint("grade BETWEEN 1 AND 3", name="grade"),
                      CheckConstraint(f"track IS NULL OR {_in('track', GRADE12_TRACKS)}", name="track"))
    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"), index=True)
    student_no: Mapped[str] = mapped_column(String(20))
    national_id: Mapped[str] = mapped_column(String(10))  # 身分證號: personal data, shown masked
    birth_date: Mapped[date] = mapped_column(Date)
    name: Mapped[str] = mapped_column(String(40))
    class_name: Mapped[str] = mapped_column(String(10))
    grade: Mapped[int] = mapped_column(Integer)
    division: Mapped[str] = mapped_column(String(12), default="day")
    status: Mapped[str] = mapped_column(String(20), default="enrolled")
    guardian_name: Mapped[str | None] = mapped_column(String(40))
    email: Mapped[str | None] = mapped_column(String(200))
    mailing_address: Mapped[str | None] = mapped_column(String(200))
    departed_on: Mapped[date | None] = mapped_column(Date)
    # Grade 12's application track (學術群 / 專業群): which grade-12 batches carry the student.
    track: Mapped[str | None] = mapped_column(String(16))


class Course(SchoolScoped, Base):
    __tablename__ = "courses"
    __table_args__ = (UniqueConstraint("school_id", "academic_year", "semester", "code", "teacher_id"),
                      UniqueConstraint("school_id", "id"),
                      _school_fk(["teacher_id"], "staff"),
                      CheckConstraint("semester IN (1, 2)", name="semester"),
                      Index("ix_courses_teacher", "school_id", "teacher_id"))
    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"), index=True)
    academic_year: Mapped[int] = mapped_column(Integer)
    semester: Mapped[int] = mapped_column(Integer)
    code: Mapped[str] = mapped_column(String(23))  # 課程代碼
    name: Mapped[str] = mapped_column(String(60))
    teacher_id: Mapped[int] = mapped_column(Integer)
    route: Mapped[str] = mapped_column(String(32), default="in_school")  # a CertificationRoute


class Enrolment(SchoolScoped, Base):
    __tablename__ = "enrolments"
    __table_args__ = (_school_fk(["course_id"], "courses"), _school_fk(["student_id"], "students"))
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"))
    course_id: Mapped[int] = mapped_column(primary_key=True)
    student_id: Mapped[int] = mapped_column(primary_key=True, index=True)


WINDOW_KINDS = WindowKind.codes()


class Window(SchoolScoped, Base):
    """A named window of the school's calendar (作業期程): [starts_at, ends_at) in UTC,
    defined in Asia/Taipei dates. semester 0 means the whole academic year.

    batch_id NULL: the school's window of its kind and period, one each. Otherwise a submission
    batch's own window (批次確認期間: grade-12 batches have their own dates), one per batch and
    kind. batch_id has no foreign key on purpose: submission_batches already points here
    (confirmation_window_id), and a cycle of foreign keys leaves backup and restore without a
    table order (persistence/backup.py); the batch is found through the school's unit of work."""

    __tablename__ = "windows"
    __table_args__ = (Index("uq_windows_school_period", "school_id", "kind", "academic_year", "semester",
                            unique=True, sqlite_where=text("batch_id IS NULL"),
                            postgresql_where=text("batch_id IS NULL")),
                      Index("uq_windows_batch_kind", "school_id", "batch_id", "kind", unique=True,
                            sqlite_where=text("batch_id IS NOT NULL"),
                            postgresql_where=text("batch_id IS NOT NULL")),
                      UniqueConstraint("school_id", "id"),
                      CheckConstraint(_in("kind", WINDOW_KINDS), name="kind"),
                      CheckConstraint("semester IN (0, 1, 2)", name="semester"),
                      CheckConstraint("ends_at > starts_at", name="order"))
    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    academic_year: Mapped[int] = mapped_column(Integer)
    semester: Mapped[int] = mapped_column(Integer, default=0)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    batch_id: Mapped[int | None] = mapped_column(Integer)  # a submission batch's own window


ITEM_KINDS = ItemKind.codes()


def _item_state_check() -> str:
    return " OR ".join(f"(kind = '{kind}' AND {_in('state', state_ids(MACHINES[kind]))})"
                       for kind in ITEM_KINDS)


class Receipt(SchoolScoped, Base):
    """收訖明細: one per student per central submission."""

    __tablename__ = "receipts"
    __table_args__ = (UniqueConstraint("school_id", "id"),
                      _school_fk(["student_id"], "students"),
                      _school_fk(["window_id"], "windows"),
                      _school_fk(["batch_id"], "submission_batches"),
                      CheckConstraint(_in("state", state_ids(MACHINES["receipt"])), name="state"),
                      Index("ix_receipts_window_state", "window_id", "state"))
    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"), index=True)
    student_id: Mapped[int] = mapped_column(Integer, index=True)
    category: Mapped[str] = mapped_column(String(32))
    academic_year: Mapped[int] = mapped_column(Integer)
    window_id: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(32), default="issued")
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reason: Mapped[str | None] = mapped_column(Text)
    batch_id: Mapped[int | None] = mapped_column(Integer, index=True)  # the submission batch

    __mapper_args__ = {"version_id_col": version}


class Item(SchoolScoped, Base):
    """A portfolio item: a course outcome (課程學習成果) or a multiple performance (多元表現).

    One item holds at most one document, one media file and a short text. The certification
    binds to the files' hashes: certified_*_sha256 record what the teacher saw.
    """

    __tablename__ = "items"
    __table_args__ = (UniqueConstraint("school_id", "id"),
                      _school_fk(["student_id"], "students"),
                      _school_fk(["course_id"], "courses"),
                      _school_fk(["receipt_id"], "receipts"),
                      CheckConstraint(_in("kind", ITEM_KINDS), name="kind"),
                      CheckConstraint(_item_state_check(), name="state"),
                      CheckConstraint(f"kind = '{ItemKind.PERFORMANCE}' OR (course_id IS NOT NULL AND semester IN (1, 2))",
                                      name="outcome_course"),
                      Index("ix_items_student_year", "student_id", "kind", "academic_year"),
                      Index("ix_items_state", "school_id", "kind", "state"),
                      # The certification queue: one teacher's courses, one state, oldest first.
                      Index("ix_items_course_state_submitted", "course_id", "state", "submitted_at", "id"),
                      # The status pages: one school's year, counted by kind and state.
                      Index("ix_items_school_year", "school_id", "academic_year", "kind", "state"))
    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"), index=True)
    student_id: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(20))
    academic_year: Mapped[int] = mapped_column(Integer)
    semester: Mapped[int] = mapped_column(Integer, default=0)
    course_id: Mapped[int | None] = mapped_column(Integer, index=True)
    category: Mapped[str | None] = mapped_column(String(32))  # performance category
    title: Mapped[str] = mapped_column(String(80))
    description: Mapped[str] = mapped_column(String(400), default="")
    external_link: Mapped[str | None] = mapped_column(String(500))
    document_sha256: Mapped[str | None] = mapped_column(String(64))
    document_name: Mapped[str | None] = mapped_column(String(200))
    document_kind: Mapped[str | None] = mapped_column(String(8))
    document_size: Mapped[int | None] = mapped_column(Integer)
    media_sha256: Mapped[str | None] = mapped_column(String(64))
    media_name: Mapped[str | None] = mapped_column(String(200))
    media_kind: Mapped[str | None] = mapped_column(String(8))
    media_size: Mapped[int | None] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(32))
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    certified_by_id: Mapped[int | None] = mapped_column(Integer)
    certified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    certified_document_sha256: Mapped[str | None] = mapped_column(String(64))
    certified_media_sha256: Mapped[str | None] = mapped_column(String(64))
    rejection_reason: Mapped[str | None] = mapped_column(Text)
    selected_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    receipt_id: Mapped[int | None] = mapped_column(Integer, index=True)
    # How a dispute (疑義) was settled, for the student to read: "answered" (the office explains,
    # nothing changes) or "resubmit" (the data is corrected and goes in a new batch).
    resolution: Mapped[str | None] = mapped_column(String(16))
    resolution_note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __mapper_args__ = {"version_id_col": version}


class AuditEntry(SchoolScoped, Base):
    """Append-only: who did what to which artefact, for whom, when, why, with which file."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_subject", "school_id", "subject_kind", "subject_id"),
                      Index("ix_audit_student", "school_id", "student_id"),
                      # The status page's latest acts done for an absent colleague (代理執行).
                      Index("ix_audit_on_behalf", "school_id", "on_behalf_kind", "at"))
    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"))
    subject_kind: Mapped[str] = mapped_column(String(32))
    subject_id: Mapped[int] = mapped_column(Integer)
    student_id: Mapped[int | None] = mapped_column(Integer)
    event: Mapped[str] = mapped_column(String(40))
    from_state: Mapped[str | None] = mapped_column(String(64))
    to_state: Mapped[str | None] = mapped_column(String(64))
    actor_kind: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[int | None] = mapped_column(Integer)
    actor_name: Mapped[str] = mapped_column(String(80))
    on_behalf_kind: Mapped[str | None] = mapped_column(String(16))
    on_behalf_id: Mapped[int | None] = mapped_column(Integer)
    on_behalf_name: Mapped[str | None] = mapped_column(String(80))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    reason: Mapped[str | None] = mapped_column(Text)
    file_hash: Mapped[str | None] = mapped_column(String(200))


OUTBOX_STATUSES = OutboxStatus.codes()


class OutboxMessage(SchoolScoped, Base):
    """A message to one person (reminder, report, notice), written by a sweep in the sweep's own
    transaction and delivered later (workflows/deadlines/outbox.py). The unique key is "once per person,
    deadline and kind": a moved deadline is a new key, so a new message goes.

    `status` is a delivery status, not a workflow state: pending → sending → sent, or back to
    pending with a later `next_attempt_at` after a failed attempt, failed after the last one;
    no_address when the person has no e-mail (the pages show it instead)."""

    __tablename__ = "outbox"
    __table_args__ = (UniqueConstraint("school_id", "kind", "recipient_kind", "recipient_id",
                                       "window_id", "due_at"),
                      _school_fk(["window_id"], "windows"),
                      CheckConstraint(_in("status", OUTBOX_STATUSES), name="status"),
                      CheckConstraint(_in("recipient_kind", RecipientKind.codes()), name="recipient_kind"),
                      Index("ix_outbox_status_next", "status", "next_attempt_at"))
    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    recipient_kind: Mapped[str] = mapped_column(String(16))
    recipient_id: Mapped[int] = mapped_column(Integer)
    recipient_name: Mapped[str] = mapped_column(String(80))
    email: Mapped[str | None] = mapped_column(String(200))
    window_id: Mapped[int] = mapped_column(Integer)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)  # the boundary the message is about
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class DeadlineRun(SchoolScoped, Base):
    """The ledger of one-shot effects at a window boundary (e.g. the selection freeze): one row
    per (window, effect, boundary), so each fires once however often or concurrently sweeps run;
    a moved boundary is a new row."""

    __tablename__ = "deadline_runs"
    __table_args__ = (UniqueConstraint("school_id", "window_id", "effect", "due_at"),
                      _school_fk(["window_id"], "windows"))
    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"), index=True)
    window_id: Mapped[int] = mapped_column(Integer)
    effect: Mapped[str] = mapped_column(String(40))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ran_at: Mapped[datetime] = mapped_column(UTCDateTime)
    changed: Mapped[int] = mapped_column(Integer, default=0)


class FileDeletion(Base):
    """A stored file whose rows were purged (retention ended), waiting to be removed from the
    store. Not school-scoped: the content-addressed store is shared, so the file goes only if no
    row of any school still points at it (workflows/deadlines/retention.py)."""

    __tablename__ = "file_deletions"
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"))


# APScheduler's job store (scheduler/), in the same database. Alembic creates it, so the schema
# has one owner; the layout is APScheduler 3's SQLAlchemyJobStore table.
scheduler_jobs = Table(
    "apscheduler_jobs", Base.metadata,
    Column("id", Unicode(191), primary_key=True),
    Column("next_run_time", Float(25), index=True),
    Column("job_state", LargeBinary, nullable=False),
)


ACCOUNT_KINDS = AccountKind.codes()


class Account(SchoolScoped, Base):
    """A sign-in (帳號) of one person of one school: a student, a staff member, or a guardian
    (家長或法定代理人) linked to students through guardian_links. Usernames are unique across the
    deployment, so signing in never asks for the school. Passwords are argon2 hashes."""

    __tablename__ = "accounts"
    __table_args__ = (UniqueConstraint("school_id", "id"),
                      _school_fk(["student_id"], "students"),
                      _school_fk(["staff_id"], "staff"),
                      CheckConstraint(_in("kind", ACCOUNT_KINDS), name="kind"),
                      CheckConstraint(f"(kind = '{AccountKind.STUDENT}') = (student_id IS NOT NULL)", name="student"),
                      CheckConstraint(f"(kind = '{AccountKind.STAFF}') = (staff_id IS NOT NULL)", name="staff"))
    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"), index=True)
    username: Mapped[str] = mapped_column(String(60), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    student_id: Mapped[int | None] = mapped_column(Integer, unique=True)
    staff_id: Mapped[int | None] = mapped_column(Integer, unique=True)
    name: Mapped[str] = mapped_column(String(40))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    password_changed_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SignInSession(Base):
    """A signed-in browser (kind "web", the session cookie) or an API token (kind "api"): the
    cookie or the bearer token carries an opaque random value; only its SHA-256 is stored.
    Looked up on every request before the school is known, so not SchoolScoped; school_id is
    kept for the school's own listings. Ending a session deletes its row: sign-out, a password
    change and an admin's 停用 end them at once. `expires_at` is the absolute lifetime; the idle
    lifetime counts from `last_seen_at`."""

    __tablename__ = "sign_in_sessions"
    __table_args__ = (CheckConstraint(_in("kind", SignInKind.codes()), name="kind"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"))
    kind: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SignInThrottle(Base):
    """Failed sign-in attempts counted per key ("user:<username>", "addr:<address>", …), shared by
    every worker and host of a deployment through the database (unless Redis is configured).
    Successful sign-ins are never counted. Not SchoolScoped: a username or an address is not yet
    a school's."""

    __tablename__ = "sign_in_throttle"
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    first_failure_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_failure_at: Mapped[datetime] = mapped_column(UTCDateTime)


class GuardianLink(SchoolScoped, Base):
    """A guardian account's student: the guardian sees (and, where the policy allows, acts for)
    this student only."""

    __tablename__ = "guardian_links"
    __table_args__ = (_school_fk(["account_id"], "accounts"), _school_fk(["student_id"], "students"))
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"))
    account_id: Mapped[int] = mapped_column(primary_key=True)
    student_id: Mapped[int] = mapped_column(primary_key=True, index=True)


UNAVAILABILITY_REASONS = UnavailabilityReason.codes()


class ProxyAssignment(SchoolScoped, Base):
    """代理人名單: who acts, in order of precedence (代理順位 1, 2, …), for a named person
    (principal_staff_id) or for the holders of a role (principal_role) when they cannot."""

    __tablename__ = "proxy_assignments"
    __table_args__ = (UniqueConstraint("school_id", "id"),
                      _school_fk(["principal_staff_id"], "staff"),
                      _school_fk(["proxy_staff_id"], "staff"),
                      CheckConstraint("(principal_staff_id IS NULL) <> (principal_role IS NULL)",
                                      name="one_principal"),
                      CheckConstraint("precedence >= 1", name="precedence"),
                      Index("ix_proxy_principal", "school_id", "principal_staff_id", "principal_role"))
    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"))
    principal_staff_id: Mapped[int | None] = mapped_column(Integer)
    principal_role: Mapped[str | None] = mapped_column(String(32))
    proxy_staff_id: Mapped[int] = mapped_column(Integer)
    precedence: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Unavailability(SchoolScoped, Base):
    """A period a staff member cannot act (leave, departed, incident): [starts_on, ends_on] in
    Taipei dates, ends_on NULL for open-ended. Their work goes to their first available proxy."""

    __tablename__ = "unavailabilities"
    __table_args__ = (UniqueConstraint("school_id", "id"),
                      _school_fk(["staff_id"], "staff"),
                      CheckConstraint(_in("reason", UNAVAILABILITY_REASONS), name="reason"),
                      CheckConstraint("ends_on IS NULL OR ends_on >= starts_on", name="order"),
                      Index("ix_unavailabilities_staff", "school_id", "staff_id"))
    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"))
    staff_id: Mapped[int] = mapped_column(Integer)
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date | None] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


BATCH_KINDS = BatchKind.codes()


class SubmissionBatch(SchoolScoped, Base):
    """A central submission batch (提交批次) of one category and period; grade-12 batches are split
    by track (學術群 / 專業群). A resubmission batch points at the batch it corrects."""

    __tablename__ = "submission_batches"
    __table_args__ = (UniqueConstraint("school_id", "id"),
                      _school_fk(["confirmation_window_id"], "windows"),
                      _school_fk(["resubmission_of_id"], "submission_batches"),
                      CheckConstraint(_in("kind", BATCH_KINDS), name="kind"),
                      CheckConstraint(_in("state", state_ids(MACHINES["batch"])), name="state"),
                      CheckConstraint("semester IN (0, 1, 2)", name="semester"),
                      CheckConstraint(f"track IS NULL OR {_in('track', GRADE12_TRACKS)}", name="track"))
    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    academic_year: Mapped[int] = mapped_column(Integer)
    semester: Mapped[int] = mapped_column(Integer, default=0)
    track: Mapped[str | None] = mapped_column(String(16))  # grade 12 only
    round: Mapped[int] = mapped_column(Integer, default=1)  # grade 12: first or second batch
    state: Mapped[str] = mapped_column(String(32))
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    resubmission_of_id: Mapped[int | None] = mapped_column(Integer)
    confirmation_window_id: Mapped[int | None] = mapped_column(Integer)
    export_sha256: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    exported_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __mapper_args__ = {"version_id_col": version}


class BatchEntry(SchoolScoped, Base):
    """One student (and, for outcome and performance batches, one of their items) in a batch."""

    __tablename__ = "batch_entries"
    __table_args__ = (UniqueConstraint("school_id", "batch_id", "student_id", "item_id"),
                      _school_fk(["batch_id"], "submission_batches"),
                      _school_fk(["student_id"], "students"),
                      _school_fk(["item_id"], "items"),
                      Index("ix_batch_entries_batch", "school_id", "batch_id"))
    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"))
    batch_id: Mapped[int] = mapped_column(Integer)
    student_id: Mapped[int] = mapped_column(Integer, index=True)
    item_id: Mapped[int | None] = mapped_column(Integer)


# --- staff-entered records: what the semester batches carry ------------------------------------

CADRE_LEVELS = CadreLevel.codes()


class CadreRecord(SchoolScoped, Base):
    """幹部紀錄: a student's position (school, class or club level) in one semester, entered by the
    student-activities section (訓育組). One row per student, term, unit and position."""

    __tablename__ = "cadre_records"
    __table_args__ = (UniqueConstraint("school_id", "id"),
                      UniqueConstraint("school_id", "student_id", "academic_year", "semester", "unit", "position",
                                       name="uq_cadre_records_term_position"),
                      _school_fk(["student_id"], "students"),
                      CheckConstraint(_in("level", CADRE_LEVELS), name="level"),
                      CheckConstraint("semester IN (1, 2)", name="semester"),
                      CheckConstraint("ends_on IS NULL OR ends_on >= starts_on", name="order"),
                      Index("ix_cadre_records_term", "school_id", "academic_year", "semester"))
    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"))
    student_id: Mapped[int] = mapped_column(Integer, index=True)
    academic_year: Mapped[int] = mapped_column(Integer)
    semester: Mapped[int] = mapped_column(Integer)
    level: Mapped[str] = mapped_column(String(8))
    unit: Mapped[str] = mapped_column(String(60))  # 單位: 學生會, 301 班, 熱音社 ...
    position: Mapped[str] = mapped_column(String(40))  # 職稱
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date | None] = mapped_column(Date)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __mapper_args__ = {"version_id_col": version}


GRADE_RECORD_KINDS = GradeRecordKind.codes()


class GradeRecord(SchoolScoped, Base):
    """學業成績 / 修課紀錄: one course result of a student, entered by the registry (註冊組)."""

    __tablename__ = "grade_records"
    __table_args__ = (UniqueConstraint("school_id", "id"),
                      UniqueConstraint("school_id", "student_id", "academic_year", "semester",
                                       "record_kind", "course_code", name="uq_grade_records_term_course"),
                      _school_fk(["student_id"], "students"),
                      CheckConstraint(_in("record_kind", GRADE_RECORD_KINDS), name="record_kind"),
                      CheckConstraint("semester IN (0, 1, 2)", name="semester"),
                      CheckConstraint("grade_level BETWEEN 1 AND 3", name="grade_level"),
                      CheckConstraint("credits BETWEEN 0 AND 30", name="credits"),
                      CheckConstraint("score IS NULL OR score BETWEEN 0 AND 100", name="score"),
                      CheckConstraint("makeup_score IS NULL OR makeup_score BETWEEN 0 AND 100",
                                      name="makeup_score"),
                      Index("ix_grade_records_term", "school_id", "academic_year", "semester"))
    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"))
    student_id: Mapped[int] = mapped_column(Integer, index=True)
    academic_year: Mapped[int] = mapped_column(Integer)
    semester: Mapped[int] = mapped_column(Integer)
    record_kind: Mapped[str] = mapped_column(String(16), default="semester")
    course_code: Mapped[str] = mapped_column(String(23))  # 課程代碼
    subject: Mapped[str] = mapped_column(String(60))  # 科目名稱
    grade_level: Mapped[int] = mapped_column(Integer)  # 年級 1–3
    credits: Mapped[int] = mapped_column(Integer)  # 學分數
    score: Mapped[int | None] = mapped_column(Integer)  # 學期成績 0–100
    passed: Mapped[bool] = mapped_column(Boolean)  # 及格
    makeup_score: Mapped[int | None] = mapped_column(Integer)  # 補考成績
    credit_counted: Mapped[bool] = mapped_column(Boolean)  # 採計學分
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __mapper_args__ = {"version_id_col": version}


GRADE_CORRECTION_KINDS = GradeCorrectionKind.codes()
GRADE_CORRECTION_REASONS = GradeCorrectionReason.codes()


class GradeCorrection(SchoolScoped, Base):
    """A grade-correction request 學生學業成績更正申請: one subject of one term, its teacher, one or
    more students (lines), signed step by step (states/grade_correction.py)."""

    __tablename__ = "grade_corrections"
    __table_args__ = (UniqueConstraint("school_id", "id"),
                      _school_fk(["teacher_id"], "staff"),
                      CheckConstraint(_in("kind", GRADE_CORRECTION_KINDS), name="kind"),
                      CheckConstraint(_in("reason", GRADE_CORRECTION_REASONS), name="reason"),
                      CheckConstraint(_in("state", state_ids(MACHINES["grade_correction"])), name="state"),
                      CheckConstraint("semester IN (1, 2)", name="semester"),
                      CheckConstraint(f"(kind = '{GradeCorrectionKind.EXAM}') = (exam_no IS NOT NULL)", name="exam_no"),
                      CheckConstraint("exam_no IS NULL OR exam_no BETWEEN 1 AND 9", name="exam_no_range"),
                      Index("ix_grade_corrections_state", "school_id", "state"))
    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"))
    academic_year: Mapped[int] = mapped_column(Integer)
    semester: Mapped[int] = mapped_column(Integer)
    subject: Mapped[str] = mapped_column(String(60))  # 授課科目
    course_code: Mapped[str | None] = mapped_column(String(23))
    teacher_id: Mapped[int] = mapped_column(Integer)  # 授課教師
    kind: Mapped[str] = mapped_column(String(8))  # 更改類別
    exam_no: Mapped[int | None] = mapped_column(Integer)  # 第 n 次定期成績
    reason: Mapped[str] = mapped_column(String(16))  # 更正原因
    explanation: Mapped[str] = mapped_column(Text)  # 敘明更正情形（必填）
    state: Mapped[str] = mapped_column(String(24))
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column(Integer)
    created_by_name: Mapped[str] = mapped_column(String(80))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __mapper_args__ = {"version_id_col": version}


class GradeCorrectionLine(SchoolScoped, Base):
    """One student of a request: the stored grade that changes, old and new. grade_record_id has
    no foreign key: deleting a grade must not be blocked by an old request that named it."""

    __tablename__ = "grade_correction_lines"
    __table_args__ = (UniqueConstraint("school_id", "correction_id", "student_id",
                                       name="uq_grade_correction_lines_student"),
                      # named by hand: the convention's name is longer than PostgreSQL's 63 characters
                      ForeignKeyConstraint(["school_id", "correction_id"],
                                           ["grade_corrections.school_id", "grade_corrections.id"],
                                           name="fk_grade_correction_lines_correction"),
                      ForeignKeyConstraint(["school_id", "student_id"], ["students.school_id", "students.id"],
                                           name="fk_grade_correction_lines_student"),
                      CheckConstraint("old_grade IS NULL OR old_grade BETWEEN 0 AND 100", name="old_grade"),
                      CheckConstraint("new_grade BETWEEN 0 AND 100", name="new_grade"))
    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"))
    correction_id: Mapped[int] = mapped_column(Integer, index=True)
    student_id: Mapped[int] = mapped_column(Integer)
    grade_record_id: Mapped[int | None] = mapped_column(Integer)
    old_grade: Mapped[int | None] = mapped_column(Integer)
    new_grade: Mapped[int] = mapped_column(Integer)


class ConsultationRecord(SchoolScoped, Base):
    """課程諮詢紀錄: a consultant teacher's session with a student (date and time, place, content
    and advice, an optional file of at most 2 MB). Never part of a central submission batch."""

    __tablename__ = "consultation_records"
    __table_args__ = (UniqueConstraint("school_id", "id"),
                      _school_fk(["student_id"], "students"),
                      _school_fk(["consultant_id"], "staff"),
                      Index("ix_consultation_records_term", "school_id", "academic_year", "semester"))
    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"))
    student_id: Mapped[int] = mapped_column(Integer, index=True)
    consultant_id: Mapped[int] = mapped_column(Integer, index=True)
    academic_year: Mapped[int] = mapped_column(Integer)
    semester: Mapped[int] = mapped_column(Integer)
    held_at: Mapped[datetime] = mapped_column(UTCDateTime)
    place: Mapped[str] = mapped_column(String(60))
    content: Mapped[str] = mapped_column(Text)  # 諮詢內容
    advice: Mapped[str] = mapped_column(Text)  # 建議
    file_sha256: Mapped[str | None] = mapped_column(String(64))
    file_name: Mapped[str | None] = mapped_column(String(200))
    file_kind: Mapped[str | None] = mapped_column(String(8))
    file_size: Mapped[int | None] = mapped_column(Integer)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __mapper_args__ = {"version_id_col": version}


class ExplorationRecord(SchoolScoped, Base):
    """學群探索: a career-group exploration activity of a student (lecture, test, camp, visit ...),
    entered by the counselling office (輔導室). career_group is one of the 18 學群 codes
    (persistence/vocabulary.CareerGroup)."""

    __tablename__ = "exploration_records"
    __table_args__ = (UniqueConstraint("school_id", "id"),
                      _school_fk(["student_id"], "students"),
                      CheckConstraint("semester IN (1, 2)", name="semester"),
                      Index("ix_exploration_records_term", "school_id", "academic_year", "semester"))
    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"))
    student_id: Mapped[int] = mapped_column(Integer, index=True)
    academic_year: Mapped[int] = mapped_column(Integer)
    semester: Mapped[int] = mapped_column(Integer)
    held_on: Mapped[date] = mapped_column(Date)
    career_group: Mapped[str] = mapped_column(String(32))
    activity: Mapped[str] = mapped_column(String(60))  # 活動名稱
    notes: Mapped[str] = mapped_column(Text, default="")  # 心得或紀錄
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __mapper_args__ = {"version_id_col": version}


# --- the working group's tools (issue 6) -------------------------------------------------------

class SelfCheckItem(SchoolScoped, Base):
    """自我檢核表: one task of the working group's year (seed 002's example prefills them): who owns
    it, the month it is planned for, the national date where one applies, whether it is planned
    and whether it is done."""

    __tablename__ = "self_check_items"
    __table_args__ = (UniqueConstraint("school_id", "id"),
                      UniqueConstraint("school_id", "academic_year", "position", name="uq_self_check_items_order"),
                      CheckConstraint("planned_month IS NULL OR planned_month BETWEEN 1 AND 12", name="month"))
    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"), index=True)
    academic_year: Mapped[int] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(Integer)  # order on the form
    task: Mapped[str] = mapped_column(String(200))
    owner: Mapped[str] = mapped_column(String(60))  # 負責單位, as the form names it
    planned_month: Mapped[int | None] = mapped_column(Integer)
    national_date: Mapped[date | None] = mapped_column(Date)  # 全國性期程, where one applies
    planned: Mapped[bool] = mapped_column(Boolean, default=False)
    done: Mapped[bool] = mapped_column(Boolean, default=False)
    done_on: Mapped[date | None] = mapped_column(Date)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __mapper_args__ = {"version_id_col": version}


TRAINING_KINDS = TrainingKind.codes()


class TrainingSession(SchoolScoped, Base):
    """A training, workshop or parent session held for the portfolio (seed 003: at least once a
    year each): date, audience, attendees."""

    __tablename__ = "training_sessions"
    __table_args__ = (UniqueConstraint("school_id", "id"),
                      CheckConstraint(_in("kind", TRAINING_KINDS), name="kind"),
                      CheckConstraint("attendees >= 0", name="attendees"),
                      Index("ix_training_sessions_year", "school_id", "academic_year"))
    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"))
    academic_year: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    held_on: Mapped[date] = mapped_column(Date)
    title: Mapped[str] = mapped_column(String(100))
    audience: Mapped[str] = mapped_column(String(100))  # 對象
    attendees: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
