"""Staff status pages 作業狀態: counts per state by grade, class and course; certification rates
with seed 002's bands; waiting times; receipt confirmation by day; longest queues; students who
have not selected or confirmed; a student's timeline; the state diagrams.

Thin: the figures come from workflows/items/status.py (which also decides who may see what); this
module picks the period from the query string and turns figures into charts."""
from __future__ import annotations

from flask import Blueprint, render_template, request

from persistence.vocabulary import SubjectKind
from states import MACHINES, edges, event_label, state_label
from web import charts
from web.context import login_required, now, school_uow
from web.diagram import machine_svg
from web.params import YEAR_MAX, YEAR_MIN, integer
from workflows.core.clock import roc_date, semester_of, taipei_date
from workflows.items.status import (BANDS, SEMESTER_LABELS, Period, StatusReport, period_of,
                              status_report, student_timeline)

bp = Blueprint("staff", __name__, url_prefix="/staff")

MACHINE_LABELS = {kind: SubjectKind(kind).label for kind in MACHINES}
BAND_CLASSES = {"good": "band-high", "warn": "band-mid", "low": "band-low"}
BAND_COLOURS = {"good": "#2e7d32", "warn": "#e69f00", "low": "#b00020"}


def _period() -> Period:
    """?year=114&semester=1 (0: the whole year); by default the current semester (Taipei)."""
    year, semester = semester_of(taipei_date(now()))
    return period_of(integer(request.args.get("year"), field="year", label="學年度", low=YEAR_MIN, high=YEAR_MAX,
                             default=year),
                     integer(request.args.get("semester"), field="semester", label="學期", high=2, default=semester))


def _status_charts(report: StatusReport) -> dict:
    out = {}
    for kind, counts in report.counts.items():
        table = counts.by_class
        if table.rows:
            out[f"classes_{kind}"] = charts.stacked_bar_chart(
                f"{counts.label}各班狀態件數（{report.period.label}）", [r.label for r in table.rows],
                [(label, [r.count(state) for r in table.rows])
                 for state, label in zip(table.states, table.state_labels)])
    rates = [r for r in report.rates if r.rate is not None]
    if rates:
        out["rates"] = charts.bar_chart(
            f"班級認證率（{report.period.label}）", [(r.class_name, r.rate * 100) for r in rates],
            max_value=100, fmt=lambda v: f"{v:.0f} %", colours=[BAND_COLOURS[r.band] for r in rates],
            guides=[charts.Guide(float(lower) * 100, label) for _, lower, label in BANDS if lower],
            description="；".join(f"{r.class_name}班 {r.percent}（{r.band_label}）" for r in rates))
    if report.days.total:
        out["days"] = charts.histogram(f"學生送出認證後教師完成認證日數（{report.period.label}）",
                                       report.days.buckets)
    if report.receipts.days and report.receipts.total:
        out["receipt_share"] = charts.line_chart(
            "收訖明細累計確認率（每日）",
            [(f"{d.day.month:02d}/{d.day.day:02d}", d.share) for d in report.receipts.days],
            description="；".join(f"{roc_date(d.day)} 累計 {d.cumulative} 件（{round(d.share * 100)} %）"
                                  for d in report.receipts.days))
        out["receipt_daily"] = charts.bar_chart(
            "收訖明細每日確認件數", [(f"{d.day.month:02d}/{d.day.day:02d}", d.confirmed)
                               for d in report.receipts.days], whole=True)
    return out


@bp.get("/status")
@login_required("staff")
def status():
    period = _period()
    with school_uow() as (uow, actor):
        report = status_report(uow, actor, period.academic_year, period.semester, now=now())
    return render_template("staff/status.html", report=report, charts=_status_charts(report),
                           band_classes=BAND_CLASSES, bands=BANDS, semesters=SEMESTER_LABELS, roc_date=roc_date,
                           now=now())


@bp.get("/students/<int:student_id>/timeline")
@login_required("staff")
def timeline(student_id: int):
    with school_uow() as (uow, actor):
        found = student_timeline(uow, actor, student_id)
    return render_template("staff/timeline.html", timeline=found, student=found.student)


@bp.get("/diagrams")
@login_required("staff")
def diagrams():
    machines = []
    for kind, machine in MACHINES.items():
        label = MACHINE_LABELS.get(kind, kind)
        moves = [(event_label(machine, e.event), state_label(machine, e.source), state_label(machine, e.target))
                 for e in edges(machine)]
        machines.append({"kind": kind, "label": label, "svg": machine_svg(machine, title=f"{label}狀態圖"),
                         "moves": moves})
    return render_template("staff/diagrams.html", machines=machines)
