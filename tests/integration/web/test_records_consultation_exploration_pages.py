"""The pages of 課程諮詢紀錄 and 學群探索: what the consultant and the counselling office see and
do (enter with a file, correct, delete, CSV upload), and who is turned away."""
from __future__ import annotations

import io
from datetime import datetime, timezone

import pytest
from persistence.tables import AuditEntry, ConsultationRecord, ExplorationRecord, Staff, StaffRole
from tests import samples
from tests.integration.web.conftest import PASSWORD, post_form, sign_in
from workflows.people import accounts
from workflows.core.actors import platform_admin
from workflows.records import consultation as cr

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=timezone.utc)  # 115/03/02 10:00 Taipei: 114 學年度第 2 學期
CONSULTATION = "/staff/records/consultation"
EXPLORATION = "/staff/records/exploration"
TERM_1 = "?academic_year=114&semester=1"


def add_person(world, no: str, name: str, role: str) -> int:
    """A staff member holding `role`, with an account `<no>.013301`."""
    with world.uow() as uow:
        staff = Staff(school_id=world.school_id, staff_no=no, name=name)
        uow.session.add(staff)
        uow.session.flush()
        uow.session.add(StaffRole(school_id=world.school_id, staff_id=staff.id, role=role))
        accounts.create_account(uow, platform_admin(), username=f"{no}.{world.code}", password=PASSWORD,
                                kind="staff", staff_id=staff.id)
        uow.commit()
        return staff.id


def text(response) -> str:
    return response.get_data(as_text=True)


def rows(world, model) -> list:
    with world.uow() as uow:
        return list(uow.session.scalars(uow.select(model).order_by(model.id)))


def enter_form(client, *, file: tuple[bytes, str] | None = None, **values):
    form = {"student_no": "3010000", "held_on": "2025-10-30", "held_time": "14:30", "place": "輔導室",
            "content": "討論選修物理或化學", "advice": "建議先修物理", "academic_year": "114", "semester": "1",
            **values}
    if file is not None:
        form["file"] = (io.BytesIO(file[0]), file[1])
    return post_form(client, CONSULTATION, form, content_type="multipart/form-data")


@pytest.fixture
def consultant(app, world, people):
    app.config["NOW"] = NOW
    return add_person(world, "C001", "張諮詢", "course_consultant")


@pytest.fixture
def counsellor(app, world, people):
    app.config["NOW"] = NOW
    return add_person(world, "G001", "林輔導", "counselling")


def test_the_pages_speak_chinese_and_show_the_file_limit_before_a_file_is_chosen(app, client, consultant,
                                                                                 counsellor):
    sign_in(client, "C001")
    page = text(client.get(CONSULTATION))
    assert "<h1>課程諮詢紀錄</h1>" in page and "114 學年度第 2 學期" in page  # today's term, Taipei
    assert "PDF、JPG、PNG，上限 2 MB" in page and 'accept=".pdf,application/pdf,.jpg' in page
    assert 'name="csrf_token"' in page and "下載匯入範本" in page

    other = app.test_client()
    sign_in(other, "G001")
    page = text(other.get(EXPLORATION))
    assert "<h1>學群探索紀錄</h1>" in page and "資訊學群" in page and "遊憩運動學群" in page
    assert "登錄一筆學群探索紀錄" in page
    assert "登錄一筆課程諮詢紀錄" not in text(other.get(CONSULTATION))  # counselling reads, never enters


@pytest.mark.parametrize("who", ["teacher", "stu0", "parent"])
def test_a_subject_teacher_a_student_and_a_parent_are_turned_away(client, world, consultant, who):
    sign_in(client, who)
    for page in (CONSULTATION, EXPLORATION):
        assert client.get(page).status_code == 403
    answer = enter_form(client)
    assert answer.status_code == 403
    answer = post_form(client, f"{CONSULTATION}/import", {"csv": (io.BytesIO(b"x"), "a.csv")},
                       content_type="multipart/form-data")
    assert answer.status_code == 403
    assert rows(world, ConsultationRecord) == []


def test_a_consultant_enters_a_record_with_a_file_that_only_allowed_people_download(app, client, world, consultant,
                                                                                    counsellor):
    add_person(world, "C002", "黃諮詢", "course_consultant")
    pdf = samples.pdf("諮詢附件")
    sign_in(client, "C001")
    answer = enter_form(client, file=(pdf, "諮詢單.pdf"))
    assert answer.status_code == 302, text(answer)
    (record,) = rows(world, ConsultationRecord)
    assert record.held_at == datetime(2025, 10, 30, 6, 30, tzinfo=timezone.utc)  # 14:30 Taipei
    assert (record.academic_year, record.semester, record.file_name) == (114, 1, "諮詢單.pdf")
    (audit,) = [a for a in rows(world, AuditEntry) if a.subject_kind == "consultation_record"]
    assert audit.file_hash == record.file_sha256

    page = text(client.get(answer.headers["Location"]))
    assert "已登錄學生0（3010000）的課程諮詢紀錄" in page and "114/10/30 14:30" in page and "諮詢單.pdf" in page
    download = f"{CONSULTATION}/{record.id}/file"
    got = client.get(download)
    assert got.status_code == 200 and got.data == pdf and got.mimetype == "application/pdf"

    for who, status in (("G001", 200), ("C002", 404), ("teacher", 403), ("stu0", 403)):
        someone = app.test_client()
        sign_in(someone, who)
        assert someone.get(download).status_code == status, who
        assert someone.get(f"{CONSULTATION}/{record.id}").status_code == status, who
        if who == "G001":  # the counselling office reads, and is offered no correction
            page = text(someone.get(f"{CONSULTATION}/{record.id}"))
            assert "討論選修物理或化學" in page and 'id="correct-form"' not in page


def test_a_refused_file_keeps_what_was_typed_and_stores_nothing(client, world, files, consultant):
    sign_in(client, "C001")
    answer = enter_form(client, content="這段內容要保留", file=(samples.big(cr.FILE_MAX_BYTES + 1), "大.pdf"))
    assert answer.status_code == 422
    page = text(answer)
    assert "附件超過上限 2 MB" in page and "這段內容要保留" in page
    answer = enter_form(client, file=(samples.exe(), "假的.pdf"))
    assert answer.status_code == 422 and "執行檔" in text(answer)
    answer = enter_form(client, held_on="2026-03-03")
    assert answer.status_code == 422 and "晚於現在" in text(answer)
    assert rows(world, ConsultationRecord) == [] and list(files.iter_hashes()) == []


def test_a_stale_correction_says_so_keeps_the_input_and_a_fresh_one_is_saved(client, world, consultant):
    sign_in(client, "C001")
    enter_form(client)
    (record,) = rows(world, ConsultationRecord)
    edit = f"{CONSULTATION}/{record.id}"
    assert 'name="version" value="1"' in text(client.get(edit))
    world.run(cr.correct_consultation, world.staff(consultant), record.id, expected_version=1,
              place="圖書館", now=NOW)  # someone else, meanwhile

    form = {"version": "1", "held_on": "2025-10-30", "held_time": "14:30", "place": "會議室",
            "content": "我在舊頁面打的內容", "advice": "建議先修物理"}
    answer = post_form(client, f"{edit}/correct", form, page=edit)
    assert answer.status_code == 409
    page = text(answer)
    assert "已被其他人修改" in page and "我在舊頁面打的內容" in page and "圖書館" in page
    assert rows(world, ConsultationRecord)[0].content == "討論選修物理或化學"

    answer = post_form(client, f"{edit}/correct", {**form, "version": "2"}, page=edit)
    assert answer.status_code == 302
    assert "地點：圖書館 → 會議室" in text(client.get(answer.headers["Location"]))
    answer = post_form(client, f"{edit}/delete", {"version": "3", "reason": ""}, page=edit)
    assert answer.status_code == 400 and "請填寫刪除原因" in text(answer)
    answer = post_form(client, f"{edit}/delete", {"version": "3", "reason": "重複登錄"}, page=edit)
    assert answer.status_code == 302 and rows(world, ConsultationRecord) == []


def test_a_bad_csv_shows_a_table_of_row_errors_and_imports_nothing(client, world, consultant):
    sign_in(client, "C001")
    template = client.get(f"{CONSULTATION}/template.csv")
    assert template.data.startswith(b"\xef\xbb\xbf" + "學號,諮詢日期,諮詢時間,地點,諮詢內容,建議".encode())

    bad = ("學號,諮詢日期,諮詢時間,地點,諮詢內容,建議\n"
           "3010000,2025-10-30,10:00,輔導室,內容,建議\n"
           "9999999,2025-10-30,9點,輔導室,內容,建議\n").encode()
    answer = post_form(client, f"{CONSULTATION}/import", {"csv": (io.BytesIO(bad), "諮詢.csv")},
                       content_type="multipart/form-data")
    assert answer.status_code == 422
    table = text(answer).split('id="row-errors"')[1].split("</table>")[0]
    assert "第 3 行" in table and "找不到學號「9999999」的學生" in table and "9點" in table
    assert rows(world, ConsultationRecord) == []

    good = bad.replace(b"9999999", b"3010001").replace("9點".encode(), b"09:00")
    answer = post_form(client, f"{CONSULTATION}/import", {"csv": (io.BytesIO(good), "諮詢.csv"),
                                                           "academic_year": "114", "semester": "1"},
                       content_type="multipart/form-data")
    assert answer.status_code == 302
    assert "新增 2 筆" in text(client.get(answer.headers["Location"]))
    assert [r.consultant_id for r in rows(world, ConsultationRecord)] == [consultant, consultant]


def test_the_counselling_office_enters_corrects_and_imports_explorations(client, world, counsellor):
    sign_in(client, "G001")
    form = {"student_no": "3010001", "academic_year": "114", "semester": "1", "held_on": "2025-11-05",
            "career_group": "law_politics", "activity": "模擬法庭", "notes": ""}
    answer = post_form(client, EXPLORATION, {**form, "activity": "活" * 61}, page=EXPLORATION)
    assert answer.status_code == 422 and "活動名稱共 61 字，超過上限 60 字" in text(answer)
    answer = post_form(client, EXPLORATION, form, page=EXPLORATION)
    assert answer.status_code == 302
    page = text(client.get(f"{EXPLORATION}{TERM_1}"))
    assert "法政學群" in page and "模擬法庭" in page and "114/11/05" in page

    (record,) = rows(world, ExplorationRecord)
    edit = f"{EXPLORATION}/{record.id}"
    assert 'name="version" value="1"' in text(client.get(edit))
    answer = post_form(client, f"{edit}/correct", {**form, "version": "1", "career_group": "management"}, page=edit)
    assert answer.status_code == 302
    assert "學群：法政學群 → 管理學群" in text(client.get(answer.headers["Location"]))

    bad = "學號,學年度,學期,日期,學群,活動名稱\n3010000,114,1,2025-10-30,占星,講座\n".encode()
    answer = post_form(client, f"{EXPLORATION}/import", {"csv": (io.BytesIO(bad), "a.csv")},
                       content_type="multipart/form-data")
    assert answer.status_code == 422 and "不是十八學群之一" in text(answer).split('id="row-errors"')[1]
    assert len(rows(world, ExplorationRecord)) == 1
