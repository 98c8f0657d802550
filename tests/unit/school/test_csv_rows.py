"""The school's CSV files parsed into validated rows, with the messages staff read."""
from __future__ import annotations

import codecs
from datetime import date

import pytest
from freezegun import freeze_time

from workflows.school.csv_rows import (CertificationRoute, CourseRow, Parsed, RowError, StudentRow,
                                TeacherRow, parse_courses, parse_students, parse_teachers)
from workflows.core.roles import Division, EnrolmentStatus, Role

NOT_UTF8 = "CSV UTF-8（逗號分隔）"

# Valid ID numbers (see test_personal_data for how the check digit is computed).
ID1, ID2, ID3 = "A123456789", "F131104093", "B220304156"


def excel(*lines: str, bom: bool = True, newline: str = "\r\n") -> bytes:
    """A CSV file as Excel's "CSV UTF-8（逗號分隔）" writes it: BOM, CRLF."""
    text = newline.join(lines) + newline
    return (codecs.BOM_UTF8 if bom else b"") + text.encode("utf-8")


def messages(parsed: Parsed) -> list[str]:
    return [str(error) for error in parsed.errors]


def errors_at(parsed: Parsed, line: int) -> dict[str, str]:
    return {error.field: error.message for error in parsed.errors if error.line == line}


# --- the file itself -------------------------------------------------------------------------

ZH_STUDENT_HEADER = "學號,身分證號,出生日期,姓名,班級,年級,部別,學籍狀態,家長姓名,通訊地址"
EN_STUDENT_HEADER = ("student_no,national_id,birth_date,name,class_name,grade,division,status,"
                     "guardian_name,mailing_address")
STUDENT_1 = f"110001,{ID1},2008-05-12,王小明,101,1,日間部,在學,王大明,\"高雄市左營區, 新莊一路 1 號\""
STUDENT_2 = f"110002,{ID2},97/11/03,陳美麗,102,高一,,,,"


def test_row_error_str():
    assert str(RowError(3, "出生日期", "「x」無法辨識")) == "第 3 行「出生日期」：「x」無法辨識"
    assert str(RowError(1, "", "缺少必要欄位")) == "第 1 行：缺少必要欄位"


def test_parsed_is_a_frozen_generic_dataclass():
    parsed: Parsed[StudentRow] = Parsed(rows=[], errors=[])
    assert parsed.ok
    with pytest.raises(AttributeError):
        parsed.rows = []  # type: ignore[misc]


@pytest.mark.parametrize("bom", [True, False])
@pytest.mark.parametrize("newline", ["\r\n", "\n"])
def test_students_with_chinese_headers(bom, newline):
    parsed = parse_students(excel(ZH_STUDENT_HEADER, STUDENT_1, STUDENT_2, bom=bom,
                                  newline=newline))
    assert parsed.errors == []
    first, second = parsed.rows
    assert first == StudentRow(student_no="110001", national_id=ID1,
                               birth_date=date(2008, 5, 12), name="王小明", class_name="101",
                               grade=1, division=Division.DAY, status=EnrolmentStatus.ENROLLED,
                               guardian_name="王大明", mailing_address="高雄市左營區, 新莊一路 1 號")
    assert first.line == 2
    assert second.birth_date == date(2008, 11, 3)
    assert second.grade == 1
    assert second.division is Division.DAY and second.status is EnrolmentStatus.ENROLLED
    assert second.guardian_name is None and second.mailing_address is None
    assert second.line == 3


def test_students_with_english_headers_in_any_case_and_padding():
    header = " Student_No , NATIONAL_ID,birth_date,Name ,class_name,grade"
    parsed = parse_students(excel(header, f"110001,{ID1},2008/5/12,王小明,101,2", bom=False))
    assert parsed.errors == []
    assert parsed.rows[0].birth_date == date(2008, 5, 12)
    assert parsed.rows[0].grade == 2


def test_student_row_repr_never_shows_the_id_number():
    parsed = parse_students(excel(ZH_STUDENT_HEADER, STUDENT_1))
    assert ID1 not in repr(parsed.rows[0])
    assert parsed.rows[0].masked_national_id == "A12****789"


def test_a_big5_file_is_refused_with_instructions():
    data = (ZH_STUDENT_HEADER + "\r\n" + STUDENT_1 + "\r\n").encode("cp950")
    parsed = parse_students(data)
    assert parsed.rows == []
    assert len(parsed.errors) == 1
    assert NOT_UTF8 in str(parsed.errors[0])
    assert str(parsed.errors[0]).startswith("第 1 行：檔案不是 UTF-8 編碼")


def test_a_big5_file_with_english_headers_is_refused_where_the_chinese_starts():
    data = (EN_STUDENT_HEADER + "\r\n" + STUDENT_1 + "\r\n").encode("big5")
    parsed = parse_students(data)
    assert parsed.rows == []
    assert [(e.line, e.field) for e in parsed.errors] == [(2, "")]
    assert NOT_UTF8 in parsed.errors[0].message


def test_a_utf16_file_is_refused():
    data = (ZH_STUDENT_HEADER + "\r\n").encode("utf-16")
    assert NOT_UTF8 in messages(parse_students(data))[0]


def test_an_empty_file():
    assert messages(parse_students(b"")) == ["第 1 行：檔案沒有內容：第 1 行應為標題列"]
    assert parse_students(codecs.BOM_UTF8 + b"\r\n\r\n").errors[0].line == 1


def test_missing_required_columns_is_one_error_on_line_1():
    parsed = parse_students(excel("學號,姓名,班級", "110001,王小明,101"))
    assert parsed.rows == []
    assert messages(parsed) == [
        "第 1 行：缺少必要欄位：「身分證號」（national_id）、「出生日期」（birth_date）、「年級」（grade）"]


def test_optional_columns_may_be_absent_and_unknown_columns_are_ignored():
    parsed = parse_students(excel("學號,身分證號,出生日期,姓名,班級,年級,備註,座號",
                                  f"110001,{ID1},2008-05-12,王小明,101,1,轉學生,5"))
    assert parsed.errors == []
    assert parsed.rows[0].division is Division.DAY
    assert parsed.rows[0].status is EnrolmentStatus.ENROLLED


def test_a_column_given_twice_is_refused():
    parsed = parse_students(excel("學號,身分證號,出生日期,姓名,班級,年級,name",
                                  f"110001,{ID1},2008-05-12,王小明,101,1,王小明"))
    assert messages(parsed) == ["第 1 行「姓名」：欄位重複：第 4 欄與第 7 欄都是「姓名」，請只保留一欄"]


def test_blank_lines_are_skipped_but_still_counted():
    parsed = parse_students(excel(ZH_STUDENT_HEADER, "", STUDENT_1, ",,,,,,,,,", "",
                                  f"110003,{ID3},2008-01-01,林,101,一,,,,,"))
    assert parsed.errors == []
    assert [row.line for row in parsed.rows] == [3, 6]


def test_line_numbers_are_spreadsheet_rows_even_with_a_multiline_cell():
    parsed = parse_students(excel(ZH_STUDENT_HEADER,
                                  f"110001,{ID1},2008-05-12,王小明,101,1,,,,\"高雄市\r\n左營區\"",
                                  f"110002,{ID2},2008-05-12,,101,1,,,,"))
    assert parsed.rows[0].mailing_address == "高雄市\r\n左營區"
    assert messages(parsed) == ["第 3 行「姓名」：必填欄位未填寫"]


# --- students: every field ------------------------------------------------------------------


def test_every_field_error_is_reported_with_line_and_field():
    parsed = parse_students(excel(
        ZH_STUDENT_HEADER,
        STUDENT_1,
        "11-0002,A123456788,2008/13/01,,1011111111111,4,夜間部,休息,," + "路" * 201,
        ",,,,,,,,,",   # blank: skipped
        "110004,,abc," + "名" * 41 + ",,,,,,",
    ))
    assert [row.student_no for row in parsed.rows] == ["110001"]
    assert errors_at(parsed, 3) == {
        "學號": "「11-0002」應為 1–20 個半形英文字母或數字",
        "身分證號": "身分證號「A12****788」檢查碼不正確，請核對是否輸入錯誤",
        "出生日期": "「2008/13/01」不是存在的日期",
        "姓名": "必填欄位未填寫",
        "班級": "長度不可超過 10 字，目前 13 字",
        "年級": "「4」不是有效的年級；請填 1、2、3（或 高一、高二、高三）",
        "部別": "「夜間部」不是有效的部別；請填 日間部、進修部",
        "學籍狀態": "「休息」不是有效的學籍狀態；請填 在學、休學、畢業、轉出、退學",
        "通訊地址": "長度不可超過 200 字，目前 201 字",
    }
    assert errors_at(parsed, 5) == {
        "身分證號": "必填欄位未填寫",
        "出生日期": "「abc」無法辨識；請填西元 2008-05-12、2008/5/12，或民國 97/05/12、0970512",
        "姓名": "長度不可超過 40 字，目前 41 字",
        "班級": "必填欄位未填寫",
        "年級": "必填欄位未填寫",
    }
    # In line order, then column order, as a user would read them.
    assert messages(parsed)[:3] == ["第 3 行「學號」：「11-0002」應為 1–20 個半形英文字母或數字",
                                    "第 3 行「身分證號」：身分證號「A12****788」檢查碼不正確，請核對是否輸入錯誤",
                                    "第 3 行「出生日期」：「2008/13/01」不是存在的日期"]
    assert all("A123456788" not in message for message in messages(parsed))


@pytest.mark.parametrize("raw,expected", [
    ("2008-05-12", date(2008, 5, 12)),
    ("2008/5/12", date(2008, 5, 12)),
    ("2008/05/02", date(2008, 5, 2)),
    ("20080512", date(2008, 5, 12)),
    ("97/05/12", date(2008, 5, 12)),
    ("097/05/12", date(2008, 5, 12)),
    ("97/5/2", date(2008, 5, 2)),
    ("0970512", date(2008, 5, 12)),
    ("97.05.12", date(2008, 5, 12)),
    ("民國97年5月12日", date(2008, 5, 12)),
    ("100/02/28", date(2011, 2, 28)),
    ("1990-01-01", date(1990, 1, 1)),
])
def test_birth_date_forms(raw, expected):
    parsed = parse_students(excel(ZH_STUDENT_HEADER, f"110001,{ID1},{raw},王小明,101,1,,,,"))
    assert parsed.errors == []
    assert parsed.rows[0].birth_date == expected


@freeze_time("2025-09-01 03:00:00")  # 11:00 in Taipei
@pytest.mark.parametrize("raw,message", [
    ("1989-12-31", "「1989-12-31」（1989-12-31）早於 1990-01-01，請確認是否填錯"),
    ("78/12/31", "「78/12/31」（1989-12-31）早於 1990-01-01，請確認是否填錯"),
    ("2025-09-02", "「2025-09-02」（2025-09-02）晚於今天，請確認是否填錯"),
    ("97/02/30", "「97/02/30」不是存在的日期"),
    ("0970230", "「0970230」不是存在的日期"),
    ("12 May 2008", "「12 May 2008」無法辨識；請填西元 2008-05-12、2008/5/12，或民國 97/05/12、0970512"),
])
def test_birth_date_errors(raw, message):
    parsed = parse_students(excel(ZH_STUDENT_HEADER, f"110001,{ID1},{raw},王小明,101,1,,,,"))
    assert messages(parsed) == [f"第 2 行「出生日期」：{message}"]


@freeze_time("2025-08-31 17:00:00")  # already 1 Sep in Taipei
def test_today_is_the_taipei_date():
    parsed = parse_students(excel(ZH_STUDENT_HEADER, f"110001,{ID1},2025-09-01,王小明,101,1,,,,"))
    assert parsed.errors == []


@pytest.mark.parametrize("raw,grade", [("1", 1), ("2", 2), ("3", 3), ("一", 1), ("二", 2),
                                       ("三", 3), ("高一", 1), ("高二", 2), ("高三", 3),
                                       ("３", 3)])
def test_grade_forms(raw, grade):
    parsed = parse_students(excel(ZH_STUDENT_HEADER, f"110001,{ID1},2008-05-12,王,101,{raw},,,,"))
    assert parsed.errors == []
    assert parsed.rows[0].grade == grade


@pytest.mark.parametrize("raw,division", [("day", Division.DAY), ("Continuing", Division.CONTINUING),
                                          ("日間部", Division.DAY), ("進修部", Division.CONTINUING),
                                          ("日", Division.DAY), ("進", Division.CONTINUING),
                                          ("", Division.DAY)])
def test_division_forms(raw, division):
    parsed = parse_students(excel(ZH_STUDENT_HEADER, f"110001,{ID1},2008-05-12,王,101,1,{raw},,,"))
    assert parsed.rows[0].division is division


@pytest.mark.parametrize("raw,status", [("enrolled", EnrolmentStatus.ENROLLED),
                                        ("SUSPENDED", EnrolmentStatus.SUSPENDED),
                                        ("休學", EnrolmentStatus.SUSPENDED),
                                        ("畢業", EnrolmentStatus.GRADUATED),
                                        ("轉出", EnrolmentStatus.TRANSFERRED_OUT),
                                        ("transferred_out", EnrolmentStatus.TRANSFERRED_OUT),
                                        ("退學", EnrolmentStatus.WITHDRAWN),
                                        ("", EnrolmentStatus.ENROLLED)])
def test_status_forms(raw, status):
    parsed = parse_students(excel(ZH_STUDENT_HEADER, f"110001,{ID1},2008-05-12,王,101,1,,{raw},,"))
    assert parsed.rows[0].status is status


def test_lowercase_id_numbers_are_normalised():
    parsed = parse_students(excel(ZH_STUDENT_HEADER, f"110001, {ID1.lower()} ,2008-05-12,王,101,1,,,,"))
    assert parsed.rows[0].national_id == ID1


def test_duplicate_student_no_and_id_name_the_earlier_line():
    parsed = parse_students(excel(
        ZH_STUDENT_HEADER,
        STUDENT_1,
        STUDENT_2,
        f"110001,{ID3},2008-01-01,林,101,1,,,,",
        f"110004,{ID1.lower()},2008-01-01,張,101,1,,,,",
    ))
    assert [row.student_no for row in parsed.rows] == ["110001", "110002"]
    assert messages(parsed) == [
        "第 4 行「學號」：學號「110001」與第 2 行重複",
        "第 5 行「身分證號」：身分證號「A12****789」與第 2 行重複",
    ]
    assert all(ID1 not in message for message in messages(parsed))


# --- students: 群別 (grade 12's track) ------------------------------------------------------

TRACK_HEADER = "學號,身分證號,出生日期,姓名,班級,年級,群別"


@pytest.mark.parametrize("raw,track", [("學術群", "academic"), ("專業群", "professional"),
                                       ("academic", "academic"), ("Professional", "professional"),
                                       ("學術", "academic"), (" 專業群 ", "professional"), ("", None)])
def test_track_forms_for_a_grade3_student(raw, track):
    parsed = parse_students(excel(TRACK_HEADER, f"110001,{ID1},2008-05-12,王小明,301,3,{raw}"))
    assert parsed.errors == []
    assert parsed.rows[0].track == track and parsed.rows[0].track_given


def test_a_track_is_only_for_grade3_and_must_be_a_known_track():
    parsed = parse_students(excel(
        TRACK_HEADER,
        f"110001,{ID1},2008-05-12,王小明,101,1,學術群",
        f"110002,{ID2},2008-05-12,陳美麗,201,高二,",
        f"110003,{ID3},2008-05-12,林,301,3,自然組",
    ))
    assert [row.student_no for row in parsed.rows] == ["110002"]
    assert messages(parsed) == [
        "第 2 行「群別」：群別只適用三年級（高三）學生；此列年級為 1，請留空",
        "第 4 行「群別」：「自然組」不是有效的群別；請填 學術群、專業群、academic、professional（或留空）",
    ]


def test_the_track_column_is_optional_and_also_read_by_its_english_code():
    without = parse_students(excel(ZH_STUDENT_HEADER, STUDENT_1))
    assert without.rows[0].track is None and not without.rows[0].track_given
    english = parse_students(excel(EN_STUDENT_HEADER + ",track",
                                   f"110001,{ID1},2008-05-12,王小明,301,3,,,,,professional"))
    assert english.errors == [] and english.rows[0].track == "professional"


# --- teachers -------------------------------------------------------------------------------

ZH_TEACHER_HEADER = "教職員編號,姓名,角色,導師班級,電子郵件,部別,外校教師"


def test_teachers_with_chinese_headers():
    parsed = parse_teachers(excel(
        ZH_TEACHER_HEADER,
        'T001,王老師,"任課教師、導師",101,wang@school.example.tw,,否',
        'T002,李組長,"設備組;任課",,,日間部,',
        'T003,陳老師,"體育/音樂組, 訓育",,,進修部,N',
        "T004,張老師,任課,,,,是",
        "T005,林主任,執行秘書（教務主任）/校長,,,,",
        "T006,周老師,subject_teacher;course_consultant,,,,false",
    ))
    assert parsed.errors == []
    rows = {row.staff_no: row for row in parsed.rows}
    assert rows["T001"] == TeacherRow(staff_no="T001", name="王老師",
                                      roles=frozenset({Role.SUBJECT_TEACHER, Role.HOMEROOM_TEACHER}),
                                      homeroom_class="101", email="wang@school.example.tw",
                                      division=Division.DAY, external=False)
    assert rows["T002"].roles == {Role.EQUIPMENT_SECTION, Role.SUBJECT_TEACHER}
    assert rows["T003"].roles == {Role.PE_MUSIC_GROUP, Role.STUDENT_ACTIVITIES}
    assert rows["T003"].division is Division.CONTINUING
    assert rows["T004"].external is True
    assert rows["T005"].roles == {Role.EXECUTIVE_SECRETARY, Role.PRINCIPAL}
    assert rows["T006"].roles == {Role.SUBJECT_TEACHER, Role.COURSE_CONSULTANT}


@pytest.mark.parametrize("alias,role", [
    ("任課", Role.SUBJECT_TEACHER), ("導師", Role.HOMEROOM_TEACHER), ("註冊", Role.REGISTRY),
    ("教學", Role.TEACHING_SECTION), ("設備", Role.EQUIPMENT_SECTION),
    ("訓育", Role.STUDENT_ACTIVITIES), ("輔導", Role.COUNSELLING),
    ("課諮", Role.COURSE_CONSULTANT), ("體育", Role.PE_MUSIC_GROUP), ("音樂", Role.PE_MUSIC_GROUP),
    ("教務主任", Role.EXECUTIVE_SECRETARY), ("校長", Role.PRINCIPAL), ("管理者", Role.ADMIN),
    ("課程諮詢教師", Role.COURSE_CONSULTANT), ("輔導室", Role.COUNSELLING),
    ("學校平臺管理者", Role.ADMIN), ("校長（召集人）", Role.PRINCIPAL), ("ADMIN", Role.ADMIN),
])
def test_role_aliases(alias, role):
    homeroom = "101" if role is Role.HOMEROOM_TEACHER else ""
    parsed = parse_teachers(excel("staff_no,name,roles,homeroom_class",
                                  f"T1,王,{alias},{homeroom}", bom=False))
    assert parsed.errors == []
    assert parsed.rows[0].roles == {role}


def test_teachers_with_english_headers():
    parsed = parse_teachers(excel("staff_no,name,roles,homeroom_class,email,division,external",
                                  "T1,Wang,homeroom_teacher,201,,continuing,Y", bom=False))
    assert parsed.errors == []
    assert parsed.rows[0].homeroom_class == "201"
    assert parsed.rows[0].division is Division.CONTINUING
    assert parsed.rows[0].external is True


def test_teacher_field_errors():
    parsed = parse_teachers(excel(
        ZH_TEACHER_HEADER,
        "T 1,,,,,,",
        "T002,王老師,導師,,not-an-email,夜間部,可能",
        "T003,李老師,任課、教官,,,,",
        "T004,陳老師,任課,101,,,",
    ))
    assert parsed.rows == []
    assert errors_at(parsed, 2) == {
        "教職員編號": "「T 1」應為 1–20 個半形英文字母、數字、「-」或「_」",
        "姓名": "必填欄位未填寫",
        "角色": "必填欄位未填寫",
    }
    assert errors_at(parsed, 3) == {
        "導師班級": "角色含「導師」，須填寫導師班級",
        "電子郵件": "「not-an-email」不是有效的電子郵件地址",
        "部別": "「夜間部」不是有效的部別；請填 日間部、進修部",
        "外校教師": "「可能」不是有效的值；請填 是、否、Y、N",
    }
    assert messages(parsed)[7].startswith("第 4 行「角色」：「教官」不是可辨識的角色；可填：任課教師、導師、")
    assert errors_at(parsed, 5) == {"導師班級": "角色不含「導師」，不應填寫導師班級「101」"}


def test_homeroom_class_required_when_the_column_is_absent():
    parsed = parse_teachers(excel("教職員編號,姓名,角色", "T1,王,導師"))
    assert messages(parsed) == ["第 2 行「導師班級」：角色含「導師」，須填寫導師班級"]


def test_duplicate_staff_no_and_two_homeroom_teachers_for_one_class():
    parsed = parse_teachers(excel(
        ZH_TEACHER_HEADER,
        "T001,王老師,導師,101,,,",
        "T002,李老師,導師,102,,,",
        "t001,陳老師,任課,,,,",
        "T004,林老師,導師;任課,101,,,",
    ))
    assert [row.staff_no for row in parsed.rows] == ["T001", "T002"]
    assert messages(parsed) == [
        "第 4 行「教職員編號」：教職員編號「t001」與第 2 行重複",
        "第 5 行「導師班級」：班級「101」的導師已在第 2 行指定（王老師），一班只能有一位導師",
    ]


def test_teachers_missing_columns():
    assert messages(parse_teachers(excel("姓名,電子郵件", "王,a@b.tw"))) == [
        "第 1 行：缺少必要欄位：「教職員編號」（staff_no）、「角色」（roles）"]


# --- courses --------------------------------------------------------------------------------

SCHOOL = "013301"
CODE_A = "111013301H10101011A0102"
CODE_B = "111013301H10101031A0203"
ZH_COURSE_HEADER = "學年度,學期,課程代碼,課程名稱,授課教師編號,修課學生,認證代理類別"


def test_courses_with_chinese_headers():
    parsed = parse_courses(excel(
        ZH_COURSE_HEADER,
        f"113,1,{CODE_A},國語文,T001,110001 110002;110003、110004,",
        f"113,上,{CODE_A},國語文,T002,,校內課程",
        f"113,第2學期,{CODE_B.lower()},跨校選修：程式設計,T009,110001,外校多元選修",
        f"113,下,{CODE_B},籃球專長訓練,T003,\"110001, 110002\",體育/音樂專長",
    ), school_code=SCHOOL)
    assert parsed.errors == []
    first, second, third, fourth = parsed.rows
    assert isinstance(first, CourseRow)
    assert (first.academic_year, first.semester, first.code.code) == (113, 1, CODE_A)
    assert first.code.school_code == SCHOOL
    assert first.student_nos == ("110001", "110002", "110003", "110004")
    assert first.route is CertificationRoute.IN_SCHOOL
    assert second.semester == 1 and second.student_nos == ()
    assert third.semester == 2 and third.code.code == CODE_B
    assert third.route is CertificationRoute.EXTERNAL_MULTI_ELECTIVE
    assert fourth.route is CertificationRoute.PE_MUSIC_SPECIALTY
    assert fourth.student_nos == ("110001", "110002")


def test_courses_with_english_headers():
    parsed = parse_courses(excel(
        "academic_year,semester,code,name,teacher_no,student_nos,route",
        f"114,2,{CODE_A},Math,T1,110001,external_multi_elective",
        f"114,第1學期,{CODE_A},Math,T1,,pe_music_specialty", bom=False))
    assert parsed.errors == []
    assert [row.route for row in parsed.rows] == [CertificationRoute.EXTERNAL_MULTI_ELECTIVE,
                                                  CertificationRoute.PE_MUSIC_SPECIALTY]


def test_course_field_errors():
    parsed = parse_courses(excel(
        ZH_COURSE_HEADER,
        f"99,3,{CODE_A[:-1]},,,110001 11-2,網路課程",
        f"200,1,{CODE_A[:9]}X{CODE_A[10:]}," + "課" * 61 + ",T1,,",
        ",,,,,,",
        f"114,1,,數學,T1,,",
    ), school_code=SCHOOL)
    assert parsed.rows == []
    assert errors_at(parsed, 2) == {
        "學年度": "「99」不是有效的學年度；請填民國 100–199（例如 114）",
        "學期": "「3」不是有效的學期；請填 1、2（或 上、下）",
        "課程代碼": "課程代碼長度應為 23 碼，收到 22 碼",
        "課程名稱": "必填欄位未填寫",
        "授課教師編號": "必填欄位未填寫",
        "修課學生": "「11-2」不是有效的學號（應為 1–20 個半形英文字母或數字）；多位學生請以空白、「;」或「、」分隔",
        "認證代理類別": "「網路課程」不是有效的認證代理類別；請填 校內課程、外校多元選修、體育/音樂專長",
    }
    assert errors_at(parsed, 3) == {
        "學年度": "「200」不是有效的學年度；請填民國 100–199（例如 114）",
        "課程代碼": "課程代碼第 10 碼（課程類型）「X」不是有效值（H、V、C、M、S、E、F）",
        "課程名稱": "長度不可超過 60 字，目前 61 字",
    }
    assert messages(parsed)[-1] == "第 5 行「課程代碼」：必填欄位未填寫"


def test_another_schools_course_code_is_refused():
    other = CODE_A[:3] + "013302" + CODE_A[9:]
    parsed = parse_courses(excel(ZH_COURSE_HEADER, f"113,1,{other},國語文,T001,,"),
                           school_code=SCHOOL)
    assert messages(parsed) == [
        "第 2 行「課程代碼」：課程代碼第 4–9 碼（學校代碼）「013302」與本校代碼「013301」不符"]
    # Without a school code to compare, the same file is accepted.
    assert parse_courses(excel(ZH_COURSE_HEADER, f"113,1,{other},國語文,T001,,")).ok


def test_same_course_and_teacher_twice_is_an_error_but_another_teacher_is_fine():
    parsed = parse_courses(excel(
        ZH_COURSE_HEADER,
        f"113,1,{CODE_A},國語文,T001,,",
        f"113,1,{CODE_A},國語文,T002,,",       # same code, another teacher: another class
        f"113,2,{CODE_A},國語文,T001,,",       # another semester
        f"113,上,{CODE_A.lower()},國語文,t001,,",
    ), school_code=SCHOOL)
    assert len(parsed.rows) == 3
    assert messages(parsed) == [
        f"第 5 行「課程代碼」：113 學年度第 1 學期課程「{CODE_A}」由教師「t001」授課，與第 2 行重複"]


def test_courses_missing_columns():
    assert messages(parse_courses(excel("課程代碼,課程名稱", f"{CODE_A},國語文"))) == [
        "第 1 行：缺少必要欄位：「學年度」（academic_year）、「學期」（semester）、"
        "「授課教師編號」（teacher_no）"]


def test_a_big5_course_file_is_refused():
    data = (ZH_COURSE_HEADER + "\r\n" + f"113,1,{CODE_A},國語文,T001,,\r\n").encode("cp950")
    parsed = parse_courses(data, school_code=SCHOOL)
    assert parsed.rows == [] and NOT_UTF8 in messages(parsed)[0]
