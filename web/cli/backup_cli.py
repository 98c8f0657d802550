"""`portfolio backup` and `portfolio restore` (issue 6): infrastructure, not a school's workflow,
so they call persistence/backup.py directly. See docs/backup.md."""
from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

import click

from persistence.backup import BackupError, restore_backup, verify_backup, write_backup
from workflows.core.clock import format_taipei, utc_now


def _fail(error: BackupError) -> None:
    click.echo(f"錯誤：{error.message}", err=True)
    for problem in error.problems:
        click.echo(f"  {problem}", err=True)
    sys.exit(1)


@click.command("backup", help="備份資料庫（所有資料表，同一時間點）與檔案庫到新目錄 OUT_DIR，附雜湊清單 manifest.json。"
               "使用全域的 --db 與 --data-dir。")
@click.argument("out_dir", type=click.Path(file_okay=False, path_type=Path))
@click.pass_obj
def backup(ctx, out_dir: Path) -> None:
    try:
        result = write_backup(ctx.db, ctx.files, out_dir, now=utc_now())
    except BackupError as error:
        _fail(error)
    click.echo(f"已備份至 {result.path}（資料庫結構版本 {result.revision}）")
    click.echo(f"資料表 {len(result.rows)} 個，共 {sum(result.rows.values())} 列；"
               f"檔案 {result.files} 個（其中 {result.referenced_files} 個由資料列引用）")
    click.echo(f"manifest.json SHA-256：{result.manifest_sha256}")
    if result.problems:
        click.echo(f"警告：檔案庫有 {len(result.problems)} 個被引用的檔案無法備份：", err=True)
        for problem in result.problems:
            click.echo(f"  {problem}", err=True)
        sys.exit(1)


@click.command("restore", help="驗證備份 BACKUP_DIR 的每一個雜湊，再還原到空的資料庫（--to-db）與空的檔案目錄"
               "（--to-data-dir）；有任何不符則列出並不寫入。--verify-only 只驗證。")
@click.argument("backup_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--to-db", "to_db", metavar="URL", help="還原目標資料庫網址（必須是空的）。")
@click.option("--to-data-dir", "to_data_dir", metavar="DIR",
              type=click.Path(file_okay=False, path_type=Path), help="還原目標檔案目錄（必須是空的）。")
@click.option("--verify-only", is_flag=True, help="只驗證備份，不還原。")
def restore(backup_dir: Path, to_db: str | None, to_data_dir: Path | None, verify_only: bool) -> None:
    if verify_only:
        try:
            manifest, problems = verify_backup(backup_dir)
        except BackupError as error:
            _fail(error)
        if problems:
            _fail(BackupError(f"備份驗證失敗，共 {len(problems)} 項不符", problems))
        rows = sum(t["rows"] for t in manifest["tables"])
        click.echo(f"備份完整：資料表 {len(manifest['tables'])} 個共 {rows} 列、檔案 {len(manifest['files'])} 個，"
                   f"雜湊皆相符（資料庫結構版本 {manifest['schema_revision']}，"
                   f"備份時間 {format_taipei(datetime.fromisoformat(manifest['created_at']))}）")
        return
    if not to_db or not to_data_dir:
        raise click.UsageError("還原需要 --to-db 與 --to-data-dir（或以 --verify-only 只驗證）")
    try:
        result = restore_backup(backup_dir, to_db, to_data_dir)
    except BackupError as error:
        _fail(error)
    click.echo(f"已還原：資料表 {len(result.rows)} 個共 {sum(result.rows.values())} 列、"
               f"檔案 {result.files} 個，還原後重新驗證雜湊皆相符（資料庫結構版本 {result.revision}）")
    for name, count in result.rows.items():
        if count:
            click.echo(f"  {name}: {count}")
