"""Who people are in a school. Codes are English; labels are what staff read (zh-TW)."""
from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    SUBJECT_TEACHER = "subject_teacher"
    HOMEROOM_TEACHER = "homeroom_teacher"
    COURSE_CONSULTANT = "course_consultant"
    COUNSELLING = "counselling"
    REGISTRY = "registry"
    TEACHING_SECTION = "teaching_section"
    EQUIPMENT_SECTION = "equipment_section"
    STUDENT_ACTIVITIES = "student_activities"
    PE_MUSIC_GROUP = "pe_music_group"
    EXECUTIVE_SECRETARY = "executive_secretary"
    PRINCIPAL = "principal"
    ADMIN = "admin"
    REGISTRY_HEAD = "registry_head"
    GRADE_OFFICER = "grade_officer"


ROLE_LABELS: dict[Role, str] = {
    Role.SUBJECT_TEACHER: "任課教師",
    Role.HOMEROOM_TEACHER: "導師",
    Role.COURSE_CONSULTANT: "課程諮詢教師",
    Role.COUNSELLING: "輔導室",
    Role.REGISTRY: "註冊組",
    Role.TEACHING_SECTION: "教學組",
    Role.EQUIPMENT_SECTION: "設備組",
    Role.STUDENT_ACTIVITIES: "訓育組",
    Role.PE_MUSIC_GROUP: "體育/音樂組",
    Role.EXECUTIVE_SECRETARY: "執行秘書（教務主任）",
    Role.PRINCIPAL: "校長（召集人）",
    Role.ADMIN: "學校平臺管理者",
    Role.REGISTRY_HEAD: "註冊組長",
    Role.GRADE_OFFICER: "成績登錄人",
}

# Roles that may see a student's full ID number (身分證號); everyone else sees it masked.
ID_NUMBER_ROLES = frozenset({Role.REGISTRY, Role.EQUIPMENT_SECTION, Role.STUDENT_ACTIVITIES})


class Division(StrEnum):
    DAY = "day"
    CONTINUING = "continuing"


DIVISION_LABELS = {Division.DAY: "日間部", Division.CONTINUING: "進修部"}


class EnrolmentStatus(StrEnum):
    ENROLLED = "enrolled"
    SUSPENDED = "suspended"
    GRADUATED = "graduated"
    TRANSFERRED_OUT = "transferred_out"
    WITHDRAWN = "withdrawn"


ENROLMENT_STATUS_LABELS = {
    EnrolmentStatus.ENROLLED: "在學",
    EnrolmentStatus.SUSPENDED: "休學",
    EnrolmentStatus.GRADUATED: "畢業",
    EnrolmentStatus.TRANSFERRED_OUT: "轉出",
    EnrolmentStatus.WITHDRAWN: "退學",
}

# Statuses after which a student has left the school: the retention clock runs (issue 3).
DEPARTED_STATUSES = frozenset({EnrolmentStatus.GRADUATED, EnrolmentStatus.TRANSFERRED_OUT,
                               EnrolmentStatus.WITHDRAWN})
