"""課程諮詢紀錄 (course consultants' notes, with an optional file of at most 2 MB) and 學群探索
(career-group exploration, by the counselling office): entry, correction, deletion and CSV import,
each audited; who sees and corrects what, proxies included; nothing crosses schools."""
from __future__ import annotations

from datetime import date, datetime, time, timezone

import pytest

from persistence.tables import AuditEntry, ConsultationRecord, ExplorationRecord
from tests import samples
from tests.world import World
from workflows.people import proxies
from workflows.core.errors import Conflict, Forbidden, InvalidInput, NotFound, RuleViolation
from workflows.records import consultation as cr
from workflows.records import exploration as ex
from workflows.records.engine import RowsRejected
from workflows.items.uploads import Upload

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=timezone.utc)  # 115/03/02 10:00 Taipei, 114 學年度第 2 學期
OCT_30 = date(2025, 10, 30)


def add_staff(world, no, name, *roles) -> int:
    return world.add_staff(no, name, *roles)


def audit_rows(world, kind: str) -> list[AuditEntry]:
    with world.uow() as uow:
        return list(uow.session.scalars(uow.select(AuditEntry).where(AuditEntry.subject_kind == kind)
                                        .order_by(AuditEntry.id)))


def consultations(world) -> list[ConsultationRecord]:
    with world.uow() as uow:
        return list(uow.session.scalars(uow.select(ConsultationRecord).order_by(ConsultationRecord.id)))


def enter(world, consultant_id, *, n=0, day=OCT_30, at=time(10, 0), file=None, **values):
    fields = {"place": "輔導室", "content": "討論選修數學 A 或 B", "advice": "建議選修數學 A", **values}
    return world.run(cr.enter_consultation, world.staff(consultant_id), student_id=world.student_ids[n],
                     held_at=cr.held_at_of(day, at), file=file, now=NOW, **fields).id


def on_leave(world, staff_id, *, proxies_in_order) -> None:
    world.run(proxies.set_proxy_list, world.staff(), principal_staff_id=staff_id,
              proxy_staff_ids=proxies_in_order, now=NOW)
    world.run(proxies.mark_unavailable, world.staff(), staff_id, starts_on=date(2026, 3, 1),
              reason="leave", now=NOW)


@pytest.fixture
def world(db, files):
    return World(db, files)


@pytest.fixture
def consultant(world):
    return add_staff(world, "C001", "張諮詢", "course_consultant")


@pytest.fixture
def counsellor(world):
    return add_staff(world, "G001", "林輔導", "counselling")


# -- course consultation records ------------------------------------------------------------------

def test_a_consultant_enters_corrects_and_deletes_and_every_change_is_audited(world, files, consultant):
    pdf = samples.pdf("諮詢")
    record_id = enter(world, consultant, file=Upload.of(pdf, "紀錄.pdf"))
    (record,) = consultations(world)
    assert (record.academic_year, record.semester, record.consultant_id) == (114, 1, consultant)
    assert record.held_at == datetime(2025, 10, 30, 2, 0, tzinfo=timezone.utc)  # 10:00 Taipei
    assert record.file_kind == "pdf" and files.exists(record.file_sha256)
    (entered,) = audit_rows(world, "consultation_record")
    assert (entered.event, entered.actor_id, entered.student_id) == ("enter", consultant, world.student_ids[0])
    assert entered.file_hash == record.file_sha256

    png = samples.png(2, 2)
    done = world.run(cr.correct_consultation, world.staff(consultant), record_id, expected_version=1,
                     place="圖書館", held_at=cr.held_at_of(date(2026, 2, 1), time(0, 30)),
                     file=Upload.of(png, "照片.png"), now=NOW)
    assert len(done.changes) == 3
    corrected = audit_rows(world, "consultation_record")[-1]
    assert corrected.event == "correct"
    assert "地點：輔導室 → 圖書館" in corrected.reason
    assert "諮詢時間：114/10/30 10:00 → 115/02/01 00:30" in corrected.reason
    assert "附件：紀錄.pdf" in corrected.reason and "照片.png" in corrected.reason
    (record,) = consultations(world)
    assert corrected.file_hash == record.file_sha256 != entered.file_hash
    assert (record.academic_year, record.semester) == (114, 2)  # 1 Feb in Taipei, still 31 Jan in UTC

    world.run(cr.correct_consultation, world.staff(consultant), record_id, expected_version=2, file=None, now=NOW)
    removed = audit_rows(world, "consultation_record")[-1]
    assert removed.file_hash is None and "照片.png" in removed.reason and "（空白）" in removed.reason
    unchanged = world.run(cr.correct_consultation, world.staff(consultant), record_id, expected_version=3,
                          place="圖書館", now=NOW)
    assert unchanged.changes == [] and len(audit_rows(world, "consultation_record")) == 3

    with pytest.raises(InvalidInput) as refused:
        world.run(cr.delete_consultation, world.staff(consultant), record_id, reason=" ", now=NOW)
    assert refused.value.field == "reason" and len(consultations(world)) == 1
    world.run(cr.delete_consultation, world.staff(consultant), record_id, reason="學生重複登錄",
              expected_version=3, now=NOW)
    assert consultations(world) == []
    deleted = audit_rows(world, "consultation_record")[-1]
    assert deleted.event == "delete" and "學生重複登錄" in deleted.reason and "建議選修數學 A" in deleted.reason


def test_a_file_one_byte_over_2_mb_is_refused_naming_the_limit_and_nothing_is_stored(world, files, consultant):
    with pytest.raises(RuleViolation) as refused:
        enter(world, consultant, file=Upload.of(samples.big(cr.FILE_MAX_BYTES + 1), "大檔.pdf"))
    assert refused.value.rule == "file_too_large" and refused.value.limit == 2 * 1024 * 1024
    assert "2 MB" in refused.value.message
    assert consultations(world) == [] and audit_rows(world, "consultation_record") == []
    assert list(files.iter_hashes()) == []

    enter(world, consultant, file=Upload.of(samples.big(cr.FILE_MAX_BYTES), "剛好.pdf"))  # the limit itself is fine
    assert consultations(world)[0].file_size == cr.FILE_MAX_BYTES


def test_a_renamed_executable_is_refused_by_its_content(world, consultant):
    with pytest.raises(RuleViolation) as refused:
        enter(world, consultant, file=Upload.of(samples.exe(), "諮詢紀錄.pdf"))
    assert "執行檔" in refused.value.message and refused.value.field == "file"
    assert consultations(world) == [] and audit_rows(world, "consultation_record") == []


def test_limits_and_dates_are_checked_before_anything_is_stored(world, files, consultant):
    with pytest.raises(RuleViolation) as refused:
        enter(world, consultant, place="地" * 61, file=Upload.of(samples.pdf(), "a.pdf"))
    assert (refused.value.field, refused.value.limit) == ("place", 60) and "60" in refused.value.message
    with pytest.raises(RuleViolation) as refused:
        enter(world, consultant, advice="議" * 2001)
    assert (refused.value.field, refused.value.limit) == ("advice", 2000)
    with pytest.raises(RuleViolation) as refused:
        enter(world, consultant, day=date(2026, 3, 2), at=time(10, 30))  # half an hour from NOW
    assert refused.value.rule == "not_in_future"
    assert consultations(world) == [] and list(files.iter_hashes()) == []


def test_a_stale_correction_is_refused_and_changes_nothing(world, consultant):
    record_id = enter(world, consultant)
    world.run(cr.correct_consultation, world.staff(consultant), record_id, expected_version=1,
              content="第一次更正", now=NOW)
    with pytest.raises(Conflict):
        world.run(cr.correct_consultation, world.staff(consultant), record_id, expected_version=1,
                  content="舊頁面上的更正", now=NOW)
    assert consultations(world)[0].content == "第一次更正"


def test_a_consultant_keeps_only_his_own_records_unless_he_stands_in_for_another(world, consultant, counsellor):
    other = add_staff(world, "C002", "黃諮詢", "course_consultant")
    mine = enter(world, consultant)
    enter(world, other, n=1, place="教室")

    def seen_by(staff_id):
        return {v.place for v in world.run(cr.list_consultations, world.staff(staff_id), academic_year=114,
                                           semester=1, now=NOW)}

    assert seen_by(consultant) == {"輔導室"} and seen_by(other) == {"教室"}
    assert seen_by(counsellor) == seen_by(world.staff_id) == {"輔導室", "教室"}  # counselling, overseers
    with pytest.raises(NotFound):
        world.run(cr.get_consultation, world.staff(other), mine, now=NOW)
    with pytest.raises(NotFound):
        world.run(cr.correct_consultation, world.staff(other), mine, expected_version=1, place="X", now=NOW)
    with pytest.raises(Forbidden):  # the counselling office reads, never corrects
        world.run(cr.correct_consultation, world.staff(counsellor), mine, expected_version=1, place="X", now=NOW)
    with pytest.raises(Forbidden):
        world.run(cr.list_consultations, world.teacher, academic_year=114, semester=1, now=NOW)
    with pytest.raises(Forbidden):
        world.run(cr.enter_consultation, world.student(0), student_id=world.student_ids[0],
                  held_at=cr.held_at_of(OCT_30, time(9)), place="A", content="B", advice="C", now=NOW)

    on_leave(world, consultant, proxies_in_order=[other])
    assert seen_by(other) == {"輔導室", "教室"}
    world.run(cr.correct_consultation, world.staff(other), mine, expected_version=1, place="會議室", now=NOW)
    proxied = audit_rows(world, "consultation_record")[-1]
    assert (proxied.actor_id, proxied.on_behalf_id, proxied.on_behalf_name) == (other, consultant, "張諮詢")


def test_a_teacher_standing_in_for_an_absent_consultant_enters_in_his_name(world, consultant):
    on_leave(world, consultant, proxies_in_order=[world.other_teacher_id])
    record_id = enter(world, world.other_teacher_id)
    (record,) = consultations(world)
    assert record.id == record_id and record.consultant_id == consultant
    (entered,) = audit_rows(world, "consultation_record")
    assert (entered.actor_name, entered.on_behalf_id) == ("李老師", consultant)
    with pytest.raises(Forbidden):  # not a consultant and standing in for nobody
        enter(world, world.teacher_id)

    second = add_staff(world, "C003", "吳諮詢", "course_consultant")
    on_leave(world, second, proxies_in_order=[world.other_teacher_id])
    with pytest.raises(InvalidInput) as refused:  # two to stand in for: say which
        enter(world, world.other_teacher_id)
    assert refused.value.field == "consultant_id"
    world.run(cr.enter_consultation, world.staff(world.other_teacher_id), student_id=world.student_ids[1],
              held_at=cr.held_at_of(OCT_30, time(11)), place="A", content="B", advice="C",
              for_consultant_id=second, now=NOW)
    assert {r.consultant_id for r in consultations(world)} == {consultant, second}


CONSULTATION_CSV = ("學號,諮詢日期,諮詢時間,地點,諮詢內容,建議\r\n"
                    "3010000,2025-10-30,10:00,輔導室,討論選修課程,建議選修物理\r\n"
                    "3010001,114/11/05,14:30,圖書館,\"討論學群，含醫藥衛生\",建議參加營隊\r\n")


def test_a_consultants_csv_is_imported_as_his_records_and_a_second_import_changes_nothing(world, consultant):
    summary = world.run(cr.import_consultations, world.staff(consultant), ("\ufeff" + CONSULTATION_CSV).encode(),
                        now=NOW)
    assert (summary.added, summary.updated, summary.unchanged) == (2, 0, 0)
    records = consultations(world)
    assert [r.consultant_id for r in records] == [consultant, consultant]
    assert records[1].held_at == datetime(2025, 11, 5, 6, 30, tzinfo=timezone.utc)
    assert records[1].content == "討論學群，含醫藥衛生"
    assert [a.event for a in audit_rows(world, "consultation_record")] == ["import", "import"]

    again = world.run(cr.import_consultations, world.staff(consultant), CONSULTATION_CSV.encode(), now=NOW)
    assert (again.added, again.unchanged) == (0, 2) and len(consultations(world)) == 2
    assert len(audit_rows(world, "consultation_record")) == 2


def test_a_bad_consultation_csv_names_every_row_error_and_imports_nothing(world, consultant):
    bad = ("學號,諮詢日期,諮詢時間,地點,諮詢內容,建議\n"
           "3010000,2025-10-30,10:00,輔導室,討論選修課程,建議選修物理\n"
           "9999999,2025-10-30,10:00,輔導室,內容,建議\n"
           f"3010001,2025-10-31,25:00,{'地' * 61},內容,建議\n"
           "3010002,2026-12-01,09:00,輔導室,,建議\n")
    with pytest.raises(RowsRejected) as refused:
        world.run(cr.import_consultations, world.staff(consultant), bad.encode(), now=NOW)
    shown = refused.value.details["errors"]
    assert "第 3 行「學號」：找不到學號「9999999」的學生" in shown
    assert any(e.startswith("第 4 行「諮詢時間」") and "25:00" in e for e in shown)
    assert any(e.startswith("第 4 行「地點」") and "60" in e for e in shown)
    assert any(e.startswith("第 5 行「諮詢日期」") and "晚於現在" in e for e in shown)
    assert "第 5 行「諮詢內容」：必填欄位未填寫" in shown
    assert consultations(world) == [] and audit_rows(world, "consultation_record") == []
    with pytest.raises(Forbidden):  # a teacher who keeps no consultant's records imports nothing
        world.run(cr.import_consultations, world.teacher, CONSULTATION_CSV.encode(), now=NOW)


# -- career-group exploration --------------------------------------------------------------------

def explorations(world) -> list[ExplorationRecord]:
    with world.uow() as uow:
        return list(uow.session.scalars(uow.select(ExplorationRecord).order_by(ExplorationRecord.id)))


def explore(world, staff_id, *, n=0, **values):
    fields = {"academic_year": 114, "semester": 1, "held_on": OCT_30, "career_group": "information",
              "activity": "資訊學群講座", "notes": "對程式設計有興趣", **values}
    return world.run(ex.enter_exploration, world.staff(staff_id), student_id=world.student_ids[n], now=NOW,
                     **fields).id


def test_the_counselling_office_enters_corrects_and_deletes_explorations_with_audit_rows(world, counsellor):
    record_id = explore(world, counsellor)
    (entered,) = audit_rows(world, "exploration_record")
    assert (entered.event, entered.actor_id, entered.on_behalf_id) == ("enter", counsellor, None)
    assert "資訊學群" in entered.reason

    world.run(ex.correct_exploration, world.staff(counsellor), record_id, expected_version=1,
              career_group="工程學群", held_on=date(2025, 11, 3), notes="", now=NOW)
    corrected = audit_rows(world, "exploration_record")[-1]
    assert "學群：資訊學群 → 工程學群" in corrected.reason and "日期：114/10/30 → 114/11/03" in corrected.reason
    assert "心得或紀錄：對程式設計有興趣 → （空白）" in corrected.reason
    assert explorations(world)[0].career_group == "engineering"
    assert ex.career_group_label("engineering") == "工程學群"

    with pytest.raises(Conflict):
        world.run(ex.correct_exploration, world.staff(counsellor), record_id, expected_version=1,
                  activity="舊頁面", now=NOW)
    world.run(ex.delete_exploration, world.staff(counsellor), record_id, reason="登錄錯學生", now=NOW)
    assert explorations(world) == []
    deleted = audit_rows(world, "exploration_record")[-1]
    assert deleted.event == "delete" and "登錄錯學生" in deleted.reason and "工程學群" in deleted.reason


def test_exploration_fields_are_checked_with_their_limits(world, counsellor):
    cases = [({"activity": "活" * 61}, "activity", 60), ({"notes": "記" * 1001}, "notes", 1000),
             ({"held_on": date(2026, 3, 3)}, "held_on", "2026-03-02"),
             ({"held_on": date(2025, 7, 31)}, "held_on", "2025-08-01/2026-07-31")]
    for values, field, limit in cases:
        with pytest.raises(RuleViolation) as refused:
            explore(world, counsellor, **values)
        assert (refused.value.field, refused.value.limit) == (field, limit), values
    for values, field in (({"career_group": "占星"}, "career_group"), ({"semester": 3}, "semester")):
        with pytest.raises(InvalidInput) as refused:
            explore(world, counsellor, **values)
        assert refused.value.field == field
    assert explorations(world) == [] and audit_rows(world, "exploration_record") == []


def test_only_the_counselling_office_or_its_proxy_enters_explorations(world, counsellor):
    for staff_id in (world.teacher_id, world.other_teacher_id):
        with pytest.raises(Forbidden):
            explore(world, staff_id)
    with pytest.raises(Forbidden):
        world.run(ex.enter_exploration, world.student(0), student_id=world.student_ids[0], academic_year=114,
                  semester=1, held_on=OCT_30, career_group="arts", activity="美展", now=NOW)
    with pytest.raises(Forbidden):
        world.run(ex.list_explorations, world.teacher, academic_year=114, semester=1, now=NOW)

    on_leave(world, counsellor, proxies_in_order=[world.other_teacher_id])
    explore(world, world.other_teacher_id)
    (entered,) = audit_rows(world, "exploration_record")
    assert (entered.actor_id, entered.on_behalf_id, entered.on_behalf_name) == (
        world.other_teacher_id, counsellor, "林輔導")
    assert [v.activity for v in world.run(ex.list_explorations, world.staff(world.other_teacher_id),
                                          academic_year=114, semester=1, now=NOW)] == ["資訊學群講座"]


EXPLORATION_CSV = ("學號,學年度,學期,日期,學群,活動名稱,心得或紀錄\r\n"
                   "3010000,114,1,2025-10-30,資訊學群,大學資訊營,寫了第一個程式\r\n"
                   "3010001,114,上,114/11/05,law_politics,模擬法庭,\r\n"
                   "3010002,114,2,2026-02-20,醫藥衛生,醫院參訪,\r\n")


def test_an_exploration_csv_is_imported_and_a_second_import_changes_nothing(world, counsellor):
    summary = world.run(ex.import_explorations, world.staff(counsellor), EXPLORATION_CSV.encode(), now=NOW)
    assert (summary.added, summary.updated, summary.unchanged) == (3, 0, 0)
    assert [r.career_group for r in explorations(world)] == ["information", "law_politics", "medicine_health"]
    assert [r.semester for r in explorations(world)] == [1, 1, 2]
    again = world.run(ex.import_explorations, world.staff(counsellor),
                      EXPLORATION_CSV.replace("寫了第一個程式", "寫了兩個程式").encode(), now=NOW)
    assert (again.added, again.updated, again.unchanged) == (0, 1, 2)
    assert "心得或紀錄：寫了第一個程式 → 寫了兩個程式" in audit_rows(world, "exploration_record")[-1].reason


def test_a_bad_exploration_csv_names_every_row_error_and_imports_nothing(world, counsellor):
    bad = ("學號,學年度,學期,日期,學群,活動名稱,心得或紀錄\n"
           "3010000,114,1,2025-10-30,資訊,講座,\n"
           "3010001,99,3,2025-10-30,占星學群,講座,\n"
           "3010002,114,1,2025-10-30,資訊,,\n"
           "3010002,114,1,2024-10-30,資訊,講座,\n")
    with pytest.raises(RowsRejected) as refused:
        world.run(ex.import_explorations, world.staff(counsellor), bad.encode(), now=NOW)
    shown = refused.value.details["errors"]
    assert any(e.startswith("第 3 行「學年度」") for e in shown)
    assert any(e.startswith("第 3 行「學期」") for e in shown)
    assert any(e.startswith("第 3 行「學群」") and "占星學群" in e for e in shown)
    assert "第 4 行「活動名稱」：必填欄位未填寫" in shown
    assert any(e.startswith("第 5 行「日期」") and "不在 114 學年度內" in e for e in shown)
    assert explorations(world) == [] and audit_rows(world, "exploration_record") == []


# -- schools ------------------------------------------------------------------------------------

def test_neither_kind_of_record_crosses_schools(db, files, world, consultant, counsellor):
    other = World(db, files, code="023302")
    their_consultant = add_staff(other, "C001", "他校諮詢", "course_consultant", "counselling")
    theirs = enter(other, their_consultant)
    their_exploration = explore(other, their_consultant)
    enter(world, consultant)
    explore(world, counsellor)

    with pytest.raises(NotFound):
        world.run(cr.get_consultation, world.staff(), theirs, now=NOW)
    with pytest.raises(NotFound):
        world.run(ex.get_exploration, world.staff(), their_exploration, now=NOW)
    with pytest.raises(NotFound):
        world.run(ex.correct_exploration, world.staff(counsellor), their_exploration, expected_version=1,
                  activity="改他校的", now=NOW)
    with pytest.raises(NotFound):  # an actor of the other school in this school's unit of work
        world.run(cr.list_consultations, other.staff(their_consultant), academic_year=114, semester=1, now=NOW)
    ours = world.run(cr.list_consultations, world.staff(), academic_year=114, semester=1, now=NOW)
    assert [v.consultant_name for v in ours] == ["張諮詢"]
    assert len(world.run(ex.list_explorations, world.staff(), academic_year=114, semester=1, now=NOW)) == 1
    with pytest.raises(RowsRejected) as refused:  # the other school's student numbers are unknown here
        world.run(cr.import_consultations, world.staff(consultant),
                  CONSULTATION_CSV.replace("3010000", "3020000").encode(), now=NOW)
    assert "找不到學號「3020000」的學生" in " ".join(refused.value.details["errors"])
