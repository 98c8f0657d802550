"""Grades 學業成績 (修課紀錄): one course result of a student — a semester grade, a year grade
(semester 0), or the later result of a make-up exam 補考, retake 重修, remedial course 補修 or
credit transfer 學分抵免 — with its course code, subject, grade level, credits, score, pass,
make-up score and whether the credits count. The registry (註冊組), or its proxy while it is
unavailable, enters and corrects them one by one or from a CSV file; every change is audited;
the semester course-records batch carries every kind.

Rules besides each field's own limits: semester 0 is the year grade and only that; the pass
agrees with the score (≥ 60) unless a make-up score of 60 or more is given; credits count only
when passed; a score may be blank only for a credit transfer; a course code carries this
school's code, except a credit transfer's (a course taken elsewhere, e.g. before a transfer).
The operations themselves are the records engine's (engine.py).

The grade lock 成績檢核日: after the last day (Asia/Taipei) of the term's grade-check window
(calendar kind grade_check; a year grade, semester 0, follows semester 2's) no grade of that term is
entered, corrected, deleted or imported directly: workflows/records/grade_corrections.py is the way then.
"""
from __future__ import annotations

import unicodedata
from datetime import datetime
from functools import lru_cache

from persistence.tables import GradeRecord
from persistence.vocabulary import GradeRecordKind
from workflows.school import calendar
from workflows.core.actors import Actor
from workflows.core.clock import format_deadline, now_or
from workflows.school.course_code import CourseCodeError, parse_course_code
from workflows.school.csv_rows import (RowError, lookup, lookup_table, parse_academic_year, parse_boolean,
                                       parse_grade, parse_semester)
from workflows.core.errors import DomainError, RuleViolation
from workflows.records.engine import (Correction, Field, ImportCounts, LimitError, Listed, RecordKind,
                                      RowsRejected, correct, delete, enter, import_csv, listing, may_enter, one,
                                      parse_csv, text_of, value_of, whole_number)
from workflows.records.common import GRADE, forbid_students, require_owner
from workflows.core.unit_of_work import UnitOfWork

RECORD_KINDS = GradeRecordKind.labels()
PASS_MARK = 60
SUBJECT_MAX, CREDITS_MAX = 60, 30
SEMESTERS = {0: "學年", 1: "第 1 學期", 2: "第 2 學期"}

_KINDS = lookup_table([(code, code) for code in RECORD_KINDS] + [(label, code) for code, label in RECORD_KINDS.items()]
                + [("學期成績", "semester"), ("學年成績", "year"), ("抵免", "credit_transfer")])


def _record_kind(value: str) -> str:
    return lookup(_KINDS, value, "成績類別", RECORD_KINDS.values())


def _grade_semester(value: str) -> int:
    if unicodedata.normalize("NFKC", value).strip() in ("0", "學年", "全學年"):
        return 0
    try:
        return parse_semester(value)
    except ValueError:
        raise ValueError(f"「{value}」不是有效的學期；請填 0（學年成績）、1 或 2（或 上、下）") from None


def _course_code(value: str) -> str:
    try:
        return parse_course_code(value).code
    except CourseCodeError as error:
        raise ValueError(error.message) from None


def _kind_label(code: str) -> str:
    return RECORD_KINDS.get(code, code)


def _term_rules(values: dict) -> list[tuple[str, LimitError]]:
    kind, semester = values.get("record_kind"), values.get("semester")
    if semester == 0 and kind != "year":
        return [("semester", LimitError(f"學期 0 表示學年成績，只能用於成績類別「{GradeRecordKind.YEAR.label}」（目前為「{_kind_label(kind)}」）",
                                        rule="semester_zero_only_for_year_grades", limit=0))]
    if kind == "year" and semester not in (0, None):
        return [("semester", LimitError(f"成績類別「{GradeRecordKind.YEAR.label}」的學期須填 0",
                                        rule="semester_zero_only_for_year_grades", limit=0))]
    return []


def _score_rules(values: dict) -> list[tuple[str, LimitError]]:
    kind, score, makeup, passed = (values.get(k) for k in ("record_kind", "score", "makeup_score", "passed"))
    problems = []
    if score is None and kind != "credit_transfer":
        problems.append(("score", LimitError("只有成績類別「學分抵免」可以不填學期成績",
                                             rule="score_required_except_credit_transfer")))
    if score is not None and passed is not None:
        made_up = makeup is not None and makeup >= PASS_MARK
        if passed and not (score >= PASS_MARK or made_up):
            why = (f"，補考成績 {makeup} 分也未達" if makeup is not None else f"，也沒有 {PASS_MARK} 分以上的補考成績")
            problems.append(("passed", LimitError(f"學期成績 {score} 分未達及格標準 {PASS_MARK} 分{why}；及格應填「否」",
                                                  rule="passed_agrees_with_score", limit=PASS_MARK)))
        elif not passed and (score >= PASS_MARK or made_up):
            reached = f"學期成績 {score} 分" if score >= PASS_MARK else f"補考成績 {makeup} 分"
            problems.append(("passed", LimitError(f"{reached}已達及格標準 {PASS_MARK} 分；及格應填「是」",
                                                  rule="passed_agrees_with_score", limit=PASS_MARK)))
    if values.get("credit_counted") and passed is False:
        problems.append(("credit_counted", LimitError("未及格的科目不能採計學分；請填「否」，或先更正成績與及格",
                                                      rule="credit_counted_requires_pass")))
    return problems


def _summary(record: GradeRecord) -> str:
    score = "—" if record.score is None else f"{record.score} 分"
    makeup = "" if record.makeup_score is None else f"，補考 {record.makeup_score} 分"
    return (f"{record.academic_year} 學年度{SEMESTERS.get(record.semester, record.semester)} "
            f"{_kind_label(record.record_kind)} {record.subject}（{record.course_code}）{record.credits} 學分，"
            f"成績 {score}{makeup}，{'及格' if record.passed else '不及格'}，"
            f"{'採計學分' if record.credit_counted else '不採計學分'}")


FIELDS = (
    Field("academic_year", "學年度", parse_academic_year),
    Field("semester", "學期", _grade_semester, show=lambda n: SEMESTERS.get(n, str(n))),
    Field("record_kind", "成績類別", _record_kind, aliases=("類別", "修課紀錄類別"), show=_kind_label),
    Field("course_code", "課程代碼", _course_code),
    text_of("subject", "科目名稱", SUBJECT_MAX, aliases=("科目",)),
    Field("grade_level", "年級", parse_grade),
    Field("credits", "學分數", whole_number(0, CREDITS_MAX, rule="credits_range"), aliases=("學分",)),
    Field("score", "學期成績", whole_number(0, 100, rule="score_range"), required=False, aliases=("成績",)),
    Field("passed", "及格", parse_boolean, aliases=("是否及格",)),
    Field("makeup_score", "補考成績", whole_number(0, 100, rule="makeup_score_range"), required=False),
    Field("credit_counted", "採計學分", parse_boolean, aliases=("是否採計學分",)),
)
EDITABLE = tuple(f.key for f in FIELDS)


@lru_cache(maxsize=64)
def kind_for(school_code: str) -> RecordKind:
    """Grades of one school: its course codes carry the school's code."""

    def own_school(values: dict) -> list[tuple[str, LimitError]]:
        code = values.get("course_code")
        if code is None or values.get("record_kind") == "credit_transfer":
            return []
        try:
            parse_course_code(code, school_code=school_code)
        except CourseCodeError as error:
            return [("course_code", LimitError(f"{error.message}（學分抵免以外的成績須為本校課程）",
                                               rule="course_code_of_this_school", limit=school_code))]
        return []

    return RecordKind(GRADE, GradeRecord, FIELDS,
                      key=("academic_year", "semester", "record_kind", "course_code"),
                      key_label="學年度、學期、成績類別與課程代碼",
                      rules=lambda values, now: [*_term_rules(values), *own_school(values), *_score_rules(values)],
                      summary=_summary)


def _kind(uow: UnitOfWork) -> RecordKind:
    return kind_for(uow.school.code)


# -- the grade lock 成績檢核日 ------------------------------------------------------------------------

def locked_since(uow: UnitOfWork, academic_year: int, semester: int) -> datetime | None:
    """When the term's grades locked: the end of its grade-check window (semester 0, the year grade:
    semester 2's); None when the school has not set one."""
    window = calendar.find(uow, "grade_check", academic_year, semester or 2)
    return window.ends_at if window is not None else None


def _lock_message(academic_year: int, semester: int, ends_at: datetime) -> str:
    return (f"{academic_year} 學年度{SEMESTERS.get(semester, semester)}的成績已於成績檢核日 "
            f"{format_deadline(ends_at)} 後鎖定，不能直接登錄、更正或刪除；如需更正，請由任課教師提出"
            "「成績更正申請」（學生學業成績更正申請），經核定後由成績登錄人登錄。")


def require_unlocked(uow: UnitOfWork, academic_year: int, semester: int, now: datetime) -> None:
    """RuleViolation(rule="grades_locked") naming the grade-check day, once it has passed."""
    ends_at = locked_since(uow, academic_year, semester)
    if ends_at is not None and now >= ends_at:
        raise RuleViolation(_lock_message(academic_year, semester, ends_at), rule="grades_locked",
                            field="semester", limit=ends_at.isoformat())


def _require_owner(uow: UnitOfWork, actor: Actor, doing: str, now: datetime) -> None:
    """Who may act is heard before the lock (a student hears he may not, not that it is locked)."""
    forbid_students(actor)
    require_owner(uow, actor, GRADE, doing, now=now)


def _term(raw_year, raw_semester) -> tuple[int, int] | None:
    """The term a form or caller names, or None when the values are bad (enter() says why)."""
    try:
        return value_of(FIELDS[0], raw_year), value_of(FIELDS[1], raw_semester)
    except DomainError:
        return None


def enter_grade(uow: UnitOfWork, actor: Actor, *, student_id: int | None = None, student_no: str | None = None,
                academic_year, semester, record_kind="semester", course_code, subject, grade_level, credits,
                score=None, passed, makeup_score=None, credit_counted, now: datetime | None = None) -> GradeRecord:
    """Enter one course result for the student (by id, or by 學號 as a form gives it). Values may
    be typed or text as a clerk writes it (114, 0 or 學年, 補考, 是/否). Refused once the term is
    locked (grades_locked)."""
    now = now_or(now)
    _require_owner(uow, actor, "登錄", now)
    term = _term(academic_year, semester)
    if term is not None and None not in term:
        require_unlocked(uow, *term, now)
    return enter(uow, actor, _kind(uow), student_id=student_id, student_no=student_no, now=now,
                 raw=dict(academic_year=academic_year, semester=semester, record_kind=record_kind,
                          course_code=course_code, subject=subject, grade_level=grade_level, credits=credits,
                          score=score, passed=passed, makeup_score=makeup_score, credit_counted=credit_counted))


def correct_grade(uow: UnitOfWork, actor: Actor, record_id: int, *, expected_version: int | None,
                  now: datetime | None = None, **fields) -> Correction:
    """Change the given fields (EDITABLE); the rules are checked on the result. The audit reason
    lists 「欄位：舊 → 新」; when nothing differs nothing is stored and `changes` is empty. Refused
    when the record's term, or the term it would move to, is locked."""
    now = now_or(now)
    _require_owner(uow, actor, "更正", now)
    record = uow.get(GradeRecord, record_id, what="學業成績")
    require_unlocked(uow, record.academic_year, record.semester, now)
    if "academic_year" in fields or "semester" in fields:
        term = _term(fields.get("academic_year", record.academic_year), fields.get("semester", record.semester))
        if term is not None and None not in term:
            require_unlocked(uow, *term, now)
    return correct(uow, actor, _kind(uow), record_id, expected_version=expected_version, raw=fields, now=now)


def delete_grade(uow: UnitOfWork, actor: Actor, record_id: int, *, expected_version: int | None,
                 reason: str, now: datetime | None = None) -> None:
    now = now_or(now)
    _require_owner(uow, actor, "刪除", now)
    record = uow.get(GradeRecord, record_id, what="學業成績")
    require_unlocked(uow, record.academic_year, record.semester, now)
    delete(uow, actor, _kind(uow), record_id, expected_version=expected_version, reason=reason, now=now)


def list_grades(uow: UnitOfWork, actor: Actor, *, academic_year, semester, class_name: str | None = None,
                now: datetime | None = None) -> list[Listed]:
    """The term's course results (semester 0: the year grades), by class and student number."""
    return listing(uow, actor, _kind(uow), academic_year=academic_year, semester=semester,
                   class_name=class_name, order=(GradeRecord.course_code, GradeRecord.record_kind), now=now)


def get_grade(uow: UnitOfWork, actor: Actor, record_id: int, *, now: datetime | None = None) -> Listed:
    return one(uow, actor, _kind(uow), record_id, now=now)


def may_enter_grades(uow: UnitOfWork, actor: Actor, *, now: datetime | None = None) -> bool:
    return may_enter(uow, actor, _kind(uow), now=now)


def import_grades_csv(uow: UnitOfWork, actor: Actor, data: bytes, *, now: datetime | None = None) -> ImportCounts:
    """Columns 學號, 學年度, 學期, 成績類別, 課程代碼, 科目名稱, 年級, 學分數, 學期成績, 及格, 補考成績,
    採計學分 (docs/records.md). A row of a locked term is a row error: nothing is imported."""
    now = now_or(now)
    _require_owner(uow, actor, "匯入", now)
    parsed = parse_csv(_kind(uow), data, now=now)
    since = {}
    locked = []
    for line in parsed.rows:
        term = (line.values["academic_year"], line.values["semester"])
        if term not in since:
            since[term] = locked_since(uow, *term)
        if since[term] is not None and now >= since[term]:
            locked.append(RowError(line.line, "學期", _lock_message(*term, since[term])))
    if locked:
        raise RowsRejected(_kind(uow).label, sorted([*parsed.errors, *locked], key=lambda e: e.line))
    return import_csv(uow, actor, _kind(uow), data, now=now)


def grades_csv_template() -> bytes:
    return kind_for("").csv_template()
