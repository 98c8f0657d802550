"""Signing in and out in a real browser, with the CSRF token and the session cookie as a browser
handles them."""
from __future__ import annotations

import pytest

# One Chromium for all the browser tests: under pytest-xdist they run on one worker, one after another.
pytestmark = pytest.mark.xdist_group("browser")


def test_a_teacher_signs_in_and_out(person, site):
    teacher = person("teacher")
    assert teacher.page.url.endswith("/teacher/queue")
    assert "王老師" in teacher.page.inner_text("header")
    teacher.shot("queue")
    teacher.page.click("form.logout button")
    teacher.page.wait_for_url("**/login")
    assert "已登出" in teacher.page.inner_text("main")
    teacher.go("/teacher/queue")
    assert "/login" in teacher.page.url


def test_a_wrong_password_is_refused_in_words(browser, site):
    context = browser.new_context(locale="zh-TW")
    page = context.new_page()
    page.goto(site.url + "/login")
    page.fill("input[name=username]", f"stu0.{site.world.code}")
    page.fill("input[name=password]", "not the password")
    page.click("button[type=submit]")
    assert "帳號或密碼不正確" in page.inner_text("main")
    context.close()
