"""People and who may act: accounts, passwords, sign-in sessions, access, routing of work to teachers, proxies 職務代理, offices 處室 and the working group 工作小組."""
