"""Timing helpers: percentiles over repeated calls, bounded by a count and a time budget."""

from __future__ import annotations

import time
from collections.abc import Callable


def percentile(samples: list[float], q: float) -> float:
    """The q-th percentile (0..100) by nearest rank; samples in seconds."""
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1))))
    return ordered[rank]


def repeat(fn: Callable[[int], object], count: int, budget_s: float, warmup: int = 2) -> list[float]:
    """Call fn(i) up to count times (at least 5) or until budget_s passes; returns each call's seconds."""
    for i in range(warmup):
        fn(-1 - i)
    samples: list[float] = []
    deadline = time.perf_counter() + budget_s
    for i in range(count):
        t0 = time.perf_counter()
        fn(i)
        samples.append(time.perf_counter() - t0)
        if len(samples) >= 5 and time.perf_counter() > deadline:
            break
    return samples


def summary_ms(samples: list[float]) -> dict:
    """p50/p95 in milliseconds and the sample count."""
    return {"p50_ms": percentile(samples, 50) * 1000, "p95_ms": percentile(samples, 95) * 1000, "n": len(samples)}
