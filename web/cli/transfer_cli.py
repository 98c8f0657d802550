"""`portfolio transfer …`: a student's exchange package for a transfer 轉出 / 轉入 (issue 6).
Like the rest of the command line, it only parses, calls a workflow and prints."""
from __future__ import annotations

from pathlib import Path

import click

from web.cli.context import OPERATOR, run
from workflows.central.transfer import (export_transfer_package, import_transfer_package,
                                         mark_transferred_out, student_id_by_no)
from workflows.core.clock import utc_now


@click.group("transfer", help="學籍異動：轉出交換包與轉入匯入（格式見 docs/transfer.md）。")
def transfer() -> None:
    pass


@transfer.command("export", help="匯出學生的轉出交換包（ZIP：manifest.json、檔案與 SHA-256）。"
                  "加上 --final 則同時將學生學籍狀態改為「轉出」。")
@click.option("--school", "school_code", required=True, metavar="CODE")
@click.argument("student_no")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--final", is_flag=True, help="轉出確定：學籍狀態改為轉出，離校日為今天（臺北時間）。")
@click.pass_obj
def export(ctx, school_code: str, student_no: str, out: Path, final: bool) -> None:
    def action():
        now = utc_now()
        with ctx.school_uow(school_code) as uow:
            student_id = student_id_by_no(uow, student_no)
            summary = export_transfer_package(uow, OPERATOR, student_id, out, now=now)
        if final:
            with ctx.school_uow(school_code) as uow:
                mark_transferred_out(uow, OPERATOR, student_id, now=now)
        return summary
    summary = run(action)
    click.echo(f"已匯出轉出交換包 {summary.path}：項目 {summary.items} 件、檔案 {summary.files} 個；"
               f"manifest.json SHA-256 {summary.manifest_sha256}" + ("；學籍狀態已改為轉出。" if final else "。"))


@transfer.command("import", help="匯入轉入交換包：驗證每個檔案的 SHA-256，被修改過的交換包整份拒收。")
@click.option("--school", "school_code", required=True, metavar="CODE")
@click.argument("package", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--student-no", required=True, help="本校學號。")
@click.option("--class", "class_name", required=True, help="本校班級。")
@click.option("--grade", required=True, type=int, help="年級（1–3）。")
@click.pass_obj
def import_(ctx, school_code: str, package: Path, student_no: str, class_name: str, grade: int) -> None:
    def action():
        with ctx.school_uow(school_code) as uow:
            return import_transfer_package(uow, OPERATOR, package, student_no=student_no,
                                           class_name=class_name, grade=grade, now=utc_now())
    result = run(action)
    click.echo(f"已由學校 {result.source_school} 轉入：學生編號 {result.student_id}"
               f"{'（沿用本校既有學生資料）' if result.reused_student else ''}，項目 {result.items} 件、"
               f"檔案 {result.files} 個。")
