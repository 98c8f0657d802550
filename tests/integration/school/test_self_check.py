"""The working group's self-check form 自我檢核表: prefilled from seed 002's example, ticked with
audit rows and a stale-page guard, editable only by the executive secretary and admin, with
missing flags in Taipei dates."""
from __future__ import annotations

from datetime import date, datetime, timezone

import pytest
from sqlalchemy import select

from persistence.tables import AuditEntry, SelfCheckItem, StaffRole
from tests.world import World
from workflows.school import self_check
from workflows.core.errors import Conflict, Forbidden, InvalidInput

NOW = datetime(2025, 8, 5, 2, 0, tzinfo=timezone.utc)  # 114 學年度, August (Taipei)


@pytest.fixture
def world(db, files) -> World:
    return World(db, files)


def _prefill(world, year=114, now=NOW) -> list[int]:
    return world.run(self_check.prefill, world.staff(), year, now=now)


def _view(world, now, actor=None, year=114):
    return world.run(self_check.overview, actor or world.staff(), year, now=now)


def _audit(world, item_id):
    with world.uow() as uow:
        return list(uow.session.scalars(uow.select(AuditEntry).where(
            AuditEntry.subject_kind == "self_check", AuditEntry.subject_id == item_id).order_by(AuditEntry.id)))


def test_prefill_creates_the_example_rows_with_national_dates(world):
    ids = _prefill(world)
    view = _view(world, NOW)
    assert [i.id for i in view.items] == ids and len(ids) == len(self_check.TEMPLATE)
    tasks = [i.task for i in view.items]
    assert tasks[0].startswith("補充規定修訂") and any(t.startswith("學生系統操作訓練") for t in tasks)
    meetings = [i for i in view.items if i.task.startswith("工作小組會議")]
    # 作業要點第五點: at least once a semester → by each semester's last day of 114 學年度.
    assert [(m.planned_month, m.national_date) for m in meetings] == [(8, date(2026, 1, 31)), (2, date(2026, 7, 31))]
    assert all(i.owner for i in view.items) and not any(i.done or i.planned for i in view.items)
    assert _prefill(world) == ids  # a second prefill keeps the form as it is
    # Another year computes its own dates.
    _prefill(world, 115)
    later = _view(world, NOW, year=115)
    assert [i.national_date for i in later.items if i.national_date] == [date(2027, 1, 31), date(2027, 7, 31)]
    assert _audit(world, ids[0])[0].event == "prefill"


def test_tick_is_audited_and_done_defaults_to_today(world):
    item_id = _prefill(world)[0]
    version = _view(world, NOW).items[0].version
    world.run(self_check.tick, world.staff(), item_id, planned=True, done=True, expected_version=version, now=NOW)
    item = _view(world, NOW).items[0]
    assert item.planned and item.done and item.done_on == date(2025, 8, 5) and item.version == version + 1
    [_, entry] = _audit(world, item_id)
    assert (entry.event, entry.actor_name) == ("tick", "陳組長")
    assert entry.from_state == "planned=0;done=0;done_on=" and entry.to_state == "planned=1;done=1;done_on=2025-08-05"
    # Undoing clears the date.
    world.run(self_check.tick, world.staff(), item_id, done=False, expected_version=item.version, now=NOW)
    assert _view(world, NOW).items[0].done_on is None


def test_stale_page_is_refused_and_nothing_changes(world):
    item_id = _prefill(world)[0]
    version = _view(world, NOW).items[0].version
    world.run(self_check.tick, world.staff(), item_id, planned=True, expected_version=version, now=NOW)
    with pytest.raises(Conflict, match="已被其他人修改"):
        world.run(self_check.tick, world.staff(), item_id, done=True, expected_version=version, now=NOW)
    item = _view(world, NOW).items[0]
    assert item.planned and not item.done and len(_audit(world, item_id)) == 2


def test_bad_done_date_is_refused(world):
    item_id = _prefill(world)[0]
    version = _view(world, NOW).items[0].version
    with pytest.raises(InvalidInput, match="尚未到來") as error:
        world.run(self_check.tick, world.staff(), item_id, done=True, done_on="2025-09-01",
                  expected_version=version, now=NOW)
    assert error.value.field == "done_on"
    with pytest.raises(InvalidInput, match="不是有效的日期"):
        world.run(self_check.tick, world.staff(), item_id, done=True, done_on="8/1",
                  expected_version=version, now=NOW)
    assert not _view(world, NOW).items[0].done


def test_teachers_students_and_read_only_offices(world, db):
    item_id = _prefill(world)[0]
    with pytest.raises(Forbidden):
        world.run(self_check.overview, world.teacher, 114, now=NOW)
    with pytest.raises(Forbidden):
        world.run(self_check.tick, world.teacher, item_id, done=True, expected_version=1, now=NOW)
    with pytest.raises(Forbidden):
        world.run(self_check.overview, world.student(0), 114, now=NOW)
    with pytest.raises(Forbidden):
        world.run(self_check.prefill, world.student(0), 115, now=NOW)
    # A working-group office (訓育組) reads but does not edit.
    with world.uow() as uow:
        uow.session.add(StaffRole(school_id=world.school_id, staff_id=world.other_teacher_id, role="student_activities"))
        uow.commit()
    office = world.staff(world.other_teacher_id)
    view = _view(world, NOW, office)
    assert view.items and not view.can_edit
    with pytest.raises(Forbidden, match="執行秘書"):
        world.run(self_check.tick, office, item_id, done=True, expected_version=view.items[0].version, now=NOW)
    assert not _view(world, NOW).items[0].done


def test_missing_flags_follow_taipei_dates(world):
    ids = _prefill(world)
    # 31 Aug 2025 15:59 UTC is still August in Taipei (23:59); 16:00 UTC is 1 September.
    last_august = datetime(2025, 8, 31, 15, 59, tzinfo=timezone.utc)
    first_september = datetime(2025, 8, 31, 16, 0, tzinfo=timezone.utc)
    assert not any(i.missing for i in _view(world, last_august).items)
    view = _view(world, first_september)
    august = [i for i in view.items if i.planned_month == 8]
    assert august and all(i.missing for i in august)
    assert not any(i.missing for i in view.items if i.planned_month in (9, 2))
    # Done items are never missing.
    first = view.items[0]
    world.run(self_check.tick, world.staff(), first.id, done=True, done_on="2025-08-20",
              expected_version=first.version, now=first_september)
    assert not _view(world, first_september).items[0].missing
    # The semester-2 meeting: planned in February, but the national date (31 Jul 2026) is what
    # passes if the month is changed to after it.
    meeting2 = next(i for i in view.items if i.national_date == date(2026, 7, 31))
    world.run(self_check.edit_item, world.staff(), meeting2.id, task=meeting2.task, owner=meeting2.owner,
              planned_month=None, national_date=meeting2.national_date, expected_version=meeting2.version,
              now=first_september)
    assert not next(i for i in _view(world, datetime(2026, 7, 31, 15, 0, tzinfo=timezone.utc)).items
                    if i.id == meeting2.id).missing
    flagged = next(i for i in _view(world, datetime(2026, 7, 31, 16, 0, tzinfo=timezone.utc)).items
                   if i.id == meeting2.id)
    assert flagged.missing and "國教署公告期程" in flagged.missing_reason
    assert len(ids) == len(view.items)


def test_school_rows_added_and_edited(world):
    _prefill(world)
    new_id = world.run(self_check.add_item, world.staff(), 114, task="親師說明（結合親職活動）", owner="輔導室",
                       planned_month="9", national_date="", now=NOW)
    view = _view(world, NOW)
    added = view.items[-1]
    assert (added.id, added.position, added.planned_month) == (new_id, len(self_check.TEMPLATE) + 1, 9)
    with pytest.raises(InvalidInput, match="1 至 12") as error:
        world.run(self_check.add_item, world.staff(), 114, task="x", owner="y", planned_month="13", now=NOW)
    assert error.value.field == "planned_month"
    with pytest.raises(InvalidInput, match="負責單位"):
        world.run(self_check.edit_item, world.staff(), new_id, task="x", owner=" ", expected_version=added.version,
                  now=NOW)
    world.run(self_check.edit_item, world.staff(), new_id, task="親師說明", owner="輔導室（資料組）",
              planned_month=10, expected_version=added.version, now=NOW)
    edited = _view(world, NOW).items[-1]
    assert (edited.task, edited.owner, edited.planned_month) == ("親師說明", "輔導室（資料組）", 10)
    assert [e.event for e in _audit(world, new_id)] == ["add_item", "edit_item"]


def test_another_schools_item_is_not_found(world, db, files):
    item_id = _prefill(world)[0]
    other = World(db, files, code="013302")
    from workflows.core.errors import NotFound
    with pytest.raises(NotFound):
        other.run(self_check.tick, other.staff(), item_id, done=True, expected_version=1, now=NOW)
    with world.uow() as uow:
        assert not uow.session.scalars(select(SelfCheckItem.done).where(SelfCheckItem.id == item_id)).one()
