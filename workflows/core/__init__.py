"""The kernel every process uses: the unit of work, the one transition path and audit writer
(transitions), errors, actors, the clock, roles, the stale-edit guard (guards), the rules for
free text and typed dates (fields), whole numbers (numbers), spreadsheet-safe text
(spreadsheet_text) and the school policy (policy)."""
