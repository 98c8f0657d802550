"""The stale-edit guard 防止覆寫: every page and API call that changes a row carries the version it
showed (`expected_version`); when the row has moved on since, nothing changes and the user hears
why (409). The one guard: items, receipts, records, grade corrections, the self-check form and
every other versioned row use it."""
from __future__ import annotations

from workflows.core.errors import Conflict


def require_current(row, expected_version: int | None, *, what: str,
                    then: str = "請重新載入確認後再操作；你的操作沒有生效。") -> None:
    """Refuse when the caller saw another version of `row` than it has now. `what` names the row
    as the user knows it (「這個項目」, 「這筆幹部紀錄」); `then` says what to do and that nothing
    happened. The words between are the same for every row: the user cannot tell who moved it on
    (another person, another tab, the scheduler). None means the caller did not say (a scripted
    call): no check."""
    if expected_version is None or expected_version == row.version:
        return
    details = {"current_version": row.version}
    if (state := getattr(row, "state", None)) is not None:
        details["state"] = state
    raise Conflict(f"{what}在你開啟頁面後已被變更（可能已被其他人修改或處理），{then}", **details)
