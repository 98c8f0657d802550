"""The public calendar 作業期程: a page the school links from its website, and one iCal feed per
audience (students, teachers, staff) so the deadlines appear in their own calendars. No sign-in.
Thin: what each window means and the feed itself are workflows/school/calendar_feed.py's.
"""
from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, Response, render_template, request, url_for

from persistence.tables import Window
from web.context import db, now
from web.params import YEAR_MAX, YEAR_MIN, integer
from workflows.school.calendar_feed import (AUDIENCES, WINDOW_AUDIENCES, Meaning, ical, period_text, public_windows,
                                     rule_text)
from workflows.core.clock import academic_year_of, format_deadline, format_taipei, taipei_date
from workflows.core.errors import NotFound
from workflows.core.policy import Policy

bp = Blueprint("calendar_pages", __name__, url_prefix="/calendar")

SEMESTER_GROUPS = ((1, "第 1 學期"), (2, "第 2 學期"), (0, "全學年度"))


@dataclass(frozen=True)
class Row:
    id: int
    kind: str
    label: str
    period: str
    starts: str
    ends: str
    rule: str
    meanings: list[tuple[str, Meaning]]  # (audience label, meaning)


def _year_arg(default: int) -> int:
    return integer(request.args.get("academic_year"), field="academic_year", label="學年度（民國年，例如 114）",
                   low=YEAR_MIN, high=YEAR_MAX, default=default)


def _row(window: Window, policy: Policy, label: str) -> Row:
    meanings = [(AUDIENCES[a], m) for a, m in WINDOW_AUDIENCES[window.kind].items()]
    return Row(window.id, window.kind, label, period_text(window),
               format_taipei(window.starts_at), format_deadline(window.ends_at),
               rule_text(window.kind, policy), meanings)


@bp.get("/<school_code>")
def page(school_code: str):
    current = academic_year_of(taipei_date(now()))
    year = _year_arg(current)
    school, windows, labels, policy = public_windows(db(), school_code, [year])
    groups = []
    for semester, label in SEMESTER_GROUPS:
        rows = [_row(w, policy, labels[w.id]) for w in sorted(windows, key=lambda w: (w.starts_at, w.kind))
                if w.semester == semester]
        if rows:
            groups.append((label, rows))
    feeds = [(label, url_for(".feed", school_code=school.code, audience=audience, _external=True))
             for audience, label in AUDIENCES.items()]
    response = Response(render_template(
        "calendar/public.html", school=school, year=year, current=current, groups=groups, feeds=feeds))
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


@bp.get("/<school_code>/<audience>.ics")
def feed(school_code: str, audience: str):
    if audience not in AUDIENCES:
        raise NotFound(f"沒有「{audience}」的行事曆；可用：{'、'.join(AUDIENCES)}。")
    current = academic_year_of(taipei_date(now()))
    if request.args.get("academic_year"):
        years = [_year_arg(current)]
    else:  # last year's selection and receipts fall in this year; next year's may be published
        years = [current - 1, current, current + 1]
    school, windows, labels, policy = public_windows(db(), school_code, years)
    body = ical(school.code, school.name, audience, windows, policy, stamp=now(), labels=labels)
    response = Response(body, content_type="text/calendar; charset=utf-8")
    response.headers["Content-Disposition"] = f'inline; filename="{school.code}-{audience}.ics"'
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


