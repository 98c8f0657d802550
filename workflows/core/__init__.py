"""The kernel every process uses: the unit of work, the one transition path and audit writer, errors, actors, the clock, roles and the school policy."""
