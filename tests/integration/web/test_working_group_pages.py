"""The working group's pages 工作小組: the self-check form (tick through the form, stale page
refused), the printable view, trainings; teachers and students get 403."""
from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest

from tests.integration.web.conftest import post_form, sign_in
from tests.world import World
from workflows.school import self_check

NOW = datetime(2025, 9, 10, 2, 0, tzinfo=timezone.utc)  # 114 學年度, September (Taipei)
PAGE = "/staff/working-group/self-check"


@pytest.fixture
def app(app):
    app.config["NOW"] = NOW
    return app


def _items(world: World):
    return world.run(self_check.overview, world.staff(), 114, now=NOW).items


def test_prefill_and_tick_through_the_form(client, world, people):
    sign_in(client, "staff")
    page = client.get(PAGE).get_data(as_text=True)
    assert "工作小組任務自我檢核表" in page and "尚未建立自我檢核表" in page and "工作小組</a>" in page
    response = post_form(client, f"{PAGE}/prefill?academic_year=114", page=PAGE, follow_redirects=True)
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "補充規定修訂" in page
    assert "逾期未辦" in page  # August tasks, not done, seen in September
    assert "本學年度尚未辦理" in page and "親師說明（家長場次）" in page
    item = _items(world)[0]
    response = post_form(client, f"{PAGE}/items/{item.id}/tick?academic_year=114",
                         {"version": item.version, "planned": "1", "done": "1", "done_on": "2025-08-28"},
                         page=PAGE, follow_redirects=True)
    assert response.status_code == 200 and "已更新自我檢核項目" in response.get_data(as_text=True)
    ticked = _items(world)[0]
    assert ticked.planned and ticked.done and str(ticked.done_on) == "2025-08-28" and not ticked.missing
    row = re.search(rf'<tr id="item-{item.id}".*?</tr>', response.get_data(as_text=True), re.S).group(0)
    assert "已達成（114/08/28）" in row


def test_stale_tick_is_refused_on_the_page(client, world, people):
    ids = world.run(self_check.prefill, world.staff(), 114, now=NOW)
    sign_in(client, "staff")
    old = _items(world)[0].version
    post_form(client, f"{PAGE}/items/{ids[0]}/tick", {"version": old, "planned": "1"}, page=PAGE)
    response = post_form(client, f"{PAGE}/items/{ids[0]}/tick", {"version": old, "done": "1"}, page=PAGE)
    assert response.status_code == 409
    assert "已被其他人修改" in response.get_data(as_text=True)
    assert not _items(world)[0].done and _items(world)[0].planned


def test_print_view_has_no_nav_and_print_css(client, world, people):
    world.run(self_check.prefill, world.staff(), 114, now=NOW)
    sign_in(client, "staff")
    page = client.get(f"{PAGE}/print?academic_year=114").get_data(as_text=True)
    assert "@media print" in page and "<nav" not in page and "登出" not in page
    assert "測試高中013301" in page and "工作小組會議（第 1 學期）" in page and "115/01/31" in page
    assert "召集人（校長）" in page


def test_trainings_page_records_and_lists(client, world, people):
    sign_in(client, "staff")
    trainings_page = "/staff/working-group/trainings"
    assert "尚未辦理" in client.get(trainings_page).get_data(as_text=True)
    response = post_form(client, trainings_page, {"kind": "parent_session", "held_on": "2025-09-06",
                                                  "title": "親師座談", "audience": "高一家長", "attendees": "120"},
                         page=trainings_page, follow_redirects=True)
    page = response.get_data(as_text=True)
    assert "已登錄研習、宣導紀錄" in page and "親師座談" in page and "114/09/06" in page
    missing = re.search(r'<p class="missing" id="missing">.*?</p>', page, re.S).group(0)
    assert "親師說明" not in missing and "教師研習" in missing
    bad = post_form(client, trainings_page, {"kind": "workshop", "held_on": "2025-09-06", "title": "研習",
                                             "audience": "教師", "attendees": "很多"}, page=trainings_page)
    assert bad.status_code == 400 and "出席人數" in bad.get_data(as_text=True)
    assert 'value="研習"' in bad.get_data(as_text=True)  # what was typed is kept


@pytest.mark.parametrize("who", ["teacher", "stu0", "parent"])
def test_teachers_students_and_parents_get_403(client, world, people, who):
    ids = world.run(self_check.prefill, world.staff(), 114, now=NOW)
    sign_in(client, who)
    for path in (PAGE, f"{PAGE}/print", "/staff/working-group/trainings"):
        assert client.get(path).status_code == 403, path
    response = post_form(client, f"{PAGE}/items/{ids[0]}/tick", {"version": 1, "done": "1"})
    assert response.status_code == 403
    assert not _items(world)[0].done
