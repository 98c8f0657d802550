"""The codes the database stores, each with the label staff, teachers and students read (zh-TW).

One enum per vocabulary: the code is the enum's value (English, stored), the label travels with
it (`WindowKind.SELECTION.label`), and the tables' CHECK constraints are built from the same
enum (persistence/tables.py), so a code and its label can never drift apart. Pure: no I/O.
"""
from __future__ import annotations

from enum import StrEnum


class Coded(StrEnum):
    """A stored code with its zh-TW label."""

    label: str

    def __new__(cls, code: str, label: str):
        member = str.__new__(cls, code)
        member._value_ = code
        member.label = label
        return member

    @classmethod
    def codes(cls) -> tuple[str, ...]:
        return tuple(member.value for member in cls)

    @classmethod
    def labels(cls) -> dict[str, str]:
        """{code: label}, in the enum's order."""
        return {member.value: member.label for member in cls}


class WindowKind(Coded):
    """The kinds of window in a school's calendar 作業期程."""

    COURSE_OUTCOME_UPLOAD = "course_outcome_upload", "課程學習成果上傳"
    CERTIFICATION = "certification", "課程學習成果認證"
    PERFORMANCE_UPLOAD = "performance_upload", "多元表現上傳"
    SELECTION = "selection", "學習歷程資料勾選"
    CENTRAL_SUBMISSION = "central_submission", "提交中央資料庫"
    RECEIPT_CONFIRMATION = "receipt_confirmation", "收訖明細確認"
    # Its last day is the grade-check day 成績檢核日: the term's grades lock after it.
    GRADE_CHECK = "grade_check", "成績複查"


class Track(Coded):
    """A grade-12 student's group 群別, which decides their submission round."""

    ACADEMIC = "academic", "學術群"
    PROFESSIONAL = "professional", "專業群"


class BatchKind(Coded):
    """What a submission batch 提交批次 carries to the central database."""

    SEMESTER_BASIC_CADRE = "semester_basic_cadre", "學期提交－基本資料及幹部紀錄"
    SEMESTER_COURSES = "semester_courses", "學期提交－修課紀錄"
    YEAR_OUTCOMES = "year_outcomes", "學年提交－課程學習成果"
    YEAR_PERFORMANCES = "year_performances", "學年提交－多元表現"


class PerformanceCategory(Coded):
    """The categories of a multiple performance 多元表現."""

    COMPETITION = "competition", "競賽表現"
    CERTIFICATE = "certificate", "檢定證照"
    VOLUNTEER = "volunteer", "志工服務"
    CADRE = "cadre", "幹部經歷"
    FLEXIBLE_LEARNING = "flexible_learning", "彈性學習時間"
    GROUP_ACTIVITY = "group_activity", "團體活動時間"
    OTHER = "other", "其他多元表現"


WINDOW_LABELS = WindowKind.labels()
TRACK_LABELS = Track.labels()
BATCH_KIND_LABELS = BatchKind.labels()
PERFORMANCE_CATEGORIES = PerformanceCategory.labels()
# Which items a batch kind carries (the semester kinds carry staff-entered records, no items).
ITEM_KIND_OF_BATCH = {BatchKind.YEAR_OUTCOMES.value: "course_outcome",
                      BatchKind.YEAR_PERFORMANCES.value: "performance"}
