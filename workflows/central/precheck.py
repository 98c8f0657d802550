"""Pre-check 預檢 of the course roster (期初課程預檢, seed 002: 課程代碼比對、發現與更正錯誤): every
course of a period is checked before its records go to the central database, and every problem
is reported by row, not only the first.

Checks, per course (row numbers follow the roster order: course code, then name, then id):
- the 23-character code, its structure and this school's code (workflows/school/course_code.py);
- the entry year (第 1–3 碼) is not after the academic year the course is given in;
- character 17 (課程類別) 8 團體活動時間 / 9 彈性學習時間 agrees with the course name: a course
  named like a group activity or flexible learning time must carry 8 or 9, and a course coded 8
  or 9 must be named like one (GROUP_NAMES below: the words schools use, kept as data).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from persistence.tables import Course
from workflows.core.actors import Actor
from workflows.school.course_code import COURSE_CATEGORY_LABELS, CourseCodeError, parse_course_code
from workflows.core.errors import Forbidden, InvalidInput
from workflows.people.offices import SUBMISSION_ROLES
from workflows.core.roles import Role
from workflows.core.unit_of_work import UnitOfWork

# 課程類別 → words a course name of that category contains (團體活動時間 is class, club and
# school activities and assemblies; 彈性學習時間 is independent study, enrichment/remedial
# teaching, team training and school-specific activities).
GROUP_NAMES: dict[str, tuple[str, ...]] = {
    "8": ("團體活動", "班級活動", "社團活動", "週會", "學生自治"),
    "9": ("彈性學習", "自主學習", "充實", "補強", "選手培訓", "學校特色活動"),
}


@dataclass(frozen=True)
class Problem:
    row: int
    course: str
    code: str
    message: str

    def __str__(self) -> str:
        return f"第 {self.row} 列 {self.course}（{self.code}）：{self.message}"


@dataclass(frozen=True)
class PrecheckReport:
    academic_year: int
    semester: int
    courses: int
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        head = f"{self.academic_year} 學年度第 {self.semester} 學期開課預檢：{self.courses} 門課程"
        return head + ("，全部通過。" if self.ok else f"，{len(self.problems)} 個問題。")


def _category_for_name(name: str) -> str | None:
    return next((category for category, words in GROUP_NAMES.items()
                 if any(word in name for word in words)), None)


def check_course(row: int, name: str, raw_code: str, *, school_code: str, academic_year: int) -> list[Problem]:
    """Every problem of one course (empty when it passes)."""
    problems: list[Problem] = []
    shown = (raw_code or "").strip()
    try:
        code = parse_course_code(raw_code, school_code=school_code)
    except CourseCodeError as error:
        return [Problem(row, name, shown, error.message)]
    if code.entry_year > academic_year:
        problems.append(Problem(row, name, shown, f"課程代碼第 1–3 碼（入學年度）{code.entry_year} "
                                                  f"晚於開課學年度 {academic_year}"))
    named = _category_for_name(name)
    category = code.course_category
    if category in GROUP_NAMES and named != category:
        problems.append(Problem(row, name, shown,
                                f"課程代碼第 17 碼（課程類別）為 {category}（{COURSE_CATEGORY_LABELS[category]}），"
                                f"但課程名稱不是{COURSE_CATEGORY_LABELS[category]}的課程"))
    elif named is not None and category != named:
        problems.append(Problem(row, name, shown,
                                f"課程名稱為{COURSE_CATEGORY_LABELS[named]}，課程代碼第 17 碼（課程類別）"
                                f"應為 {named}，目前為 {category}"))
    return problems


def precheck_courses(uow: UnitOfWork, actor: Actor, academic_year: int, semester: int) -> PrecheckReport:
    """預檢: check every course of the period; nothing is changed."""
    uow.require_member(actor)
    if not (actor.kind in ("system", "platform") or actor.has(*SUBMISSION_ROLES, Role.TEACHING_SECTION)):
        raise Forbidden("只有教學組或提交負責單位可以執行開課預檢。")
    if semester not in (1, 2):
        raise InvalidInput("開課預檢須指定第 1 或第 2 學期。", field="semester")
    # Ordered here, not in SQL: the row numbers must not depend on the database's collation.
    courses = sorted(uow.session.scalars(
        uow.select(Course).where(Course.academic_year == academic_year, Course.semester == semester)),
        key=lambda c: (c.code, c.name, c.id))
    problems = [problem for row, course in enumerate(courses, start=1)
                for problem in check_course(row, course.name, course.code, school_code=uow.school.code,
                                            academic_year=academic_year)]
    return PrecheckReport(academic_year, semester, len(courses), problems)
