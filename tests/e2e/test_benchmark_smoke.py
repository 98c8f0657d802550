"""The deemed-confirmation benchmark runs end to end on a tiny SQLite data set (no PostgreSQL):
it exits 0, prints its summary line with a ratio, and both sides did the same work."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "deem_confirmed.py"

SUMMARY = re.compile(r"^sqlite\s+receipts=300 items=600\s+baseline [\d.]+ s \([\d,]+ rows/s\)\s+"
                     r"sweep [\d.]+ s \([\d,]+ rows/s\)\s+ratio (\d+\.\d+)", re.MULTILINE)
COUNTS = re.compile(r"counts\s+baseline: receipts=(\d+) items=(\d+) audit=(\d+) .*"
                    r"sweep: receipts=(\d+) items=(\d+) audit=(\d+)")


def test_benchmark_runs_on_sqlite_and_both_sides_do_the_same_work(tmp_path):
    result = subprocess.run([sys.executable, str(SCRIPT), "--engine", "sqlite", "--receipts", "300"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=120,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stdout + result.stderr
    summary = SUMMARY.search(result.stdout)
    assert summary, result.stdout
    assert float(summary.group(1)) > 0
    counts = [tuple(map(int, match.groups())) for match in COUNTS.finditer(result.stdout)]
    assert counts, result.stdout
    for baseline_receipts, baseline_items, baseline_audit, *sweep in counts:
        assert (baseline_receipts, baseline_items, baseline_audit) == tuple(sweep) == (300, 600, 900)
    assert result.stdout.count("same work: yes") == len(counts)


def _bench(tmp_path, name: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "benchmarks" / name), "--engine", "sqlite", *args],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})


def test_the_pages_benchmark_runs_and_prints_a_ratio_per_page(tmp_path):
    result = _bench(tmp_path, "web_pages.py", "--schools", "2", "--repeat", "2")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "20,000 items in all" in result.stdout
    ratios = re.findall(r"^(.+): 10k [\d.]+ ms, 20k [\d.]+ ms, ratio (\d+\.\d+)", result.stdout, re.MULTILINE)
    assert [page for page, _ in ratios] == ["認證佇列 /teacher/queue", "作業狀態 /staff/status",
                                            "API /api/v1/status/summary"], result.stdout


def test_the_certify_benchmark_runs_under_gunicorn_and_checks_its_work(tmp_path):
    result = _bench(tmp_path, "web_certify.py", "--items", "30", "--rounds", "1", "--clients", "2")
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"^round 1 \(app first\): app [\d.]+ s = \d+ req/s, baseline [\d.]+ s = \d+ req/s, "
                     r"ratio \d+\.\d+$", result.stdout, re.MULTILINE), result.stdout
    assert re.search(r"^median: app \d+ req/s, baseline \d+ req/s, ratio \d+\.\d+", result.stdout, re.MULTILINE)


def test_the_certify_benchmark_times_the_floor_beside_app_and_baseline(pg_engine, tmp_path):
    """The floor (benchmarks/floor_certify.py) is a third server: it must really certify and audit
    every item it is sent, or its figure means nothing. --cpu splits each side's CPU per
    certification between its server, PostgreSQL and the client."""
    result = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "web_certify.py"), "--floor", "--cpu",
                             "--pg-url", pg_engine.url.render_as_string(hide_password=False),
                             "--items", "30", "--rounds", "2", "--clients", "2"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=300,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"^round 2 \(floor first\): floor [\d.]+ s = \d+ req/s, baseline .*, app .*, "
                     r"ratio \d+\.\d+, floor ratio \d+\.\d+$", result.stdout, re.MULTILINE), result.stdout
    assert re.search(r"^floor \(hand-written SQL.*\): \d+ req/s, ratio \d+\.\d+", result.stdout, re.MULTILINE)
    cpu = {side: tuple(map(float, parts)) for side, *parts in re.findall(
        r"^median cpu per certification, (\w+): server ([\d.]+) ms, PostgreSQL ([\d.]+) ms, "
        r"client ([\d.]+) ms, in all ([\d.]+) ms$", result.stdout, re.MULTILINE)}
    assert set(cpu) == {"app", "baseline", "floor"}, result.stdout
    # The app's server does far more per certification than the bare UPDATE's (sign-in, rules,
    # the machine, the audit row): a meter that saw neither server would not tell them apart.
    assert cpu["app"][0] > cpu["baseline"][0] > 0, result.stdout


def test_the_cpu_split_is_refused_on_sqlite(tmp_path):
    result = _bench(tmp_path, "web_certify.py", "--cpu")
    assert result.returncode == 2
    assert "--cpu reads Linux's /proc" in result.stderr


def test_the_floor_is_refused_on_sqlite(tmp_path):
    result = _bench(tmp_path, "web_certify.py", "--floor")
    assert result.returncode == 2
    assert "--floor is written for PostgreSQL" in result.stderr
