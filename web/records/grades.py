"""Grade pages 學業成績 (註冊組): the term's course results (semester 0: the year grades) with
filters, a form to enter one result, a per-record correct form, delete with a reason, and a CSV
upload showing every row error. The page logic is web/records/cadre.py's RecordPages."""
from __future__ import annotations

from web.context import login_required
from web.records.common import bp
from web.records.cadre import RecordPages
from workflows.records import grades

PAGES = RecordPages(
    prefix="grade", templates="records/grades", label="學業成績", editable=grades.EDITABLE,
    listing=grades.list_grades, getting=grades.get_grade, may_enter=grades.may_enter_grades,
    entering=grades.enter_grade, correcting=grades.correct_grade, deleting=grades.delete_grade,
    importing=grades.import_grades_csv, csv_template=grades.grades_csv_template, filename="grade_records.csv",
    choices={"record_kinds": grades.RECORD_KINDS, "semesters": grades.SEMESTERS,
             "subject_max": grades.SUBJECT_MAX, "credits_max": grades.CREDITS_MAX, "pass_mark": grades.PASS_MARK})


@bp.get("/grades")
@login_required("staff")
def grade_list():
    return PAGES.list_page()


@bp.post("/grades")
@login_required("staff")
def grade_enter():
    return PAGES.enter()


@bp.post("/grades/import")
@login_required("staff")
def grade_import():
    return PAGES.import_file()


@bp.get("/grades/template.csv")
@login_required("staff")
def grade_template():
    return PAGES.template_file()


@bp.get("/grades/<int:record_id>")
@login_required("staff")
def grade_edit(record_id: int):
    return PAGES.edit_page(record_id)


@bp.post("/grades/<int:record_id>")
@login_required("staff")
def grade_correct(record_id: int):
    return PAGES.correct(record_id)


@bp.post("/grades/<int:record_id>/delete")
@login_required("staff")
def grade_delete(record_id: int):
    return PAGES.delete(record_id)
