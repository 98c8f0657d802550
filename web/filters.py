"""Jinja filters: times in Asia/Taipei with ROC dates, state and event labels in zh-TW."""
from __future__ import annotations

from datetime import datetime

from flask import Flask

from states import MACHINES, event_label, state_label
from web.context import current_account
from workflows.core.clock import format_deadline, format_taipei, utc_now, year_label
from workflows.core.roles import ROLE_LABELS, Role


def taipei(moment: datetime | None) -> str:
    return format_taipei(moment) if moment else "—"


def deadline(moment: datetime | None) -> str:
    return format_deadline(moment) if moment else "—"


def countdown(moment: datetime | None, now: datetime | None = None) -> str:
    """How long until an exclusive end, as people say it: 「剩 3 天 4 小時」, 「已截止」."""
    if moment is None:
        return "未公告"
    left = moment - (now or utc_now())
    if left.total_seconds() <= 0:
        return "已截止"
    days, hours = left.days, left.seconds // 3600
    if days:
        return f"剩 {days} 天 {hours} 小時"
    minutes = (left.seconds % 3600) // 60
    return f"剩 {hours} 小時 {minutes} 分"


def state_name(state: str, kind: str) -> str:
    return state_label(MACHINES[kind], state)


# Audited events of rows without a machine (staff-entered records, lists, imports).
OTHER_EVENT_LABELS = {"enter": "登錄", "correct": "更正", "delete": "刪除", "import": "匯入"}


def event_name(event: str, kind: str) -> str:
    machine = MACHINES.get(kind)
    return event_label(machine, event) if machine else OTHER_EVENT_LABELS.get(event, event)


def role_name(role: str) -> str:
    return ROLE_LABELS.get(Role(role), role)


def install(app: Flask) -> None:
    app.jinja_env.filters.update(taipei=taipei, deadline=deadline, countdown=countdown,
                                 state_name=state_name, event_name=event_name,
                                 year_label=year_label, role_name=role_name)
    app.jinja_env.globals.update(current_account=current_account)
