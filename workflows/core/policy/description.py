"""A policy's effective values as people read them: (zh-TW label, value) rows, with the national
limit beside each number a school may choose, for `portfolio policy show`."""
from __future__ import annotations

from persistence.vocabulary import WINDOW_LABELS
from workflows.core.policy.model import FileRule, ItemRule, Policy, mb_text
from workflows.core.policy.national import NATIONAL
from workflows.core.policy.terms import (COURSE_KINDS, DISPUTE_CATEGORIES, DUTY_PROXY, KIND_LABELS,
                                         SLOTS, slot_label)
from workflows.core.roles import DIVISION_LABELS, ROLE_LABELS, Division, Role


def describe(policy: Policy) -> list[tuple[str, str]]:
    """The effective values as (zh-TW label, value) rows, for `portfolio policy show`."""
    rows: list[tuple[str, str]] = [
        ("範本代號", policy.name),
        ("學校", policy.title),
        ("學制", _division_label(policy.division)),
    ]
    o = "課程學習成果"
    rows.append((f"{o}：每學期上傳上限", f"{policy.outcome_uploads_per_semester} 件"))
    if policy.outcome_uploads_per_year is not None:
        rows.append((f"{o}：每學年上傳上限", f"{policy.outcome_uploads_per_year} 件"))
    else:
        rows.append((f"{o}：每學年上傳上限",
                     f"未另訂（兩學期合計 {policy.outcome_uploads_per_semester * 2} 件）"))
    rows.append((f"{o}：每學年勾選上限", f"{policy.outcome_selections_per_year} 件"
                                    f"（全國上限 {NATIONAL.outcome_selections_per_year_max}）"))
    rows += _item_rows("course_outcome", policy.course_outcome)
    p = "多元表現"
    rows.append((f"{p}：每學年上傳上限", f"{policy.performance_uploads_per_year} 件"
                 if policy.performance_uploads_per_year is not None else "學校未設上限"))
    rows.append((f"{p}：每學年勾選上限", f"{policy.performance_selections_per_year} 件"
                                    f"（全國上限 {NATIONAL.performance_selections_per_year_max}）"))
    rows += _item_rows("performance", policy.performance)
    rows += _item_rows("consultation_record", policy.consultation_record)
    rows += [
        ("收訖明細確認期間", f"{policy.receipt_confirmation_days} 日"
                      f"（全國下限 {NATIONAL.receipt_confirmation_days_min} 日）"),
        ("離校生資料保存年限", f"{policy.retention_years} 年"),
        ("教師認證延長期間", f"學生上傳截止後 {policy.certification_tail_working_days} 個工作日"),
        ("課程學習成果上傳截止", f"休業式後 {policy.outcome_upload_close_days_after_closing} 日"),
        ("家長或法定代理人代為操作", "可（上傳、送出、勾選、確認）" if policy.guardians_may_act
         else "不可"),
    ]
    if policy.proxy_routing:
        for key, target in policy.proxy_routing.items():
            rows.append((f"代理認證：{COURSE_KINDS.get(key, key)}", _target_label(target)))
    else:
        rows.append(("代理認證", "未設定（依工作小組代理人名單）"))
    for key, target in policy.dispute_offices.items():
        rows.append((f"疑義處理：{DISPUTE_CATEGORIES.get(key, key)}", _target_label(target)))
    rows.append(("截止提醒寄送時間", f"臺北時間 {policy.reminder_hour:02d}:00"))
    for kind, days in policy.reminder_days_before.items():
        rows.append((f"截止提醒：{WINDOW_LABELS[kind]}", f"截止日前 {days} 日" if days else "截止當日"))
    return rows


def _item_rows(kind: str, item: ItemRule) -> list[tuple[str, str]]:
    label = KIND_LABELS[kind]
    rows = []
    for slot in SLOTS:
        rule: FileRule | None = getattr(item, slot)
        name = slot_label(kind, slot)
        if rule is None:
            if (kind, slot) in NATIONAL.file_max_bytes:
                rows.append((f"{label}：{name}", "不收"))
            continue
        rows.append((f"{label}：{name}",
                     f"{'、'.join(rule.kinds)}，每件 ≤ {mb_text(rule.max_bytes)}"))
    rows.append((f"{label}：簡述", f"每件 ≤ {item.description_max_chars} 字"))
    if item.external_link or kind in NATIONAL.external_link_kinds:
        rows.append((f"{label}：外部連結", "可" if item.external_link else "不可"))
    return rows


def _division_label(code: str) -> str:
    try:
        return f"{DIVISION_LABELS[Division(code)]}（{code}）"
    except ValueError:
        return code


def _target_label(target: str) -> str:
    if target == DUTY_PROXY:
        return f"職務代理人（{DUTY_PROXY}）"
    try:
        return f"{ROLE_LABELS[Role(target)]}（{target}）"
    except ValueError:
        return target
