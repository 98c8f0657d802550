"""Architecture checks: import-linter's custom contract types (pyproject.toml) and their tests."""
