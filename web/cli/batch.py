"""`portfolio batch …`: central submission batches 提交批次 and the course roster pre-check 預檢.
Like the rest of the command line, it only parses, calls a workflow and prints.

The batch workflows are imported by the commands that use them, for start-up speed: they load
openpyxl (about 0.2 s), which no other `portfolio` command needs."""
from __future__ import annotations

from pathlib import Path

import click

from persistence.tables import BATCH_KINDS, GRADE12_TRACKS
from web.cli.context import OPERATOR, run
from workflows.central.precheck import precheck_courses
from workflows.core.clock import format_taipei, utc_now
from workflows.people.accounts import person_ids


@click.group("batch", help="中央資料庫提交批次：建立、匯出名冊、確認上傳、列表，以及開課預檢。")
def batch() -> None:
    pass


@batch.command("create", help="建立提交批次。KIND："
               + "、".join(BATCH_KINDS) + "。學年批次（year_*）不指定學期；高三批次以 --track 指定群別，"
               "取該群別的在學三年級學生，或以 --student-no（可多個）列出。")
@click.option("--school", "school_code", required=True, metavar="CODE")
@click.argument("kind", type=click.Choice(BATCH_KINDS))
@click.argument("academic_year", type=int)
@click.option("--semester", type=click.IntRange(0, 2), default=0, show_default=True)
@click.option("--track", type=click.Choice(GRADE12_TRACKS), help="高三群別：academic 學術群、professional 專業群。")
@click.option("--round", "round_", type=click.IntRange(1, 2), default=1, show_default=True, help="高三梯次。")
@click.option("--student-no", "student_nos", multiple=True, metavar="學號",
              help="只放這些學生（可多個）；不指定時取部別（與群別）的全部學生。")
@click.option("--division", type=click.Choice(["day", "continuing"]), default="day", show_default=True,
              help="未指定學生時：日間部或進修部。")
@click.pass_obj
def create(ctx, school_code, kind, academic_year, semester, track, round_, student_nos, division) -> None:
    from workflows.central.batches import batch_entries, create_batch  # start-up speed: see the module's docstring

    def action():
        with ctx.school_uow(school_code) as uow:
            students = None
            if student_nos:
                students, _ = person_ids(uow, student_nos=student_nos, staff_no=None)
            created = create_batch(uow, OPERATOR, kind, academic_year, semester, track=track,
                                   round=round_, student_ids=students, division=division, now=utc_now())
            entries = batch_entries(uow, OPERATOR, created.id)
            return created.id, len({s.id for s, _ in entries}), sum(1 for _, i in entries if i)
    batch_id, students, items = run(action)
    click.echo(f"已建立提交批次 #{batch_id}：學生 {students} 位" + (f"、項目 {items} 件" if items else "") + "。")


@batch.command("export", help="匯出批次的名冊（Excel）、檔案與 manifest.json（SHA-256）到 DIR/batch-<編號>/。")
@click.option("--school", "school_code", required=True, metavar="CODE")
@click.argument("batch_id", type=int)
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.pass_obj
def export(ctx, school_code, batch_id, out_dir) -> None:
    from workflows.central.batches import export_batch  # start-up speed: see the module's docstring

    def action():
        with ctx.school_uow(school_code) as uow:
            return export_batch(uow, OPERATOR, batch_id, out_dir, now=utc_now())
    result = run(action)
    click.echo(f"已匯出批次 #{result.batch_id}（名冊別 {result.roster_type.label}）：{result.rows} 筆、"
               f"檔案 {result.files} 個")
    click.echo(f"  名冊：{result.workbook}")
    click.echo(f"  SHA-256：{result.workbook_sha256}")


@batch.command("submit", help="確認批次已上傳中央資料庫：批次與其項目改為已提交中央資料庫。")
@click.option("--school", "school_code", required=True, metavar="CODE")
@click.argument("batch_id", type=int)
@click.pass_obj
def submit(ctx, school_code, batch_id) -> None:
    from workflows.central.batches import submit_batch  # start-up speed: see the module's docstring

    def action():
        with ctx.school_uow(school_code) as uow:
            return submit_batch(uow, OPERATOR, batch_id, now=utc_now()).id
    click.echo(f"批次 #{run(action)} 已確認上傳中央資料庫。")


@batch.command("list", help="列出學校的提交批次。")
@click.option("--school", "school_code", required=True, metavar="CODE")
@click.option("--year", "academic_year", type=int)
@click.pass_obj
def list_(ctx, school_code, academic_year) -> None:
    from workflows.central.batches import list_batches  # start-up speed: see the module's docstring

    def action():
        with ctx.school_uow(school_code) as uow:
            return list_batches(uow, OPERATOR, academic_year)
    rows = run(action)
    if not rows:
        click.echo("沒有提交批次。")
    for row in rows:
        click.echo(f"#{row.id:<4} {row.state_label:<8} {row.description}：學生 {row.students} 位、"
                   f"項目 {row.items} 件，建立 {format_taipei(row.created_at)}"
                   + (f"，匯出 {format_taipei(row.exported_at)}" if row.exported_at else "")
                   + (f"，上傳 {format_taipei(row.submitted_at)}" if row.submitted_at else ""))


@batch.command("precheck", help="開課預檢：檢查該學期每門課程的課程代碼，逐列列出問題。結束碼：0 通過、1 有問題。")
@click.option("--school", "school_code", required=True, metavar="CODE")
@click.argument("academic_year", type=int)
@click.argument("semester", type=click.IntRange(1, 2))
@click.pass_obj
def precheck(ctx, school_code, academic_year, semester) -> None:
    def action():
        with ctx.school_uow(school_code) as uow:
            return precheck_courses(uow, OPERATOR, academic_year, semester)
    report = run(action)
    click.echo(report.summary())
    for problem in report.problems:
        click.echo(f"  {problem}")
    if not report.ok:
        click.get_current_context().exit(1)
