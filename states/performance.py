"""Multiple performance 多元表現: like a course outcome, without certification.

    uploaded ──select──▶ selected ──submit_central──▶ submitted_central ──confirm_receipt──▶ receipt_confirmed
       │      ◀─(select)─ unselected ◀─unselect─┘                        ├─deem_confirmed──▶ deemed_confirmed
    delete ▶ deleted                                                      └─dispute──▶ disputed ──resolve──▶ resolved
    resubmit_central: resolved ▶ submitted_central (a dispute settled by correcting the data goes
      to the central database again in a resubmission batch; an answered one stays resolved)
"""
from statemachine import Event, State, StateMachine


class PerformanceMachine(StateMachine):
    uploaded = State("已上傳", initial=True)
    selected = State("已勾選")
    unselected = State("未勾選")
    submitted_central = State("已提交中央資料庫")
    receipt_confirmed = State("已確認收訖", final=True)
    deemed_confirmed = State("逾期視為確認", final=True)
    disputed = State("提出疑義")
    resolved = State("疑義已處理")
    deleted = State("已刪除", final=True)

    select = Event(uploaded.to(selected) | unselected.to(selected), name="勾選")
    unselect = Event(selected.to(unselected), name="取消勾選")
    submit_central = Event(selected.to(submitted_central), name="提交中央資料庫")
    confirm_receipt = Event(submitted_central.to(receipt_confirmed), name="確認收訖")
    deem_confirmed = Event(submitted_central.to(deemed_confirmed), name="逾期視為確認")
    dispute = Event(submitted_central.to(disputed), name="提出疑義")
    resolve = Event(disputed.to(resolved), name="處理疑義")
    # A resubmission batch (workflows/central/batches) carries the corrected item to the central
    # database again.
    resubmit_central = Event(resolved.to(submitted_central), name="重新提交中央資料庫")
    delete = Event(uploaded.to(deleted) | unselected.to(deleted), name="刪除")
