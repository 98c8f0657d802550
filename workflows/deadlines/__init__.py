"""Deadlines: the due run, the set-based sweeps at window boundaries, reminders, retention, the outbox and paper notices."""
