"""`portfolio backup` / `portfolio restore` as an operator runs them, on SQLite."""
from __future__ import annotations

import json

from tests.e2e.test_cli import portfolio


def test_backup_verify_restore_and_a_corrupt_backup(tmp_path):
    source = ["--db", f"sqlite:///{tmp_path / 'source.sqlite3'}", "--data-dir", str(tmp_path / "files")]
    assert portfolio(tmp_path, *source, "demo", "--password", "demo-pass-2026").returncode == 0

    made = portfolio(tmp_path, *source, "backup", str(tmp_path / "backup"))
    assert made.returncode == 0, made.stderr
    manifest_hash = (tmp_path / "backup" / "manifest.json.sha256").read_text().split()[0]
    assert manifest_hash in made.stdout and "檔案" in made.stdout

    verified = portfolio(tmp_path, "restore", "--verify-only", str(tmp_path / "backup"))
    assert verified.returncode == 0 and "雜湊皆相符" in verified.stdout, verified.stderr

    target = ["--to-db", f"sqlite:///{tmp_path / 'restored.sqlite3'}", "--to-data-dir", str(tmp_path / "restored")]
    restored = portfolio(tmp_path, "restore", str(tmp_path / "backup"), *target)
    assert restored.returncode == 0, restored.stderr
    assert "items:" in restored.stdout and "雜湊皆相符" in restored.stdout
    again = portfolio(tmp_path, "restore", str(tmp_path / "backup"), *target)
    assert again.returncode == 1 and "不是空的" in again.stderr

    # The restored copy backs up to the same rows: what was restored is what was saved.
    copy = portfolio(tmp_path, "--db", f"sqlite:///{tmp_path / 'restored.sqlite3'}", "--data-dir",
                     str(tmp_path / "restored"), "backup", str(tmp_path / "copy"))
    assert copy.returncode == 0, copy.stderr
    first = json.loads((tmp_path / "backup" / "manifest.json").read_text(encoding="utf-8"))
    second = json.loads((tmp_path / "copy" / "manifest.json").read_text(encoding="utf-8"))
    assert [(t["name"], t["sha256"]) for t in first["tables"]] == [(t["name"], t["sha256"]) for t in second["tables"]]
    assert first["files"] == second["files"]

    sha256 = first["files"][0]["sha256"]
    stored = tmp_path / "backup" / "files" / sha256[:2] / sha256[2:4] / sha256
    stored.chmod(0o644)
    stored.write_bytes(stored.read_bytes()[:-1] + b"\x00")
    corrupt = portfolio(tmp_path, "restore", "--verify-only", str(tmp_path / "backup"))
    assert corrupt.returncode == 1 and sha256 in corrupt.stderr
    refused = portfolio(tmp_path, "restore", str(tmp_path / "backup"),
                        "--to-db", f"sqlite:///{tmp_path / 'second.sqlite3'}", "--to-data-dir", str(tmp_path / "second"))
    assert refused.returncode == 1 and sha256 in refused.stderr
    assert not (tmp_path / "second.sqlite3").exists() and not (tmp_path / "second").exists()
