"""Grade-correction request 學生學業成績更正申請 (seed 002's 學生學業成績更正申請表): after the
grade-check day 成績檢核日 a grade changes only through this paper's path of signatures.

    drafted ─sign_teacher─▶ teacher_signed ─sign_clerk─▶ clerk_signed ─sign_registry_head─▶
    registry_head_signed ─sign_director─▶ director_signed ─sign_principal─▶ principal_signed
    ─enter_grades─▶ entered

Every signed state can be sent back (send_back) to drafted, where the teacher edits and signs
again; a draft can be withdrawn. Who may fire each event is workflows/records/grade_corrections.py's.
"""
from statemachine import Event, State, StateMachine


class GradeCorrectionMachine(StateMachine):
    drafted = State("草稿（待授課教師簽章）", initial=True)
    teacher_signed = State("授課教師已簽章")
    clerk_signed = State("承辦人已簽章")
    registry_head_signed = State("註冊組長已簽章")
    director_signed = State("教務主任已簽章")
    principal_signed = State("校長已核定")
    entered = State("已登錄更正", final=True)
    withdrawn = State("已撤回", final=True)

    sign_teacher = Event(drafted.to(teacher_signed), name="授課教師簽章")
    sign_clerk = Event(teacher_signed.to(clerk_signed), name="承辦人簽章")
    sign_registry_head = Event(clerk_signed.to(registry_head_signed), name="註冊組長簽章")
    sign_director = Event(registry_head_signed.to(director_signed), name="教務主任簽章")
    sign_principal = Event(director_signed.to(principal_signed), name="校長簽章")
    enter_grades = Event(principal_signed.to(entered), name="登錄人登錄更正成績")
    send_back = Event(teacher_signed.to(drafted) | clerk_signed.to(drafted) | registry_head_signed.to(drafted)
                      | director_signed.to(drafted) | principal_signed.to(drafted), name="退回")
    withdraw = Event(drafted.to(withdrawn), name="撤回申請")
