"""The public calendar 作業期程 and its iCal feeds: no sign-in, Taipei times, window data only."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from icalendar import Calendar

from tests.world import IN_UPLOAD, World
from workflows.school import calendar
from workflows.core.clock import TAIPEI
from workflows.people.actors import staff_actor

pytestmark = pytest.mark.usefixtures("world")


@pytest.fixture
def app(app):
    app.config["NOW"] = IN_UPLOAD  # 114 學年度
    return app


def _feed(client, audience: str, code: str = "013301") -> Calendar:
    response = client.get(f"/calendar/{code}/{audience}.ics")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/calendar; charset=utf-8"
    return Calendar.from_ical(response.data)


def _events(cal: Calendar) -> dict[str, object]:
    return {str(e["SUMMARY"]): e for e in cal.walk("VEVENT")}


def test_public_page_lists_windows_in_taipei_time(client):
    response = client.get("/calendar/013301")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "114 學年度學生學習歷程檔案作業期程" in page
    assert "第 1 學期" in page and "第 2 學期" in page and "全學年度" in page
    # Upload window 2025-09-30 .. 2026-02-03 (Taipei), shown as ROC dates.
    assert "課程學習成果上傳" in page
    assert "114/09/30 00:00" in page and "115/02/03 23:59" in page
    assert "逾期未確認亦未提出疑義者，視為已確認" in page
    for audience in ("students", "teachers", "staff"):
        assert f"/calendar/013301/{audience}.ics" in page


def test_page_of_another_year_and_unknown_school(client):
    assert "尚未公告" in client.get("/calendar/013301?academic_year=113").get_data(as_text=True)
    assert client.get("/calendar/999999").status_code == 404
    assert client.get("/calendar/999999/students.ics").status_code == 404
    assert client.get("/calendar/013301/parents.ics").status_code == 404
    assert client.get("/calendar/013301?academic_year=abc").status_code == 400


def test_ical_carries_taipei_times_and_a_timezone(client):
    cal = _feed(client, "students")
    assert [str(tz["TZID"]) for tz in cal.walk("VTIMEZONE")] == ["Asia/Taipei"]
    events = _events(cal)
    upload = events["114 學年度第 1 學期課程學習成果上傳"]
    start, end = upload["DTSTART"], upload["DTEND"]
    assert start.params["TZID"] == "Asia/Taipei" and end.params["TZID"] == "Asia/Taipei"
    assert start.dt == datetime(2025, 9, 30, 0, 0, tzinfo=TAIPEI)
    assert end.dt.replace(tzinfo=None) == datetime(2026, 2, 3, 23, 59, 59)
    assert end.dt.utcoffset() == timedelta(hours=8)
    assert b"DTEND;TZID=Asia/Taipei:20260203T235959" in cal.to_ical()
    for event in cal.walk("VEVENT"):
        assert event["DTSTART"].params["TZID"] == "Asia/Taipei"
    assert "課程學習成果每學期至多上傳 6 件" in str(upload["DESCRIPTION"])
    # The reminder: 08:00 Taipei the day before the last day.
    [alarm] = upload.walk("VALARM")
    assert alarm["TRIGGER"].dt == datetime(2026, 2, 2, 0, 0, tzinfo=timezone.utc)


def test_uids_are_stable_across_requests(client):
    first = sorted(str(e["UID"]) for e in _feed(client, "teachers").walk("VEVENT"))
    second = sorted(str(e["UID"]) for e in _feed(client, "teachers").walk("VEVENT"))
    assert first == second and len(set(first)) == len(first) and first
    assert all(uid.startswith("013301-window") for uid in first)


def test_audiences_get_the_windows_the_table_gives_them(client, world):
    with world.uow() as uow:
        calendar.define_window(uow, staff_actor(uow, world.staff_id), "central_submission", 114, 0,
                               date(2026, 9, 20), date(2026, 10, 3), now=IN_UPLOAD)
        uow.commit()
    students = _events(_feed(client, "students"))
    teachers = _events(_feed(client, "teachers"))
    staff = _events(_feed(client, "staff"))
    assert "114 學年度多元表現上傳" in students and "114 學年度多元表現上傳" not in teachers
    assert len(staff) == 8  # every window of the school's calendar
    assert "114 學年度提交中央資料庫" in staff and staff["114 學年度提交中央資料庫"].walk("VALARM")
    assert "114 學年度提交中央資料庫" not in students and "114 學年度提交中央資料庫" not in teachers
    # Deadlines carry a reminder for their own audience only.
    certification = "114 學年度第 1 學期課程學習成果認證"
    assert teachers[certification].walk("VALARM") and not students[certification].walk("VALARM")
    assert students["114 學年度收訖明細確認"].walk("VALARM")
    assert not teachers["114 學年度收訖明細確認"].walk("VALARM")


def test_each_school_shows_only_its_own_windows_and_no_personal_data(client, world, db, files):
    other = World(db, files, code="013302")
    with other.uow() as uow:  # the other school moves its receipt period
        calendar.define_window(uow, staff_actor(uow, other.staff_id), "receipt_confirmation", 114, 0,
                               date(2026, 11, 2), date(2026, 11, 20), now=IN_UPLOAD)
        uow.commit()
    mine = client.get("/calendar/013301").get_data(as_text=True)
    theirs = client.get("/calendar/013302").get_data(as_text=True)
    assert "115/10/18 23:59" in mine and "115/11/20 23:59" not in mine
    assert "115/11/20 23:59" in theirs and world.code not in theirs.replace("013302", "")
    ics = b"".join(client.get(f"/calendar/013301/{a}.ics").data for a in ("students", "teachers", "staff"))
    assert b"20261120" not in ics
    text = mine + ics.decode()
    for personal in ("學生0", "王老師", "陳組長", "@student.example.edu.tw", "@staff.example.edu.tw", "A1"):
        assert personal not in text


def test_every_window_kind_has_its_meaning_and_rule(client, world):
    """A school may define any window kind the calendar knows, the grade-check day included: the
    page and every feed must still answer (a kind missing from the audience table would fail)."""
    from persistence.tables import WINDOW_KINDS
    from workflows.school.calendar_feed import WINDOW_AUDIENCES

    assert set(WINDOW_AUDIENCES) == set(WINDOW_KINDS)
    with world.uow() as uow:
        calendar.define_window(uow, staff_actor(uow, world.staff_id), "grade_check", 114, 1,
                               date(2026, 1, 20), date(2026, 2, 6), now=IN_UPLOAD)
        uow.commit()
    page = client.get("/calendar/013301?academic_year=114")
    assert page.status_code == 200 and "成績更正申請" in page.get_data(as_text=True)
    assert any("成績" in str(e.get("SUMMARY")) for e in _events(_feed(client, "teachers")).values())
