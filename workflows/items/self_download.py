"""Self-download 個人學習歷程下載: a student's whole portfolio as one zip, at any time.

The lesson of 2021: students who had no copy of their own lost their work with the platform's
disk. The zip holds every file of every item the student still has (all states, all years;
deleted or purged items are gone), a readable `index.html` in zh-TW with relative links and no
external resources, and `manifest.json` with each file's SHA-256 and size. Every file is checked
against its recorded hash while it is copied: a stored file that no longer matches stops the
download (CorruptState naming the hash) rather than hand out a silently damaged copy.
"""
from __future__ import annotations

import hashlib
import json
import zipfile
from dataclasses import dataclass
from datetime import datetime
from html import escape
from typing import BinaryIO

from persistence.files import CHUNK_BYTES
from persistence.tables import Course, Item, Receipt, Staff
from states import MACHINES, state_label
from workflows.people.access import require_student
from workflows.core.actors import Actor
from workflows.core.clock import format_taipei, year_label
from workflows.core.errors import CorruptState
from workflows.core.transitions import note
from workflows.core.unit_of_work import UnitOfWork
from persistence.vocabulary import PERFORMANCE_CATEGORIES, ItemKind

SLOT_NAMES = {"document": "文件", "media": "影音"}
SLOTS = ("document", "media")
SELECTED_STATES = frozenset({"selected", "submitted_central", "receipt_confirmed", "deemed_confirmed",
                             "disputed", "resolved"})


@dataclass(frozen=True)
class PackedFile:
    path: str  # inside the zip
    sha256: str
    size: int


@dataclass(frozen=True)
class DownloadSummary:
    student_no: str
    items: int
    files: int
    bytes: int


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _shown(moment: datetime | None) -> str:
    return format_taipei(moment) if moment else "—"


def copy_verified(store, sha256: str, size: int | None, archive: zipfile.ZipFile, path: str) -> PackedFile:
    """Copy one stored file into the archive, hashing as it goes; a mismatch (or a missing file)
    is a CorruptState naming the hash. Shared with workflows/central/transfer.py."""
    digest, copied = hashlib.sha256(), 0
    try:
        source = store.open(sha256)
    except (FileNotFoundError, OSError) as error:
        raise CorruptState(f"找不到雜湊值 {sha256} 的檔案，已停止下載；請通知平臺管理者。",
                           sha256=sha256) from error
    with source, archive.open(path, "w", force_zip64=True) as target:
        while chunk := source.read(CHUNK_BYTES):
            digest.update(chunk)
            copied += len(chunk)
            target.write(chunk)
    if digest.hexdigest() != sha256 or (size is not None and copied != size):
        raise CorruptState(f"檔案內容與紀錄的雜湊值 {sha256} 不符（檔案可能已損毀），已停止下載；"
                           "請通知平臺管理者。", sha256=sha256)
    return PackedFile(path, sha256, copied)


def _file_path(item: Item, slot: str) -> str:
    # ASCII paths: every unzip tool reads them; the display name is shown in index.html.
    return f"files/{item.academic_year}-{item.semester}/{item.id}-{slot}.{getattr(item, f'{slot}_kind') or 'bin'}"


def _students_items(uow: UnitOfWork, student_id: int) -> list[Item]:
    return list(uow.session.scalars(uow.select(Item).where(
        Item.student_id == student_id, Item.state != "deleted")
        .order_by(Item.academic_year, Item.semester, Item.kind, Item.id)))


def _names(uow: UnitOfWork, model, ids) -> dict[int, str]:
    ids = {i for i in ids if i is not None}
    if not ids:
        return {}
    return dict(uow.session.execute(uow.select(model).with_only_columns(model.id, model.name)
                                    .where(model.id.in_(ids))).all())


def portfolio_zip(uow: UnitOfWork, actor: Actor, student_id: int, out: BinaryIO, *,
                  now: datetime) -> DownloadSummary:
    """Write the student's whole portfolio to `out` as a zip. Who: the student, their guardians
    and staff who may view the student (workflows/people/access.can_view_student); anyone else NotFound."""
    student = require_student(uow, actor, student_id)
    items = _students_items(uow, student.id)
    courses = {c.id: c for c in uow.session.scalars(uow.select(Course).where(
        Course.id.in_({i.course_id for i in items if i.course_id is not None})))}
    teachers = _names(uow, Staff, [i.certified_by_id for i in items])
    receipt_ids = {i.receipt_id for i in items if i.receipt_id is not None}
    receipts = {r.id: r for r in uow.session.scalars(uow.select(Receipt).where(Receipt.id.in_(receipt_ids)))} \
        if receipt_ids else {}
    entries, packed_total = [], 0
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for item in items:
            files = []
            for slot in SLOTS:
                sha256 = getattr(item, f"{slot}_sha256")
                if sha256:
                    packed = copy_verified(uow.files, sha256, getattr(item, f"{slot}_size"), archive,
                                           _file_path(item, slot))
                    files.append((slot, packed))
                    packed_total += packed.size
            entries.append((item, files))
        manifest = _manifest(uow, student, entries, courses, teachers, receipts, now)
        archive.writestr("manifest.json", json.dumps(manifest, ensure_ascii=False, indent=2))
        archive.writestr("index.html", _index(uow, student, entries, courses, teachers, receipts, now))
    note(uow.session, school_id=uow.school_id, subject_kind="student", subject_id=student.id,
         student_id=student.id, event="download_portfolio", actor=actor, at=now,
         reason=f"下載{student.name}（學號 {student.student_no}）的學習歷程檔案：{len(items)} 件項目")
    uow.commit()
    return DownloadSummary(student.student_no, len(items), sum(len(f) for _, f in entries), packed_total)


def _manifest(uow, student, entries, courses, teachers, receipts, now) -> dict:
    return {
        "student_no": student.student_no, "name": student.name, "school_code": uow.school.code,
        "school_name": uow.school.name, "generated_at": now.isoformat(),
        "items": [{
            "id": item.id, "kind": item.kind, "academic_year": item.academic_year,
            "semester": item.semester, "title": item.title, "state": item.state,
            "course": courses[item.course_id].name if item.course_id in courses else None,
            "certified_at": _iso(item.certified_at),
            "certified_by": teachers.get(item.certified_by_id),
            "selected_at": _iso(item.selected_at), "submitted_at": _iso(item.submitted_at),
            "receipt_state": receipts[item.receipt_id].state if item.receipt_id in receipts else None,
            "files": [{"slot": slot, "path": p.path, "name": getattr(item, f"{slot}_name"),
                       "sha256": p.sha256, "size": p.size} for slot, p in files],
        } for item, files in entries],
    }


def _central_date(item: Item, receipts: dict) -> str:
    receipt = receipts.get(item.receipt_id)
    return _shown(receipt.issued_at) if receipt else "—"


def _index(uow, student, entries, courses, teachers, receipts, now) -> str:
    rows_by_year: dict[tuple[int, int], list[str]] = {}
    for item, files in entries:
        machine = MACHINES[item.kind]
        what = (courses[item.course_id].name if item.course_id in courses
                else PERFORMANCE_CATEGORIES.get(item.category or "", item.category or ""))
        certified = (f"{escape(teachers.get(item.certified_by_id, '—'))}，{_shown(item.certified_at)}"
                     if item.certified_at else "—")
        selection = "已勾選" if item.state in SELECTED_STATES else "未勾選"
        receipt = receipts.get(item.receipt_id)
        receipt_text = state_label(MACHINES["receipt"], receipt.state) if receipt else "—"
        links = "<br>".join(
            f'<a href="{escape(p.path)}">{SLOT_NAMES[slot]}：{escape(getattr(item, f"{slot}_name") or p.path)}</a>'
            f' <small>SHA-256 {p.sha256}</small>' for slot, p in files) or "—"
        rows_by_year.setdefault((item.academic_year, item.semester), []).append(
            f"<tr id=\"item-{item.id}\"><td>{ItemKind(item.kind).label}</td><td>{escape(what)}</td>"
            f"<td>{escape(item.title)}</td><td class=\"state\">{escape(state_label(machine, item.state))}</td>"
            f"<td>{certified}</td><td>{selection}</td><td>{_central_date(item, receipts)}</td>"
            f"<td>{receipt_text}</td><td>{links}</td></tr>")
    sections = []
    for (year, semester), rows in sorted(rows_by_year.items()):
        term = f"第 {semester} 學期" if semester else "全學年"
        sections.append(
            f"<h2>{year_label(year)} {term}</h2>\n<table>\n<tr><th>類別</th><th>課程／項目類別</th><th>標題</th>"
            "<th>狀態</th><th>認證教師與日期</th><th>勾選</th><th>提交中央資料庫</th><th>收訖明細</th>"
            f"<th>檔案</th></tr>\n" + "\n".join(rows) + "\n</table>")
    body = "\n".join(sections) or "<p>目前沒有任何學習歷程項目。</p>"
    return f"""<!DOCTYPE html>
<html lang="zh-Hant-TW"><head><meta charset="utf-8">
<title>{escape(student.name)}的學習歷程檔案</title>
<style>body{{font-family:sans-serif;margin:1.5em}}table{{border-collapse:collapse;margin-bottom:1.5em}}
td,th{{border:1px solid #999;padding:.3em .5em;vertical-align:top}}small{{color:#666;word-break:break-all}}</style>
</head><body>
<h1>{escape(student.name)}的學習歷程檔案</h1>
<p>{escape(uow.school.name)}（學校代碼 {escape(uow.school.code)}），{escape(student.class_name)} 班，
學號 {escape(student.student_no)}。下載時間：{format_taipei(now)}（臺北時間）。</p>
<p>本檔包含所有學年度、所有狀態的項目及其檔案（已刪除的項目不含在內）；每個檔案的 SHA-256 雜湊值列於
manifest.json，可用來確認檔案未被更動。</p>
{body}
</body></html>
"""
