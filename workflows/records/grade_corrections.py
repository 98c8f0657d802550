"""Grade-correction requests 學生學業成績更正申請 (seed 002's 學生學業成績更正申請表, issue 6).

After the term's grade-check day 成績檢核日 a grade changes only this way: the teacher (授課教師),
the registry (註冊組) or a proxy drafts a request — term, subject, teacher, kind, reason, a required
explanation and each student's old and new grade — and it is signed in the paper's order: teacher,
clerk 承辦人 (註冊組), registry head 註冊組長, academic-affairs director 教務主任, principal 校長;
then the grade officer 成績登錄人 enters it, which applies the new grades to the stored grade
records in the same transaction. Any signer so far, or the one whose signature is awaited, may send
it back to the draft with a reason. Every signature is an audit row (subject_kind grade_correction);
every applied grade is one more on the grade record (event correct_by_request).

A line's grade is the stored grade the correction changes: the make-up score 補考成績 for a make-up
request, else the term's score (a retake: the retake record's score). A periodic-exam or daily
grade is a component kept in the school's grading system; the line carries the term score it
changes.
"""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime


from persistence.tables import (AuditEntry, GradeCorrection, GradeCorrectionLine, GradeRecord, Staff,
                                Student)
from persistence.vocabulary import GradeCorrectionKind, GradeCorrectionReason
from states import allowed_from, event_label, state_label
from states.grade_correction import GradeCorrectionMachine
from workflows.people import proxies
from workflows.core.actors import Actor, OnBehalf
from workflows.core.clock import now_or, taipei_date
from workflows.core.errors import Forbidden, InvalidInput, RuleViolation
from workflows.core.guards import require_current
from workflows.people.offices import as_office
from workflows.core.numbers import whole
from workflows.records.common import GRADE, audit, forbid_students, students_by_no
from workflows.core.roles import ROLE_LABELS, Role
from workflows.core.fields import REASON_MAX, text_field
from workflows.core.transitions import fire, invalid, machine_for, note, require_allowed, start
from workflows.core.unit_of_work import UnitOfWork

MACHINE = GradeCorrectionMachine
SUBJECT_KIND = "grade_correction"
KINDS = GradeCorrectionKind.labels()
REASONS = GradeCorrectionReason.labels()
SEMESTERS = {1: "第 1 學期", 2: "第 2 學期"}
SUBJECT_MAX, EXPLANATION_MAX, EXAM_NO_MAX, LINES_MAX = 60, 1000, 9, 200


@dataclass(frozen=True)
class Step:
    event: str
    box: str                  # the signature box of the paper form
    roles: tuple[Role, ...]   # empty: the request's own teacher (or his proxy)


# Who signs each step, in the paper's order: the one table of the path.
STEPS: tuple[Step, ...] = (
    Step("sign_teacher", "授課教師", ()),
    Step("sign_clerk", "承辦人", (Role.REGISTRY,)),
    Step("sign_registry_head", "註冊組長", (Role.REGISTRY_HEAD,)),
    Step("sign_director", "教務主任", (Role.EXECUTIVE_SECRETARY,)),
    Step("sign_principal", "校長", (Role.PRINCIPAL,)),
    Step("enter_grades", "登錄人", (Role.GRADE_OFFICER,)),
)
STEP_OF = {step.event: step for step in STEPS}
# The event each state waits for: the machine's one signing event out of it.
NEXT: dict[str, str] = {source: event for source, events in
                        ((s.id, [e for e, _ in allowed_from(MACHINE, s.id)]) for s in MACHINE.states)
                        for event in events if event in STEP_OF}
# Who drafts and edits: the registry (or its proxy) besides the teacher himself (or his proxy).
DRAFTERS = (Role.REGISTRY,)
# Who reads every request besides its teacher.
READERS = (Role.REGISTRY, Role.REGISTRY_HEAD, Role.EXECUTIVE_SECRETARY, Role.PRINCIPAL, Role.GRADE_OFFICER,
           Role.ADMIN)


def history_label(event: str) -> str:
    """How the request's history names an audited event (the machine's, or draft / edit)."""
    return {"draft": "建立申請", "edit": "修改申請"}.get(event) or event_label(MACHINE, event)


def kind_text(request: GradeCorrection) -> str:
    if request.kind == "exam":
        return f"第 {request.exam_no} 次定期成績"
    return KINDS[request.kind]


def grade_field(kind: str) -> str:
    """The grade record's column a request of this kind changes."""
    return "makeup_score" if kind == "makeup" else "score"


# -- who may act ------------------------------------------------------------------------------------

def _teacher(uow: UnitOfWork, request_or_id) -> Staff:
    teacher_id = getattr(request_or_id, "teacher_id", request_or_id)
    return uow.get(Staff, teacher_id, what="授課教師")


def _as_teacher(uow: UnitOfWork, actor: Actor, teacher_id: int, now: datetime) -> Actor | None:
    """The teacher himself, or the proxy acting for him today (audited as for whom)."""
    if actor.kind != "staff" or actor.id is None:
        return None
    on = taipei_date(now)
    away = proxies.unavailable_ids(uow, on)
    if actor.id == teacher_id:
        return actor if actor.id not in away else None
    if teacher_id not in away:
        return None
    proxy = proxies.acting_for(uow, teacher_id, on)
    if proxy is not None and proxy.id == actor.id:
        teacher = _teacher(uow, teacher_id)
        return actor.acting_for(OnBehalf("staff", teacher.id, teacher.name))
    return None


def _as_signer(uow: UnitOfWork, actor: Actor, request: GradeCorrection, step: Step, now: datetime) -> Actor | None:
    if not step.roles:
        return _as_teacher(uow, actor, request.teacher_id, now)
    if actor.kind != "staff":
        return None
    return as_office(uow, actor, step.roles, now=now)


def _require_signer(uow: UnitOfWork, actor: Actor, request: GradeCorrection, step: Step, now: datetime) -> Actor:
    acting = _as_signer(uow, actor, request, step, now)
    if acting is None:
        who = (f"授課教師 {_teacher(uow, request).name}" if not step.roles
               else "、".join(ROLE_LABELS[r] for r in step.roles))
        raise Forbidden(f"此申請目前等待「{step.box}」簽章，只有{who}（或其代理人）可以{event_label(MACHINE, step.event)}。",
                        awaiting=step.event)
    return acting


def _as_drafter(uow: UnitOfWork, actor: Actor, teacher_id: int, now: datetime) -> Actor | None:
    acting = _as_teacher(uow, actor, teacher_id, now)
    if acting is None and actor.kind == "staff":
        acting = as_office(uow, actor, DRAFTERS, now=now)
    return acting


def _require_drafter(uow: UnitOfWork, actor: Actor, teacher_id: int, now: datetime, doing: str) -> Actor:
    uow.require_member(actor)
    forbid_students(actor)
    acting = _as_drafter(uow, actor, teacher_id, now)
    if acting is None:
        raise Forbidden(f"只有授課教師、註冊組（或其代理人）可以{doing}成績更正申請。")
    return acting


def _may_read(uow: UnitOfWork, actor: Actor, request: GradeCorrection, now: datetime) -> bool:
    if actor.kind in ("system", "platform"):
        return True
    if actor.kind != "staff":
        return False
    if actor.has(*READERS) or actor.id == request.teacher_id:
        return True
    return any(_as_signer(uow, actor, request, step, now) for step in STEPS)


# -- reading the request ----------------------------------------------------------------------------

def _request(uow: UnitOfWork, request_id: int, *, for_update: bool = False) -> GradeCorrection:
    request = uow.get(GradeCorrection, request_id, for_update=for_update, what="成績更正申請")
    machine_for(request)  # refuses a state the machine does not know
    return request


def _lines(uow: UnitOfWork, request_id: int) -> list[GradeCorrectionLine]:
    return list(uow.session.scalars(uow.select(GradeCorrectionLine).where(
        GradeCorrectionLine.correction_id == request_id).order_by(GradeCorrectionLine.id)))


# How the stale-page guard names the request.
_THIS_REQUEST = "這份成績更正申請"


# -- the form's values ------------------------------------------------------------------------------

def _choice(value, table: dict, field: str, label: str) -> str:
    typed = unicodedata.normalize("NFKC", str(value or "")).strip()
    for code, text in table.items():
        if typed in (code, text):
            return code
    raise InvalidInput(f"{label}：請選擇{'、'.join(table.values())}之一。", field=field)


def _whole(value, field: str, label: str, low: int, high: int, *, required: bool = True) -> int | None:
    typed = unicodedata.normalize("NFKC", "" if value is None else str(value)).strip()
    if not typed:
        if required:
            raise InvalidInput(f"請填寫{label}。", field=field)
        return None
    number = whole(typed, beyond=high + 1)
    if number is None:
        raise InvalidInput(f"{label}：「{value}」須為 {low}–{high} 的整數。", field=field)
    if not low <= number <= high:
        raise RuleViolation(f"{label}：「{value}」超出範圍，須為 {low}–{high}。", rule=f"{field}_range",
                            field=field, limit=f"{low}–{high}")
    return number


@dataclass(frozen=True)
class LineInput:
    """One student of the form: 學號, the old grade (blank: taken from the stored grade), the new one."""

    student_no: str
    new_grade: object
    old_grade: object = None


def _values(uow: UnitOfWork, *, academic_year, semester, subject, course_code, teacher_id, kind, exam_no,
            reason, explanation) -> dict:
    kind = _choice(kind, KINDS, "kind", "更改類別")
    values = dict(
        academic_year=_whole(academic_year, "academic_year", "學年度", 100, 200),
        semester=_whole(semester, "semester", "學期別", 1, 2),
        subject=text_field(subject, field="subject", label="授課科目", max_chars=SUBJECT_MAX, required=True),
        course_code=(course_code or "").strip() or None,
        teacher_id=_whole(teacher_id, "teacher_id", "授課教師", 1, 2 ** 31 - 1),
        kind=kind,
        exam_no=_whole(exam_no, "exam_no", "定期成績次別", 1, EXAM_NO_MAX) if kind == "exam" else None,
        reason=_choice(reason, REASONS, "reason", "更正原因"),
        explanation=text_field(explanation, field="explanation", label="敘明更正情形", max_chars=EXPLANATION_MAX,
                               required=True))
    if values["course_code"] and len(values["course_code"]) > 23:
        raise InvalidInput("課程代碼：長度不可超過 23 字。", field="course_code")
    _teacher(uow, values["teacher_id"])
    return values


def find_record(uow: UnitOfWork, *, student_id: int, academic_year: int, semester: int, kind: str,
                subject: str, course_code: str | None) -> GradeRecord | None:
    """The stored grade a line corrects: the term's semester grade (a retake: the retake record),
    by course code when given, else by subject; None unless exactly one matches."""
    query = uow.select(GradeRecord).where(
        GradeRecord.student_id == student_id, GradeRecord.academic_year == academic_year,
        GradeRecord.semester == semester,
        GradeRecord.record_kind == ("retake" if kind == "retake" else "semester"))
    query = query.where(GradeRecord.course_code == course_code if course_code else GradeRecord.subject == subject)
    found = list(uow.session.scalars(query.limit(2)))
    return found[0] if len(found) == 1 else None


def _build_lines(uow: UnitOfWork, values: dict, lines: list[LineInput]) -> list[GradeCorrectionLine]:
    if not lines:
        raise InvalidInput("請至少填寫一位學生（學號、原成績、更改後成績）。", field="lines")
    if len(lines) > LINES_MAX:
        raise RuleViolation(f"一份申請至多 {LINES_MAX} 位學生，目前 {len(lines)} 位；請分成多份申請。",
                            rule="lines_max", field="lines", limit=LINES_MAX)
    numbers = [(line.student_no or "").strip() for line in lines]
    students = students_by_no(uow, numbers)
    built, seen = [], set()
    for n, (number, line) in enumerate(zip(numbers, lines), start=1):
        where = f"第 {n} 位學生"
        if not number:
            raise InvalidInput(f"{where}：請填寫學號。", field="lines")
        student = students.get(number)
        if student is None:
            raise InvalidInput(f"{where}：找不到學號「{number}」的學生。", field="lines")
        if student.id in seen:
            raise InvalidInput(f"{where}：學號「{number}」重複填寫。", field="lines")
        seen.add(student.id)
        record = find_record(uow, student_id=student.id, academic_year=values["academic_year"],
                             semester=values["semester"], kind=values["kind"], subject=values["subject"],
                             course_code=values["course_code"])
        stored = getattr(record, grade_field(values["kind"])) if record is not None else None
        old = _whole(line.old_grade, "lines", f"{where}（{student.name}）原成績", 0, 100, required=False)
        if old is None:
            old = stored
        elif record is not None and stored != old:
            raise RuleViolation(f"{where}（{student.name}，{number}）：原成績填 {old}，與登錄的成績 "
                                f"{'（空白）' if stored is None else stored} 不符。", rule="old_grade_matches",
                                field="lines", limit=stored, student_no=number)
        new = _whole(line.new_grade, "lines", f"{where}（{student.name}）更改後成績", 0, 100)
        if new == old:
            raise InvalidInput(f"{where}（{student.name}）：更改後成績與原成績相同（{new}）。", field="lines")
        built.append(GradeCorrectionLine(school_id=uow.school_id, student_id=student.id,
                                         grade_record_id=record.id if record is not None else None,
                                         old_grade=old, new_grade=new))
    return built


def _summary(values: dict, lines: list[GradeCorrectionLine]) -> str:
    kind = f"第 {values['exam_no']} 次定期成績" if values["kind"] == "exam" else KINDS[values["kind"]]
    return (f"{values['academic_year']} 學年度{SEMESTERS[values['semester']]} {values['subject']} {kind}，"
            f"{REASONS[values['reason']]}，學生 {len(lines)} 位")


# -- the use cases ----------------------------------------------------------------------------------

def draft(uow: UnitOfWork, actor: Actor, *, academic_year, semester, subject, teacher_id, kind, reason,
          explanation, lines: list[LineInput], course_code: str | None = None, exam_no=None,
          now: datetime | None = None) -> GradeCorrection:
    """A new request in drafted, by its teacher, the registry, or either's proxy."""
    now = now_or(now)
    uow.require_member(actor)
    forbid_students(actor)
    values = _values(uow, academic_year=academic_year, semester=semester, subject=subject, course_code=course_code,
                     teacher_id=teacher_id, kind=kind, exam_no=exam_no, reason=reason, explanation=explanation)
    acting = _require_drafter(uow, actor, values["teacher_id"], now, "填寫")
    built = _build_lines(uow, values, lines)
    request = GradeCorrection(school_id=uow.school_id, created_at=now, updated_at=now,
                              created_by_id=actor.id, created_by_name=actor.name, **values)
    start(uow.session, request, event="draft", actor=acting, at=now, reason=_summary(values, built))
    for line in built:
        line.correction_id = request.id
    uow.session.add_all(built)
    uow.commit()
    return request


def edit(uow: UnitOfWork, actor: Actor, request_id: int, *, expected_version: int | None, academic_year, semester,
         subject, teacher_id, kind, reason, explanation, lines: list[LineInput], course_code: str | None = None,
         exam_no=None, now: datetime | None = None) -> GradeCorrection:
    """Replace a draft's fields and students (a request sent back is a draft again)."""
    now = now_or(now)
    uow.require_member(actor)
    request = _request(uow, request_id, for_update=True)
    acting = _require_drafter(uow, actor, request.teacher_id, now, "修改")
    require_current(request, expected_version, what=_THIS_REQUEST)
    if request.state != "drafted":
        raise RuleViolation(f"申請目前為「{state_label(MACHINE, request.state)}」，只有草稿可以修改；"
                            "需要修改請由簽章人退回。", rule="edit_only_drafts", field="state", limit="drafted")
    values = _values(uow, academic_year=academic_year, semester=semester, subject=subject, course_code=course_code,
                     teacher_id=teacher_id, kind=kind, exam_no=exam_no, reason=reason, explanation=explanation)
    if values["teacher_id"] != request.teacher_id:
        _require_drafter(uow, actor, values["teacher_id"], now, "修改")
    built = _build_lines(uow, values, lines)
    for old in _lines(uow, request.id):
        uow.session.delete(old)
    uow.flush()
    for key, value in values.items():
        setattr(request, key, value)
    request.updated_at = now
    for line in built:
        line.correction_id = request.id
    uow.session.add_all(built)
    note(uow.session, school_id=uow.school_id, subject_kind=SUBJECT_KIND, subject_id=request.id, event="edit",
         from_state=request.state, to_state=request.state, actor=acting, at=now, reason=_summary(values, built))
    uow.commit()
    return request


def sign(uow: UnitOfWork, actor: Actor, request_id: int, *, expected_version: int | None,
         now: datetime | None = None) -> GradeCorrection:
    """The signature the request waits for, by the step's signer (STEPS) or his proxy; the grade
    officer's is `enter`."""
    now = now_or(now)
    uow.require_member(actor)
    request = _request(uow, request_id, for_update=True)
    event = NEXT.get(request.state)
    if event is None:
        raise invalid(request, "sign", label="簽章")
    acting = _require_signer(uow, actor, request, STEP_OF[event], now)
    require_current(request, expected_version, what=_THIS_REQUEST)
    if event == "enter_grades":
        _apply_lines(uow, request, acting, now)
    fire(uow.session, request, event, actor=acting, at=now)
    request.updated_at = now
    uow.commit()
    return request


def enter(uow: UnitOfWork, actor: Actor, request_id: int, *, expected_version: int | None,
          now: datetime | None = None) -> GradeCorrection:
    """The grade officer's step: apply every line's new grade (even in a locked term: this is the
    sanctioned way) and mark the request entered, all or nothing."""
    require_allowed(_request(uow, request_id), "enter_grades")
    return sign(uow, actor, request_id, expected_version=expected_version, now=now)


def _apply_lines(uow: UnitOfWork, request: GradeCorrection, acting: Actor, now: datetime) -> None:
    field = grade_field(request.kind)
    label = "補考成績" if field == "makeup_score" else "學期成績"
    for line in _lines(uow, request.id):
        student = uow.get(Student, line.student_id, what="學生")
        record = (uow.session.scalar(uow.select(GradeRecord).where(GradeRecord.id == line.grade_record_id)
                                     .with_for_update()) if line.grade_record_id else
                  find_record(uow, student_id=student.id, academic_year=request.academic_year,
                              semester=request.semester, kind=request.kind, subject=request.subject,
                              course_code=request.course_code))
        who = f"{student.name}（{student.student_no}）"
        if record is None:
            raise RuleViolation(f"找不到{who}{request.academic_year} 學年度{SEMESTERS[request.semester]}"
                                f"「{request.subject}」的成績紀錄，無法登錄更正；請先登錄成績或退回申請。",
                                rule="grade_record_missing", field="lines", student_no=student.student_no)
        current = getattr(record, field)
        if current != line.old_grade:
            raise RuleViolation(f"{who}目前登錄的{label}為 {'（空白）' if current is None else current}，"
                                f"與申請的原成績 {'（空白）' if line.old_grade is None else line.old_grade} 不符，"
                                "未登錄任何更正；請退回申請確認。", rule="old_grade_matches", field="lines",
                                limit=current, student_no=student.student_no)
        changes = [f"{label}：{'（空白）' if current is None else current} → {line.new_grade}"]
        setattr(record, field, line.new_grade)
        passed = (record.score is not None and record.score >= 60) or (
            record.makeup_score is not None and record.makeup_score >= 60)
        if record.record_kind != "credit_transfer" and passed != record.passed:
            changes.append(f"及格：{'是' if record.passed else '否'} → {'是' if passed else '否'}")
            changes.append(f"採計學分：{'是' if record.credit_counted else '否'} → {'是' if passed else '否'}")
            record.passed = record.credit_counted = passed
        record.updated_at = now
        line.grade_record_id = record.id
        audit(uow, GRADE, record, event="correct_by_request", actor=acting, at=now,
              reason=f"依成績更正申請第 {request.id} 號：" + "；".join(changes))


def _send_back_allowed(uow: UnitOfWork, actor: Actor, request: GradeCorrection, now: datetime) -> Actor | None:
    """Whoever signed so far, or the one whose signature is awaited."""
    event = NEXT.get(request.state)
    if event is None or request.state == "drafted":
        return None
    upto = [step.event for step in STEPS].index(event)
    for step in STEPS[:upto + 1]:
        acting = _as_signer(uow, actor, request, step, now)
        if acting is not None:
            return acting
    return None


def send_back(uow: UnitOfWork, actor: Actor, request_id: int, *, expected_version: int | None, reason: str,
              now: datetime | None = None) -> GradeCorrection:
    """Back to the draft, with the reason everyone on the path reads."""
    now = now_or(now)
    uow.require_member(actor)
    request = _request(uow, request_id, for_update=True)
    require_allowed(request, "send_back")
    acting = _send_back_allowed(uow, actor, request, now)
    if acting is None:
        raise Forbidden("只有已簽章的人或目前等待簽章的人（或其代理人）可以退回這份申請。")
    require_current(request, expected_version, what=_THIS_REQUEST)
    why = text_field(reason, field="reason", label="退回原因", max_chars=REASON_MAX, required=True)
    fire(uow.session, request, "send_back", actor=acting, at=now, reason=why)
    request.updated_at = now
    uow.commit()
    return request


def withdraw(uow: UnitOfWork, actor: Actor, request_id: int, *, expected_version: int | None,
             reason: str | None = None, now: datetime | None = None) -> GradeCorrection:
    now = now_or(now)
    uow.require_member(actor)
    request = _request(uow, request_id, for_update=True)
    acting = _require_drafter(uow, actor, request.teacher_id, now, "撤回")
    require_current(request, expected_version, what=_THIS_REQUEST)
    fire(uow.session, request, "withdraw", actor=acting, at=now,
         reason=text_field(reason, field="reason", label="撤回原因", max_chars=REASON_MAX, required=False) or None)
    request.updated_at = now
    uow.commit()
    return request


# -- views ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Listed:
    request: GradeCorrection
    teacher_name: str
    students: int
    state_label: str
    awaiting: str | None      # the signature box it waits for


@dataclass(frozen=True)
class Queue:
    mine: list[Listed]        # waiting for my signature
    others: list[Listed]      # the rest I may read (overseers: every request; a teacher: his own)


@dataclass(frozen=True)
class LineView:
    line: GradeCorrectionLine
    student_no: str
    student_name: str
    class_name: str


@dataclass(frozen=True)
class Signature:
    box: str
    name: str | None          # who signed (「甲 代 乙」 for a proxy); None: not yet
    at: datetime | None


@dataclass(frozen=True)
class Detail:
    request: GradeCorrection
    teacher_name: str
    kind_text: str
    reason_text: str
    state_label: str
    lines: list[LineView]
    history: list[AuditEntry]
    signatures: list[Signature]
    actions: list[tuple[str, str]]  # (sign | send_back | withdraw | edit, label) this actor may do now
    awaiting: str | None


def may_draft(uow: UnitOfWork, actor: Actor, *, now: datetime | None = None) -> bool:
    """Whether the new-request form is for this person: a subject teacher, the registry, or a proxy."""
    now = now_or(now)
    if actor.kind != "staff":
        return False
    return actor.has(Role.SUBJECT_TEACHER) or as_office(uow, actor, DRAFTERS, now=now) is not None


def queue(uow: UnitOfWork, actor: Actor, *, now: datetime | None = None) -> Queue:
    now = now_or(now)
    uow.require_member(actor)
    if actor.kind != "staff" and actor.kind not in ("system", "platform"):
        raise Forbidden("學生與家長不能查看成績更正申請。")
    rows = uow.session.execute(
        uow.select(GradeCorrection).add_columns(Staff.name)
        .join(Staff, (Staff.school_id == GradeCorrection.school_id) & (Staff.id == GradeCorrection.teacher_id))
        .order_by(GradeCorrection.updated_at, GradeCorrection.id)).all()
    counts = {}
    for correction_id in uow.session.scalars(uow.select(GradeCorrectionLine.correction_id)):
        counts[correction_id] = counts.get(correction_id, 0) + 1
    mine, others = [], []
    for request, teacher_name in rows:
        event = NEXT.get(request.state)
        item = Listed(request, teacher_name, counts.get(request.id, 0), state_label(MACHINE, request.state),
                      STEP_OF[event].box if event else None)
        if event and _as_signer(uow, actor, request, STEP_OF[event], now) is not None:
            mine.append(item)
        elif _may_read(uow, actor, request, now):
            others.append(item)
    others.sort(key=lambda item: (item.awaiting is None, -item.request.id))
    return Queue(mine, others)


def _signed_by(entry: AuditEntry) -> str:
    if entry.on_behalf_name:
        return f"{entry.actor_name}（代 {entry.on_behalf_name}）"
    return entry.actor_name


def detail(uow: UnitOfWork, actor: Actor, request_id: int, *, now: datetime | None = None) -> Detail:
    now = now_or(now)
    uow.require_member(actor)
    forbid_students(actor)
    request = _request(uow, request_id)
    if not _may_read(uow, actor, request, now):
        raise Forbidden("只有授課教師與成績更正的簽章人員可以查看這份申請。")
    teacher = _teacher(uow, request)
    lines = [LineView(line, no, name, class_name) for line, no, name, class_name in uow.session.execute(
        uow.select(GradeCorrectionLine).add_columns(Student.student_no, Student.name, Student.class_name)
        .join(Student, (Student.school_id == GradeCorrectionLine.school_id) & (Student.id == GradeCorrectionLine.student_id))
        .where(GradeCorrectionLine.correction_id == request.id).order_by(Student.class_name, Student.student_no))]
    history = list(uow.session.scalars(uow.select(AuditEntry).where(
        AuditEntry.subject_kind == SUBJECT_KIND, AuditEntry.subject_id == request.id).order_by(AuditEntry.id)))
    # The form shows this round's signatures: those after the last send-back.
    current: dict[str, AuditEntry] = {}
    for entry in history:
        if entry.event == "send_back":
            current = {}
        elif entry.event in STEP_OF:
            current[entry.event] = entry
    signatures = [Signature(step.box, _signed_by(current[step.event]) if step.event in current else None,
                            current[step.event].at if step.event in current else None) for step in STEPS]
    actions = []
    event = NEXT.get(request.state)
    if event and _as_signer(uow, actor, request, STEP_OF[event], now) is not None:
        actions.append(("sign", event_label(MACHINE, event)))
    if _send_back_allowed(uow, actor, request, now) is not None:
        actions.append(("send_back", event_label(MACHINE, "send_back")))
    if request.state == "drafted" and _as_drafter(uow, actor, request.teacher_id, now) is not None:
        actions += [("edit", "修改申請"), ("withdraw", event_label(MACHINE, "withdraw"))]
    return Detail(request, teacher.name, kind_text(request), REASONS[request.reason],
                  state_label(MACHINE, request.state), lines, history, signatures, actions,
                  STEP_OF[event].box if event else None)


def prefill(uow: UnitOfWork, actor: Actor, *, academic_year, semester, kind, subject, course_code,
            student_no: str) -> int | None:
    """The stored grade a line would correct, for the form's old-grade field; None if not found."""
    forbid_students(actor)
    student = students_by_no(uow, [student_no.strip()]).get(student_no.strip())
    if student is None:
        return None
    record = find_record(uow, student_id=student.id, academic_year=int(academic_year), semester=int(semester),
                         kind=kind, subject=subject, course_code=course_code or None)
    return getattr(record, grade_field(kind)) if record is not None else None


def teachers(uow: UnitOfWork) -> list[Staff]:
    """Who may be named as the request's teacher: the school's active staff, by number."""
    return list(uow.session.scalars(uow.select(Staff).where(Staff.active.is_(True)).order_by(Staff.staff_no)))
