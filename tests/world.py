"""A school with people, courses and a calendar, built through the real workflows where the
behaviour matters and plain rows where it is only setup."""
from __future__ import annotations

from datetime import date, datetime, timezone

from sqlalchemy import update

from persistence.tables import Course, Enrolment, Item, SchoolClass, Staff, StaffRole, Student
from workflows.school import calendar
from workflows.items import certification, selection
from workflows.central import receipts
from workflows.core.actors import platform_admin
from workflows.people.actors import staff_actor, student_actor
from workflows.people.personal_data import check_digit
from workflows.school.schools import create_school
from workflows.core.unit_of_work import UnitOfWork
from workflows.items.uploads import Upload, upload_course_outcome, upload_performance

from tests import samples

YEAR = 114
# 114 學年度第 1 學期: students upload 2025-09-30 .. 2026-02-03; teachers certify until
# 3 working days later (2026-02-06); selection 2026-08-01 .. 2026-09-13; receipts 2026-10-04 .. 10-18.
IN_UPLOAD = datetime(2025, 11, 1, 2, 0, tzinfo=timezone.utc)
UPLOAD_LAST_DAY = date(2026, 2, 3)
IN_TAIL = datetime(2026, 2, 5, 2, 0, tzinfo=timezone.utc)
AFTER_CERTIFICATION = datetime(2026, 2, 10, 2, 0, tzinfo=timezone.utc)
IN_SELECTION = datetime(2026, 8, 10, 2, 0, tzinfo=timezone.utc)
AFTER_SELECTION = datetime(2026, 9, 20, 2, 0, tzinfo=timezone.utc)
IN_RECEIPT = datetime(2026, 10, 10, 2, 0, tzinfo=timezone.utc)
RECEIPT_LAST_DAY = date(2026, 10, 18)

COURSE_CODE = "{year}{school}H00100A1ML0101"


def national_id(serial: int, letter: str = "A", sex: str = "1") -> str:
    nine = f"{letter}{sex}{serial:07d}"
    return nine + check_digit(nine)


class World:
    def __init__(self, db, files, *, code: str = "013301", policy: str = "xinzhuang", students: int = 3):
        self.db, self.files, self.code = db, files, code
        self.school_id = create_school(db, platform_admin(), code=code, name=f"測試高中{code}",
                                       policy=policy, now=IN_UPLOAD)
        with self.uow() as uow:
            s = uow.session
            self.teacher_id = self._staff(s, "T001", "王老師", ["subject_teacher", "homeroom_teacher"])
            self.other_teacher_id = self._staff(s, "T002", "李老師", ["subject_teacher"])
            self.staff_id = self._staff(s, "S001", "陳組長", ["registry", "equipment_section",
                                                            "executive_secretary", "admin"])
            self.student_ids = []
            for n in range(students):
                student = Student(school_id=self.school_id, student_no=f"{code[-3:]}{n:04d}",
                                  national_id=national_id(int(code) * 10 + n), birth_date=date(2009, 1, 1 + n),
                                  name=f"學生{n}", class_name="101", grade=1,
                                  email=f"s{n}.{code}@student.example.edu.tw")
                s.add(student)
                s.flush()
                self.student_ids.append(student.id)
            # 王老師 is the homeroom teacher (導師) of class 101.
            s.add(SchoolClass(school_id=self.school_id, academic_year=YEAR, name="101",
                              homeroom_staff_id=self.teacher_id))
            self.course_id = self._course(s, "國語文", self.teacher_id, 1, "01")
            self.course2_id = self._course(s, "數學", self.other_teacher_id, 1, "02")
            self.course_sem2_id = self._course(s, "英語文", self.teacher_id, 2, "03")
            uow.commit()
        with self.uow() as uow:
            staff = staff_actor(uow, self.staff_id)
            calendar.define_outcome_windows(uow, staff, YEAR, 1, date(2025, 9, 30), UPLOAD_LAST_DAY, now=IN_UPLOAD)
            calendar.define_outcome_windows(uow, staff, YEAR, 2, date(2026, 3, 1), date(2026, 7, 14), now=IN_UPLOAD)
            calendar.define_window(uow, staff, "performance_upload", YEAR, 0, date(2025, 8, 1), date(2026, 7, 31), now=IN_UPLOAD)
            calendar.define_window(uow, staff, "selection", YEAR, 0, date(2026, 8, 1), date(2026, 9, 13), now=IN_UPLOAD)
            self.receipt_window_id = calendar.define_window(
                uow, staff, "receipt_confirmation", YEAR, 0, date(2026, 10, 4), date(2026, 10, 18), now=IN_UPLOAD).id
            uow.commit()

    def _staff(self, s, no, name, roles) -> int:
        staff = Staff(school_id=self.school_id, staff_no=no, name=name,
                      email=f"{no.lower()}.{self.code}@staff.example.edu.tw")
        s.add(staff)
        s.flush()
        s.add_all(StaffRole(school_id=self.school_id, staff_id=staff.id, role=r) for r in roles)
        return staff.id

    def _course(self, s, name, teacher_id, semester, serial) -> int:
        code = f"{YEAR - 2}{self.code}H00100A1ML01{serial}"
        assert len(code) == 23, code
        course = Course(school_id=self.school_id, academic_year=YEAR, semester=semester, code=code,
                        name=name, teacher_id=teacher_id)
        s.add(course)
        s.flush()
        s.add_all(Enrolment(school_id=self.school_id, course_id=course.id, student_id=sid)
                  for sid in self.student_ids)
        return course.id

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.db, self.school_id, self.files)

    def add_staff(self, no: str, name: str, *roles: str) -> int:
        """A staff member with exactly these roles (setup for a test)."""
        with self.uow() as uow:
            staff_id = self._staff(uow.session, no, name, list(roles))
            uow.commit()
        return staff_id

    def student(self, n: int = 0):
        with self.uow() as uow:
            return student_actor(uow, self.student_ids[n])

    def staff(self, staff_id: int | None = None):
        with self.uow() as uow:
            return staff_actor(uow, staff_id or self.staff_id)

    @property
    def teacher(self):
        return self.staff(self.teacher_id)

    def upload(self, n: int = 0, *, course_id: int | None = None, data: bytes | None = None,
               now=IN_UPLOAD, title: str = "作品") -> int:
        actor = self.student(n)
        with self.uow() as uow:
            return upload_course_outcome(
                uow, actor, student_id=self.student_ids[n], course_id=course_id or self.course_id,
                title=title, document=Upload.of(data or samples.pdf(title), "作品.pdf"), now=now)

    def upload_performance(self, n: int = 0, *, now=IN_UPLOAD, title: str = "競賽") -> int:
        actor = self.student(n)
        with self.uow() as uow:
            return upload_performance(uow, actor, student_id=self.student_ids[n],
                                      academic_year=YEAR, category="competition", title=title,
                                      document=Upload.of(samples.pdf(title), "獎狀.pdf"), now=now)

    def set_student(self, n: int, **values) -> None:
        with self.uow() as uow:
            uow.session.execute(update(Student).where(Student.id == self.student_ids[n]).values(**values))
            uow.session.commit()

    def depart(self, n: int, on: date = date(2026, 7, 31), **values) -> None:
        """Student `n` graduated (畢業) on `on`: the retention clock runs from then."""
        self.set_student(n, status="graduated", departed_on=on, **values)

    def run(self, function, *args, **kwargs):
        with self.uow() as uow:
            return function(uow, *args, **kwargs)

    def to_receipts(self, students=(0,), *, kind: str = "course_outcome", now=AFTER_SELECTION) -> dict[int, int]:
        """Each student's item uploaded, certified (outcomes) and selected; then submitted to the
        central database: {student index: receipt id}."""
        item_ids = {}
        for n in students:
            if kind == "course_outcome":
                item_id = self.upload(n)
                self.run(certification.submit, self.student(n), item_id, now=IN_UPLOAD)
                self.run(certification.certify, self.teacher, item_id, now=IN_UPLOAD)
            else:
                item_id = self.upload_performance(n)
            self.run(selection.select, self.student(n), item_id, now=IN_SELECTION)
            item_ids[n] = item_id
        self.run(receipts.submit_selected, self.staff(), kind=kind, academic_year=YEAR,
                 confirmation_window_id=self.receipt_window_id, now=now)
        with self.uow() as uow:
            return {n: uow.get(Item, item_id).receipt_id for n, item_id in item_ids.items()}
