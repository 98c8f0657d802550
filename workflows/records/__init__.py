"""Staff-entered records 學校端登錄資料: cadre records 幹部紀錄, grades 學業成績, course consultation
records 課程諮詢紀錄 and career-group exploration 學群探索. Each kind has its owner office (who
enters and corrects it, or that office's proxy while unavailable), a CSV import with row-level
errors, and an audit row for every entry, correction and deletion. Cadre records and grades are
what the semester batches carry; consultation records never go to the central database.
"""
