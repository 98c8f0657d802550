"""`portfolio`: the command line. Like the web, it only parses, calls a workflow and prints."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from persistence.db import Database, default_url
from persistence.files import LocalFileStore
from persistence.migrate import current_revision, upgrade
from web.cli.policy import policy
from workflows import calendar as school_calendar
from workflows.actors import Actor
from workflows.errors import DomainError
from workflows.clock import format_taipei
from workflows.unit_of_work import UnitOfWork

OPERATOR = Actor("platform", None, "命令列管理者")


class Context:
    def __init__(self, db_url: str | None, data_dir: str | None):
        self.db_url = db_url or default_url()
        self.data_dir = Path(data_dir or "instance/files")
        self._db: Database | None = None

    @property
    def db(self) -> Database:
        if self._db is None:
            self._db = Database.from_url(self.db_url)
        return self._db

    @property
    def files(self) -> LocalFileStore:
        return LocalFileStore(self.data_dir)

    def school_uow(self, code: str) -> UnitOfWork:
        from workflows.schools import school_by_code

        return UnitOfWork(self.db, school_by_code(self.db, code).id, self.files)


pass_context = click.make_pass_decorator(Context)


@click.group(help="學生學習歷程檔案工作流程服務（Student Learning Portfolio workflow service）。")
@click.option("--db", "db_url", envvar="PORTFOLIO_DATABASE_URL", metavar="URL",
              help="資料庫網址（預設 instance/portfolio.sqlite3；PostgreSQL：postgresql://user@host/db）。")
@click.option("--data-dir", envvar="PORTFOLIO_DATA_DIR", metavar="DIR",
              help="檔案儲存目錄（預設 instance/files）。")
@click.pass_context
def main(ctx: click.Context, db_url: str | None, data_dir: str | None) -> None:
    _log_without_id_numbers()
    ctx.obj = Context(db_url, data_dir)


def _log_without_id_numbers() -> None:
    """ID numbers (身分證號) never reach a log line, whatever logs them."""
    import logging

    from workflows.personal_data import RedactNationalIds

    handler = logging.StreamHandler()
    handler.addFilter(RedactNationalIds())
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    if not any(isinstance(f, RedactNationalIds) for h in root.handlers for f in h.filters):
        root.addHandler(handler)
        root.setLevel(logging.WARNING)


def run(action):
    """Domain errors become a clear message and exit code 1, never a traceback."""
    try:
        return action()
    except DomainError as error:
        click.echo(f"錯誤：{error.message}", err=True)
        for line in error.details.get("errors", []):
            click.echo(f"  {line}", err=True)
        sys.exit(1)


main.add_command(policy)


@main.group(help="資料庫。")
def db() -> None:
    pass


@db.command("upgrade", help="建立或升級資料表（Alembic migrations）。")
@pass_context
def db_upgrade(ctx: Context) -> None:
    upgrade(ctx.db.engine)
    click.echo(f"資料庫已是最新版本（{current_revision(ctx.db.engine)}）：{ctx.db.engine.url.render_as_string()}")


@main.group(help="學校（平臺管理者）。")
def school() -> None:
    pass


@school.command("add", help="新增學校：學校代碼（6 碼）、名稱、補充規定（內建範本名或 TOML 檔）。")
@click.argument("code")
@click.argument("name")
@click.option("--policy", "policy_ref", required=True, metavar="PRESET_OR_FILE")
@pass_context
def school_add(ctx: Context, code: str, name: str, policy_ref: str) -> None:
    from workflows.schools import create_school

    school_id = run(lambda: create_school(ctx.db, OPERATOR, code=code, name=name, policy=policy_ref))
    click.echo(f"學校 {code} {name}（編號 {school_id}）")


@school.command("list", help="列出平臺上的學校。")
@pass_context
def school_list(ctx: Context) -> None:
    from workflows.schools import all_schools

    for row in all_schools(ctx.db):
        click.echo(f"{row.code}  {row.name}  補充規定：{row.policy_name}")


@main.command("import", help="匯入 CSV（UTF-8，Excel「CSV UTF-8」格式）：students、teachers 或 courses。")
@click.argument("what", type=click.Choice(["students", "teachers", "courses"]))
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--school", "school_code", required=True, metavar="CODE")
@pass_context
def import_csv(ctx: Context, what: str, csv_file: Path, school_code: str) -> None:
    from workflows.imports import IMPORTERS

    def action():
        with ctx.school_uow(school_code) as uow:
            return IMPORTERS[what](uow, OPERATOR, csv_file.read_bytes())
    result = run(action)
    click.echo(f"匯入完成：新增 {result.added}、更新 {result.updated}"
               + (f"、選課 {result.extra['enrolments']} 筆" if "enrolments" in result.extra else ""))


@main.group(help="作業期程（以臺北時間的日期設定，存為 UTC）。")
def calendar() -> None:
    pass


@calendar.command("set", help="設定一個期程：種類、學年度、學期（學年期程填 0）、起日、迄日（含）。")
@click.option("--school", "school_code", required=True)
@click.argument("kind", type=click.Choice(sorted(school_calendar.WINDOW_LABELS)))
@click.argument("academic_year", type=int)
@click.argument("semester", type=click.IntRange(0, 2))
@click.argument("first_day", type=click.DateTime(["%Y-%m-%d"]))
@click.argument("last_day", type=click.DateTime(["%Y-%m-%d"]))
@pass_context
def calendar_set(ctx, school_code, kind, academic_year, semester, first_day, last_day) -> None:
    def action():
        with ctx.school_uow(school_code) as uow:
            if kind == "course_outcome_upload":
                windows = school_calendar.define_outcome_windows(
                    uow, OPERATOR, academic_year, semester, first_day.date(), last_day.date(),
                    now=_now())
            else:
                windows = (school_calendar.define_window(uow, OPERATOR, kind, academic_year, semester,
                                                         first_day.date(), last_day.date(), now=_now()),)
            uow.commit()
            return [school_calendar.describe(w) for w in windows]
    for line in run(action):
        click.echo(line)


@calendar.command("show", help="列出學校的作業期程（臺北時間）。")
@click.option("--school", "school_code", required=True)
@click.option("--year", "academic_year", type=int)
@pass_context
def calendar_show(ctx, school_code, academic_year) -> None:
    def action():
        with ctx.school_uow(school_code) as uow:
            return [(w.academic_year, w.semester, school_calendar.describe(w))
                    for w in school_calendar.windows(uow, academic_year)]
    for year, semester, text in run(action):
        click.echo(f"{year} 學年度" + (f"第 {semester} 學期" if semester else "　　　　") + f"  {text}")


@main.command("sweep", help="執行所有已到期的期限作業一次（草稿鎖定、逾期未認證、逾期視為確認）。")
@click.option("--school", "school_code", help="只處理一所學校（預設：全部）。")
@pass_context
def sweep(ctx, school_code) -> None:
    from workflows.schools import all_schools
    from workflows.sweeps import run_all

    now = _now()
    for row in all_schools(ctx.db):
        if school_code and row.code != school_code:
            continue
        with UnitOfWork(ctx.db, row.id, ctx.files) as uow:
            result = run_all(uow, now)
        click.echo(f"{row.code} {row.name}（{format_taipei(now)}）：" +
                   "、".join(f"{name} {count}" for name, count in result.changed.items()))


@main.command("demo", help="建立示範學校（新莊規定、本學年度期程、班級、教師、課程），各狀態都有項目，並列出統計。")
@pass_context
def demo(ctx: Context) -> None:
    from web.cli.demo import build_demo, state_table

    upgrade(ctx.db.engine)
    school_id = run(lambda: build_demo(ctx.db, ctx.files))
    click.echo(state_table(ctx.db, school_id))


def _now():
    from workflows.clock import utc_now

    return utc_now()



