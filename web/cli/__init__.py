"""`portfolio`: the command line. Like the web, it only parses, calls a workflow and prints."""
from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

from persistence.mail import SmtpSettings
from persistence.migrate import current_revision, upgrade
from web.cli.backup_cli import backup, restore
from web.cli.batch import batch
from web.cli.context import OPERATOR, Context, pass_context, run
from web.cli.demo import demo
from web.cli.fsck_cli import fsck
from web.cli.policy import policy
from web.cli.receipts_cli import receipts
from web.cli.transfer_cli import transfer
from web.notices import render_notices
from workflows.core.clock import format_taipei, utc_now
from workflows.core.errors import InvalidInput
from workflows.core.roles import Role
from workflows.core.unit_of_work import UnitOfWork
from workflows.deadlines.notices import paper_notices
from workflows.deadlines.outbox import deliver, list_messages
from workflows.deadlines.run import run_due
from workflows.people import passwords
from workflows.people.accounts import PASSWORD_MIN, create_account, grant_role, person_ids
from workflows.people.personal_data import RedactNationalIds
from workflows.school import calendar as school_calendar
from workflows.school.imports import IMPORTERS
from workflows.school.schools import all_schools, create_school, school_by_code


@click.group(help="學生學習歷程檔案工作流程服務（Student Learning Portfolio workflow service）。")
@click.option("--db", "db_url", envvar="PORTFOLIO_DATABASE_URL", metavar="URL",
              help="資料庫網址（預設 instance/portfolio.sqlite3；PostgreSQL：postgresql://user@host/db）。")
@click.option("--data-dir", envvar="PORTFOLIO_DATA_DIR", metavar="DIR",
              help="檔案儲存目錄（預設 instance/files）。")
@click.option("--smtp-host", envvar="PORTFOLIO_SMTP_HOST", metavar="HOST",
              help="寄送通知的 SMTP 主機（未設定則不寄送，通知留在待寄清單）。")
@click.option("--smtp-port", envvar="PORTFOLIO_SMTP_PORT", type=int, default=25, show_default=True)
@click.option("--smtp-from", envvar="PORTFOLIO_SMTP_FROM", metavar="ADDRESS",
              default="portfolio@localhost", show_default=True, help="寄件者地址。")
@click.pass_context
def main(ctx: click.Context, db_url: str | None, data_dir: str | None, smtp_host: str | None,
         smtp_port: int, smtp_from: str) -> None:
    _log_without_id_numbers()
    smtp = SmtpSettings.from_env()
    if smtp_host:  # options win over the environment's other settings too
        smtp = SmtpSettings(host=smtp_host, port=smtp_port, sender=smtp_from,
                            username=smtp.username if smtp else None,
                            password=smtp.password if smtp else None,
                            starttls=smtp.starttls if smtp else False)
    ctx.obj = Context(db_url, data_dir, smtp)


def _log_without_id_numbers() -> None:
    """ID numbers (身分證號) never reach a log line, whatever logs them."""
    handler = logging.StreamHandler()
    handler.addFilter(RedactNationalIds())
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    if not any(isinstance(f, RedactNationalIds) for h in root.handlers for f in h.filters):
        root.addHandler(handler)
        root.setLevel(logging.WARNING)


main.add_command(policy)
main.add_command(receipts)
main.add_command(batch)
main.add_command(backup)
main.add_command(restore)
main.add_command(transfer)
main.add_command(fsck)
main.add_command(demo)


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
    school_id = run(lambda: create_school(ctx.db, OPERATOR, code=code, name=name, policy=policy_ref))
    click.echo(f"學校 {code} {name}（編號 {school_id}）")


@school.command("list", help="列出平臺上的學校。")
@pass_context
def school_list(ctx: Context) -> None:
    for row in all_schools(ctx.db):
        click.echo(f"{row.code}  {row.name}  補充規定：{row.policy_name}")


@main.command("import", help="匯入 CSV（UTF-8，Excel「CSV UTF-8」格式）：students、teachers 或 courses。")
@click.argument("what", type=click.Choice(["students", "teachers", "courses"]))
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--school", "school_code", required=True, metavar="CODE")
@pass_context
def import_csv(ctx: Context, what: str, csv_file: Path, school_code: str) -> None:
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
                    now=utc_now())
            else:
                windows = (school_calendar.define_window(uow, OPERATOR, kind, academic_year, semester,
                                                         first_day.date(), last_day.date(), now=utc_now()),)
            uow.commit()
            return [school_calendar.describe(w) for w in windows]
    for line in run(action):
        click.echo(line)


@calendar.command("show", help="列出學校的作業期程（臺北時間），含期程編號。")
@click.option("--school", "school_code", required=True)
@click.option("--year", "academic_year", type=int)
@pass_context
def calendar_show(ctx, school_code, academic_year) -> None:
    def action():
        with ctx.school_uow(school_code) as uow:
            return [(w.id, w.academic_year, w.semester, school_calendar.describe(w))
                    for w in school_calendar.windows(uow, academic_year)]
    for window_id, year, semester, text in run(action):
        click.echo(f"#{window_id:<4} {year} 學年度" + (f"第 {semester} 學期" if semester else "　　　　")
                   + f"  {text}")


@main.command("sweep", help="執行所有已到期的期限作業一次並列出變更（草稿鎖定、逾期未認證、勾選凍結、"
                           "逾期視為確認、截止提醒、離校生資料刪除），並寄出待寄通知。停機後補做也用這個。")
@click.option("--school", "school_code", help="只處理一所學校（預設：全部）。")
@pass_context
def sweep(ctx, school_code) -> None:
    now = utc_now()
    only = {run(lambda: school_by_code(ctx.db, school_code)).id} if school_code else None
    result = run_due(ctx.db, ctx.files, now, school_ids=only)
    click.echo(f"期限作業（{format_taipei(now)}）")
    for school in result.schools:
        click.echo(f"  {school.describe()}")
    if result.files_removed:
        click.echo(f"  刪除離校生檔案 {result.files_removed} 個")
    for error in result.errors:
        click.echo(f"  失敗：{error}", err=True)
    if ctx.mailer is not None:
        click.echo(f"通知：{deliver(ctx.db, ctx.mailer, utc_now())}")
    else:
        click.echo("通知：未設定 SMTP（--smtp-host 或 PORTFOLIO_SMTP_HOST），通知留在待寄清單。")
    if not result.ok:
        sys.exit(1)


@main.command("scheduler", help="以獨立的常駐程序執行排程器（不要在網站程序內執行）。同一資料庫只會有一個"
                               "排程器作用；其他的等待，並在它停止時接手。")
@click.option("--catch-up-seconds", type=float, default=300, show_default=True,
              help="定期補做到期作業的間隔。")
@click.option("--sync-seconds", type=float, default=60, show_default=True,
              help="重新讀取各校作業期程的間隔。")
@click.option("--deliver-seconds", type=float, default=60, show_default=True,
              help="寄送待寄通知的間隔。")
@click.option("--poll-seconds", type=float, default=5, show_default=True,
              help="等待接手及檢查鎖定的間隔。")
@pass_context
def scheduler(ctx, catch_up_seconds, sync_seconds, deliver_seconds, poll_seconds) -> None:
    # Imported here for start-up speed: APScheduler loads only for this long-running command.
    from scheduler.process import run_process

    sys.exit(run_process(ctx.db, ctx.files, ctx.mailer, catch_up_seconds=catch_up_seconds,
                         sync_seconds=sync_seconds, deliver_seconds=deliver_seconds,
                         poll_seconds=poll_seconds, report=click.echo,
                         warn=lambda text: click.echo(text, err=True)))


@main.group(help="待寄通知（截止提醒、通報）。")
def outbox() -> None:
    pass


@outbox.command("list", help="列出待寄或寄送失敗的通知。")
@click.option("--all", "show_all", is_flag=True, help="包含已寄出的通知。")
@pass_context
def outbox_list(ctx, show_all) -> None:
    for m in list_messages(ctx.db, include_sent=show_all):
        click.echo(f"{m.id:>6} {m.status:<10} {m.attempts} 次 {m.recipient_name} <{m.email or '無信箱'}> "
                   f"{m.subject}" + (f"（{m.last_error}）" if m.last_error else ""))


@outbox.command("deliver", help="立即寄出到期的待寄通知。")
@pass_context
def outbox_deliver(ctx) -> None:
    if ctx.mailer is None:
        click.echo("錯誤：未設定 SMTP（--smtp-host 或 PORTFOLIO_SMTP_HOST）。", err=True)
        sys.exit(1)
    click.echo(f"通知：{deliver(ctx.db, ctx.mailer, utc_now())}")


@main.command("notices", help="列印離校學生的收訖明細確認紙本通知（每位學生一頁，HTML，可直接列印）。")
@click.option("--school", "school_code", required=True)
@click.option("--window", "window_id", type=int, required=True,
              help="收訖明細確認期程的編號（calendar show 可查）。")
@click.option("--out", "out_path", type=click.Path(dir_okay=False, path_type=Path),
              help="輸出檔（預設 notices-<學校代碼>-<期程編號>.html）。")
@pass_context
def notices(ctx, school_code, window_id, out_path) -> None:
    def action():
        with ctx.school_uow(school_code) as uow:
            return paper_notices(uow, OPERATOR, window_id, now=utc_now())
    batch = run(action)
    if not batch.notices:
        click.echo("這個確認期間沒有需要紙本通知的離校學生。")
        return
    out_path = out_path or Path(f"notices-{school_code}-{window_id}.html")
    out_path.write_text(render_notices(batch), encoding="utf-8")
    click.echo(f"已寫入 {out_path}：{len(batch.notices)} 位學生，每人一頁。")
    for notice in batch.notices:
        if not notice.address:
            click.echo(f"  注意：{notice.student_no} {notice.name} 沒有通訊地址，請先補登。", err=True)


@main.group(help="帳號。")
def user() -> None:
    pass


@user.command("add", help="建立帳號。ROLE：student（配 --student-no）、guardian（配 --student-no，可多個，及 --name）、"
                          "staff 或教職員職務代碼如 subject_teacher、registry（配 --staff-no）。密碼由標準輸入或提示輸入。")
@click.argument("username")
@click.option("--role", required=True, metavar="ROLE")
@click.option("--school", "school_code", required=True, metavar="CODE")
@click.option("--student-no", "student_nos", multiple=True, metavar="學號")
@click.option("--staff-no", metavar="教職員編號")
@click.option("--name", help="家長或法定代理人姓名。")
@click.option("--password-stdin", is_flag=True, help="從標準輸入讀取密碼（一行）。")
@pass_context
def user_add(ctx, username, role, school_code, student_nos, staff_no, name, password_stdin) -> None:
    if password_stdin or not sys.stdin.isatty():
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("密碼", hide_input=True, confirmation_prompt="再輸入一次密碼")
    staff_roles = {r.value for r in Role}
    if role not in {"student", "guardian", "staff", *staff_roles}:
        click.echo(f"錯誤：不明的 --role {role}：student、guardian、staff 或 {'、'.join(sorted(staff_roles))}", err=True)
        sys.exit(2)

    def action():
        with ctx.school_uow(school_code) as uow:
            students, staff = person_ids(uow, student_nos=student_nos, staff_no=staff_no)
            if role in ("student", "guardian") and not students:
                raise_missing("--student-no")
            if role not in ("student", "guardian") and staff is None:
                raise_missing("--staff-no")
            if role == "student":
                account = create_account(uow, OPERATOR, username=username, password=password,
                                         kind="student", student_id=students[0], now=utc_now())
            elif role == "guardian":
                account = create_account(uow, OPERATOR, username=username, password=password,
                                         kind="guardian", guardian_of=students, name=name, now=utc_now())
            else:
                account = create_account(uow, OPERATOR, username=username, password=password,
                                         kind="staff", staff_id=staff, now=utc_now())
                if role != "staff":
                    grant_role(uow, OPERATOR, staff, Role(role), now=utc_now())
            uow.commit()
            return account.name
    who = run(action)
    click.echo(f"已建立帳號 {username}（{who}，{role}）")


@user.command("passwd", help=f"設定帳號的密碼（至少 {PASSWORD_MIN} 字元，不能和目前的相同）；這個帳號原有的登入和 API 權杖都會失效。"
                             "密碼由標準輸入（一行）或提示輸入兩次。")
@click.argument("username")
@click.option("--school", "school_code", metavar="CODE", help="帳號所屬學校的代碼（可省略：帳號在全平臺唯一）。")
@click.option("--password-stdin", is_flag=True, help="從標準輸入讀取密碼（一行）。")
@pass_context
def user_passwd(ctx, username, school_code, password_stdin) -> None:
    if password_stdin or not sys.stdin.isatty():
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("新密碼", hide_input=True, confirmation_prompt="再輸入一次新密碼")

    def action():
        school_id = (school_by_code(ctx.db, school_code).id if school_code
                     else passwords.school_of_username(ctx.db, username))
        with UnitOfWork(ctx.db, school_id, ctx.files) as uow:
            account = passwords.set_password(uow, OPERATOR, username, password, now=utc_now())
            uow.commit()
            return account.name
    who = run(action)
    click.echo(f"已設定帳號 {username.strip()}（{who}）的密碼；這個帳號原有的登入和 API 權杖都已失效。")


def raise_missing(option: str):
    raise InvalidInput(f"請用 {option} 指定這個帳號的人。", field=option)


@main.command("serve", help="以開發用伺服器提供網站（正式環境請用 gunicorn，見 README）。")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--debug", is_flag=True)
@click.option("--db", "db_url", metavar="URL", help="資料庫網址（同 portfolio --db）。")
@pass_context
def serve(ctx, host, port, debug, db_url) -> None:
    # Imported here for start-up speed: Flask and every page load only for the site.
    from web.app import create_app

    if db_url:
        ctx.use_database(db_url)

    app = create_app({"DATABASE": ctx.db, "FILES": ctx.files,
                      # Browsers keep Secure cookies for http://localhost only; elsewhere use HTTPS.
                      "SESSION_COOKIE_SECURE": host not in ("127.0.0.1", "localhost", "::1")})
    click.echo(f"網站：http://{host}:{port}/（Ctrl-C 停止）")
    app.run(host=host, port=port, debug=debug, use_reloader=False)
