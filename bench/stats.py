"""Summaries that survive noisy machines: medians and p95, never lone absolute times."""

import statistics
from dataclasses import dataclass


@dataclass(frozen=True)
class Summary:
    name: str
    runs: int
    p50_ms: float
    p95_ms: float

    def line(self) -> str:
        return (
            f"{self.name:<44} n={self.runs:<4} p50={self.p50_ms:8.1f} ms  p95={self.p95_ms:8.1f} ms"
        )


def summarize(name: str, seconds: list[float]) -> Summary:
    ms = sorted(s * 1000 for s in seconds)
    p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
    return Summary(name, len(ms), statistics.median(ms), p95)


def ratio_line(label: str, ours: Summary, raw: Summary) -> str:
    return f"{label:<44} {ours.p50_ms / raw.p50_ms:5.2f}x raw (p50)"
