"""School policy (補充規定) as data: loading, the national rule, presets, TOML round trip, CLI."""
from __future__ import annotations

import dataclasses
import re
import unicodedata
from types import MappingProxyType

import pytest
from click.testing import CliRunner

from web.cli.policy import policy as policy_cli
from workflows.core.policy import (MB, PRESETS_DIR, FileRule, PolicyError, PolicyFileError,
                              describe, load_policy, parse_policy, policy_to_toml, preset_names,
                              validate_policy)

# The documented shape (docs/policy.md), valid as written.
BASE = """\
name = "sample"
title = "測試高級中學"
division = "day"

[course_outcome]
uploads_per_semester = 6
uploads_per_year = 12
selections_per_year = 6
description_max_chars = 100
document = { kinds = ["pdf", "jpg", "png"], max_mb = 4 }
media = { kinds = ["mp3", "mp4"], max_mb = 10 }

[performance]
uploads_per_year = 20
selections_per_year = 10
description_max_chars = 100
external_link = true
document = { kinds = ["pdf", "jpg", "png"], max_mb = 4 }
media = { kinds = ["mp3", "mp4"], max_mb = 10 }

[consultation_record]
description_max_chars = 100
document = { kinds = ["pdf", "jpg", "png"], max_mb = 2 }

[receipt]
confirmation_days = 5

[retention]
departed_years = 2

[calendar]
certification_tail_working_days = 3
outcome_upload_close_days_after_closing_ceremony = 14

[guardians]
may_act = true

[proxy_routing]
external_multi_elective = "teaching_section"
in_school = "duty_proxy"
pe_music_specialty = "pe_music_group"
"""


def edit(text: str, section: str, key: str, value: str | None) -> str:
    """`text` with `key = value` set in [section] ("" = top level); value None removes the key."""
    lines = text.splitlines()
    start = 0
    if section:
        start = lines.index(f"[{section}]") + 1
    end = next((i for i in range(start, len(lines)) if lines[i].startswith("[")), len(lines))
    for i in range(start, end):
        if re.match(rf"{re.escape(key)}\s*=", lines[i]):
            if value is None:
                del lines[i]
            else:
                lines[i] = f"{key} = {value}"
            break
    else:
        assert value is not None, f"{section}.{key} not in text"
        lines.insert(start, f"{key} = {value}")
    return "\n".join(lines) + "\n"


def parse(text: str):
    return parse_policy(text, source="test.toml")


def refused(text: str) -> list[str]:
    with pytest.raises(PolicyError) as info:
        parse(text)
    return info.value.messages


def only_message(text: str) -> str:
    messages = refused(text)
    assert len(messages) == 1, messages
    return messages[0]


# --------------------------------------------------------------------------------------------
# Presets
# --------------------------------------------------------------------------------------------

def test_three_presets_are_shipped():
    assert {"xinzhuang", "nanning", "template"} <= set(preset_names())


@pytest.mark.parametrize("name", ["xinzhuang", "nanning", "template"])
def test_each_preset_loads_and_meets_the_national_rule(name):
    policy = load_policy(name)
    assert policy.name == name
    assert validate_policy(policy) == []
    assert policy.outcome_selections_per_year <= 6
    assert policy.performance_selections_per_year <= 10
    assert 1 <= policy.retention_years <= 5
    assert policy.receipt_confirmation_days >= 3
    assert policy.consultation_record.media is None


def test_xinzhuang_preset_is_seed_000():
    p = load_policy("xinzhuang")
    assert p.title == "高雄市立新莊高級中學"
    assert (p.outcome_uploads_per_semester, p.outcome_uploads_per_year) == (6, 12)
    assert p.outcome_selections_per_year == 6
    assert p.performance_uploads_per_year is None          # no cap in the text
    assert p.performance_selections_per_year == 10
    assert p.retention_years == 2
    assert dict(p.proxy_routing) == {"external_multi_elective": "teaching_section",
                                     "in_school": "duty_proxy",
                                     "pe_music_specialty": "pe_music_group"}


def test_nanning_preset_is_seed_003():
    p = load_policy("nanning")
    assert p.outcome_uploads_per_semester == 5
    assert p.outcome_uploads_per_year is None
    assert p.outcome_selections_per_year == 6
    assert (p.performance_uploads_per_year, p.performance_selections_per_year) == (20, 10)


def test_template_preset_fills_every_blank_it_holds():
    p = load_policy("template")
    assert p.outcome_uploads_per_semester >= 1      # 每學期其上傳件數至多○件
    assert p.performance_uploads_per_year >= 10     # 每學年其上傳件數至多○件
    assert 1 <= p.retention_years <= 5              # 保存○年（以1年至5年間為宜）
    text = (PRESETS_DIR / "template.toml").read_text("utf-8")
    for key in ("title", "uploads_per_semester", "uploads_per_year", "departed_years"):
        assert re.search(rf"^{key} = .*# blank ○", text, re.M), f"{key}: choice not documented"


def test_load_policy_accepts_a_file_path(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text(BASE, encoding="utf-8")
    assert load_policy(str(path)).title == "測試高級中學"


def test_load_policy_accepts_utf8_with_bom(tmp_path):
    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbf" + BASE.encode("utf-8"))
    assert load_policy(str(path)).name == "sample"


def test_load_policy_explains_a_big5_file(tmp_path):
    path = tmp_path / "big5.toml"
    path.write_bytes(BASE.encode("big5"))
    with pytest.raises(PolicyFileError, match="UTF-8"):
        load_policy(str(path))


def test_load_policy_unknown_name_lists_the_presets():
    with pytest.raises(PolicyFileError) as info:
        load_policy("no-such-school")
    assert "no-such-school" in str(info.value)
    assert "xinzhuang" in str(info.value)


def test_parsed_policy_holds_bytes_and_defaults():
    text = edit(BASE, "course_outcome", "uploads_per_year", None)
    text = edit(text, "performance", "uploads_per_year", None)
    text = text.replace("[guardians]\nmay_act = true\n", "")
    p = parse(text)
    assert p.course_outcome.document == FileRule(("pdf", "jpg", "png"), 4 * MB)
    assert p.consultation_record.document.max_bytes == 2 * MB
    assert p.outcome_uploads_per_year is None
    assert p.performance_uploads_per_year is None
    assert p.guardians_may_act is True
    assert p.course_outcome.external_link is False
    assert p.performance.external_link is True


# --------------------------------------------------------------------------------------------
# National rule: at the limit passes, one beyond is refused naming rule, path and value
# --------------------------------------------------------------------------------------------

def test_base_sample_is_valid():
    assert parse(BASE).name == "sample"


def test_outcome_selections_6_ok_7_refused():
    assert parse(edit(BASE, "course_outcome", "selections_per_year", "6"))
    msg = only_message(edit(BASE, "course_outcome", "selections_per_year", "7"))
    assert msg == ("course_outcome.selections_per_year = 7：超過全國規定上限 6"
                   "（作業要點第四點：課程學習成果每學年至多勾選 6 件）")


def test_performance_selections_10_ok_11_refused():
    assert parse(edit(BASE, "performance", "selections_per_year", "10"))
    msg = only_message(edit(BASE, "performance", "selections_per_year", "11"))
    assert msg.startswith("performance.selections_per_year = 11：超過全國規定上限 10")
    assert "作業要點第四點：多元表現每學年至多勾選 10 件" in msg


@pytest.mark.parametrize("section", ["course_outcome", "performance"])
def test_selections_1_ok_0_refused(section):
    assert parse(edit(BASE, section, "selections_per_year", "1"))
    msg = only_message(edit(BASE, section, "selections_per_year", "0"))
    assert msg.startswith(f"{section}.selections_per_year = 0：低於下限 1")


def test_receipt_3_days_ok_2_refused():
    assert parse(edit(BASE, "receipt", "confirmation_days", "3")).receipt_confirmation_days == 3
    msg = only_message(edit(BASE, "receipt", "confirmation_days", "2"))
    assert msg.startswith("receipt.confirmation_days = 2：少於全國規定下限 3 日")
    assert "作業要點第四點：收訖明細之確認期間不得少於 3 日" in msg


@pytest.mark.parametrize("years", [1, 5])
def test_retention_1_and_5_years_ok(years):
    assert parse(edit(BASE, "retention", "departed_years", str(years))).retention_years == years


@pytest.mark.parametrize("years", [0, 6])
def test_retention_0_and_6_years_refused(years):
    msg = only_message(edit(BASE, "retention", "departed_years", str(years)))
    assert msg.startswith(f"retention.departed_years = {years}：不在全國規定範圍 1–5 年內")
    assert "補充規定範例第八點" in msg


@pytest.mark.parametrize("section", ["course_outcome", "performance", "consultation_record"])
def test_description_100_ok_101_refused(section):
    assert parse(edit(BASE, section, "description_max_chars", "100"))
    msg = only_message(edit(BASE, section, "description_max_chars", "101"))
    assert msg.startswith(f"{section}.description_max_chars = 101：超過全國規定上限 100 字")
    assert "簡述每件以 100 字為限" in msg


FILE_LIMITS = [  # section, slot, kinds literal, national MB
    ("course_outcome", "document", '["pdf", "jpg", "png"]', 4),
    ("course_outcome", "media", '["mp3", "mp4"]', 10),
    ("performance", "document", '["pdf", "jpg", "png"]', 4),
    ("performance", "media", '["mp3", "mp4"]', 10),
    ("consultation_record", "document", '["pdf", "jpg", "png"]', 2),
]


@pytest.mark.parametrize("section, slot, kinds, limit", FILE_LIMITS)
def test_file_size_at_national_limit_ok_above_refused(section, slot, kinds, limit):
    at = parse(edit(BASE, section, slot, f"{{ kinds = {kinds}, max_mb = {limit} }}"))
    assert getattr(at.item_rule(section), slot).max_bytes == limit * MB
    smaller = parse(edit(BASE, section, slot, f"{{ kinds = {kinds}, max_mb = 1.5 }}"))
    assert getattr(smaller.item_rule(section), slot).max_bytes == 3 * MB // 2
    msg = only_message(edit(BASE, section, slot, f"{{ kinds = {kinds}, max_mb = {limit + 1} }}"))
    assert msg.startswith(f"{section}.{slot}.max_mb = {limit + 1}：超過全國規定上限 {limit} MB")
    assert "檔案格式、大小" in msg


def test_file_size_a_byte_above_the_limit_is_refused():
    msg = only_message(edit(BASE, "course_outcome", "document",
                            '{ kinds = ["pdf"], max_mb = 4.000001 }'))
    assert "course_outcome.document.max_mb = 4.000001" in msg


@pytest.mark.parametrize("mb", ["0", "-1"])
def test_file_size_must_be_positive(mb):
    text = edit(BASE, "course_outcome", "document", f'{{ kinds = ["pdf"], max_mb = {mb} }}')
    msg = only_message(text)
    assert msg.startswith(f"course_outcome.document.max_mb = {mb}：檔案大小上限須大於 0")


def test_stricter_file_kinds_are_allowed():
    p = parse(edit(BASE, "performance", "document", '{ kinds = ["pdf"], max_mb = 3 }'))
    assert p.performance.document == FileRule(("pdf",), 3 * MB)


@pytest.mark.parametrize("slot, kinds, foreign", [
    ("document", '["pdf", "gif"]', "gif"),
    ("document", '["pdf", "mp4"]', "mp4"),       # a media kind is not a document kind
    ("media", '["mp3", "wav"]', "wav"),
    ("media", '["MP4"]', "MP4"),
])
def test_unknown_file_kind_refused(slot, kinds, foreign):
    msg = only_message(edit(BASE, "course_outcome", slot, f"{{ kinds = {kinds}, max_mb = 1 }}"))
    assert msg.startswith(f"course_outcome.{slot}.kinds = {kinds}：含全國規定以外的檔案格式 {foreign}")


def test_empty_file_kinds_refused():
    msg = only_message(edit(BASE, "performance", "media", "{ kinds = [], max_mb = 10 }"))
    assert msg.startswith("performance.media.kinds = []：至少須列出一種檔案格式")


def test_duplicate_file_kinds_refused():
    msg = only_message(edit(BASE, "performance", "media",
                            '{ kinds = ["mp3", "mp3"], max_mb = 10 }'))
    assert "檔案格式重複：mp3" in msg


def test_consultation_record_takes_no_media():
    msg = only_message(edit(BASE, "consultation_record", "media",
                            '{ kinds = ["mp3"], max_mb = 1 }'))
    assert msg.startswith("consultation_record.media：全國規定課程諮詢紀錄沒有影音檔案")


def test_a_kind_may_omit_a_slot():
    p = parse(edit(BASE, "course_outcome", "media", None))
    assert p.course_outcome.media is None


def test_external_link_only_for_performances():
    msg = only_message(edit(BASE, "course_outcome", "external_link", "true"))
    assert msg.startswith("course_outcome.external_link = true：課程學習成果不得設外部連結")
    assert parse(edit(BASE, "performance", "external_link", "false")).performance.external_link \
        is False


@pytest.mark.parametrize("section, key", [("course_outcome", "uploads_per_semester"),
                                          ("course_outcome", "uploads_per_year"),
                                          ("performance", "uploads_per_year")])
def test_upload_caps_must_be_positive(section, key):
    msg = refused(edit(BASE, section, key, "0"))[0]
    assert msg.startswith(f"{section}.{key} = 0：上傳件數上限須至少 1")


@pytest.mark.parametrize("per_year", [6, 9, 12])
def test_outcome_year_cap_between_one_and_two_semesters_ok(per_year):
    text = edit(BASE, "course_outcome", "uploads_per_year", str(per_year))
    assert parse(text).outcome_uploads_per_year == per_year


def test_outcome_year_cap_below_one_semester_refused():
    msg = only_message(edit(BASE, "course_outcome", "uploads_per_year", "5"))
    assert msg.startswith("course_outcome.uploads_per_year = 5：少於每學期上限 6")


def test_outcome_year_cap_above_two_semesters_refused():
    msg = only_message(edit(BASE, "course_outcome", "uploads_per_year", "13"))
    assert msg.startswith("course_outcome.uploads_per_year = 13：超過每學期上限的兩倍 12")


def test_outcome_selection_cannot_exceed_what_a_year_lets_students_upload():
    text = edit(BASE, "course_outcome", "uploads_per_semester", "2")
    text = edit(text, "course_outcome", "uploads_per_year", None)
    assert parse(edit(text, "course_outcome", "selections_per_year", "4"))
    msg = only_message(edit(text, "course_outcome", "selections_per_year", "5"))
    assert msg.startswith("course_outcome.selections_per_year = 5：超過學校每學年可上傳件數 4")
    text = edit(BASE, "course_outcome", "uploads_per_semester", "3")
    text = edit(text, "course_outcome", "uploads_per_year", "5")
    msg = only_message(edit(text, "course_outcome", "selections_per_year", "6"))
    assert "超過學校每學年可上傳件數 5（course_outcome.uploads_per_year）" in msg


def test_performance_selection_cannot_exceed_the_upload_cap():
    text = edit(BASE, "performance", "uploads_per_year", "8")
    assert parse(edit(text, "performance", "selections_per_year", "8"))
    msg = only_message(edit(text, "performance", "selections_per_year", "9"))
    assert msg.startswith("performance.selections_per_year = 9：超過學校每學年可上傳件數 8")


@pytest.mark.parametrize("division", ["day", "continuing"])
def test_division_day_or_continuing(division):
    assert parse(edit(BASE, "", "division", f'"{division}"')).division == division


def test_unknown_division_refused():
    msg = only_message(edit(BASE, "", "division", '"night"'))
    assert msg.startswith('division = "night"：不是可用的學制')


def test_certification_tail_0_ok_negative_refused():
    assert parse(edit(BASE, "calendar", "certification_tail_working_days", "0"))
    msg = only_message(edit(BASE, "calendar", "certification_tail_working_days", "-1"))
    assert msg.startswith("calendar.certification_tail_working_days = -1：不得為負數")


def test_proxy_routing_takes_roles_or_duty_proxy():
    p = parse(edit(BASE, "proxy_routing", "in_school", '"registry"'))
    assert p.proxy_routing["in_school"] == "registry"
    msg = only_message(edit(BASE, "proxy_routing", "in_school", '"dean"'))
    assert msg.startswith('proxy_routing.in_school = "dean"：不是可用的角色代碼')


def test_proxy_routing_may_be_empty_or_absent():
    text = BASE[:BASE.index("[proxy_routing]")]
    assert dict(parse(text).proxy_routing) == {}
    assert dict(parse(text + "[proxy_routing]\n").proxy_routing) == {}


# --------------------------------------------------------------------------------------------
# File format: unknown, missing, mistyped keys
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("section, key, where", [
    ("", "colour", "最上層"),
    ("course_outcome", "selection_per_year", "[course_outcome] "),
    ("receipt", "confirmation_day", "[receipt] "),
])
def test_unknown_key_refused(section, key, where):
    msg = refused(edit(BASE, section, key, "6"))[0]
    path = f"{section}.{key}" if section else key
    assert msg.startswith(f"{path} = 6：未知的設定項；{where}可用的設定項：")
    assert "拼錯" in msg


def test_unknown_key_inside_a_file_rule_refused():
    msg = only_message(edit(BASE, "course_outcome", "document",
                            '{ kinds = ["pdf"], max_mb = 4, max_kb = 10 }'))
    assert msg.startswith("course_outcome.document.max_kb = 10：未知的設定項")


def test_unknown_table_refused():
    msg = only_message(BASE + "\n[holidays]\nextra = 1\n")
    assert msg.startswith("holidays = { extra = 1 }：未知的設定項")


def test_unknown_proxy_course_kind_refused():
    msg = only_message(edit(BASE, "proxy_routing", "night_school", '"registry"'))
    assert msg.startswith('proxy_routing.night_school = "registry"：未知的課程類別')


@pytest.mark.parametrize("section, key", [
    ("", "title"),
    ("course_outcome", "selections_per_year"),
    ("performance", "description_max_chars"),
    ("receipt", "confirmation_days"),
    ("calendar", "outcome_upload_close_days_after_closing_ceremony"),
])
def test_missing_key_refused(section, key):
    msg = only_message(edit(BASE, section, key, None))
    path = f"{section}.{key}" if section else key
    assert msg.startswith(f"{path}：缺少必要的設定項")


def test_missing_table_refused():
    text = BASE.replace("[retention]\ndeparted_years = 2\n", "")
    assert only_message(text).startswith("retention：缺少必要的設定表 [retention]")


def test_missing_kinds_in_a_file_rule_refused():
    msg = only_message(edit(BASE, "performance", "media", "{ max_mb = 10 }"))
    assert msg.startswith("performance.media.kinds：缺少必要的設定項")


@pytest.mark.parametrize("section, key, literal, expected", [
    ("course_outcome", "selections_per_year", '"6"', "整數"),
    ("course_outcome", "selections_per_year", "6.0", "整數"),
    ("receipt", "confirmation_days", "true", "整數"),
    ("guardians", "may_act", '"yes"', "布林值"),
    ("", "title", "5", "字串"),
    ("course_outcome", "document", '"pdf"', "表格"),
    ("course_outcome", "media", '{ kinds = "mp3", max_mb = 10 }', "字串陣列"),
    ("course_outcome", "media", '{ kinds = ["mp3"], max_mb = "10" }', "數字"),
])
def test_wrong_type_refused(section, key, literal, expected):
    msg = only_message(edit(BASE, section, key, literal))
    assert "型別錯誤，應為" + expected in msg
    path = f"{section}.{key}" if section else key
    assert msg.startswith(path)


def test_toml_syntax_error_names_the_line():
    text = BASE.replace("selections_per_year = 6", "selections_per_year = ")
    with pytest.raises(PolicyFileError) as info:
        parse(text)
    line = BASE.splitlines().index("selections_per_year = 6") + 1
    assert info.value.line == line
    assert f"第 {line} 行" in str(info.value)
    assert "test.toml" in str(info.value)


def test_every_violation_is_reported_at_once():
    text = edit(BASE, "course_outcome", "selections_per_year", "7")
    text = edit(text, "receipt", "confirmation_days", "2")
    text = edit(text, "retention", "departed_years", "6")
    text = edit(text, "consultation_record", "document", '{ kinds = ["pdf", "gif"], max_mb = 3 }')
    text = edit(text, "course_outcome", "selection_per_year", "6")       # typo
    text = edit(text, "calendar", "certification_tail_working_days", None)
    text = edit(text, "guardians", "may_act", '"yes"')
    with pytest.raises(PolicyError) as info:
        parse(text)
    paths = {v.path for v in info.value.violations}
    assert paths == {"course_outcome.selections_per_year", "receipt.confirmation_days",
                     "retention.departed_years", "consultation_record.document.kinds",
                     "consultation_record.document.max_mb", "course_outcome.selection_per_year",
                     "calendar.certification_tail_working_days", "guardians.may_act"}
    text_of_error = str(info.value)
    assert "test.toml" in text_of_error and "8 項" in text_of_error
    for message in info.value.messages:
        assert message in text_of_error


def test_violation_carries_path_value_rule_and_limit():
    with pytest.raises(PolicyError) as info:
        parse(edit(BASE, "receipt", "confirmation_days", "2"))
    (v,) = info.value.violations
    assert (v.path, v.value, v.limit) == ("receipt.confirmation_days", 2, 3)
    assert "作業要點第四點" in v.rule
    assert isinstance(info.value, ValueError)


def test_validate_policy_checks_a_policy_built_in_code():
    p = dataclasses.replace(load_policy("xinzhuang"), retention_years=7,
                            receipt_confirmation_days=1)
    messages = sorted(v.message for v in validate_policy(p))
    assert len(messages) == 2
    assert messages[0].startswith("receipt.confirmation_days = 1：少於全國規定下限 3 日")
    assert messages[1].startswith("retention.departed_years = 7：不在全國規定範圍 1–5 年內")


# --------------------------------------------------------------------------------------------
# TOML round trip and describe()
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["xinzhuang", "nanning", "template"])
def test_round_trip_of_each_preset(name):
    p = load_policy(name)
    assert parse_policy(policy_to_toml(p), source="again") == p


def test_round_trip_of_unusual_values():
    base = parse(BASE)
    p = dataclasses.replace(
        base,
        title='「引號」"quoted" \\ back\tslash',
        outcome_uploads_per_year=None,
        performance_uploads_per_year=None,
        guardians_may_act=False,
        course_outcome=dataclasses.replace(
            base.course_outcome, media=None,
            document=FileRule(("png",), 3 * MB + 12345)),
        proxy_routing=MappingProxyType({}),
    )
    assert validate_policy(p) == []
    again = parse_policy(policy_to_toml(p), source="again")
    assert again == p
    assert again.course_outcome.document.max_bytes == 3 * MB + 12345


def test_describe_shows_effective_values_in_chinese():
    rows = dict(describe(load_policy("xinzhuang")))
    assert rows["學校"] == "高雄市立新莊高級中學"
    assert rows["學制"].startswith("日間部")
    assert rows["課程學習成果：每學期上傳上限"] == "6 件"
    assert rows["多元表現：每學年上傳上限"] == "學校未設上限"
    assert rows["離校生資料保存年限"] == "2 年"
    assert rows["課程諮詢紀錄：文件"] == "pdf、jpg、png，每件 ≤ 2 MB"
    assert "教學組" in rows["代理認證：多元選修之外校教師"]
    assert "職務代理人" in rows["代理認證：校內教師"]
    nanning = dict(describe(load_policy("nanning")))
    assert "10 件" in nanning["課程學習成果：每學年上傳上限"]  # two semesters of 5


# --------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------

def run(*args: str):
    return CliRunner().invoke(policy_cli, list(args))


@pytest.mark.parametrize("name, title", [("xinzhuang", "高雄市立新莊高級中學"),
                                         ("nanning", "臺南市立南寧高級中學")])
def test_cli_check_valid_preset(name, title):
    result = run("check", name)
    assert result.exit_code == 0
    assert result.stdout == f"OK: {title} ({name})\n"


def test_cli_check_valid_file(tmp_path):
    path = tmp_path / "ok.toml"
    path.write_text(BASE, encoding="utf-8")
    result = run("check", str(path))
    assert result.exit_code == 0
    assert result.stdout == "OK: 測試高級中學 (sample)\n"


def test_cli_check_invalid_file_prints_each_violation_and_exits_1(tmp_path):
    text = edit(BASE, "course_outcome", "selections_per_year", "7")
    text = edit(text, "receipt", "confirmation_days", "2")
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    result = run("check", str(path))
    assert result.exit_code == 1
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines == [
        "course_outcome.selections_per_year = 7：超過全國規定上限 6"
        "（作業要點第四點：課程學習成果每學年至多勾選 6 件）",
        "receipt.confirmation_days = 2：少於全國規定下限 3 日"
        "（作業要點第四點：收訖明細之確認期間不得少於 3 日）",
    ]


def test_cli_check_syntax_error_exits_2_with_line(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text('name = "x"\ntitle = \n', encoding="utf-8")
    result = run("check", str(path))
    assert result.exit_code == 2
    assert "TOML 語法錯誤" in result.stderr
    assert "第 2 行" in result.stderr


def test_cli_check_missing_file_exits_2(tmp_path):
    result = run("check", str(tmp_path / "absent.toml"))
    assert result.exit_code == 2
    assert "找不到補充規定檔案" in result.stderr
    assert "absent.toml" in result.stderr


def test_cli_show_prints_an_aligned_table():
    result = run("show", "nanning")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[1].split()[-1] == "臺南市立南寧高級中學"
    assert any(line.startswith("多元表現：每學年上傳上限") and line.endswith("20 件")
               for line in lines)

    def value_column(line: str) -> int:  # display column where the value starts
        label, _, _ = line.partition("  ")
        width = sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in label)
        return width + len(line[len(label):]) - len(line[len(label):].lstrip(" "))

    assert len({value_column(line) for line in lines}) == 1


def test_cli_show_invalid_file_exits_1(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(edit(BASE, "retention", "departed_years", "9"), encoding="utf-8")
    result = run("show", str(path))
    assert result.exit_code == 1
    assert "retention.departed_years = 9" in result.stderr
