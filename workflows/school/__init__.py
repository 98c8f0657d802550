"""The school: schools, the calendar 作業期程 and its public feed, roster imports, course codes, file types, self-check 自我檢核 and trainings."""
