"""`portfolio demo`: build the demo school (workflows/demo/school.py), then print its items' states
and its accounts.

The builder is imported when the command runs, for start-up speed: it runs every school process,
and the records' spreadsheet support loads openpyxl (about 0.2 s), which other commands do without."""
from __future__ import annotations

from collections import Counter

import click

from persistence.migrate import upgrade
from states import MACHINES, state_label
from web.cli.context import Context, pass_context, run
from workflows.demo import DEMO_CODE, DEMO_NAME
from workflows.people.accounts import hash_password


@click.command("demo", help="建立示範學校（新莊規定、本學年度期程、班級、教師、課程），各狀態都有項目，並列出統計與示範帳號。")
@click.option("--password", help="示範帳號的密碼（至少 10 字元）；未指定時新帳號用隨機密碼並顯示一次。")
@pass_context
def demo(ctx: Context, password: str | None) -> None:
    from workflows.demo.school import build_demo, demo_accounts, state_counts  # start-up speed

    if password is not None:
        run(lambda: hash_password(password))  # refuse a weak password before building anything
    upgrade(ctx.db.engine)
    school_id = run(lambda: build_demo(ctx.db, ctx.files))
    click.echo(state_table(state_counts(ctx.db, school_id)))
    rows, shown = run(lambda: demo_accounts(ctx.db, school_id, password))
    click.echo(accounts_table(rows, shown))


def accounts_table(rows, password: str | None) -> str:
    lines = ["示範帳號（網站：portfolio serve 後開 http://127.0.0.1:5000/）"]
    lines += [f"  {username:<10} {name:　<6} {label}" for username, name, label in rows]
    lines.append(f"  密碼：{password}" if password else "  密碼未變更（用 portfolio demo --password 新密碼 重設）")
    return "\n".join(lines)


def state_table(counts: Counter) -> str:
    lines = [f"{DEMO_NAME}（學校代碼 {DEMO_CODE}）各類項目狀態統計", ""]
    for kind, title in (("course_outcome", "課程學習成果 course_outcome"), ("performance", "多元表現 performance"),
                        ("receipt", "收訖明細 receipt")):
        lines.append(title)
        for state in MACHINES[kind].states:
            lines.append(f"  {state.id:<18} {state_label(MACHINES[kind], state.id):　<8} {counts.get((kind, state.id), 0):>4}")
        lines.append("")
    return "\n".join(lines)
