"""Course outcome 課程學習成果: uploaded by the student, certified 認證 by the course teacher,
selected 勾選 for the central database, confirmed on the receipt 收訖明細.

    draft ──submit──▶ submitted ──certify──▶ certified ──select──▶ selected ──submit_central──▶ submitted_central
      ▲  ◀─withdraw──    │  ▲                    │  ▲                │  ▲                         │
      │                reject resubmit  void_certification   unselect select              confirm_receipt ▶ receipt_confirmed
      │                  ▼  │                    ▼  │                ▼  │                 deem_confirmed  ▶ deemed_confirmed
      │               rejected                  draft            unselected             dispute ▶ disputed ──resolve──▶ resolved
    resubmit_central: resolved ▶ submitted_central (a dispute settled by correcting the data goes
      to the central database again in a resubmission batch; an answered one stays resolved)
    revoke_certification: certified ▶ submitted (teacher's undo)
    lock ▶ locked (upload window closed)   expire_certification: submitted ▶ not_certified
    delete: draft | rejected ▶ deleted

Windows, caps and who may act are rules of `workflows/`; this class only says which moves exist.
"""
from statemachine import Event, State, StateMachine


class CourseOutcomeMachine(StateMachine):
    draft = State("草稿", initial=True)
    submitted = State("已送出認證")
    certified = State("認證通過")
    rejected = State("認證失敗")
    selected = State("已勾選")
    unselected = State("未勾選")
    submitted_central = State("已提交中央資料庫")
    receipt_confirmed = State("已確認收訖", final=True)
    deemed_confirmed = State("逾期視為確認", final=True)
    disputed = State("提出疑義")
    resolved = State("疑義已處理")
    locked = State("逾期未送出", final=True)
    not_certified = State("逾期未認證", final=True)
    deleted = State("已刪除", final=True)

    submit = Event(draft.to(submitted), name="送出認證")
    withdraw = Event(submitted.to(draft), name="撤回")
    certify = Event(submitted.to(certified), name="認證通過")
    reject = Event(submitted.to(rejected), name="認證失敗")
    # The teacher's undo of a (bulk) certification while the certification window is open.
    revoke_certification = Event(certified.to(submitted), name="撤銷認證")
    resubmit = Event(rejected.to(submitted), name="重新送出認證")
    void_certification = Event(certified.to(draft) | unselected.to(draft), name="更換檔案，認證失效")
    select = Event(certified.to(selected) | unselected.to(selected), name="勾選")
    unselect = Event(selected.to(unselected), name="取消勾選")
    submit_central = Event(selected.to(submitted_central), name="提交中央資料庫")
    confirm_receipt = Event(submitted_central.to(receipt_confirmed), name="確認收訖")
    deem_confirmed = Event(submitted_central.to(deemed_confirmed), name="逾期視為確認")
    dispute = Event(submitted_central.to(disputed), name="提出疑義")
    resolve = Event(disputed.to(resolved), name="處理疑義")
    # A resubmission batch (workflows/central/batches) carries the corrected item to the central
    # database again.
    resubmit_central = Event(resolved.to(submitted_central), name="重新提交中央資料庫")
    lock = Event(draft.to(locked), name="上傳期限截止鎖定")
    expire_certification = Event(submitted.to(not_certified), name="認證期限截止")
    delete = Event(draft.to(deleted) | rejected.to(deleted), name="刪除")
