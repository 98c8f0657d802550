"""The working group's self-check form 學生學習歷程檔案工作小組任務自我檢核表: the year's tasks with
their owner (負責單位), planned month (辦理期程), the national date where one applies (國教署公告期程),
planned (預定完成) and done (達成). Prefilled from the K12EA example of seed 002; the school adds
its own rows. A task not done once its month or national date has passed is flagged missing.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Callable

from sqlalchemy import func, select

from persistence.tables import SelfCheckItem
from workflows.school import trainings
from workflows.people import working_group
from workflows.core.actors import Actor
from workflows.core.clock import ROC_OFFSET, roc_date, semester_bounds, taipei_date
from workflows.core.fields import date_field
from workflows.core.errors import InvalidInput
from workflows.core.guards import require_current
from workflows.core.numbers import echoed, whole
from workflows.core.transitions import note
from workflows.core.unit_of_work import UnitOfWork

EDITOR_ROLES = working_group.EDITOR_ROLES
TASK_MAX = 200
OWNER_MAX = 60
YEAR_MIN, YEAR_MAX = 100, 200


@dataclass(frozen=True)
class Template:
    """One row of the example form. `national` computes the national date for a ROC year where
    the rule gives one (作業要點第五點: the working group meets at least once a semester, so by
    the semester's last day); None where the example gives no national date."""

    task: str
    owner: str
    month: int
    national: Callable[[int], date] | None = None


def _semester_end(semester: int) -> Callable[[int], date]:
    return lambda year: semester_bounds(year, semester)[1]


# Seed 002, 自我檢核表(一)：會議、宣導及教育訓練 (範例). The example leaves 負責人 blank; the owners
# are the offices seeds 002/003 give each task. Row 2 (meetings in August and February,
# "每學期至少一次") is one row per semester so each can be ticked.
TEMPLATE: tuple[Template, ...] = (
    Template("補充規定修訂（檢視規定落實狀況；代理人機制列入補充規定；訂定畢業學生學習歷程資料保存年限）",
             "教務處（執行秘書）", 8),
    Template("工作小組會議（第 1 學期）：檢視工作進度及成效", "教務處（執行秘書）", 8, _semester_end(1)),
    Template("工作小組會議（第 2 學期）：檢視工作進度及成效", "教務處（執行秘書）", 2, _semester_end(2)),
    Template("行政系統操作訓練：權限設定／資料維護管理／提交（各系統操作人員出席廠商教育訓練）", "教務處", 8),
    Template("學生系統操作訓練：資料檢視／上傳／勾選／匯出（教師入班說明）", "教務處、圖書館（資訊組）", 9),
    Template("教師系統操作訓練：資料檢視／認證／匯出／課諮紀錄登錄（全體教師參加）", "教務處（試務組）", 8),
    Template("學生宣導說明：學習歷程檔案及考招制度宣導、學習歷程檔案前導課程（新生始業輔導）", "學務處、輔導室", 8),
)


can_edit = working_group.can_edit


def require_editor(uow: UnitOfWork, actor: Actor) -> None:
    working_group.require_editor(uow, actor, "修改自我檢核表")


def require_reader(uow: UnitOfWork, actor: Actor) -> None:
    working_group.require_reader(uow, actor, "自我檢核表")


def month_year(academic_year: int, month: int) -> int:
    """The western year a month of a ROC academic year falls in (Aug–Dec: the first; Jan–Jul: the next)."""
    return academic_year + ROC_OFFSET + (0 if month >= 8 else 1)


def month_end(academic_year: int, month: int) -> date:
    year = month_year(academic_year, month)
    return date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)  # exclusive


def _year(value) -> int:
    year = whole(str(value), beyond=YEAR_MAX + 1)
    if year is None:
        raise InvalidInput(f"學年度「{value}」不是整數（民國年，例如 114）。", field="academic_year")
    if not YEAR_MIN <= year <= YEAR_MAX:
        raise InvalidInput(f"學年度須介於 {YEAR_MIN} 至 {YEAR_MAX}（民國年），收到「{echoed(value)}」。",
                           field="academic_year")
    return year


def _month(value) -> int | None:
    if value in (None, ""):
        return None
    month = whole(str(value), beyond=13)
    if month is None:
        raise InvalidInput(f"辦理月份「{value}」不是 1 至 12 的整數。", field="planned_month")
    if not 1 <= month <= 12:
        raise InvalidInput(f"辦理月份須為 1 至 12，收到「{echoed(value)}」。", field="planned_month")
    return month


def _state(item: SelfCheckItem) -> str:
    return (f"planned={int(bool(item.planned))};done={int(bool(item.done))};"
            f"done_on={item.done_on.isoformat() if item.done_on else ''}")


def _describe(item: SelfCheckItem) -> str:
    return (f"{item.task}｜{item.owner}｜{item.planned_month or ''} 月｜"
            f"{item.national_date.isoformat() if item.national_date else ''}")[:500]


def _items(uow: UnitOfWork, academic_year: int) -> list[SelfCheckItem]:
    return list(uow.session.scalars(uow.select(SelfCheckItem).where(
        SelfCheckItem.academic_year == academic_year).order_by(SelfCheckItem.position)))


def prefill(uow: UnitOfWork, actor: Actor, academic_year, *, now: datetime) -> list[int]:
    """Create the year's form from seed 002's example; a year that already has a form keeps it
    (nothing is overwritten) and its item ids are returned."""
    require_editor(uow, actor)
    year = _year(academic_year)
    existing = _items(uow, year)
    if existing:
        return [item.id for item in existing]
    rows = []
    for position, template in enumerate(TEMPLATE, start=1):
        row = SelfCheckItem(school_id=uow.school_id, academic_year=year, position=position,
                            task=template.task, owner=template.owner, planned_month=template.month,
                            national_date=template.national(year) if template.national else None,
                            planned=False, done=False, updated_at=now)
        uow.session.add(row)
        rows.append(row)
    uow.session.flush()
    for row in rows:
        note(uow.session, school_id=uow.school_id, subject_kind="self_check", subject_id=row.id,
             event="prefill", to_state=_describe(row), actor=actor, at=now, reason=f"{year} 學年度（範例）")
    uow.commit()
    return [row.id for row in rows]


def add_item(uow: UnitOfWork, actor: Actor, academic_year, *, task: str, owner: str,
             planned_month=None, national_date=None, now: datetime) -> int:
    """A school's own row, after the others."""
    require_editor(uow, actor)
    year = _year(academic_year)
    row = SelfCheckItem(school_id=uow.school_id, academic_year=year,
                        task=working_group.form_text(task, field="task", label="項目及內容", limit=TASK_MAX),
                        owner=working_group.form_text(owner, field="owner", label="負責單位", limit=OWNER_MAX),
                        planned_month=_month(planned_month),
                        national_date=date_field(national_date, field="national_date", label="國教署公告期程", required=False),
                        planned=False, done=False, updated_at=now)
    last = uow.session.scalar(select(func.max(SelfCheckItem.position)).where(
        SelfCheckItem.school_id == uow.school_id, SelfCheckItem.academic_year == year))
    row.position = (last or 0) + 1
    uow.session.add(row)
    uow.session.flush()
    note(uow.session, school_id=uow.school_id, subject_kind="self_check", subject_id=row.id,
         event="add_item", to_state=_describe(row), actor=actor, at=now)
    uow.commit()
    return row.id


def edit_item(uow: UnitOfWork, actor: Actor, item_id: int, *, task: str, owner: str, planned_month=None,
              national_date=None, expected_version: int | None, now: datetime) -> None:
    require_editor(uow, actor)
    values = dict(task=working_group.form_text(task, field="task", label="項目及內容", limit=TASK_MAX),
                  owner=working_group.form_text(owner, field="owner", label="負責單位", limit=OWNER_MAX),
                  planned_month=_month(planned_month),
                  national_date=date_field(national_date, field="national_date", label="國教署公告期程", required=False))
    item = uow.get(SelfCheckItem, item_id, for_update=True, what="自我檢核項目")
    require_current(item, expected_version, what="這個自我檢核項目")
    before = _describe(item)
    for name, value in values.items():
        setattr(item, name, value)
    item.updated_at = now
    note(uow.session, school_id=uow.school_id, subject_kind="self_check", subject_id=item.id,
         event="edit_item", from_state=before, to_state=_describe(item), actor=actor, at=now)
    uow.commit()


def tick(uow: UnitOfWork, actor: Actor, item_id: int, *, planned: bool | None = None,
         done: bool | None = None, done_on=None, expected_version: int | None, now: datetime) -> None:
    """Tick planned (預定完成) and done (達成); done without a date is done today (Taipei), a done
    date cannot be in the future, and undoing clears it."""
    require_editor(uow, actor)
    today = taipei_date(now)
    day = date_field(done_on, field="done_on", label="完成日期", required=False)
    if day is not None and day > today:
        raise InvalidInput(f"完成日期 {roc_date(day)} 尚未到來。", field="done_on")
    item = uow.get(SelfCheckItem, item_id, for_update=True, what="自我檢核項目")
    require_current(item, expected_version, what="這個自我檢核項目")
    if day is not None and done is False:
        raise InvalidInput("未達成的項目不能填寫完成日期。", field="done_on")
    if day is not None and done is None and not item.done:
        raise InvalidInput("請先勾選「達成」再填寫完成日期。", field="done_on")
    before = _state(item)
    if planned is not None:
        item.planned = planned
    if done is not None:
        item.done = done
        if not done:
            item.done_on = None
        elif item.done_on is None and day is None:
            item.done_on = today
    if day is not None:
        item.done_on = day
    after = _state(item)
    if after == before:
        return  # nothing changed: no new version, no audit row
    item.updated_at = now
    note(uow.session, school_id=uow.school_id, subject_kind="self_check", subject_id=item.id,
         event="tick", from_state=before, to_state=after, actor=actor, at=now)
    uow.commit()


@dataclass(frozen=True)
class ItemView:
    id: int
    position: int
    task: str
    owner: str
    planned_month: int | None
    national_date: date | None
    planned: bool
    done: bool
    done_on: date | None
    version: int
    missing: bool
    missing_reason: str | None


@dataclass(frozen=True)
class SelfCheckView:
    academic_year: int
    today: date
    items: list[ItemView]
    can_edit: bool
    trainings_missing: list[tuple[str, str]]  # (kind, zh-TW label) with no session this year

    @property
    def missing_count(self) -> int:
        return sum(1 for item in self.items if item.missing)


def missing_reason(item: SelfCheckItem, today: date) -> str | None:
    """Why an item not done is overdue (Taipei date `today`), or None."""
    if item.done:
        return None
    if item.national_date is not None and today > item.national_date:
        return f"已過國教署公告期程 {roc_date(item.national_date)}"
    if item.planned_month is not None and today >= month_end(item.academic_year, item.planned_month):
        return f"已過預定辦理月份（{month_year(item.academic_year, item.planned_month) - ROC_OFFSET} 年 {item.planned_month} 月）"
    return None


def overview(uow: UnitOfWork, actor: Actor, academic_year, *, now: datetime) -> SelfCheckView:
    require_reader(uow, actor)
    year = _year(academic_year)
    today = taipei_date(now)
    items = []
    for row in _items(uow, year):
        reason = missing_reason(row, today)
        items.append(ItemView(row.id, row.position, row.task, row.owner, row.planned_month, row.national_date,
                              bool(row.planned), bool(row.done), row.done_on, row.version,
                              reason is not None, reason))
    return SelfCheckView(year, today, items, can_edit(actor),
                         [(kind, trainings.KIND_LABELS[kind]) for kind in trainings.missing_kinds(uow, year)])
