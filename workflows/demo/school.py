"""The demo school (`portfolio demo`): built through the real workflows, with explicit times.

Three academic years relative to today: two years ago (everything closed: confirmed, deemed
confirmed, disputed and resolved, locked drafts, items not certified in time), last year
(submitted to the central database, receipts open now, one student's selection not yet
submitted) and this year (drafts, submissions, certifications, rejections). Running it again
finds the school and only prints the table.
"""
from __future__ import annotations

import secrets
from collections import Counter
from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import func, select

from persistence.db import Database
from persistence.files import FileStore
from persistence.tables import (Account, Course, Enrolment, Item, Receipt, School, SchoolClass, Staff, StaffRole,
                                Student)
from workflows.central import disputes, receipts
from workflows.core.actors import Actor, platform_admin
from workflows.core.clock import TAIPEI, academic_year_bounds, academic_year_of, taipei_date, utc_now
from workflows.core.unit_of_work import UnitOfWork, prepare
from workflows.deadlines import sweeps
from workflows.demo import DEMO_CODE, DEMO_NAME
from workflows.items import certification, selection
from workflows.items.uploads import Upload, delete_item, upload_course_outcome, upload_performance
from workflows.people import accounts, passwords
from workflows.people.actors import staff_actor, student_actor
from workflows.people.personal_data import check_digit
from workflows.records.cadre import enter_cadre
from workflows.records.consultation import enter_consultation
from workflows.records.exploration import enter_exploration
from workflows.records.grades import enter_grade
from workflows.school import calendar
from workflows.school.schools import create_school

STUDENTS = ["林小安", "陳品妤", "張宇翔", "黃子晴", "吳承恩", "蔡依婷", "鄭凱文", "謝雅筑"]


def _pdf(text: str) -> bytes:
    return (b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj % " + text.encode() +
            b"\ntrailer << /Root 1 0 R >>\n%%EOF\n")


def _at(day: date, hour: int = 10) -> datetime:
    return datetime.combine(day, time(hour), TAIPEI).astimezone(timezone.utc)


class Demo:
    def __init__(self, db, files, now: datetime):
        self.db, self.files, self.now = db, files, now
        self.year = academic_year_of(taipei_date(now))
        self.school_id = create_school(db, platform_admin(), code=DEMO_CODE, name=DEMO_NAME,
                                       policy="xinzhuang", now=now - timedelta(days=800))

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.db, self.school_id, self.files)

    def actor(self, kind: str, row_id: int) -> Actor:
        with self.uow() as uow:
            return student_actor(uow, row_id) if kind == "student" else staff_actor(uow, row_id)

    def people(self) -> None:
        with self.uow() as uow:
            s = uow.session
            def staff(no, name, roles):
                row = Staff(school_id=self.school_id, staff_no=no, name=name)
                s.add(row)
                s.flush()
                s.add_all(StaffRole(school_id=self.school_id, staff_id=row.id, role=r) for r in roles)
                return row.id
            self.wang = staff("T001", "王怡君", ["subject_teacher", "homeroom_teacher"])
            self.li = staff("T002", "李建宏", ["subject_teacher", "homeroom_teacher", "course_consultant"])
            self.zhang = staff("T003", "張淑芬", ["subject_teacher"])
            self.chen = staff("S001", "陳志明", ["registry", "equipment_section", "executive_secretary", "admin"])
            self.lin = staff("S002", "林佩君", ["student_activities", "teaching_section", "counselling"])
            for name, teacher in (("301", self.wang), ("302", self.li)):
                s.add(SchoolClass(school_id=self.school_id, academic_year=self.year, name=name,
                                  homeroom_staff_id=teacher))
            self.students = []
            for n, name in enumerate(STUDENTS):
                nine = f"E{1 + n % 2}{2000000 + n:07d}"
                row = Student(school_id=self.school_id, student_no=f"11{n:04d}",
                              national_id=nine + check_digit(nine), birth_date=date(2008, 3, 1 + n),
                              name=name, class_name="301" if n < 4 else "302", grade=3)
                s.add(row)
                s.flush()
                self.students.append(row.id)
            self.courses = {}
            for offset, subjects in ((2, ("國語文", "數學", "英語文")), (1, ("歷史", "物理", "化學")), (0, ("地理", "公民與社會", "生物"))):
                year = self.year - offset
                for semester, subject, teacher in ((1, subjects[0], self.wang), (1, subjects[1], self.li),
                                                   (2, subjects[2], self.zhang)):
                    code = f"{self.year - 2}{DEMO_CODE}H00100A1ML0{offset}{semester}{len(self.courses) % 10}"
                    course = Course(school_id=self.school_id, academic_year=year, semester=semester,
                                    code=code, name=subject, teacher_id=teacher)
                    s.add(course)
                    s.flush()
                    s.add_all(Enrolment(school_id=self.school_id, course_id=course.id, student_id=sid)
                              for sid in self.students)
                    self.courses[(year, semester, subject)] = course.id
            uow.commit()

    def windows(self, year: int, *, selection_days: tuple[date, date], receipt_days: tuple[date, date]) -> int:
        first, last = academic_year_bounds(year)
        with self.uow() as uow:
            staff = staff_actor(uow, self.chen)
            at = _at(first) - timedelta(days=7)
            calendar.define_outcome_windows(uow, staff, year, 1, first, date(first.year + 1, 2, 3), now=at)
            calendar.define_outcome_windows(uow, staff, year, 2, date(first.year + 1, 2, 4), last, now=at)
            calendar.define_window(uow, staff, "performance_upload", year, 0, first, last, now=at)
            calendar.define_window(uow, staff, "selection", year, 0, *selection_days, now=at)
            window = calendar.define_window(uow, staff, "receipt_confirmation", year, 0, *receipt_days, now=at)
            uow.commit()
            return window.id

    def upload(self, n: int, course_key, when: datetime) -> int:
        actor = self.actor("student", self.students[n])
        with self.uow() as uow:
            return upload_course_outcome(uow, actor, student_id=self.students[n],
                                         course_id=self.courses[course_key], title=f"{course_key[2]}學習成果",
                                         description="課堂實作報告", document=Upload.of(
                                             _pdf(f"{n}-{course_key}"), f"{course_key[2]}.pdf"), now=when)

    def performance(self, n: int, year: int, when: datetime, title: str) -> int:
        actor = self.actor("student", self.students[n])
        with self.uow() as uow:
            return upload_performance(uow, actor, student_id=self.students[n], academic_year=year,
                                      category="competition", title=title, description="校內競賽",
                                      document=Upload.of(_pdf(f"{n}-{year}-{title}"), "獎狀.pdf"), now=when)

    def do(self, function, role, who, *args, **kwargs):
        actor = self.actor(role, who)
        with self.uow() as uow:
            return function(uow, actor, *args, **kwargs)

    def sweep(self, when: datetime) -> None:
        with self.uow() as uow:
            sweeps.run_all(uow, when)

    def closed_year(self, year: int) -> None:
        """Everything closed: receipts confirmed, disputed and resolved, or deemed confirmed."""
        first, _ = academic_year_bounds(year)
        nxt = first.year + 1
        receipt_window = self.windows(year, selection_days=(date(nxt, 8, 1), date(nxt, 9, 13)),
                                      receipt_days=(date(nxt, 10, 5), date(nxt, 10, 19)))
        self._semester_work(year, first)
        self.sweep(_at(date(nxt, 2, 20)))
        self._select_all(year, _at(date(nxt, 8, 10)))
        for kind in ("course_outcome", "performance"):
            self.do(receipts.submit_selected, "staff", self.chen, kind=kind, academic_year=year,
                    confirmation_window_id=receipt_window, now=_at(date(nxt, 9, 20)))
        with self.uow() as uow:
            issued = {(r.category, r.student_id): r.id for r in uow.session.scalars(
                uow.select(Receipt).where(Receipt.academic_year == year))}
        for n, kind in ((0, "course_outcome"), (1, "course_outcome"), (2, "course_outcome"), (0, "performance")):
            self.do(receipts.confirm, "student", self.students[n], issued[(kind, self.students[n])],
                    now=_at(date(nxt, 10, 8)))
        for kind in ("course_outcome", "performance"):
            self.do(receipts.dispute, "student", self.students[3], issued[(kind, self.students[3])],
                    reason="提交的資料不是最後上傳的版本", now=_at(date(nxt, 10, 9)))
        with self.uow() as uow:
            disputed = uow.session.execute(select(Item.kind, Item.id).where(
                Item.school_id == self.school_id, Item.student_id == self.students[3],
                Item.state == "disputed").order_by(Item.id)).all()
        first_of_kind = {kind: item_id for kind, item_id in reversed(disputed)}
        for item_id in first_of_kind.values():  # the others stay open for the office to handle
            self.do(disputes.resolve, "staff", self.chen, item_id, kind="answered", reason="已與中央資料庫核對並更正",
                    now=_at(date(nxt, 10, 15)))
        self.sweep(_at(date(nxt, 10, 20), 1))

    def last_year(self, year: int, today: date) -> None:
        """Submitted; receipts open now; the last student's selections not yet submitted."""
        receipt_window = self.windows(year, selection_days=(today - timedelta(days=40), today - timedelta(days=10)),
                                      receipt_days=(today - timedelta(days=2), today + timedelta(days=12)))
        first, _ = academic_year_bounds(year)
        self._semester_work(year, first)
        self.sweep(_at(date(first.year + 1, 2, 20)))
        self._select_all(year, _at(today - timedelta(days=20)), unselect_last=True)
        for kind in ("course_outcome", "performance"):
            self.do(receipts.submit_selected, "staff", self.chen, kind=kind, academic_year=year,
                    confirmation_window_id=receipt_window, student_ids=self.students[:-1],
                    now=_at(today - timedelta(days=5)))

    def _semester_work(self, year: int, first: date) -> None:
        early = _at(first + timedelta(days=60))
        tail = _at(date(first.year + 1, 2, 5))
        subjects = [k for k in self.courses if k[0] == year]
        for n in range(len(self.students)):
            for key in subjects:
                if key[1] == 2:
                    continue
                item = self.upload(n, key, early)
                if n == 7 and key[2] == subjects[0][2]:
                    continue  # stays a draft: locked at the window's close
                self.do(certification.submit, "student", self.students[n], item, now=early)
                teacher = self.wang if key == subjects[0] else self.li
                if n == 6 and key == subjects[1]:
                    continue  # the teacher never gets to it: not certified in time
                if n == 5 and key == subjects[0]:
                    self.do(certification.reject, "staff", teacher, item, reason="請補上實驗數據", now=early)
                    self.do(certification.resubmit, "student", self.students[n], item, now=early + timedelta(days=1))
                self.do(certification.certify, "staff", teacher, item, now=tail if n == 4 else early + timedelta(days=2))
            for title in ("校內科展佳作", "英語演講比賽"):
                self.performance(n, year, early, title)
        deleted = self.upload(0, subjects[0], early)
        self.do(delete_item, "student", self.students[0], deleted, now=early)

    def _select_all(self, year: int, when: datetime, *, unselect_last: bool = False) -> None:
        for n, sid in enumerate(self.students):
            with self.uow() as uow:
                ids = uow.session.scalars(select(Item.id).where(
                    Item.school_id == self.school_id, Item.student_id == sid, Item.academic_year == year,
                    Item.state.in_(["certified", "uploaded"])).order_by(Item.id)).all()
            for item_id in ids:
                self.do(selection.select, "student", sid, item_id, now=when)
            if n == len(self.students) - 1 and ids:
                self.do(selection.unselect, "student", sid, ids[-1 if unselect_last else 0], now=when)

    def this_year(self, when: datetime) -> None:
        first, _ = academic_year_bounds(self.year)
        self.windows(self.year, selection_days=(date(first.year + 1, 8, 1), date(first.year + 1, 9, 13)),
                     receipt_days=(date(first.year + 1, 10, 5), date(first.year + 1, 10, 19)))
        semester = 1 if when < _at(date(first.year + 1, 2, 4), 0) else 2
        key = next(k for k in self.courses if k[0] == self.year and k[1] == semester)
        teacher = self.wang if semester == 1 else self.zhang
        draft = self.upload(0, key, when)
        submitted = self.upload(1, key, when)
        self.do(certification.submit, "student", self.students[1], submitted, now=when)
        for n, outcome in ((2, "certify"), (3, "reject")):
            item = self.upload(n, key, when)
            self.do(certification.submit, "student", self.students[n], item, now=when)
            if outcome == "certify":
                self.do(certification.certify, "staff", teacher, item, now=when)
            else:
                self.do(certification.reject, "staff", teacher, item, reason="檔案與課程內容不符", now=when)
        gone = self.upload(4, key, when)
        self.do(delete_item, "student", self.students[4], gone, now=when)
        self.performance(0, self.year, when, "志工服務時數證明")
        duplicate = self.performance(1, self.year, when, "重複上傳的證書")
        self.do(delete_item, "student", self.students[1], duplicate, now=when)
        return draft


    def records(self, year: int, when: datetime) -> None:
        """Last year's staff-entered records: class cadres, semester grades of the year's courses,
        a career-group exploration and a course consultation (what the record pages show)."""
        first, _ = academic_year_bounds(year)
        for n, (unit, position) in enumerate((("301 班", "班長"), ("301 班", "學藝股長"), ("學生會", "活動部長"))):
            self.do(enter_cadre, "staff", self.lin, student_id=self.students[n], academic_year=year, semester=1,
                    level="school" if unit == "學生會" else "class", unit=unit, position=position,
                    starts_on=first + timedelta(days=31), ends_on=date(first.year + 1, 1, 20), now=when)
        with self.uow() as uow:
            codes = {c.id: c.code for c in uow.session.scalars(uow.select(Course))}
        for (course_year, semester, subject), course_id in self.courses.items():
            if course_year != year:
                continue
            for n, student_id in enumerate(self.students):
                score = 58 if n == 6 and semester == 1 else 70 + (n * 7 + semester * 3) % 28
                self.do(enter_grade, "staff", self.chen, student_id=student_id, academic_year=year,
                        semester=semester, course_code=codes[course_id], subject=subject, grade_level=2,
                        credits=2, score=score, passed=score >= 60, credit_counted=score >= 60, now=when)
        self.do(enter_exploration, "staff", self.lin, student_id=self.students[0], academic_year=year,
                semester=2, held_on=date(first.year + 1, 3, 15), career_group="information",
                activity="大學學群講座：資訊學群", notes="了解資訊工程與資訊管理的差異", now=when)
        self.do(enter_consultation, "staff", self.li, student_id=self.students[0],
                held_at=_at(date(first.year + 1, 4, 10), 14), place="輔導室",
                content="討論高三選修課程與資訊學群的關聯", advice="建議選修程式設計與數學甲", now=when)


def build_demo(db: Database, files: FileStore, now: datetime | None = None) -> int:
    """The demo school's id: built now, or found if an earlier run built it."""
    prepare(db)
    now = now or utc_now()
    with db.session() as session:
        existing = session.scalars(select(School.id).where(School.code == DEMO_CODE)).one_or_none()
    if existing is not None:
        return existing
    demo = Demo(db, files, now)
    demo.people()
    demo.closed_year(demo.year - 2)
    demo.last_year(demo.year - 1, taipei_date(now))
    demo.this_year(now - timedelta(minutes=5))
    demo.records(demo.year - 1, now - timedelta(minutes=4))
    return demo.school_id


# username → (who, how to find them, role label). The demo school's people, as the pages know them.
DEMO_ACCOUNTS = (
    ("student", "student", "11" + "0000", "學生"),
    ("parent", "guardian", "11" + "0000", "家長"),
    ("teacher", "staff", "T003", "任課教師"),
    ("homeroom", "staff", "T001", "導師兼任課教師"),
    ("registry", "staff", "S001", "註冊組（工作小組）"),
    ("admin", "staff", "S003", "學校平臺管理者"),
)


def demo_accounts(db: Database, school_id: int, password: str | None) -> tuple[list[tuple[str, str, str]], str | None]:
    """Create the demo accounts that are missing and set every one's password to `password` if
    given. Returns [(username, name, role label)] and the password set now (None: unchanged).
    New accounts without a given password get a random one, to be shown once."""
    admin = platform_admin()
    out, chosen = [], password
    with UnitOfWork(db, school_id) as uow:
        if uow.session.scalar(uow.select(Staff.id).where(Staff.staff_no == "S003")) is None:
            row = Staff(school_id=school_id, staff_no="S003", name="黃俊傑")
            uow.session.add(row)
            uow.session.flush()
            uow.session.add(StaffRole(school_id=school_id, staff_id=row.id, role="admin"))
        for username, kind, number, label in DEMO_ACCOUNTS:
            account = uow.session.scalars(uow.select(Account).where(Account.username == username)).one_or_none()
            if account is None:
                chosen = chosen or secrets.token_urlsafe(12)
                students, staff = accounts.person_ids(uow, student_nos=[number] if kind != "staff" else [],
                                                      staff_no=number if kind == "staff" else None)
                account = accounts.create_account(
                    uow, admin, username=username, password=chosen, kind=kind,
                    student_id=students[0] if kind == "student" else None, staff_id=staff,
                    guardian_of=students if kind == "guardian" else None, name=f"{STUDENTS[0]}的家長")
            elif password is not None and not accounts.verify_password(account.password_hash, password):
                # The same path and audit row (password_set) as `portfolio user passwd`.
                account = passwords.set_password(uow, admin, username, password)
            out.append((username, account.name, label))
        uow.commit()
    return out, chosen


def state_counts(db: Database, school_id: int) -> Counter:
    """How many of the school's items are in each (kind, state), and receipts in each
    ("receipt", state)."""
    with db.session() as session:
        rows = session.execute(select(Item.kind, Item.state, func.count()).where(
            Item.school_id == school_id).group_by(Item.kind, Item.state)).all()
        receipt_rows = session.execute(select(Receipt.state, func.count()).where(
            Receipt.school_id == school_id).group_by(Receipt.state)).all()
    counts = Counter({(kind, state): n for kind, state, n in rows})
    counts.update({("receipt", state): n for state, n in receipt_rows})
    return counts
