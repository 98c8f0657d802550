"""What a policy speaks of: the item kinds and their file slots, the categories its tables are
keyed by (course kinds for proxy routing, data categories for disputes, what a receipt covers),
and the zh-TW labels people read for them."""
from __future__ import annotations

from types import MappingProxyType
from typing import Mapping

from persistence.vocabulary import ROUTE_TEACHERS, ItemKind, ReceiptCategory, StaffRecordKind
from workflows.core.roles import Division

# The item kinds and the consultation record's file (課程諮詢紀錄附件), which a policy limits alike.
KIND_LABELS: dict[str, str] = {**ItemKind.labels(), "consultation_record": StaffRecordKind.CONSULTATION.label}
KINDS: tuple[str, ...] = tuple(KIND_LABELS)
SLOTS: tuple[str, ...] = ("document", "media")
# What a receipt (收訖明細) covers: an item kind, or a semester batch's records.
RECEIPT_CATEGORY_LABELS: Mapping[str, str] = MappingProxyType(ReceiptCategory.labels())


def receipt_category_label(category: str | None) -> str:
    """A receipt category as people read it (課程學習成果, 基本資料及幹部紀錄, 修課紀錄 …)."""
    return RECEIPT_CATEGORY_LABELS.get(category, category or "")


def slot_label(kind: str, slot: str) -> str:
    """What one file slot of an item kind is called (a performance's document is its proof)."""
    return {"document": "證明文件" if kind == "performance" else "文件", "media": "影音檔案"}[slot]


DUTY_PROXY = "duty_proxy"  # proxy_routing value: the teacher's own duty proxy (職務代理人), not a role
COURSE_KINDS: dict[str, str] = ROUTE_TEACHERS  # proxy_routing keys (seed 000 §五(四)2)
DIVISION_CODES: tuple[str, ...] = tuple(d.value for d in Division)
# [dispute_offices] keys: the categories of data a receipt covers (seed 002's batches).
DISPUTE_CATEGORIES: dict[str, str] = {
    "basic_data": "基本資料", "cadre": StaffRecordKind.CADRE.label, "courses": "修課紀錄（含成績）",
    **ItemKind.labels()}
