"""`portfolio fsck [--repair]` (issue 7): check the file store against the database, platform-
wide (persistence/fsck.py). Exit 0 when clean, 1 when problems remain."""
from __future__ import annotations

import sys

import click

from persistence.fsck import FileProblem, check, repair


def _problems(label: str, problems: list[FileProblem]) -> None:
    for problem in problems:
        click.echo(f"  {label}：{problem.sha256}")
        for row in problem.rows:
            click.echo(f"    引用：{row}")
        if problem.detail:
            click.echo(f"    {problem.detail}")


@click.command("fsck", help="檢查檔案庫：每個檔案的內容是否符合其 SHA-256、每筆資料列引用的檔案是否存在；"
               "列出遺失、毀損與無人引用的檔案及中斷寫入留下的暫存檔。--repair 只刪除無人引用的檔案與暫存檔"
               "（絕不刪除資料列引用的檔案）。全部正常結束碼 0，有問題為 1。使用全域的 --db 與 --data-dir。")
@click.option("--repair", "do_repair", is_flag=True, help="刪除無人引用的檔案與中斷寫入留下的暫存檔。")
@click.pass_obj
def fsck(ctx, do_repair: bool) -> None:
    report = check(ctx.db, ctx.files)
    click.echo(f"已檢查檔案 {report.files_checked} 個、資料列引用 {report.references_checked} 筆。")
    click.echo(f"遺失 {len(report.missing)} 個、毀損 {len(report.corrupt)} 個、"
               f"無人引用 {len(report.orphaned)} 個、暫存檔 {len(report.temp_files)} 個。")
    _problems("遺失（資料列指向的檔案不在檔案庫中）", report.missing)
    _problems("毀損（內容與 SHA-256 不符）", report.corrupt)
    _problems("無人引用", report.orphaned)
    for path in report.temp_files:
        click.echo(f"  暫存檔（中斷的寫入）：{path}")
    if report.clean:
        click.echo("檔案庫正常。")
        return
    if not do_repair:
        sys.exit(1)
    removed = repair(ctx.db, ctx.files, report)
    click.echo(f"已刪除無人引用的檔案 {len(removed.orphans)} 個、暫存檔 {len(removed.temp_files)} 個。")
    kept = len(report.orphaned) - len(removed.orphans)
    if kept:
        click.echo(f"  {kept} 個檔案在檢查後已被資料列引用或已不存在，未刪除。")
    if report.missing or report.corrupt:
        click.echo("遺失或毀損的檔案無法以 --repair 修復，請自備份還原（docs/backup.md）。", err=True)
        sys.exit(1)
