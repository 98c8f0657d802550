"""Transfer packages 轉出交換包 / 轉入 (學籍異動): a student's portfolio moves to another school.

Export writes a zip: `manifest.json` (identity, every item with its state, certification and
audit trail), `files/<sha256>` for every file, and `manifest.sha256` (the manifest's own hash).
Import verifies everything before anything is stored; the format and the checks are in
docs/transfer.md. Only the registry 註冊組 (or its proxy) and the school's admin do either.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import posixpath
import re
import tempfile
import zipfile
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from persistence.files import fsync_dir
from persistence.tables import AuditEntry, Course, Enrolment, Item, Staff, Student
from states import MACHINES, state_ids
from workflows.core.actors import Actor
from workflows.core.clock import taipei_date
from workflows.core.errors import Conflict, InvalidInput, NotFound, RuleViolation
from workflows.people.offices import require_office
from workflows.people.personal_data import validate_national_id
from workflows.core.roles import DEPARTED_STATUSES, EnrolmentStatus, Role
from workflows.items.self_download import copy_verified
from workflows.core.transitions import note, record
from workflows.core.unit_of_work import UnitOfWork

FORMAT = "tw-learning-portfolio-transfer"
VERSION = 1
MANIFEST, MANIFEST_HASH, FILES_DIR = "manifest.json", "manifest.sha256", "files/"
OFFICES = (Role.REGISTRY,)
_HASH = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class ExportSummary:
    path: Path
    manifest_sha256: str
    items: int
    files: int


@dataclass(frozen=True)
class ImportSummary:
    student_id: int
    reused_student: bool
    items: int
    files: int
    source_school: str


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def student_id_by_no(uow: UnitOfWork, student_no: str) -> int:
    found = uow.session.scalar(uow.select(Student.id).where(Student.student_no == student_no))
    if found is None:
        raise NotFound(f"找不到學號 {student_no} 的學生。")
    return found


# --------------------------------------------------------------------------- export 轉出

def export_transfer_package(uow: UnitOfWork, actor: Actor, student_id: int, out_path, *,
                            now: datetime) -> ExportSummary:
    """轉出交換包: the student's items (all but deleted ones), their audit trail and files, in one
    zip written to a temporary file, fsync'd and renamed to `out_path`."""
    acting = require_office(uow, actor, OFFICES, "匯出轉出交換包", now=now, extra=(Role.ADMIN,))
    student = uow.get(Student, student_id, what="學生")
    items = list(uow.session.scalars(uow.select(Item).where(
        Item.student_id == student.id, Item.state != "deleted").order_by(Item.academic_year, Item.semester, Item.id)))
    courses = {c.id: c for c in uow.session.scalars(uow.select(Course).where(
        Course.id.in_({i.course_id for i in items if i.course_id is not None})))}
    staff_ids = {i.certified_by_id for i in items} | {c.teacher_id for c in courses.values()}
    staff = dict(uow.session.execute(uow.select(Staff).with_only_columns(Staff.id, Staff.name)
                                     .where(Staff.id.in_({s for s in staff_ids if s is not None}))).all())
    trails: dict[tuple[str, int], list[AuditEntry]] = {}
    if items:
        for entry in uow.session.scalars(uow.select(AuditEntry).where(
                AuditEntry.student_id == student.id, AuditEntry.subject_id.in_([i.id for i in items]),
                AuditEntry.subject_kind.in_(("course_outcome", "performance")))
                .order_by(AuditEntry.at, AuditEntry.id)):
            trails.setdefault((entry.subject_kind, entry.subject_id), []).append(entry)
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=out_path.parent, prefix=".transfer-", suffix=".part")
    try:
        with os.fdopen(fd, "w+b") as out:
            files: dict[str, int] = {}
            with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
                for item in items:
                    for slot in ("document", "media"):
                        sha = getattr(item, f"{slot}_sha256")
                        if sha and sha not in files:
                            files[sha] = copy_verified(uow.files, sha, getattr(item, f"{slot}_size"),
                                                       archive, FILES_DIR + sha).size
                manifest = _manifest(uow, student, items, courses, staff, trails, files, now)
                raw = json.dumps(manifest, ensure_ascii=False, indent=2).encode()
                digest = hashlib.sha256(raw).hexdigest()
                archive.writestr(MANIFEST, raw)
                archive.writestr(MANIFEST_HASH, f"{digest}  {MANIFEST}\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp_name, out_path)
        fsync_dir(out_path.parent)
    except BaseException:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)
        raise
    note(uow.session, school_id=uow.school_id, subject_kind="student", subject_id=student.id,
         student_id=student.id, event="transfer_export", actor=acting, at=now, file_hash=digest,
         reason=f"匯出轉出交換包：{len(items)} 件項目、{len(files)} 個檔案")
    uow.commit()
    return ExportSummary(out_path, digest, len(items), len(files))


def _manifest(uow, student: Student, items, courses, staff, trails, files, now) -> dict:
    def item_entry(item: Item) -> dict:
        course = courses.get(item.course_id)
        return {
            "kind": item.kind, "academic_year": item.academic_year, "semester": item.semester,
            "course": {"code": course.code, "name": course.name, "teacher_name": staff.get(course.teacher_id)}
            if course else None,
            "category": item.category, "title": item.title, "description": item.description,
            "external_link": item.external_link, "state": item.state,
            "files": {slot: {"sha256": getattr(item, f"{slot}_sha256"), "name": getattr(item, f"{slot}_name"),
                             "kind": getattr(item, f"{slot}_kind"), "size": getattr(item, f"{slot}_size")}
                      for slot in ("document", "media") if getattr(item, f"{slot}_sha256")},
            "certification": {"teacher_name": staff.get(item.certified_by_id),
                              "certified_at": _iso(item.certified_at),
                              "document_sha256": item.certified_document_sha256,
                              "media_sha256": item.certified_media_sha256} if item.certified_at else None,
            "rejection_reason": item.rejection_reason,
            "created_at": _iso(item.created_at), "submitted_at": _iso(item.submitted_at),
            "selected_at": _iso(item.selected_at),
            "audit": [{"event": e.event, "from": e.from_state, "to": e.to_state, "actor": e.actor_name,
                       "on_behalf": e.on_behalf_name, "at": _iso(e.at), "reason": e.reason}
                      for e in trails.get((item.kind, item.id), [])],
        }
    return {
        "format": FORMAT, "version": VERSION, "generated_at": now.isoformat(),
        "source_school": {"code": uow.school.code, "name": uow.school.name},
        "student": {"student_no": student.student_no, "name": student.name,
                    "national_id": student.national_id, "birth_date": student.birth_date.isoformat(),
                    "grade": student.grade, "division": student.division},
        "items": [item_entry(i) for i in items],
        "files": [{"path": FILES_DIR + sha, "sha256": sha, "size": size} for sha, size in files.items()],
    }


def mark_transferred_out(uow: UnitOfWork, actor: Actor, student_id: int, *, now: datetime) -> Student:
    """The export is final: the student's status becomes 轉出 on today's Taipei date, which
    starts the retention clock (workflows/deadlines/retention.py)."""
    acting = require_office(uow, actor, OFFICES, "辦理學生轉出", now=now, extra=(Role.ADMIN,))
    student = uow.lock_student(student_id)
    if student.status in DEPARTED_STATUSES:
        raise RuleViolation(f"學生 {student.name} 已離校（{student.status}），不能再辦理轉出。",
                            rule="already_departed", field="status")
    before = student.status
    student.status, student.departed_on = EnrolmentStatus.TRANSFERRED_OUT.value, taipei_date(now)
    note(uow.session, school_id=uow.school_id, subject_kind="student", subject_id=student.id,
         student_id=student.id, event="transfer_out", from_state=before, to_state=student.status,
         actor=acting, at=now, reason=f"轉出，離校日 {student.departed_on.isoformat()}")
    uow.commit()
    return student


# --------------------------------------------------------------------------- import 轉入

def _refuse(message: str, **details) -> InvalidInput:
    return InvalidInput(f"交換包未通過檢查，未匯入任何資料：{message}", field="package", **details)


def _safe_name(name: str) -> bool:
    if not name or name.startswith(("/", "\\")) or "\\" in name or ":" in name or "\x00" in name:
        return False
    return not any(part in ("..", "") for part in name.rstrip("/").split("/")) \
        and posixpath.normpath(name).startswith("..") is False


@dataclass(frozen=True)
class VerifiedPackage:
    manifest: dict
    manifest_sha256: str
    contents: dict[str, bytes]  # sha256 -> bytes


def verify_package(package: bytes | str | Path) -> VerifiedPackage:
    """Every check of docs/transfer.md; refuses with InvalidInput(field="package") naming what
    failed. Reads the whole package into memory (a portfolio is tens of MB at most)."""
    raw = package if isinstance(package, bytes) else Path(package).read_bytes()
    try:
        archive = zipfile.ZipFile(io.BytesIO(raw))
    except zipfile.BadZipFile:
        raise _refuse("不是有效的 ZIP 檔。") from None
    with archive:
        infos = archive.infolist()
        names = [i.filename for i in infos]
        for name in names:
            if not _safe_name(name):
                raise _refuse(f"含有不安全的路徑「{name}」（不可含 ../ 或絕對路徑）。", path=name)
        seen = set()
        for name in names:
            if name in seen:
                raise _refuse(f"「{name}」重複出現。", path=name)
            seen.add(name)
        for required in (MANIFEST, MANIFEST_HASH):
            if required not in seen:
                raise _refuse(f"缺少 {required}。", path=required)
        manifest_raw = archive.read(MANIFEST)
        recorded = archive.read(MANIFEST_HASH).decode("ascii", "replace").split()
        digest = hashlib.sha256(manifest_raw).hexdigest()
        if not recorded or recorded[0] != digest:
            raise _refuse(f"manifest.json 的 SHA-256（{digest}）與 manifest.sha256 記載的不符，內容可能已被修改。",
                          path=MANIFEST)
        try:
            manifest = json.loads(manifest_raw)
        except ValueError:
            raise _refuse("manifest.json 不是有效的 JSON。") from None
        if manifest.get("format") != FORMAT or manifest.get("version") != VERSION:
            raise _refuse(f"格式不符（需要 {FORMAT} 第 {VERSION} 版）。")
        listed: dict[str, dict] = {}
        for entry in manifest.get("files", []):
            path, sha = entry.get("path"), entry.get("sha256")
            if not isinstance(sha, str) or not _HASH.fullmatch(sha) or path != FILES_DIR + sha or path in listed:
                raise _refuse(f"manifest.json 的檔案清單有誤（{path}）。", path=path)
            listed[path] = entry
        extra = sorted(n for n in seen - {MANIFEST, MANIFEST_HASH} - set(listed) if not n.endswith("/"))
        if extra:
            raise _refuse(f"含有 manifest.json 未列出的檔案「{extra[0]}」。", path=extra[0])
        contents = {}
        for path, entry in listed.items():
            if path not in seen:
                raise _refuse(f"缺少檔案「{path}」。", path=path)
            data = archive.read(path)
            actual = hashlib.sha256(data).hexdigest()
            if actual != entry["sha256"] or len(data) != entry.get("size"):
                raise _refuse(f"檔案「{path}」的 SHA-256 或大小與 manifest.json 不符（實際 {actual}，"
                              f"{len(data)} 位元組），內容可能已被修改。", path=path, sha256=entry["sha256"])
            contents[entry["sha256"]] = data
    _check_items(manifest, contents)
    return VerifiedPackage(manifest, digest, contents)


def _check_items(manifest: dict, contents: dict[str, bytes]) -> None:
    for n, item in enumerate(manifest.get("items", []), start=1):
        kind = item.get("kind")
        if kind not in ("course_outcome", "performance"):
            raise _refuse(f"第 {n} 件項目的類別「{kind}」不明。")
        if item.get("state") not in state_ids(MACHINES[kind]) or item.get("state") == "deleted":
            raise _refuse(f"第 {n} 件項目的狀態「{item.get('state')}」不明。")
        if kind == "course_outcome" and (not item.get("course") or item.get("semester") not in (1, 2)):
            raise _refuse(f"第 {n} 件課程學習成果缺少課程或學期。")
        if not item.get("title") or len(item["title"]) > 80 or len(item.get("description") or "") > 400:
            raise _refuse(f"第 {n} 件項目的標題或簡述長度不符。")
        for slot in item.get("files", {}).values():
            if slot.get("sha256") not in contents:
                raise _refuse(f"第 {n} 件項目的檔案 {slot.get('sha256')} 不在交換包內。")


def _external_teacher(uow: UnitOfWork, source_code: str, name: str) -> int:
    """The old school's teacher, as an inactive external staff row (外校教師, no account): the
    receiving school's courses and certifications need a teacher row to point at."""
    staff_no = f"X{source_code}-{hashlib.sha256(name.encode()).hexdigest()[:8]}"
    found = uow.session.scalar(uow.select(Staff.id).where(Staff.staff_no == staff_no))
    if found is not None:
        return found
    staff = Staff(school_id=uow.school_id, staff_no=staff_no, name=name[:40], external=True, active=False)
    uow.session.add(staff)
    uow.session.flush()
    return staff.id


def _course(uow: UnitOfWork, item: dict, source_code: str, student_id: int) -> int:
    """A course of the old school, kept under its own code and name in the receiving school."""
    data = item["course"]
    teacher_id = _external_teacher(uow, source_code, data.get("teacher_name") or "原校任課教師")
    course = uow.session.scalar(uow.select(Course).where(
        Course.academic_year == item["academic_year"], Course.semester == item["semester"],
        Course.code == data["code"], Course.teacher_id == teacher_id))
    if course is None:
        course = Course(school_id=uow.school_id, academic_year=item["academic_year"], semester=item["semester"],
                        code=data["code"][:23], name=data["name"][:60], teacher_id=teacher_id)
        uow.session.add(course)
        uow.session.flush()
    if uow.session.get(Enrolment, (course.id, student_id)) is None:
        uow.session.add(Enrolment(school_id=uow.school_id, course_id=course.id, student_id=student_id))
        uow.session.flush()
    return course.id


def _student(uow: UnitOfWork, identity: dict, *, student_no: str, class_name: str, grade: int) -> tuple[Student, bool]:
    """The student with the package's national id in this school (a student returning, 轉回),
    or a new one."""
    national_id = validate_national_id(identity.get("national_id"))
    if grade not in (1, 2, 3):
        raise InvalidInput("年級須為 1 到 3。", field="grade")
    if not student_no or not class_name:
        raise InvalidInput("請填寫學號與班級。", field="student_no" if not student_no else "class_name")
    existing = uow.session.scalar(uow.select(Student).where(Student.national_id == national_id))
    taken = uow.session.scalar(uow.select(Student).where(Student.student_no == student_no))
    if taken is not None and taken is not existing:
        raise InvalidInput(f"學號 {student_no} 已有其他學生使用。", field="student_no")
    if existing is not None:
        existing.student_no, existing.class_name, existing.grade = student_no, class_name, grade
        existing.status, existing.departed_on = EnrolmentStatus.ENROLLED.value, None
        return existing, True
    student = Student(school_id=uow.school_id, student_no=student_no, national_id=national_id,
                      birth_date=date.fromisoformat(identity["birth_date"]), name=identity["name"][:40],
                      class_name=class_name, grade=grade, division=identity.get("division") or "day",
                      status=EnrolmentStatus.ENROLLED.value)
    uow.session.add(student)
    uow.session.flush()
    return student, False


def _at(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def import_transfer_package(uow: UnitOfWork, actor: Actor, package: bytes | str | Path, *, student_no: str,
                            class_name: str, grade: int, now: datetime) -> ImportSummary:
    """轉入: verify the package (nothing stored on refusal), store its files, then create the
    student and items keeping year, semester, state and certification, in one transaction."""
    acting = require_office(uow, actor, OFFICES, "匯入轉入交換包", now=now, extra=(Role.ADMIN,))
    verified = verify_package(package)
    manifest, source = verified.manifest, verified.manifest["source_school"]
    source_text = f"{source.get('name', '')}（學校代碼 {source.get('code', '')}）"
    student, reused = _student(uow, manifest["student"], student_no=student_no, class_name=class_name, grade=grade)
    if reused and uow.session.scalar(uow.select(AuditEntry.id).where(
            AuditEntry.subject_kind == "student", AuditEntry.subject_id == student.id,
            AuditEntry.event == "transfer_in", AuditEntry.file_hash == verified.manifest_sha256).limit(1)):
        raise Conflict("這份交換包已經匯入過這位學生，未重複匯入。")
    # Files go to the store only now, verified, and before the commit records them. A failure
    # from here on leaves content-addressed blobs no row points at (fsck reports them).
    uow.hold_file_store()
    for sha, data in verified.contents.items():
        if uow.files.put(io.BytesIO(data), max_bytes=len(data)).sha256 != sha:
            raise _refuse(f"檔案 {sha} 儲存後雜湊值不符。")
    staff_names: dict[str, int] = {}
    for entry in manifest.get("items", []):
        item = Item(school_id=uow.school_id, student_id=student.id, kind=entry["kind"],
                    academic_year=entry["academic_year"], semester=entry["semester"],
                    course_id=_course(uow, entry, source.get("code", ""), student.id) if entry.get("course") else None,
                    category=entry.get("category"), title=entry["title"], description=entry.get("description") or "",
                    external_link=entry.get("external_link"), state=entry["state"],
                    rejection_reason=entry.get("rejection_reason"),
                    created_at=_at(entry.get("created_at")) or now, updated_at=now,
                    submitted_at=_at(entry.get("submitted_at")), selected_at=_at(entry.get("selected_at")))
        for slot, f in entry.get("files", {}).items():
            setattr(item, f"{slot}_sha256", f["sha256"])
            setattr(item, f"{slot}_name", f.get("name"))
            setattr(item, f"{slot}_kind", f.get("kind"))
            setattr(item, f"{slot}_size", f.get("size"))
        cert = entry.get("certification")
        if cert:
            name = cert.get("teacher_name") or "原校任課教師"
            if name not in staff_names:
                staff_names[name] = _external_teacher(uow, source.get("code", ""), name)
            item.certified_by_id = staff_names[name]
            item.certified_at = _at(cert.get("certified_at"))
            item.certified_document_sha256 = cert.get("document_sha256")
            item.certified_media_sha256 = cert.get("media_sha256")
        uow.session.add(item)
        # The state comes from the old school's machine and audit trail (kept in the package), not
        # from replaying events here: one "transfer_in" row records it, from nothing to that state.
        record(uow.session, item, event="transfer_in", from_state=None, actor=acting, at=now,
               reason=f"由{source_text}轉入，保留原學年度、學期、狀態與認證")
    note(uow.session, school_id=uow.school_id, subject_kind="student", subject_id=student.id,
         student_id=student.id, event="transfer_in", actor=acting, at=now, file_hash=verified.manifest_sha256,
         reason=f"由{source_text}轉入：{len(manifest.get('items', []))} 件項目")
    uow.commit()
    return ImportSummary(student.id, reused, len(manifest.get("items", [])), len(verified.contents),
                         source.get("code", ""))
