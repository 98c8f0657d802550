"""`portfolio sweep`, `portfolio notices` and `portfolio outbox` as an operator runs them after an
outage: at the real current time, every deadline of the test school (2025–2026) has passed."""
from __future__ import annotations



from tests.e2e.test_cli import portfolio
from tests.world import IN_UPLOAD, World
from workflows.items import certification


def base(tmp_path, cli_db):
    return ["--db", cli_db, "--data-dir", str(tmp_path / "files")]


def test_sweep_catches_up_on_every_missed_deadline_once_and_says_what_it_did(tmp_path, db, files, cli_db):
    world = World(db, files, students=3)
    world.to_receipts((0, 1))
    world.upload(2, title="沒送出的草稿")

    first = portfolio(tmp_path, *base(tmp_path, cli_db), "sweep")
    assert first.returncode == 0, first.stderr
    line = next(l for l in first.stdout.splitlines() if "013301" in l)
    assert "草稿鎖定 1" in line and "逾期視為確認 2" in line and "勾選凍結 2" in line
    assert "未設定 SMTP" in first.stdout

    second = portfolio(tmp_path, *base(tmp_path, cli_db), "sweep")
    assert second.returncode == 0 and "沒有到期的作業" in second.stdout


def test_sweep_sends_the_queued_messages_when_smtp_is_configured(tmp_path, db, files, cli_db, smtp):
    world = World(db, files)
    world.run(certification.submit, world.student(1), world.upload(1), now=IN_UPLOAD)

    result = portfolio(tmp_path, "--smtp-host", "127.0.0.1", "--smtp-port", str(smtp.port),
                       "--smtp-from", "portfolio@school.example.edu.tw", *base(tmp_path, cli_db), "sweep")

    assert result.returncode == 0, result.stderr
    assert "通知：寄出 1" in result.stdout  # the working group's not-certified report
    assert smtp.recipients == ["s001.013301@staff.example.edu.tw"]
    listed = portfolio(tmp_path, *base(tmp_path, cli_db), "outbox", "list", "--all")
    assert "sent" in listed.stdout and "逾期未認證 1 件" in listed.stdout


def test_notices_writes_a_printable_page_per_departed_student(tmp_path, db, files, cli_db):
    world = World(db, files)
    world.to_receipts((0, 1))
    world.depart(1, mailing_address="高雄市楠梓區")
    out = tmp_path / "notices.html"

    result = portfolio(tmp_path, *base(tmp_path, cli_db), "notices", "--school", "013301",
                       "--window", str(world.receipt_window_id), "--out", str(out))

    assert result.returncode == 0, result.stderr
    assert "1 位學生" in result.stdout
    html = out.read_text(encoding="utf-8")
    assert html.count('<section class="notice">') == 1 and "高雄市楠梓區" in html and "學生1" in html
    wrong = portfolio(tmp_path, *base(tmp_path, cli_db), "notices", "--school", "013301", "--window", "99999")
    assert wrong.returncode == 1 and "找不到期程" in wrong.stderr


def test_calendar_refuses_a_receipt_window_shorter_than_the_school_allows(tmp_path, db, files, cli_db):
    World(db, files)
    result = portfolio(tmp_path, *base(tmp_path, cli_db), "calendar", "set", "--school", "013301",
                       "receipt_confirmation", "115", "0", "2027-10-04", "2027-10-05")
    assert result.returncode == 1
    assert "只有 2 日" in result.stderr and "15 日" in result.stderr
    shown = portfolio(tmp_path, *base(tmp_path, cli_db), "calendar", "show", "--school", "013301", "--year", "115")
    assert "收訖明細確認" not in shown.stdout
