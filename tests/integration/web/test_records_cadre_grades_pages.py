"""The cadre record 幹部紀錄 and grade 學業成績 pages as the offices use them: the term's list in
zh-TW, entering through the form, a CSV upload whose errors show in a table and import nothing,
a stale correction that says so and keeps the typed values, delete with a reason; refused for
a subject teacher and a student."""
from __future__ import annotations

import io

import pytest

from persistence.tables import CadreRecord, GradeRecord
from tests.integration.web.conftest import PASSWORD, post_form, sign_in
from tests.records_support import (CADRE_HEADER, GRADE_HEADER, add_staff, audit_rows, course_code, excel,
                                   records, student_no)
from tests.world import IN_UPLOAD
from workflows.people import accounts
from workflows.core.actors import platform_admin
from workflows.records import cadre, grades

CADRE, GRADES = "/staff/records/cadre", "/staff/records/grades"


@pytest.fixture
def activities(app, world, people) -> int:
    """林訓育 of 訓育組 with the account activities.013301; the pages' clock is IN_UPLOAD (114-1)."""
    app.config["NOW"] = IN_UPLOAD
    staff_id = add_staff(world, "S020", "林訓育", "student_activities")
    with world.uow() as uow:
        accounts.create_account(uow, platform_admin(), username=f"activities.{world.code}", password=PASSWORD,
                                kind="staff", staff_id=staff_id)
        uow.commit()
    return staff_id


def cadre_form(world, **changes) -> dict:
    return {"student_no": student_no(world, 0), "academic_year": "114", "semester": "1", "level": "school",
            "unit": "學生會", "position": "會長", "starts_on": "2025-09-01", "ends_on": "", **changes}


def upload(client, path: str, data: bytes, *, page: str):
    return post_form(client, f"{path}/import", {"file": (io.BytesIO(data), "records.csv")}, page=page,
                     content_type="multipart/form-data")


def test_the_owners_pages_show_the_term_in_chinese(client, world, activities):
    sign_in(client, "activities")
    page = client.get(CADRE).get_data(as_text=True)
    assert "<h1>幹部紀錄</h1>" in page and "114 學年度第 1 學期幹部紀錄：0 筆" in page
    assert 'id="enter-form"' in page and 'id="import-form"' in page and 'name="csrf_token"' in page

    template = client.get(f"{CADRE}/template.csv")
    assert template.status_code == 200 and template.mimetype == "text/csv"
    assert template.data == "\ufeff".encode() + (CADRE_HEADER + "\r\n").encode()

    sign_in(client, "staff")  # 陳組長: registry
    page = client.get(f"{GRADES}?academic_year=113&semester=0").get_data(as_text=True)
    assert "<h1>學業成績（修課紀錄）</h1>" in page and "113 學年度學年學業成績：0 筆" in page
    assert client.get(f"{GRADES}/template.csv").data.decode("utf-8-sig") == GRADE_HEADER + "\r\n"


@pytest.mark.parametrize("who", ["teacher", "stu0"])
def test_a_subject_teacher_and_a_student_are_refused(client, world, activities, who):
    sign_in(client, who)
    for path in (CADRE, GRADES):
        assert client.get(path).status_code == 403
    answer = post_form(client, CADRE, cadre_form(world))
    assert answer.status_code == 403
    assert records(world, CadreRecord) == []


def test_a_record_entered_through_the_form_shows_in_the_list(client, world, activities):
    sign_in(client, "activities")
    answer = post_form(client, CADRE, cadre_form(world, ends_on="2026-01-31"), page=CADRE)
    assert answer.status_code == 302
    [record] = records(world, CadreRecord)
    assert (record.level, record.unit, record.position) == ("school", "學生會", "會長")
    page = client.get(answer.headers["Location"]).get_data(as_text=True)
    row = page.split(f'id="record-{record.id}"')[1].split("</tr>")[0]
    assert "學生0" in row and "校級" in row and "114/09/01" in row and "115/01/31" in row
    assert "已登錄幹部紀錄" in page
    assert audit_rows(world, "cadre_record", record.id)[0].actor_name == "林訓育"


def test_bad_input_in_the_form_names_the_limit_and_keeps_what_was_typed(client, world, activities):
    sign_in(client, "activities")
    answer = post_form(client, CADRE, cadre_form(world, unit="社" * 61, position="總務股長"), page=CADRE)
    assert answer.status_code == 422
    page = answer.get_data(as_text=True)
    assert "單位" in page and "60 字" in page
    assert 'value="總務股長"' in page
    assert records(world, CadreRecord) == []


def test_a_csv_upload_with_errors_shows_them_in_a_table_and_imports_nothing(client, world, activities):
    sign_in(client, "activities")
    data = excel(CADRE_HEADER,
                 f"{student_no(world, 0)},114,1,校級,學生會,會長,2025-09-01,",
                 f"9999999,114,1,班級,101 班,班長,2025-09-01,",
                 f"{student_no(world, 1)},114,1,社團,熱音社,社長,明天,")
    answer = upload(client, CADRE, data, page=CADRE)
    assert answer.status_code == 422
    page = answer.get_data(as_text=True)
    table = page.split('id="row-errors"')[1].split("</table>")[0]
    assert "<td class=\"num\">3</td><td>學號</td><td>找不到學號「9999999」的學生</td>" in table
    assert "<td class=\"num\">4</td><td>起始日期</td>" in table and "無法辨識" in table
    assert "整份檔案未匯入" in page
    assert records(world, CadreRecord) == []

    good = excel(CADRE_HEADER, f"{student_no(world, 0)},114,1,校級,學生會,會長,2025-09-01,")
    answer = upload(client, CADRE, good, page=CADRE)
    assert answer.status_code == 302
    assert "新增 1 筆" in client.get(answer.headers["Location"]).get_data(as_text=True)


def test_a_grade_csv_upload_with_errors_shows_them(client, world, people):
    sign_in(client, "staff")
    data = excel(GRADE_HEADER,
                 f"{student_no(world, 0)},114,1,學期,{course_code(world)},國語文,1,4,101,是,,是",
                 f"{student_no(world, 1)},114,1,學期,{course_code(world)},國語文,1,4,52,是,,否")
    answer = upload(client, GRADES, data, page=GRADES)
    assert answer.status_code == 422
    table = answer.get_data(as_text=True).split('id="row-errors"')[1].split("</table>")[0]
    assert "<td>學期成績</td>" in table and "<td>及格</td>" in table
    assert records(world, GradeRecord) == []


def test_a_stale_correction_says_so_and_keeps_the_typed_values(client, world, activities):
    clerk = world.staff(activities)
    record = world.run(cadre.enter_cadre, clerk, student_id=world.student_ids[0], academic_year=114, semester=1,
                       level="club", unit="熱音社", position="社長", starts_on="2025-09-01", now=IN_UPLOAD)
    sign_in(client, "activities")
    page = f"{CADRE}/{record.id}"
    assert 'name="version" value="1"' in client.get(page).get_data(as_text=True)
    world.run(cadre.correct_cadre, clerk, record.id, expected_version=1, position="副社長", now=IN_UPLOAD)

    form = cadre_form(world, version="1", level="club", unit="熱舞社", position="社長")
    answer = post_form(client, page, form, page=page)
    assert answer.status_code == 409
    text = answer.get_data(as_text=True)
    assert "已被其他人修改" in text and 'id="stale"' in text and "副社長" in text
    assert 'value="熱舞社"' in text and 'name="version" value="2"' in text
    assert (records(world, CadreRecord)[0].unit, records(world, CadreRecord)[0].position) == ("熱音社", "副社長")

    answer = post_form(client, page, {**form, "version": "2"}, page=page)  # sent again, knowingly
    assert answer.status_code == 302
    assert records(world, CadreRecord)[0].unit == "熱舞社"


def test_a_grade_is_corrected_and_deleted_through_the_pages(client, world, people):
    clerk = world.staff()
    record = world.run(grades.enter_grade, clerk, student_id=world.student_ids[0], academic_year=114, semester=1,
                       course_code=course_code(world), subject="國語文", grade_level=1, credits=4, score=55,
                       passed=False, credit_counted=False, now=IN_UPLOAD)
    sign_in(client, "staff")
    page = f"{GRADES}/{record.id}"
    edit = client.get(page).get_data(as_text=True)
    assert "學業成績（編號" in edit and 'value="55"' in edit

    form = {"version": "1", "academic_year": "114", "semester": "1", "record_kind": "semester",
            "course_code": course_code(world), "subject": "國語文", "grade_level": "1", "credits": "4",
            "score": "55", "passed": "是", "makeup_score": "", "credit_counted": "否"}
    refused = post_form(client, page, form, page=page)
    assert refused.status_code == 422 and "未達及格標準 60 分" in refused.get_data(as_text=True)
    answer = post_form(client, page, {**form, "makeup_score": "65"}, page=page)
    assert answer.status_code == 302
    assert "補考成績：（空白） → 65" in client.get(answer.headers["Location"]).get_data(as_text=True)

    no_reason = post_form(client, f"{page}/delete", {"version": "2", "reason": ""}, page=page)
    assert no_reason.status_code == 400 and "請填寫刪除原因" in no_reason.get_data(as_text=True)
    answer = post_form(client, f"{page}/delete", {"version": "2", "reason": "重複登錄"}, page=page)
    assert answer.status_code == 302
    assert records(world, GradeRecord) == []
    assert audit_rows(world, "grade_record", record.id)[-1].reason.startswith("重複登錄")
