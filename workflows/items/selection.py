"""Select 勾選 and unselect 取消勾選: each academic year a student picks at most N course
outcomes (≤ 6) and M multiple performances (≤ 10) for the central database, while the
selection window is open. The cap holds under concurrency: the student's row is locked first."""
from __future__ import annotations

from datetime import datetime

from persistence.tables import Item
from workflows.school import calendar
from workflows.core.clock import now_or
from workflows.core.actors import Actor
from workflows.core.errors import RuleViolation
from workflows.core.policy import KIND_LABELS
from workflows.core.guards import require_current
from workflows.items.rules import SELECTED_STATES, count_items, student_side
from workflows.core.transitions import fire, require_allowed
from workflows.core.unit_of_work import UnitOfWork


def _move(uow: UnitOfWork, actor: Actor, item_id: int, event: str, *, expected_version, now) -> Item:
    now = now_or(now)
    probe = uow.get(Item, item_id, what="學習歷程項目")
    actor = student_side(uow, actor, probe.student_id)
    uow.lock_student(probe.student_id)
    item = uow.get(Item, item_id, for_update=True, what="學習歷程項目")
    require_current(item, expected_version, what="這個項目")
    if event == "select" and item.kind == "course_outcome" and item.state in ("draft", "submitted", "rejected"):
        raise RuleViolation("只有認證通過的課程學習成果可以勾選。", rule="select_requires_certified",
                            field="state")
    require_allowed(item, event)
    calendar.require_open(uow, "selection", item.academic_year, 0, now,
                          doing="勾選" if event == "select" else "取消勾選")
    if event == "select":
        cap = uow.policy.selection_cap(item.kind)
        used = count_items(uow, item.student_id, item.kind, item.academic_year, SELECTED_STATES[item.kind])
        if used >= cap:
            raise RuleViolation(
                f"{item.academic_year} 學年度已勾選 {used} 件{KIND_LABELS[item.kind]}，已達上限 {cap} 件；"
                f"請先取消其他項目的勾選。", rule=f"{item.kind}_selections_per_year",
                field="item_id", limit=cap)
        item.selected_at = now
    else:
        item.selected_at = None
    fire(uow.session, item, event, actor=actor, at=now)
    item.updated_at = now
    uow.commit()
    return item


def select(uow: UnitOfWork, actor: Actor, item_id: int, *, expected_version: int | None = None,
           now: datetime | None = None) -> Item:
    return _move(uow, actor, item_id, "select", expected_version=expected_version, now=now)


def unselect(uow: UnitOfWork, actor: Actor, item_id: int, *, expected_version: int | None = None,
             now: datetime | None = None) -> Item:
    return _move(uow, actor, item_id, "unselect", expected_version=expected_version, now=now)
