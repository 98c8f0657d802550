"""Receipt 收訖明細: one per student per central submission. The student confirms it matches
what they uploaded, or disputes it (疑義); at the end of the confirmation period it is deemed
confirmed 逾期視為確認.

    issued ──confirm──▶ confirmed
           ──dispute──▶ disputed
           ──deem_confirmed──▶ deemed_confirmed
"""
from statemachine import Event, State, StateMachine


class ReceiptMachine(StateMachine):
    issued = State("待確認", initial=True)
    confirmed = State("已確認", final=True)
    disputed = State("提出疑義", final=True)
    deemed_confirmed = State("逾期視為確認", final=True)

    confirm = Event(issued.to(confirmed), name="確認收訖")
    dispute = Event(issued.to(disputed), name="提出疑義")
    deem_confirmed = Event(issued.to(deemed_confirmed), name="逾期視為確認")
