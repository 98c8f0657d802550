"""The public calendar's content 作業期程: which windows concern which audience (students,
teachers, staff) and what each means for them — the one table below —, the rule behind each
window, and the iCal feed per audience with a reminder before the audience's own deadlines.

Only the school's windows (kind, dates, the rule): never personal data. A submission batch's own
window (e.g. a grade-12 track's) is shown under its batch's label (calendar.labels).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from icalendar import Alarm, Calendar, Event, Timezone

from persistence.tables import Window
from workflows.school import calendar
from persistence.vocabulary import WINDOW_LABELS
from workflows.core.clock import format_deadline, format_taipei, start_of_day, taipei_date, to_taipei
from workflows.core.errors import NotFound
from workflows.core.policy import Policy
from workflows.school.schools import SCHOOL_CODE, school_by_code
from workflows.core.unit_of_work import UnitOfWork

AUDIENCES = {"students": "學生", "teachers": "教師", "staff": "行政人員"}
TZID = "Asia/Taipei"


@dataclass(frozen=True)
class Meaning:
    text: str
    deadline: bool  # the window's end is this audience's own deadline (a reminder goes with it)


# window kind -> audience -> what the window means for them. An audience missing from a kind's
# row does not get that window in its feed.
WINDOW_AUDIENCES: dict[str, dict[str, Meaning]] = {
    "course_outcome_upload": {
        "students": Meaning("上傳、編輯、刪除課程學習成果並送出認證；截止後不能再上傳或送出。", True),
        "teachers": Meaning("學生上傳及送出認證的期間，可同時認證；導師提醒學生如期送出。", False),
        "staff": Meaning("檢核學生上傳狀況，提醒教師完成認證。", False),
    },
    "certification": {
        "students": Meaning("留意教師認證結果；學生上傳截止後只剩教師可認證，此時被退回的成果不能再送出。", False),
        "teachers": Meaning("認證學生送出的課程學習成果；截止前須完成，逾期未認證者不能提交。", True),
        "staff": Meaning("截止後彙整逾期未認證的成果，通知工作小組。", False),
    },
    "performance_upload": {
        "students": Meaning("上傳多元表現（不需教師認證）；截止後不能再上傳。", True),
        "staff": Meaning("訓育組檢核學生上傳狀況。", False),
    },
    "selection": {
        "students": Meaning("勾選要提交至中央資料庫的課程學習成果與多元表現；截止後勾選結果凍結。", True),
        "teachers": Meaning("導師追蹤提醒尚未完成勾選的學生。", False),
        "staff": Meaning("截止後將未完成勾選的學生名單轉交導師追蹤。", False),
    },
    "central_submission": {
        "staff": Meaning("將學生勾選的資料提交至學習歷程中央資料庫，並下載收訖明細。", True),
    },
    "receipt_confirmation": {
        "students": Meaning("核對收訖明細並確認，或提出疑義；逾期未確認亦未提出疑義者，視為已確認。", True),
        "teachers": Meaning("導師追蹤提醒尚未確認收訖明細的學生。", False),
        "staff": Meaning("受理並處理學生提出的疑義；離校學生以紙本郵寄通知。", False),
    },
    "grade_check": {
        "teachers": Meaning("成績複查期間；截止日為成績檢核日，之後成績鎖定，更正須提出成績更正申請。", True),
        "staff": Meaning("註冊組受理成績複查；成績檢核日後成績鎖定，更正依成績更正申請流程辦理。", False),
    },
}


def rule_text(kind: str, policy: Policy) -> str:
    """The rule behind a window, from the national rule and the school's policy."""
    if kind == "course_outcome_upload":
        return (f"課程學習成果每學期至多上傳 {policy.outcome_uploads_per_semester} 件（本校補充規定），"
                "每件須經任課教師認證（作業要點第四點）。")
    if kind == "certification":
        return (f"教師認證至學生上傳截止後 {policy.certification_tail_working_days} 個工作日止（本校補充規定）；"
                "此期間僅教師可認證。")
    if kind == "performance_upload":
        cap = (f"每學年至多上傳 {policy.performance_uploads_per_year} 件（本校補充規定）"
               if policy.performance_uploads_per_year else "上傳件數由學校定之")
        return f"多元表現{cap}，不需教師認證（作業要點第四點）。"
    if kind == "selection":
        return (f"每學年課程學習成果至多勾選 {policy.outcome_selections_per_year} 件、多元表現至多勾選 "
                f"{policy.performance_selections_per_year} 件（作業要點第四點）。")
    if kind == "central_submission":
        return "學校於國教署規定時間內將資料提交至學習歷程中央資料庫（作業要點第四點）。"
    if kind == "grade_check":
        return "成績檢核日後學期成績鎖定，不得直接修改；更正須填具學生學業成績更正申請表，經逐級簽核後由登錄人登錄。"
    if kind != "receipt_confirmation":
        raise ValueError(f"no rule text for window kind {kind!r}")
    return (f"確認期間 {policy.receipt_confirmation_days} 日以上（全國規定不得少於 3 日）；逾期未確認、"
            "亦未提出疑義者，視為已確認（作業要點第四點）。")


def period_text(window: Window) -> str:
    return f"{window.academic_year} 學年度" + (f"第 {window.semester} 學期" if window.semester else "")


def public_windows(database, code: str, years: list[int]):
    """(school, its windows of `years`, their labels, its policy) for the public calendar."""
    if not SCHOOL_CODE.fullmatch(code):
        raise NotFound(f"找不到學校代碼「{code}」。")
    school = school_by_code(database, code)
    with UnitOfWork(database, school.id) as uow:
        found = [w for year in years for w in calendar.windows(uow, year)]
        return school, found, calendar.labels(uow, found), uow.policy


def uid(school_code: str, window: Window, audience: str) -> str:
    """Stable while the window stays where it is: school code, window id, its boundaries."""
    start = window.starts_at.strftime("%Y%m%dT%H%M%SZ")
    end = window.ends_at.strftime("%Y%m%dT%H%M%SZ")
    return f"{school_code}-window{window.id}-{start}-{end}-{audience}@student-portfolio"


def ical(school_code: str, school_name: str, audience: str, windows: list[Window], policy: Policy, *,
         stamp: datetime, labels: dict[int, str] | None = None) -> bytes:
    """The audience's feed; `labels` (calendar.labels) names batches' own windows."""
    cal = Calendar()
    cal.add("prodid", "-//Student Learning Portfolio//作業期程//ZH-TW")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", f"{school_name} 學習歷程作業期程（{AUDIENCES[audience]}）")
    cal.add("x-wr-timezone", TZID)
    cal.add_component(Timezone.from_tzid(TZID, first_date=date(2000, 1, 1)))
    for window in sorted(windows, key=lambda w: (w.starts_at, w.kind)):
        meaning = WINDOW_AUDIENCES[window.kind].get(audience)
        if meaning is None:
            continue
        label = (labels or {}).get(window.id) or WINDOW_LABELS[window.kind]
        event = Event()
        event.add("uid", uid(school_code, window, audience))
        event.add("dtstamp", stamp)
        event.add("dtstart", to_taipei(window.starts_at))
        # The exclusive end (00:00 of the next day) shown as people read it: the last second of the last day.
        event.add("dtend", to_taipei(window.ends_at) - timedelta(seconds=1))
        event.add("summary", f"{period_text(window)}{label}")
        event.add("description", f"{meaning.text}\n規定：{rule_text(window.kind, policy)}\n"
                                 f"期間：{format_taipei(window.starts_at)} 起至 {format_deadline(window.ends_at)} 止（臺北時間）")
        event.add("transp", "TRANSPARENT")
        if meaning.deadline:
            event.add_component(_reminder(window, label, policy))
        cal.add_component(event)
    return cal.to_ical()


def _reminder(window: Window, label: str, policy: Policy) -> Alarm:
    """The day before the last day, at the school's reminder hour (Taipei), not before opening."""
    last_day = taipei_date(window.ends_at - timedelta(microseconds=1))
    at = max(start_of_day(last_day - timedelta(days=1)) + timedelta(hours=policy.reminder_hour), window.starts_at)
    alarm = Alarm()
    alarm.add("action", "DISPLAY")
    alarm.add("description", f"明天截止：{label}（{format_deadline(window.ends_at)}）")
    alarm.add("trigger", at)
    return alarm
