"""Review workflow: cases, determinations, notices, appeals (RULES.md section 4)."""
