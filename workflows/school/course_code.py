"""The 23-character course code (課程代碼) of the 108 curriculum.

The ministry's course-plan platform (課程計畫平臺) issues one code per course; the school's
administrative system receives it and every course record sent to the central database carries
it. Layout (positions 1-based):

    pos    len  field
    1–3    3    entry year 入學年度 (ROC, 100–199)
    4–9    6    school code 學校代碼 (6 digits)
    10     1    course type 課程類型 (H V C M S E F)
    11–12  2    group code 群別代碼
    13–15  3    department code 科別代碼
    16     1    class group 班群代碼
    17     1    course category 課程類別 (0–9, A–F; 8 團體活動時間, 9 彈性學習時間)
    18     1    delivery 開課方式
    19     1    subject attribute 科目屬性
    20–21  2    domain 領域
    22–23  2    subject 科目

Only half-width (ASCII) digits and capital letters are valid. Input is stripped of surrounding
whitespace and ASCII letters are upper-cased; anything else (full-width characters, spaces
inside the code, punctuation) is refused with a message naming the position and the part.
"""
from __future__ import annotations

import string
from dataclasses import dataclass

CODE_LENGTH = 23

COURSE_TYPE_LABELS: dict[str, str] = {
    "H": "普通型",
    "V": "技術型",
    "C": "綜合型",
    "M": "單科型",
    "S": "特殊教育",
    "E": "實用技能學程",
    "F": "進修部",
}

# Only the categories the curriculum fixes unambiguously are labelled; other values are valid
# but shown by their code.
COURSE_CATEGORY_LABELS: dict[str, str] = {
    "8": "團體活動時間",
    "9": "彈性學習時間",
}

_DIGITS = frozenset(string.digits)
_ALNUM = frozenset(string.digits + string.ascii_uppercase)
_HEX_UPPER = frozenset(string.digits + "ABCDEF")
_ASCII_UPPER = str.maketrans(string.ascii_lowercase, string.ascii_uppercase)


@dataclass(frozen=True)
class _Part:
    name: str        # attribute on CourseCode
    label: str       # what staff read
    start: int       # 1-based
    length: int
    allowed: frozenset[str]
    expect: str      # zh-TW description of what is allowed

    @property
    def end(self) -> int:
        return self.start + self.length - 1

    @property
    def where(self) -> str:
        if self.length == 1:
            return f"第 {self.start} 碼"
        return f"第 {self.start}–{self.end} 碼"


_PARTS: tuple[_Part, ...] = (
    _Part("entry_year", "入學年度", 1, 3, _DIGITS, "3 位數字（民國 100–199 年）"),
    _Part("school_code", "學校代碼", 4, 6, _DIGITS, "6 位數字"),
    _Part("course_type", "課程類型", 10, 1, frozenset(COURSE_TYPE_LABELS),
          "、".join(COURSE_TYPE_LABELS)),
    _Part("group_code", "群別代碼", 11, 2, _ALNUM, "2 碼數字或大寫英文字母"),
    _Part("department_code", "科別代碼", 13, 3, _ALNUM, "3 碼數字或大寫英文字母"),
    _Part("class_group", "班群代碼", 16, 1, _ALNUM, "數字或大寫英文字母"),
    _Part("course_category", "課程類別", 17, 1, _HEX_UPPER, "0–9 或 A–F"),
    _Part("delivery", "開課方式", 18, 1, _ALNUM, "數字或大寫英文字母"),
    _Part("subject_attribute", "科目屬性", 19, 1, _ALNUM, "數字或大寫英文字母"),
    _Part("domain", "領域", 20, 2, _ALNUM, "2 碼數字或大寫英文字母"),
    _Part("subject", "科目", 22, 2, _ALNUM, "2 碼數字或大寫英文字母"),
)


class CourseCodeError(ValueError):
    """A course code that cannot be accepted.

    `position` is the 1-based position of the first offending character, or None when the
    length is wrong; `part` is the zh-TW name of the part (None for the length).
    """

    def __init__(self, message: str, position: int | None = None, part: str | None = None):
        super().__init__(message)
        self.message = message
        self.position = position
        self.part = part

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class CourseCode:
    code: str
    entry_year: int
    school_code: str
    course_type: str
    group_code: str
    department_code: str
    class_group: str
    course_category: str
    delivery: str
    subject_attribute: str
    domain: str
    subject: str

    @property
    def course_type_label(self) -> str:
        return COURSE_TYPE_LABELS[self.course_type]

    @property
    def course_category_label(self) -> str | None:
        return COURSE_CATEGORY_LABELS.get(self.course_category)

    def __str__(self) -> str:
        return self.code


def _quoted(char: str) -> str:
    """An offending character as quoted in a message, naming the usual mistakes."""
    if char.isspace():
        return "為空白"
    if not char.isascii():
        return f"「{char}」為全形或非英數字元"
    return f"「{char}」"


def _expects(expect: str) -> str:
    return f"應為 {expect}" if expect[0].isdigit() else f"應為{expect}"


def _length_error(code: str) -> CourseCodeError:
    message = f"課程代碼長度應為 {CODE_LENGTH} 碼，收到 {len(code)} 碼"
    hints = []
    if any(c.isspace() for c in code):
        hints.append("含有空白")
    if any(not c.isascii() for c in code):
        hints.append("含有全形字元，請改用半形英數字")
    if hints:
        message += "（" + "；".join(hints) + "）"
    return CourseCodeError(message, None, None)


def parse_course_code(raw: str, *, school_code: str | None = None) -> CourseCode:
    """Parse and check a 23-character course code.

    `school_code`, when given, is this school's 6-digit code; positions 4–9 must match it.
    """
    if raw is None:
        raise CourseCodeError(f"課程代碼長度應為 {CODE_LENGTH} 碼，收到 0 碼")
    code = str(raw).strip().translate(_ASCII_UPPER)
    if len(code) != CODE_LENGTH:
        raise _length_error(code)

    values: dict[str, str] = {}
    for part in _PARTS:
        value = code[part.start - 1:part.end]
        for offset, char in enumerate(value):
            if char not in part.allowed:
                position = part.start + offset
                shown = _quoted(char)
                if part.length == 1:
                    plain = char.isascii() and not char.isspace()
                    message = (f"課程代碼{part.where}（{part.label}）{shown}{'' if plain else '，'}"
                               f"不是有效值（{part.expect}）")
                else:
                    message = (f"課程代碼{part.where}（{part.label}）「{value}」"
                               f"{_expects(part.expect)}，第 {position} 碼{shown}")
                    if char.isascii() and not char.isspace():
                        message += "不符"
                if not char.isascii():
                    message += "，請改用半形英數字"
                raise CourseCodeError(message, position, part.label)
        values[part.name] = value

    year = int(values["entry_year"])
    if not 100 <= year <= 199:
        raise CourseCodeError(
            f"課程代碼第 1–3 碼（入學年度）「{values['entry_year']}」應為民國 100–199 年",
            1, "入學年度")

    if school_code is not None:
        own = str(school_code).strip()
        if values["school_code"] != own:
            mismatch = next((i for i, (a, b) in enumerate(zip(values["school_code"], own))
                             if a != b), 0)
            raise CourseCodeError(
                f"課程代碼第 4–9 碼（學校代碼）「{values['school_code']}」與本校代碼「{own}」不符",
                4 + mismatch, "學校代碼")

    return CourseCode(code=code, entry_year=year, **{k: v for k, v in values.items()
                                                      if k != "entry_year"})

