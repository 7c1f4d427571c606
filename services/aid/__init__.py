"""Aid (帮扶资金与项目): programs, budgets, disbursements and referrals. Built by its own issue."""
