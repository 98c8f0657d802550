"""Staff-entered records 學校端登錄資料: cadre records 幹部紀錄, grades 學業成績, course consultation
records 課程諮詢紀錄 and career-group exploration 學群探索. Each kind has its keepers (who enter
and correct it: its owner office, or for consultation records each consultant his own; their proxy
while unavailable), a CSV import with row-level errors, and an audit row for every entry,
correction and deletion. Cadre records and grades are
what the semester batches carry; consultation records never go to the central database.
One engine (engine.py) enters, corrects, deletes, lists and imports every kind; each kind's module
says only what is its own. Grade corrections (grade_corrections.py) are the way to change a grade
once its term is locked.
"""
