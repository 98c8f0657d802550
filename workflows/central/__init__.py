"""The central database 中央資料庫: roster 名冊, batches 批次, precheck, receipts 收訖明細 and disputes 疑義, transfer packages, the student portfolio view."""
