"""Items 學習歷程項目: upload 上傳, certify 認證, select 勾選, the item rules, the teacher queue, the item read models and the status read model."""
