"""Threads released together: the race tests' one helper."""
from __future__ import annotations

import threading


def race(n: int, work, *, wait: float = 60, join: float = 120) -> list[tuple[str, object]]:
    """work(i) in n threads released together at a barrier: ("ok", result) or ("error", exception)
    each, in thread order."""
    barrier = threading.Barrier(n)
    results: list[tuple[str, object] | None] = [None] * n

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=wait)
            results[i] = ("ok", work(i))
        except BaseException as error:  # noqa: BLE001 - collected and checked by the test
            results[i] = ("error", error)

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=join)
    assert not any(thread.is_alive() for thread in threads), "a thread hung"
    assert None not in results
    return results
