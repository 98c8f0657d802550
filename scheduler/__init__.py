"""APScheduler wrappers only: when to call the deadline sweeps, never what they do.

- `service.Service` turns every school's calendar into date triggers (window open, close and
  reminder moments, job ids derived from the window) in a SQLAlchemy job store in the same
  database, re-reads the calendar periodically so a moved window moves its jobs, runs a catch-up
  sweep periodically and once at start-up, and delivers the outbox.
- `leader` makes sure one scheduler acts at a time (PostgreSQL advisory lock; a file lock next
  to a SQLite database); a second one waits and takes over when the first dies.
- `jobs` holds the functions stored jobs name by reference.
- `process` is the `portfolio scheduler` process: schema check, leadership, signals, exit codes.

The effects themselves are `workflows.deadlines.run.run_due`: idempotent, set-based, explicit `now`.
"""
