"""`portfolio receipts …`: import the central database's receipt file 收訖明細 into a submitted
batch (finished batches are closed by the deadline sweep, `portfolio sweep`). Like the rest of
the command line, it only parses, calls a workflow and prints."""
from __future__ import annotations

from pathlib import Path

import click

from web.cli.context import OPERATOR, run
from workflows.central.receipt_import import import_receipts
from workflows.core.clock import utc_now


@click.group("receipts", help="收訖明細：匯入中央資料庫回傳的收訖明細並開放學生確認。")
def receipts() -> None:
    pass


@receipts.command("import", help="匯入收訖明細檔（CSV UTF-8 或 XLSX，格式見 docs/receipts.md）到已上傳的批次，"
                  "並開放學生確認（確認期間至少 3 日）。有任何錯誤則整份不匯入。")
@click.option("--school", "school_code", required=True, metavar="CODE")
@click.argument("batch_id", type=int)
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--window", "window_id", required=True, type=int, help="收訖明細確認期間的期程編號。")
@click.pass_obj
def import_(ctx, school_code: str, batch_id: int, path: Path, window_id: int) -> None:
    def action():
        with ctx.school_uow(school_code) as uow:
            return import_receipts(uow, OPERATOR, batch_id, path.read_bytes(), path.name,
                                   confirmation_window_id=window_id, now=utc_now())
    result = run(action)
    click.echo(f"已匯入批次 #{result.batch_id} 的收訖明細：學生 {result.receipts} 位、項目 {result.items} 件；"
               "已開放學生確認。")
