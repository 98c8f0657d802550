"""The codes the database stores, each with the label staff, teachers and students read (zh-TW).

One enum per vocabulary: the code is the enum's value (English, stored), the label travels with
it (`WindowKind.SELECTION.label`), and the tables' CHECK constraints are built from the same
enum (persistence/tables.py), so a code and its label can never drift apart. Where two
vocabularies share a code (an account's kind and an actor's kind), the narrower one takes the
wider one's label. Rules about the codes (who may see what, which statuses mean "left") live
with the workflows that apply them, not here. Pure: no I/O.
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


# --- people ------------------------------------------------------------------------------------

class ActorKind(Coded):
    """Who did something, as audit rows name them (audit_log.actor_kind, on_behalf_kind)."""

    STUDENT = "student", "學生"
    GUARDIAN = "guardian", "家長"
    STAFF = "staff", "教職員"
    SYSTEM = "system", "系統"
    PLATFORM = "platform", "平臺管理者"


class AccountKind(Coded):
    """Whose sign-in an account is (accounts.kind)."""

    STUDENT = "student", ActorKind.STUDENT.label
    STAFF = "staff", ActorKind.STAFF.label
    GUARDIAN = "guardian", ActorKind.GUARDIAN.label


class RecipientKind(Coded):
    """Who an outbox message goes to (outbox.recipient_kind)."""

    STUDENT = "student", ActorKind.STUDENT.label
    STAFF = "staff", ActorKind.STAFF.label


class SignInKind(Coded):
    """How a sign-in session is carried (sign_in_sessions.kind)."""

    WEB = "web", "網頁登入"
    API = "api", "API 存取權杖"


class Role(Coded):
    """A staff member's role or office in the school (staff_roles.role)."""

    SUBJECT_TEACHER = "subject_teacher", "任課教師"
    HOMEROOM_TEACHER = "homeroom_teacher", "導師"
    COURSE_CONSULTANT = "course_consultant", "課程諮詢教師"
    COUNSELLING = "counselling", "輔導室"
    REGISTRY = "registry", "註冊組"
    TEACHING_SECTION = "teaching_section", "教學組"
    EQUIPMENT_SECTION = "equipment_section", "設備組"
    STUDENT_ACTIVITIES = "student_activities", "訓育組"
    PE_MUSIC_GROUP = "pe_music_group", "體育/音樂組"
    EXECUTIVE_SECRETARY = "executive_secretary", "執行秘書（教務主任）"
    PRINCIPAL = "principal", "校長（召集人）"
    ADMIN = "admin", "學校平臺管理者"
    REGISTRY_HEAD = "registry_head", "註冊組長"
    GRADE_OFFICER = "grade_officer", "成績登錄人"


class Division(Coded):
    """A student's or staff member's division 部別 (students.division, staff.division)."""

    DAY = "day", "日間部"
    CONTINUING = "continuing", "進修部"


class EnrolmentStatus(Coded):
    """A student's enrolment status 學籍狀態 (students.status)."""

    ENROLLED = "enrolled", "在學"
    SUSPENDED = "suspended", "休學"
    GRADUATED = "graduated", "畢業"
    TRANSFERRED_OUT = "transferred_out", "轉出"
    WITHDRAWN = "withdrawn", "退學"


class UnavailabilityReason(Coded):
    """Why a staff member cannot act for a while (unavailabilities.reason)."""

    LEAVE = "leave", "請假"
    DEPARTED = "departed", "離職"
    INCIDENT = "incident", "突發狀況"


# --- the calendar and the central submission ---------------------------------------------------

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


# --- portfolio items ---------------------------------------------------------------------------

class ItemKind(Coded):
    """The kinds of portfolio item a student uploads (items.kind)."""

    COURSE_OUTCOME = "course_outcome", "課程學習成果"
    PERFORMANCE = "performance", "多元表現"


class FileKind(Coded):
    """The file formats an item or a record may carry, recognised by content (items.document_kind,
    items.media_kind, consultation_records.file_kind); a policy picks among them per slot."""

    PDF = "pdf", "PDF 文件"
    JPG = "jpg", "JPEG 圖片"
    PNG = "png", "PNG 圖片"
    MP3 = "mp3", "MP3 音訊"
    MP4 = "mp4", "MP4 影片"


class PerformanceCategory(Coded):
    """The categories of a multiple performance 多元表現."""

    COMPETITION = "competition", "競賽表現"
    CERTIFICATE = "certificate", "檢定證照"
    VOLUNTEER = "volunteer", "志工服務"
    CADRE = "cadre", "幹部經歷"
    FLEXIBLE_LEARNING = "flexible_learning", "彈性學習時間"
    GROUP_ACTIVITY = "group_activity", "團體活動時間"
    OTHER = "other", "其他多元表現"


class ReceiptCategory(Coded):
    """What a receipt 收訖明細 covers (receipts.category): an item kind, or a semester batch's
    records."""

    COURSE_OUTCOME = "course_outcome", ItemKind.COURSE_OUTCOME.label
    PERFORMANCE = "performance", ItemKind.PERFORMANCE.label
    BASIC_CADRE = "basic_cadre", "基本資料及幹部紀錄"
    COURSES = "courses", "修課紀錄"


class DisputeResolution(Coded):
    """How a dispute 疑義 about an item was settled, for the student to read (items.resolution)."""

    ANSWERED = "answered", "回覆學生（資料無誤，不需更正）"
    RESUBMIT = "resubmit", "更正資料，於新批次重新提交"


class CertificationRoute(Coded):
    """Who certifies a course's outcomes when the teacher cannot 認證代理類別 (courses.route)."""

    IN_SCHOOL = "in_school", "校內課程"
    EXTERNAL_MULTI_ELECTIVE = "external_multi_elective", "外校多元選修"
    PE_MUSIC_SPECIALTY = "pe_music_specialty", "體育/音樂專長"


# The teachers of each route, as the policy's proxy_routing table names them (seed 000 §五(四)2).
ROUTE_TEACHERS: dict[str, str] = {
    CertificationRoute.EXTERNAL_MULTI_ELECTIVE.value: "多元選修之外校教師",
    CertificationRoute.IN_SCHOOL.value: "校內教師",
    CertificationRoute.PE_MUSIC_SPECIALTY.value: "體育/音樂專長課程",
}


# --- staff-entered records ---------------------------------------------------------------------

class StaffRecordKind(Coded):
    """The kinds of record school offices enter; audit rows name them `<code>_record`."""

    CADRE = "cadre", "幹部紀錄"
    GRADE = "grade", "學業成績"
    CONSULTATION = "consultation", "課程諮詢紀錄"
    EXPLORATION = "exploration", "學群探索紀錄"


class CadreLevel(Coded):
    """The level of a cadre position 幹部層級 (cadre_records.level)."""

    SCHOOL = "school", "校級"
    CLASS = "class", "班級"
    CLUB = "club", "社團"


class GradeRecordKind(Coded):
    """修課紀錄 kinds (grade_records.record_kind): a semester grade, a year grade (semester 0), and
    the later results of make-up, retake, remedial and credit transfer. The labels are what the
    grades pages show; the central roster's cells say it in the ministry's words
    (workflows/central/roster.py GRADE_KIND_CELLS)."""

    SEMESTER = "semester", "學期"
    YEAR = "year", "學年"
    MAKEUP = "makeup", "補考"
    RETAKE = "retake", "重修"
    REMEDIAL = "remedial", "補修"
    CREDIT_TRANSFER = "credit_transfer", "學分抵免"


class GradeCorrectionKind(Coded):
    """Which grade a correction request 學生學業成績更正申請 changes 更改類別 (grade_corrections.kind)."""

    EXAM = "exam", "定期成績"
    DAILY = "daily", "日常成績"
    MAKEUP = "makeup", "補考成績"
    RETAKE = "retake", "重修成績"


class GradeCorrectionReason(Coded):
    """Why a grade is corrected 更正原因 (grade_corrections.reason)."""

    ENTRY_ERROR = "entry_error", "登載錯誤"
    MARKING_ERROR = "marking_error", "評分錯誤"
    OTHER = "other", "其他"


class CareerGroup(Coded):
    """The 18 學群 (exploration_records.career_group), in the order the college-admission guides
    list them; the label is the group's name without 學群."""

    INFORMATION = "information", "資訊"
    ENGINEERING = "engineering", "工程"
    MATH_PHYSICS_CHEMISTRY = "math_physics_chemistry", "數理化"
    MEDICINE_HEALTH = "medicine_health", "醫藥衛生"
    LIFE_SCIENCE = "life_science", "生命科學"
    BIORESOURCES = "bioresources", "生物資源"
    EARTH_ENVIRONMENT = "earth_environment", "地球環境"
    ARCHITECTURE_DESIGN = "architecture_design", "建築設計"
    ARTS = "arts", "藝術"
    SOCIAL_PSYCHOLOGY = "social_psychology", "社會心理"
    MASS_COMMUNICATION = "mass_communication", "大眾傳播"
    FOREIGN_LANGUAGES = "foreign_languages", "外語"
    HUMANITIES = "humanities", "文史哲"
    EDUCATION = "education", "教育"
    LAW_POLITICS = "law_politics", "法政"
    MANAGEMENT = "management", "管理"
    FINANCE_ECONOMICS = "finance_economics", "財經"
    LEISURE_SPORTS = "leisure_sports", "遊憩運動"


# --- the audit log -----------------------------------------------------------------------------

class SubjectKind(Coded):
    """What an audit row is about (audit_log.subject_kind): a machine's row (an item kind, receipt,
    batch, grade_correction), a staff-entered record (`<StaffRecordKind>_record`), or what an
    office keeps (accounts, the calendar, the proxy lists …)."""

    COURSE_OUTCOME = "course_outcome", ItemKind.COURSE_OUTCOME.label
    PERFORMANCE = "performance", ItemKind.PERFORMANCE.label
    RECEIPT = "receipt", "收訖明細"
    BATCH = "batch", "提交批次"
    GRADE_CORRECTION = "grade_correction", "成績更正申請"
    CADRE_RECORD = "cadre_record", StaffRecordKind.CADRE.label
    GRADE_RECORD = "grade_record", StaffRecordKind.GRADE.label
    CONSULTATION_RECORD = "consultation_record", StaffRecordKind.CONSULTATION.label
    EXPLORATION_RECORD = "exploration_record", StaffRecordKind.EXPLORATION.label
    ACCOUNT = "account", "帳號"
    STUDENT = "student", "學生"
    STAFF = "staff", "教職員"
    SCHOOL = "school", "學校"
    WINDOW = "window", "作業期程"
    TRAINING = "training", "研習、宣導紀錄"
    SELF_CHECK = "self_check", "自我檢核項目"
    IMPORT = "import", "資料匯入"
    UNAVAILABILITY = "unavailability", "無法執行職務紀錄"
    PROXY_LIST = "proxy_list", "代理人名單"
    CERTIFY_ONLY = "certify_only", "僅認證帳號"


# --- the working group and delivery ------------------------------------------------------------

class TrainingKind(Coded):
    """The sessions held for the portfolio each year (training_sessions.kind)."""

    TRAINING = "training", "教育訓練（系統操作）"
    WORKSHOP = "workshop", "教師研習（工作坊）"
    PARENT_SESSION = "parent_session", "親師說明（家長場次）"


class OutboxStatus(Coded):
    """Where a message stands in delivery (outbox.status): pending → sending → sent, or back to
    pending after a failed attempt, failed after the last; no_address when nobody can be mailed."""

    PENDING = "pending", "待寄送"
    SENDING = "sending", "寄送中"
    SENT = "sent", "已寄出"
    FAILED = "failed", "寄送失敗"
    NO_ADDRESS = "no_address", "無電子郵件地址"


WINDOW_LABELS = WindowKind.labels()
TRACK_LABELS = Track.labels()
BATCH_KIND_LABELS = BatchKind.labels()
PERFORMANCE_CATEGORIES = PerformanceCategory.labels()
# Which items a batch kind carries (the semester kinds carry staff-entered records, no items).
ITEM_KIND_OF_BATCH = {BatchKind.YEAR_OUTCOMES.value: ItemKind.COURSE_OUTCOME.value,
                      BatchKind.YEAR_PERFORMANCES.value: ItemKind.PERFORMANCE.value}
