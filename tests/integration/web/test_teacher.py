"""The teacher's certification queue pages (web/teacher.py) through the Flask test client, on
SQLite and PostgreSQL: what a teacher sees, certify, reject, the stale-page guard, bulk certify
with its confirmation and undo, and who may not come in."""
from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select, update

from persistence.tables import AuditEntry, Course, Item, Staff, StaffRole
from tests.integration.web.conftest import post_form, sign_in
from tests.world import AFTER_CERTIFICATION, IN_UPLOAD, YEAR
from web.filters import countdown
from workflows.school import calendar
from workflows.items import bulk as bulk_certification, certification
from workflows.items.queues import certification_queue

NOW = IN_UPLOAD + timedelta(days=5)


@pytest.fixture
def teacher(app, client, people):
    app.config["NOW"] = NOW
    sign_in(client, "teacher")
    return client


def waiting(world, n=0, *, course_id=None, title="作品", at=IN_UPLOAD) -> int:
    item_id = world.upload(n, course_id=course_id, title=title)
    world.run(certification.submit, world.student(n), item_id, now=at)
    return item_id


def item(world, item_id) -> Item:
    with world.uow() as uow:
        return uow.get(Item, item_id)


def audit(world, event: str) -> list[AuditEntry]:
    with world.uow() as uow:
        return list(uow.session.scalars(select(AuditEntry).where(AuditEntry.event == event)
                                        .order_by(AuditEntry.subject_id)))


def proxy_for_absent_colleague(world) -> None:
    """李老師 left (inactive); 新莊 routes his external multi-elective course to the teaching
    section (教學組), and 王老師 also serves in it."""
    with world.uow() as uow:
        uow.session.execute(update(Staff).where(Staff.id == world.other_teacher_id).values(active=False))
        uow.session.execute(update(Course).where(Course.id == world.course2_id)
                            .values(route="external_multi_elective"))
        uow.session.add(StaffRole(school_id=world.school_id, staff_id=world.teacher_id,
                                  role="teaching_section"))
        uow.session.commit()


def rows(page: str) -> dict[int, str]:
    """{item id: the row's HTML} of a queue page, in page order."""
    return {int(m.group(1)): m.group(2) for m in
            re.finditer(r'<tr data-item="(\d+)">(.*?)</tr>', page, re.S)}


def text(response) -> str:
    return response.get_data(as_text=True)


def version_on(page: str) -> str:
    return re.search(r'name="version" value="(\d+)"', page).group(1)


def queue_page(client, **args) -> str:
    response = client.get("/teacher/queue", query_string=args)
    assert response.status_code == 200, text(response)
    return text(response)


# -- the queue ---------------------------------------------------------------------------------

def test_queue_shows_own_items_not_a_colleagues(world, teacher, client):
    mine = waiting(world, 0, title="我的課作品")
    theirs = waiting(world, 1, course_id=world.course2_id, title="數學作品")

    page = queue_page(teacher)
    assert list(rows(page)) == [mine]
    assert "我的課作品" in page and "數學作品" not in page
    assert "學生0" in rows(page)[mine] and "國語文" in rows(page)[mine]

    post_form(client, "/logout")
    sign_in(client, "teacher2")
    assert list(rows(queue_page(client))) == [theirs]


def test_queue_shows_proxied_items_with_the_absent_teachers_name(world, teacher):
    mine = waiting(world, 0)
    proxied = waiting(world, 1, course_id=world.course2_id)
    proxy_for_absent_colleague(world)

    page = queue_page(teacher)
    found = rows(page)
    assert set(found) == {mine, proxied}
    assert "「代理」" in found[proxied] and "李老師" in found[proxied]
    assert "代理" not in found[mine]

    page = text(teacher.get(f"/teacher/items/{proxied}"))
    assert "「代理」" in page and "李老師" in page
    post_form(teacher, f"/teacher/items/{proxied}/certify", {"version": version_on(page)})
    row = audit(world, "certify")[0]
    assert (row.subject_id, row.actor_name, row.on_behalf_name) == (proxied, "王老師", "李老師")


def test_queue_counts_down_to_the_end_of_the_certification_window(world, teacher):
    waiting(world, 0)
    with world.uow() as uow:
        window = calendar.find(uow, "certification", YEAR, 1)
    page = queue_page(teacher)
    assert countdown(window.ends_at, NOW) in page
    assert "115/02/06 23:59" in page  # 3 working days after the students' last day, Taipei


def test_queue_filters_by_course_class_and_state(world, teacher):
    first = waiting(world, 0)
    second = waiting(world, 1)
    proxied = waiting(world, 2, course_id=world.course2_id)
    proxy_for_absent_colleague(world)
    world.set_student(1, class_name="102")
    world.run(certification.certify, world.teacher, first, now=NOW)

    assert set(rows(queue_page(teacher))) == {second, proxied}
    assert set(rows(queue_page(teacher, course=world.course2_id))) == {proxied}
    assert set(rows(queue_page(teacher, **{"class": "102"}))) == {second}
    assert set(rows(queue_page(teacher, state="certified"))) == {first}
    assert '<option value="102"' in queue_page(teacher)  # the class is offered as a filter


def test_queue_sorts_by_waiting_time(world, teacher):
    newest = waiting(world, 0, at=IN_UPLOAD + timedelta(days=2))
    oldest = waiting(world, 1, at=IN_UPLOAD)
    middle = waiting(world, 2, at=IN_UPLOAD + timedelta(days=1))
    assert list(rows(queue_page(teacher))) == [oldest, middle, newest]
    assert list(rows(queue_page(teacher, sort="-waiting"))) == [newest, middle, oldest]
    assert "5 天" in rows(queue_page(teacher))[oldest]  # waited since submission


def test_queue_pages_in_sql(world):
    ids = [waiting(world, n % 3, at=IN_UPLOAD + timedelta(hours=n), title=f"作品{n}") for n in range(5)]
    teacher = world.teacher
    seen = []
    for page in (1, 2, 3):
        queue = world.run(certification_queue, teacher, now=NOW, page=page, per_page=2)
        assert (queue.total, queue.pages) == (5, 3)
        seen += [r.item_id for r in queue.rows]
    assert seen == ids
    beyond = world.run(certification_queue, teacher, now=NOW, page=9, per_page=2)
    assert beyond.page == 3 and [r.item_id for r in beyond.rows] == ids[4:]


def test_bad_filters_answer_in_chinese_not_500(world, teacher):
    waiting(world, 0)
    bogus = teacher.get("/teacher/queue?state=bogus")
    assert bogus.status_code == 400 and "不支援的狀態篩選" in text(bogus)
    other = teacher.get(f"/teacher/queue?course={world.course2_id}")
    assert other.status_code == 404 and "找不到課程" in text(other)
    # Not numbers (web/params.py): refused by name, never guessed at.
    for query, words in (("page=abc", "頁碼須為 1 到"), ("course=x", "課程須為 1 到"), ("page=%C2%B2", "頁碼須為 1 到")):
        refused = teacher.get(f"/teacher/queue?{query}")
        assert refused.status_code == 400 and words in text(refused), query


# -- one item ----------------------------------------------------------------------------------

def test_item_page_previews_the_file_and_certifies(world, teacher):
    item_id = waiting(world, 0, title="閱讀心得")
    page = text(teacher.get(f"/teacher/items/{item_id}"))
    preview = re.search(r'<iframe class="preview" src="([^"]+)"', page).group(1)
    assert preview == f"/items/{item_id}/files/document"
    shown = teacher.get(preview)
    assert shown.status_code == 200 and shown.mimetype == "application/pdf"

    done = post_form(teacher, f"/teacher/items/{item_id}/certify", {"version": version_on(page)})
    assert done.status_code == 302 and done.headers["Location"] == "/teacher/queue"
    assert "已認證通過「閱讀心得」" in text(teacher.get("/teacher/queue"))
    stored = item(world, item_id)
    assert (stored.state, stored.certified_by_id) == ("certified", world.teacher_id)
    assert [a.subject_id for a in audit(world, "certify")] == [item_id]


def test_item_page_previews_images_and_media(world, teacher):
    from tests import samples
    from workflows.items.uploads import Upload, upload_course_outcome
    actor = world.student(0)
    with world.uow() as uow:
        item_id = upload_course_outcome(
            uow, actor, student_id=world.student_ids[0], course_id=world.course_id, title="海報",
            document=Upload.of(samples.png(), "海報.png"), media=Upload.of(samples.mp4(), "影片.mp4"),
            now=IN_UPLOAD)
    world.run(certification.submit, world.student(0), item_id, now=IN_UPLOAD)
    page = text(teacher.get(f"/teacher/items/{item_id}"))
    assert f'<img class="preview" src="/items/{item_id}/files/document"' in page
    assert f'<video class="preview" src="/items/{item_id}/files/media"' in page


def test_reject_needs_a_reason(world, teacher):
    item_id = waiting(world, 0)
    page = text(teacher.get(f"/teacher/items/{item_id}"))
    before = item(world, item_id).version

    missing = post_form(teacher, f"/teacher/items/{item_id}/reject",
                        {"version": version_on(page), "reason": "   "})
    assert missing.status_code == 400 and "請填寫退回原因" in text(missing)
    assert (item(world, item_id).state, item(world, item_id).version) == ("submitted", before)

    done = post_form(teacher, f"/teacher/items/{item_id}/reject",
                     {"version": version_on(page), "reason": "請補上反思段落"})
    assert done.status_code == 302
    assert "已將" in text(teacher.get(done.headers["Location"]))
    stored = item(world, item_id)
    assert (stored.state, stored.rejection_reason) == ("rejected", "請補上反思段落")
    assert audit(world, "reject")[0].reason == "請補上反思段落"


def test_a_stale_page_is_refused_and_says_so(world, teacher):
    item_id = waiting(world, 0)
    page = text(teacher.get(f"/teacher/items/{item_id}"))
    # The student withdraws and resubmits while the teacher's page is open.
    world.run(certification.withdraw, world.student(0), item_id, now=NOW)
    world.run(certification.submit, world.student(0), item_id, now=NOW)

    for action, data in (("certify", {}), ("reject", {"reason": "不清楚"})):
        stale = post_form(teacher, f"/teacher/items/{item_id}/{action}", {"version": version_on(page), **data})
        assert stale.status_code == 409
        assert "這個項目在你開啟頁面後已被變更" in text(stale)
    stored = item(world, item_id)
    assert (stored.state, stored.certified_by_id, stored.rejection_reason) == ("submitted", None, None)
    assert audit(world, "certify") == [] and audit(world, "reject") == []


def test_a_form_without_the_version_changes_nothing(world, teacher):
    item_id = waiting(world, 0)
    response = post_form(teacher, f"/teacher/items/{item_id}/certify", {})
    assert response.status_code == 400 and "重新載入" in text(response)
    assert item(world, item_id).state == "submitted"


# -- bulk certify and undo -----------------------------------------------------------------------

def bulk(world, teacher, count: int = 2) -> list[int]:
    """Certify `count` waiting items through the queue, the confirmation and the certify step."""
    ids = [waiting(world, n) for n in range(count)]
    chosen = re.findall(r'name="item" value="(\d+:\d+)"', queue_page(teacher))
    assert len(chosen) == count
    confirm = post_form(teacher, "/teacher/bulk/confirm", {"item": chosen, "back": "/teacher/queue"})
    assert confirm.status_code == 200
    confirm_page = text(confirm)
    assert f"確認認證 {count} 件" in confirm_page
    assert all(item(world, i).state == "submitted" for i in ids)  # step 2 changes nothing
    confirmed = re.findall(r'name="item" value="(\d+:\d+)"', confirm_page)
    done = post_form(teacher, "/teacher/bulk/certify", {"item": confirmed, "back": "/teacher/queue"})
    assert done.status_code == 302 and done.headers["Location"].startswith("/teacher/bulk/result")
    assert sorted(int(i) for i in parse_qs(urlsplit(done.headers["Location"]).query)["item"]) == ids
    return ids


def test_bulk_certify_with_confirmation_then_undo(world, teacher):
    ids = bulk(world, teacher)
    assert [item(world, i).state for i in ids] == ["certified", "certified"]
    assert [a.subject_id for a in audit(world, "certify")] == ids

    result = text(teacher.get(f"/teacher/bulk/result?item={ids[0]}&item={ids[1]}"))
    assert "已認證通過 2 件" in result and ">復原</button>" in result
    undo_ids = re.findall(r'type="hidden" name="item" value="(\d+)"', result)
    assert sorted(map(int, undo_ids)) == ids

    undone = post_form(teacher, "/teacher/bulk/undo", {"item": undo_ids, "back": "/teacher/queue"})
    assert undone.status_code == 302 and undone.headers["Location"] == "/teacher/queue"
    page = text(teacher.get("/teacher/queue"))
    assert "已復原 2 件認證" in page and set(rows(page)) == set(ids)
    assert [item(world, i).state for i in ids] == ["submitted", "submitted"]
    revoked = audit(world, "revoke_certification")
    assert [(a.subject_id, a.from_state, a.to_state, a.actor_name) for a in revoked] == [
        (i, "certified", "submitted", "王老師") for i in ids]


def test_bulk_confirmation_sets_apart_items_changed_since_the_queue_was_loaded(world, teacher):
    ids = [waiting(world, n) for n in range(2)]
    chosen = re.findall(r'name="item" value="(\d+:\d+)"', queue_page(teacher))
    world.run(certification.withdraw, world.student(1), ids[1], now=NOW)
    confirm = text(post_form(teacher, "/teacher/bulk/confirm", {"item": chosen}))
    assert "確認認證 1 件" in confirm and "不在待認證" in confirm


def test_bulk_certify_of_a_stale_choice_changes_nothing(world, teacher):
    ids = [waiting(world, n) for n in range(2)]
    chosen = re.findall(r'name="item" value="(\d+:\d+)"', queue_page(teacher))
    world.run(certification.withdraw, world.student(1), ids[1], now=NOW)
    world.run(certification.submit, world.student(1), ids[1], now=NOW)

    refused = post_form(teacher, "/teacher/bulk/certify", {"item": chosen})
    assert refused.status_code == 302
    page = text(teacher.get(refused.headers["Location"]))
    assert "批次認證沒有完成" in page and "這個項目在你開啟頁面後已被變更" in page
    assert [item(world, i).state for i in ids] == ["submitted", "submitted"]
    assert audit(world, "certify") == []


def test_undo_from_a_stale_result_page_changes_nothing(world, teacher):
    """The result page was opened; the teacher then undid one item in another tab and certified it
    again. Undoing from the old page is refused as stale, and nothing changes."""
    ids = bulk(world, teacher)
    result = text(teacher.get(f"/teacher/bulk/result?item={ids[0]}&item={ids[1]}"))
    undo_ids = re.findall(r'type="hidden" name="item" value="(\d+)"', result)
    shown = re.findall(r'type="hidden" name="shown" value="(\d+:\d+)"', result)
    assert len(shown) == 2
    world.run(bulk_certification.undo_certification, world.teacher, [ids[1]], now=NOW)
    world.run(certification.certify, world.teacher, ids[1], now=NOW)

    refused = post_form(teacher, "/teacher/bulk/undo", {"item": undo_ids, "shown": shown})
    page = text(teacher.get(refused.headers["Location"]))
    assert "復原沒有完成" in page and "這個項目在你開啟頁面後已被變更" in page
    assert [item(world, i).state for i in ids] == ["certified", "certified"]
    assert len(audit(world, "revoke_certification")) == 1  # the other tab's undo, nothing more


def test_undo_is_refused_after_the_window_closed(app, world, teacher):
    ids = bulk(world, teacher)
    app.config["NOW"] = AFTER_CERTIFICATION
    result = text(teacher.get(f"/teacher/bulk/result?item={ids[0]}&item={ids[1]}"))
    assert ">復原</button>" not in result and "已不能復原" in result

    refused = post_form(teacher, "/teacher/bulk/undo", {"item": [str(i) for i in ids]})
    page = text(teacher.get(refused.headers["Location"]))
    assert "復原沒有完成" in page and "已於 115/02/06 23:59 截止" in page
    assert [item(world, i).state for i in ids] == ["certified", "certified"]
    assert audit(world, "revoke_certification") == []


# -- who may come in ---------------------------------------------------------------------------

@pytest.mark.parametrize("who", ["stu0", "parent"])
def test_students_and_guardians_cannot_open_the_queue(world, client, people, who):
    item_id = waiting(world, 0)
    sign_in(client, who)
    assert client.get("/teacher/queue").status_code == 403
    assert client.get(f"/teacher/items/{item_id}").status_code == 403
    assert post_form(client, "/teacher/bulk/certify", {"item": f"{item_id}:1"}).status_code == 403
    assert item(world, item_id).state == "submitted"


def test_a_teacher_cannot_open_or_certify_a_colleagues_item(world, client, people, app):
    app.config["NOW"] = NOW
    theirs = waiting(world, 1, course_id=world.course2_id, title="數學作品")
    version = item(world, theirs).version
    # 王老師 is homeroom teacher of the student's class, yet certifies only his own courses.
    sign_in(client, "teacher")
    page = client.get(f"/teacher/items/{theirs}")
    assert page.status_code == 404 and "數學作品" not in text(page)
    assert post_form(client, f"/teacher/items/{theirs}/certify", {"version": version}).status_code == 404
    assert post_form(client, "/teacher/bulk/confirm", {"item": f"{theirs}:{version}"}).status_code == 404
    assert post_form(client, "/teacher/bulk/certify", {"item": f"{theirs}:{version}"}).status_code == 404
    assert item(world, theirs).state == "submitted" and audit(world, "certify") == []


def test_actions_return_to_the_queue_as_it_was_filtered_and_nowhere_else(world, teacher):
    ids = [waiting(world, n) for n in range(2)]
    back = "/teacher/queue?class=101&sort=-waiting"
    page = text(teacher.get(f"/teacher/items/{ids[0]}", query_string={"back": back}))
    done = post_form(teacher, f"/teacher/items/{ids[0]}/certify",
                     {"version": version_on(page), "back": back})
    assert done.headers["Location"] == back
    page = text(teacher.get(f"/teacher/items/{ids[1]}"))
    away = post_form(teacher, f"/teacher/items/{ids[1]}/certify",
                     {"version": version_on(page), "back": "https://evil.example/teacher/queue"})
    assert away.headers["Location"] == "/teacher/queue"
