"""Staff status pages: the numbers staff read (counts per state, class certification rate with
its band, days to certification, longest queues, daily receipt confirmation, students to follow
up), one student's timeline, the state diagrams, and who may see them."""
from __future__ import annotations

from datetime import date, timedelta
from html.parser import HTMLParser

import pytest
from sqlalchemy import update

from persistence.tables import Account, Course, Enrolment, SchoolClass, Staff, StaffRole, Student
from tests import samples
from tests.integration.central.test_batch_windows import LABEL as BATCH_WINDOW_LABEL, define, grade12_batch, import_for
from tests.integration.web.conftest import csrf_token, sign_in
from tests.world import IN_RECEIPT, IN_SELECTION, IN_UPLOAD, YEAR, World, national_id
from workflows.people import accounts
from workflows.items import certification, selection
from workflows.central import receipts
from workflows.deadlines import sweeps
from workflows.items.uploads import Upload, upload_course_outcome

STATUS = f"/staff/status?year={YEAR}&semester=1"


# -- reading the page as a person would: tables by their id, cells by row and column heading ----

class _Tables(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self._current: list[list[str]] | None = None
        self._cell: list[str] | None = None
        self._in_caption = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table":
            self._current = self.tables.setdefault(attrs.get("id", f"table{len(self.tables)}"), [])
        elif tag == "tr" and self._current is not None:
            self._current.append([])
        elif tag in ("td", "th") and self._current is not None:
            self._cell = []
        elif tag == "caption":
            self._in_caption = True

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._current[-1].append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "table":
            self._current = None
        elif tag == "caption":
            self._in_caption = False

    def handle_data(self, data):
        if self._cell is not None and not self._in_caption:
            self._cell.append(data)


def tables(html: str) -> dict[str, list[list[str]]]:
    parser = _Tables()
    parser.feed(html)
    return parser.tables


def cell(table: list[list[str]], row: str, column: str) -> str:
    header = table[0]
    for cells in table[1:]:
        if cells and cells[0].startswith(row):
            return cells[header.index(column)]
    raise AssertionError(f"no row {row!r} in {[c[0] for c in table[1:]]}")


def row_labels(table: list[list[str]]) -> list[str]:
    return [cells[0] for cells in table[1:] if cells and cells[0] != "合計"]


def page(client, path: str = STATUS) -> tuple[str, dict]:
    response = client.get(path)
    assert response.status_code == 200, response.get_data(as_text=True)[:2000]
    html = response.get_data(as_text=True)
    return html, tables(html)


# -- building the school's state ---------------------------------------------------------------

def submitted(world: World, n: int, course_id: int | None = None, *, title: str = "作品", at=IN_UPLOAD) -> int:
    item_id = world.upload(n, course_id=course_id, title=title, now=at)
    world.run(certification.submit, world.student(n), item_id, now=at)
    return item_id


def certify(world: World, item_id: int, staff_id: int | None = None, *, at=IN_UPLOAD) -> None:
    world.run(certification.certify, world.staff(staff_id or world.teacher_id), item_id, now=at)


def add_class(world: World, name: str, students: int, *, homeroom: str = "張老師") -> list[int]:
    """Another class of the same grade with its own homeroom teacher (no account), enrolled in
    the world's courses."""
    ids = []
    with world.uow() as uow:
        s = uow.session
        staff = Staff(school_id=world.school_id, staff_no=f"T{name}", name=homeroom)
        s.add(staff)
        s.flush()
        s.add(StaffRole(school_id=world.school_id, staff_id=staff.id, role="homeroom_teacher"))
        s.add(SchoolClass(school_id=world.school_id, academic_year=YEAR, name=name, homeroom_staff_id=staff.id))
        for n in range(students):
            student = Student(school_id=world.school_id, student_no=f"{name}{n:03d}",
                              national_id=national_id(int(name) * 100 + n, letter="B"),
                              birth_date=date(2009, 2, 1 + n), name=f"{name}班學生{n}", class_name=name, grade=1)
            s.add(student)
            s.flush()
            ids.append(student.id)
            for course_id in (world.course_id, world.course2_id):
                s.add(Enrolment(school_id=world.school_id, course_id=course_id, student_id=student.id))
        uow.commit()
    world.student_ids.extend(ids)
    return ids


@pytest.fixture
def staff_client(client, people):
    sign_in(client, "staff")
    return client


# -- counts and the class certification rate ----------------------------------------------------

def test_counts_and_class_rate_follow_certifications(app, staff_client, world):
    app.config["NOW"] = IN_UPLOAD + timedelta(days=1)
    a = submitted(world, 0)
    b = submitted(world, 1)
    c = submitted(world, 2, world.course2_id)
    world.upload(0, course_id=world.course2_id, title="草稿")  # a draft: counted, not in the rate
    certify(world, a)
    certify(world, b)

    html, t = page(staff_client)
    assert "範圍：" in html and "全校" in html and "114 學年度第 1 學期" in html
    by_class = t["counts-course_outcome-class"]
    assert cell(by_class, "101", "認證通過") == "2"
    assert cell(by_class, "101", "已送出認證") == "1"
    assert cell(by_class, "101", "草稿") == "1"
    assert cell(by_class, "101", "合計") == "4"
    assert cell(t["counts-course_outcome-grade"], "一年級", "認證通過") == "2"
    by_course = t["counts-course_outcome-course"]
    assert cell(by_course, "國語文（王老師）", "認證通過") == "2"
    assert cell(by_course, "數學（李老師）", "已送出認證") == "1"
    assert cell(by_course, "數學（李老師）", "草稿") == "1"
    rates = t["rates-table"]
    assert cell(rates, "101", "認證率") == "67 %"
    assert cell(rates, "101", "等級") == "達 60% 以上"
    assert cell(rates, "101", "已送出認證") == "3"

    certify(world, c, world.other_teacher_id)
    _, t = page(staff_client)
    assert cell(t["counts-course_outcome-class"], "101", "認證通過") == "3"
    assert cell(t["counts-course_outcome-class"], "101", "已送出認證") == "0"
    assert cell(t["rates-table"], "101", "認證率") == "100 %"
    assert cell(t["rates-table"], "101", "等級") == "達 80% 以上"


def test_a_rejected_outcome_lowers_the_rate_into_the_low_band(app, staff_client, world):
    app.config["NOW"] = IN_UPLOAD
    certify(world, submitted(world, 0))
    for n in (1, 2):
        world.run(certification.reject, world.teacher, submitted(world, n), reason="檔案不清楚", now=IN_UPLOAD)
    _, t = page(staff_client)
    assert cell(t["counts-course_outcome-class"], "101", "認證失敗") == "2"
    assert cell(t["rates-table"], "101", "認證率") == "33 %"
    assert cell(t["rates-table"], "101", "等級") == "未達 60%"


def test_semester_and_year_choose_what_is_counted(app, staff_client, world):
    app.config["NOW"] = IN_UPLOAD
    submitted(world, 0)
    world.upload_performance(1)
    _, first = page(staff_client, f"/staff/status?year={YEAR}&semester=1")
    assert cell(first["counts-course_outcome-class"], "101", "已送出認證") == "1"
    assert cell(first["counts-performance-class"], "101", "已上傳") == "1"
    html, _ = page(staff_client, f"/staff/status?year={YEAR}&semester=2")
    assert "114 學年度第 2 學期尚無課程學習成果" in html
    assert "counts-performance-class" in html  # performances are counted per year
    html, _ = page(staff_client, f"/staff/status?year={YEAR - 1}")
    assert "113 學年度" in html and "counts-course_outcome-class" not in html


def test_the_current_semester_is_the_default(app, staff_client, world):
    app.config["NOW"] = IN_UPLOAD  # 2025-11: 114 學年度第 1 學期
    submitted(world, 0)
    html, t = page(staff_client, "/staff/status")
    assert "114 學年度第 1 學期" in html
    assert cell(t["counts-course_outcome-class"], "101", "已送出認證") == "1"


@pytest.mark.parametrize("query", ["year=abc", "year=114&semester=3", "year=-5", "semester=x"])
def test_bad_period_input_is_a_clear_400(app, staff_client, world, query):
    app.config["NOW"] = IN_UPLOAD
    response = staff_client.get(f"/staff/status?{query}")
    assert response.status_code == 400
    assert "學年度" in response.get_data(as_text=True) or "學期" in response.get_data(as_text=True)


# -- days from submission to certification ------------------------------------------------------

def test_days_to_certify_are_counted_from_the_last_submission(app, staff_client, world):
    app.config["NOW"] = IN_UPLOAD + timedelta(days=10)
    quick = submitted(world, 0)
    certify(world, quick, at=IN_UPLOAD + timedelta(hours=3))
    slow = submitted(world, 1)
    certify(world, slow, at=IN_UPLOAD + timedelta(days=2, hours=12))
    # Rejected, resubmitted five days later, certified three hours after the resubmission: the
    # teacher's time runs from the resubmission (submitted_at is the last submission).
    again = submitted(world, 2)
    world.run(certification.reject, world.teacher, again, reason="請補上說明", now=IN_UPLOAD)
    world.run(certification.resubmit, world.student(2), again, now=IN_UPLOAD + timedelta(days=5))
    certify(world, again, at=IN_UPLOAD + timedelta(days=5, hours=3))

    html, t = page(staff_client)
    days = t["days-table"]
    assert days[0][:3] == ["未滿 1 日", "1 日", "2 日"]
    assert days[1][:3] == ["2", "0", "1"]
    assert "共 3 件" in html


# -- longest queues ---------------------------------------------------------------------------

def test_longest_queue_names_the_teacher_with_most_waiting_including_proxied(app, staff_client, world):
    app.config["NOW"] = IN_UPLOAD
    submitted(world, 0)  # 國語文, 王老師
    submitted(world, 1, world.course2_id)  # 數學, 李老師…
    submitted(world, 2, world.course2_id)
    with world.uow() as uow:  # …who leaves; 數學 is an external multi-elective → 教學組 (陳組長)
        uow.session.execute(update(Course).where(Course.id == world.course2_id).values(route="external_multi_elective"))
        uow.session.execute(update(Staff).where(Staff.id == world.other_teacher_id).values(active=False))
        uow.session.add(StaffRole(school_id=world.school_id, staff_id=world.staff_id, role="teaching_section"))
        uow.commit()

    html, t = page(staff_client)
    queue = t["queues-table"]
    assert [row[1] for row in queue[1:]] == ["陳組長", "王老師"]
    assert cell(queue, "1", "等待認證") == "2" and cell(queue, "1", "其中代理") == "2"
    assert "數學（代理李老師）" in cell(queue, "1", "課程")
    assert cell(queue, "2", "等待認證") == "1" and cell(queue, "2", "其中代理") == "0"
    assert "等待認證共 <strong>3</strong> 件" in html

    submitted(world, 1)
    submitted(world, 2)
    _, t = page(staff_client)
    assert [row[1] for row in t["queues-table"][1:]] == ["王老師", "陳組長"]
    assert cell(t["queues-table"], "1", "等待認證") == "3"


def test_a_course_nobody_can_certify_is_named(app, staff_client, world):
    app.config["NOW"] = IN_UPLOAD
    submitted(world, 0, world.course2_id)
    with world.uow() as uow:  # an in-school teacher's duty proxy is not listed yet (issue 5)
        uow.session.execute(update(Staff).where(Staff.id == world.other_teacher_id).values(active=False))
        uow.commit()
    _, t = page(staff_client)
    assert "queues-table" not in t
    assert cell(t["unrouted-table"], "數學", "等待認證") == "1"
    assert "李老師" in cell(t["unrouted-table"], "數學", "認證者")


# -- receipts ----------------------------------------------------------------------------------

def test_the_receipt_chart_spans_a_batchs_own_window_and_names_it(app, staff_client, world):
    academic = grade12_batch(world, 0, "academic")
    own = define(world, academic)  # 2026-09-21 – 10-06: before the year's window (10-04 – 10-18)
    import_for(world, academic, 0, own)
    app.config["NOW"] = IN_RECEIPT
    html, t = page(staff_client, f"/staff/status?year={YEAR}&semester=0")
    assert row_labels(t["receipt-days"])[0] == "115/09/21"  # the batch's first day
    assert "115/10/04" in row_labels(t["receipt-days"])  # and the year's days still
    listed = " ".join(html.split('id="batch-confirmation-windows"')[1].split("</ul>")[0].split())
    assert BATCH_WINDOW_LABEL in listed and "115/09/21" in listed and "115/10/06" in listed


def test_daily_receipt_confirmation_with_deemed_apart(app, staff_client, world):
    ids = world.to_receipts(students=(0, 1, 2))
    world.run(receipts.confirm, world.student(0), ids[0], now=IN_RECEIPT)  # 2026-10-10 Taipei
    world.run(receipts.confirm, world.student(1), ids[1], now=IN_RECEIPT + timedelta(days=2))
    app.config["NOW"] = IN_RECEIPT + timedelta(days=2, hours=1)

    html, t = page(staff_client, f"/staff/status?year={YEAR}&semester=0")
    days = t["receipt-days"]
    assert row_labels(days)[0] == "115/10/04"  # the window's first day
    assert row_labels(days)[-1] == "115/10/12"  # up to today
    assert days[1 + row_labels(days).index("115/10/10")][1:] == ["1", "1", "33 %"]
    assert days[1 + row_labels(days).index("115/10/11")][1:] == ["0", "1", "33 %"]
    assert days[1 + row_labels(days).index("115/10/12")][1:] == ["1", "2", "67 %"]
    totals = " ".join(html.split('id="receipt-totals"')[1].split("</ul>")[0].split())
    assert "逾期視為確認 <strong>0</strong>" in totals and "尚未確認 <strong>1</strong>" in totals
    assert "學生2" in cell(t["not-confirmed"], "101", "學生")
    assert "學生0" not in cell(t["not-confirmed"], "101", "學生")

    world.run(sweeps.run_all, IN_RECEIPT + timedelta(days=10))  # the window closed on 10/18
    app.config["NOW"] = IN_RECEIPT + timedelta(days=10)
    html, t = page(staff_client, f"/staff/status?year={YEAR}&semester=0")
    totals = " ".join(html.split('id="receipt-totals"')[1].split("</ul>")[0].split())
    assert "逾期視為確認 <strong>1</strong>" in totals and "尚未確認 <strong>0</strong>" in totals
    assert row_labels(t["receipt-days"])[-1] == "115/10/18"
    assert t["receipt-days"][-1][1:] == ["0", "2", "67 %"]  # deemed confirmations are not a student's
    assert "not-confirmed" not in t and "沒有待確認的收訖明細" in html


# -- students to follow up, and the homeroom teacher's view --------------------------------------

def _select_one(world: World, n: int) -> None:
    item_id = submitted(world, n)
    certify(world, item_id)
    world.run(selection.select, world.student(n), item_id, now=IN_SELECTION)


def test_not_selected_names_the_students_per_homeroom_class(app, client, people, world):
    add_class(world, "102", 2)
    _select_one(world, 0)
    app.config["NOW"] = IN_SELECTION

    sign_in(client, "staff")
    _, t = page(client, f"/staff/status?year={YEAR}")
    lists = t["not-selected"]
    assert row_labels(lists) == ["101", "102"]
    assert cell(lists, "101", "人數") == "2"
    names_101 = cell(lists, "101", "學生")
    assert "學生1" in names_101 and "學生2" in names_101 and "學生0" not in names_101
    assert cell(lists, "102", "導師") == "張老師" and cell(lists, "102", "人數") == "2"

    # Student 1 selects too (a performance counts as well): the list shrinks.
    performance = world.upload_performance(1)
    world.run(selection.select, world.student(1), performance, now=IN_SELECTION)
    _, t = page(client, f"/staff/status?year={YEAR}")
    assert cell(t["not-selected"], "101", "人數") == "1"
    assert "學生1" not in cell(t["not-selected"], "101", "學生")
    assert cell(t["not-selected"], "102", "人數") == "2"  # class 102 unchanged
    assert "102班學生0" in cell(t["not-selected"], "102", "學生")


def test_not_selected_waits_for_the_selection_window(app, staff_client, world):
    app.config["NOW"] = IN_UPLOAD
    html, t = page(staff_client, f"/staff/status?year={YEAR}")
    assert "not-selected" not in t
    assert "開始後列出尚未勾選的學生" in html


def test_a_homeroom_teacher_sees_only_their_class(app, client, people, world):
    other = add_class(world, "102", 1)
    app.config["NOW"] = IN_SELECTION
    submitted(world, 0, at=IN_UPLOAD)
    submitted(world, len(world.student_ids) - 1, at=IN_UPLOAD)  # the class-102 student

    sign_in(client, "teacher")  # 王老師, homeroom teacher of 101
    html, t = page(client, f"/staff/status?year={YEAR}&semester=1")
    assert "導師班級：101" in html
    assert row_labels(t["counts-course_outcome-class"]) == ["101"]
    assert cell(t["counts-course_outcome-class"], "101", "已送出認證") == "1"
    assert row_labels(t["not-selected"]) == ["101"]
    assert "102班學生0" not in html
    assert client.get(f"/staff/students/{world.student_ids[0]}/timeline").status_code == 200
    assert client.get(f"/staff/students/{other[0]}/timeline").status_code == 404

    client.post("/logout", data={"csrf_token": csrf_token(client, "/staff/diagrams")})
    sign_in(client, "staff")
    _, t = page(client, f"/staff/status?year={YEAR}&semester=1")
    assert row_labels(t["counts-course_outcome-class"]) == ["101", "102"]


# -- the timeline --------------------------------------------------------------------------------

def test_timeline_lists_events_in_order_with_on_behalf(app, staff_client, people, world):
    with world.uow() as uow:
        guardian = accounts.actor_of(uow, uow.get(Account, people["parent"]))
    with world.uow() as uow:
        item_id = upload_course_outcome(uow, guardian, student_id=world.student_ids[0], course_id=world.course_id,
                                        title="小論文", document=Upload.of(samples.pdf("x"), "論文.pdf"),
                                        now=IN_UPLOAD)
    world.run(certification.submit, guardian, item_id, now=IN_UPLOAD + timedelta(hours=1))
    world.run(certification.reject, world.teacher, item_id, reason="缺少參考資料",
              now=IN_UPLOAD + timedelta(days=1))
    world.run(certification.resubmit, world.student(0), item_id, now=IN_UPLOAD + timedelta(days=2))
    certify(world, item_id, at=IN_UPLOAD + timedelta(days=3))
    submitted(world, 1)  # someone else's: not on this timeline

    html, t = page(staff_client, f"/staff/students/{world.student_ids[0]}/timeline")
    rows = [r for r in t["timeline"][1:] if "小論文" in r[1]]
    header = t["timeline"][0]
    at, event, change, actor, behalf, reason = (header.index(h) for h in (
        "時間", "操作", "狀態變化", "操作者", "代為操作的對象", "原因／說明"))
    assert [r[event] for r in rows] == ["上傳", "送出認證", "認證失敗", "重新送出認證", "認證通過"]
    assert [r[at] for r in rows] == sorted(r[at] for r in rows)
    assert rows[0][at] == "114/11/01 10:00"  # Taipei time
    assert rows[1][change] == "草稿 → 已送出認證"
    assert rows[1][actor] == "學生0家長（家長）" and rows[1][behalf] == "代 學生0"
    assert rows[2][actor] == "王老師（教職員）" and rows[2][reason] == "缺少參考資料"
    assert rows[2][change] == "已送出認證 → 認證失敗"
    assert rows[3][actor] == "學生0（學生）" and rows[3][behalf] == "—"
    assert rows[4][change] == "已送出認證 → 認證通過"
    assert "學生1" not in html.split('id="timeline"')[1]


def test_timeline_of_another_schools_student_is_not_found(app, staff_client, db, files, world):
    elsewhere = World(db, files, code="013302")
    response = staff_client.get(f"/staff/students/{elsewhere.student_ids[0]}/timeline")
    assert response.status_code == 404
    assert "學生0" not in response.get_data(as_text=True)


# -- who may open the pages ---------------------------------------------------------------------

@pytest.mark.parametrize("who", ["teacher2", "stu0", "parent"])
def test_people_without_a_class_or_an_office_are_refused(app, client, people, world, who):
    app.config["NOW"] = IN_UPLOAD
    submitted(world, 0)
    sign_in(client, who)
    for path in (STATUS, f"/staff/students/{world.student_ids[0]}/timeline"):
        response = client.get(path)
        assert response.status_code == 403, (who, path)
        main = response.get_data(as_text=True).split("<main>")[1]  # the header names who is signed in
        assert "學生0" not in main and "作品" not in main and "<table" not in main


def test_status_pages_need_sign_in(client, people):
    response = client.get(STATUS)
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


# -- the diagrams ------------------------------------------------------------------------------

def test_diagrams_page_draws_every_machine(staff_client):
    html, _ = page(staff_client, "/staff/diagrams")
    assert html.count("<svg") == 5
    for label in ("課程學習成果", "多元表現", "收訖明細", "提交批次", "成績更正申請", "已送出認證", "逾期視為確認",
                  "提出疑義", "已匯出名冊"):
        assert label in html
    assert "<script" not in html


def test_charts_are_inline_svg_without_scripts(app, staff_client, world):
    app.config["NOW"] = IN_UPLOAD
    certify(world, submitted(world, 0))
    html, _ = page(staff_client)
    assert html.count("<svg") >= 3  # states per class, rates, days
    assert "<script" not in html
    assert 'role="img"' in html


# -- the summary the JSON API serves --------------------------------------------------------------

def test_summary_is_json_and_says_what_the_page_says(world):
    import json

    from workflows.items import status
    from workflows.core.errors import Forbidden

    certify(world, submitted(world, 0))
    certify(world, submitted(world, 1))
    submitted(world, 2)
    world.upload_performance(0)
    staff, homeroom, teacher, student = (world.staff(), world.teacher,
                                         world.staff(world.other_teacher_id), world.student(0))
    with world.uow() as uow:  # (actors first: on SQLite a unit of work holds the write lock)
        found = status.summary(uow, staff, YEAR, 1, now=IN_UPLOAD)
    assert json.loads(json.dumps(found)) == found
    assert found["academic_year"] == YEAR and found["semester"] == 1
    assert found["scope"] == {"whole_school": True, "classes": None}
    assert found["counts"]["course_outcome"]["states"]["certified"] == 2
    assert found["counts"]["course_outcome"]["states"]["submitted"] == 1
    assert found["counts"]["course_outcome"]["total"] == 3
    assert found["counts"]["performance"]["states"]["uploaded"] == 1
    assert found["certification_rate"] == [{"class_name": "101", "grade": 1, "certified": 2, "submitted": 3,
                                            "waiting": 1, "rate": 0.6667, "band": "warn"}]
    assert found["receipts"]["total"] == 0 and found["receipts"]["confirmed_share"] is None

    with world.uow() as uow:
        assert status.summary(uow, homeroom, YEAR, now=IN_UPLOAD)["scope"] == {
            "whole_school": False, "classes": ["101"]}
    for refused in (teacher, student):
        with world.uow() as uow, pytest.raises(Forbidden):
            status.summary(uow, refused, YEAR, now=IN_UPLOAD)


def test_bands_are_exact_and_percentages_never_round_into_a_band():
    from fractions import Fraction

    from workflows.items.status import band_of, percent_label

    assert band_of(Fraction(4, 5))[1] == "達 80% 以上"
    assert band_of(Fraction(3, 5))[1] == "達 60% 以上"
    assert band_of(Fraction(59, 100))[1] == "未達 60%"
    assert percent_label(Fraction(2, 3)) == "67 %"
    assert percent_label(Fraction(199, 250)) == "79.6 %"  # not "80 %": it is not in the 80 % band
    assert percent_label(Fraction(1, 8)) == "13 %"  # half up
    assert percent_label(None) == "—"
