"""Central submission batch 提交批次: one per category and period (seed 002's flow
提交資料 → 產生收訖明細 → 學生確認).

    prepared ──export──▶ exported ──submit──▶ submitted ──import_receipt──▶ receipt_imported
        │                 │  ▲ (export again)                                   │
        └──cancel──▶ cancelled ◀──cancel──┘                          open_confirmation
                                                                                  ▼
                                               closed ◀──close── confirmation_open

`submit` is the staff's confirmation that the upload to the central database was done; the
batch's items move to submitted_central then (workflows/, not here).
"""
from statemachine import Event, State, StateMachine


class BatchMachine(StateMachine):
    prepared = State("已建立", initial=True)
    exported = State("已匯出名冊")
    submitted = State("已上傳中央資料庫")
    receipt_imported = State("已匯入收訖明細")
    confirmation_open = State("學生確認中")
    closed = State("已結束", final=True)
    cancelled = State("已取消", final=True)

    export = Event(prepared.to(exported) | exported.to(exported), name="匯出名冊")
    submit = Event(exported.to(submitted), name="確認已上傳中央資料庫")
    import_receipt = Event(submitted.to(receipt_imported), name="匯入收訖明細")
    open_confirmation = Event(receipt_imported.to(confirmation_open), name="開放學生確認")
    close = Event(confirmation_open.to(closed), name="確認期間結束")
    cancel = Event(prepared.to(cancelled) | exported.to(cancelled), name="取消批次")
