"""The scheduler process (`portfolio scheduler`): check the schema, wait to lead, run the
`Service` until told to stop (SIGTERM/SIGINT) or the leadership is lost, and say why it ended
with the process's exit code."""
from __future__ import annotations

import faulthandler
import signal
import threading
from typing import Callable

from persistence.db import Database
from persistence.files import FileStore
from persistence.migrate import current_revision, head_revision
from scheduler.leader import leadership_for
from scheduler.service import Service
from workflows.core.clock import format_taipei, utc_now
from workflows.deadlines.outbox import Mailer

STOPPED = 0
SCHEMA_NOT_CURRENT = 2
LEADERSHIP_LOST = 3
SERVICE_DIED = 4


def run_process(db: Database, files: FileStore, mailer: Mailer | None, *, catch_up_seconds: float,
                sync_seconds: float, deliver_seconds: float, poll_seconds: float,
                report: Callable[[str], None], warn: Callable[[str], None]) -> int:
    """Run the scheduler in this process; returns its exit code. `report` tells what it does,
    `warn` why it refuses or stops early."""
    current, head = current_revision(db.engine), head_revision()
    if current != head:  # never migrate from here: two schedulers starting together would race
        warn(f"錯誤：資料庫版本為 {current or '（空白）'}，最新為 {head}；請先執行 portfolio db upgrade。")
        return SCHEMA_NOT_CURRENT
    service = Service(db, files, mailer, catch_up_seconds=catch_up_seconds, sync_seconds=sync_seconds,
                      deliver_seconds=deliver_seconds, report=report)
    return lead(service, leadership_for(db), poll_seconds, report=report, warn=warn)


def lead(service: Service, leadership, poll_seconds: float, *, report: Callable[[str], None],
         warn: Callable[[str], None]) -> int:
    """Wait to lead, run until told to stop (SIGTERM/SIGINT) or the lock is lost."""
    faulthandler.register(signal.SIGUSR1, all_threads=True)  # `kill -USR1`: where is it stuck?
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    if not leadership.try_acquire():
        report("另一個排程器正在執行，等待接手…")
        while not leadership.try_acquire():
            if stop.wait(poll_seconds):
                return STOPPED
    report(f"排程器作用中（{format_taipei(utc_now())}）："
           + ("寄送通知" if service.mailer else "未設定 SMTP，不寄送通知"))
    try:
        service.start()
        while not stop.wait(poll_seconds):
            if not leadership.held():
                warn("失去排程器鎖定，停止以免與其他排程器重複執行。")
                return LEADERSHIP_LOST
            if not service.alive():
                warn("排程器執行緒已停止，結束程序，讓其他排程器接手。")
                return SERVICE_DIED
        return STOPPED
    finally:
        service.shutdown()
        leadership.release()
        report("排程器已停止。")
