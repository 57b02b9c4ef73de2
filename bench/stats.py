"""Figures that survive noisy machines: medians and p95 over repetitions, each next to a raw
baseline measured in the same run, never lone absolute times."""

import math
import statistics
from dataclasses import asdict, dataclass, field
from typing import Any


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..1) of a non-empty list."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


@dataclass(frozen=True)
class Summary:
    """Latencies in ms, or a rate: for a rate, p50 is the rate of the median run and p95 the
    rate of the 95th-percentile (slow) run, so p95 is the low end."""

    runs: int
    p50: float
    p95: float
    unit: str = "ms"

    @classmethod
    def latency(cls, seconds: list[float]) -> "Summary":
        ms = [s * 1000 for s in seconds]
        return cls(len(ms), statistics.median(ms), percentile(ms, 0.95))

    @classmethod
    def single(cls, value: float, unit: str) -> "Summary":
        """A figure measured once (a whole batch): no spread to report."""
        return cls(1, value, value, unit)

    @classmethod
    def of(cls, values: list[float], unit: str) -> "Summary":
        """Plain values (counts, rates sampled directly)."""
        return cls(len(values), statistics.median(values), percentile(values, 0.95), unit)

    @classmethod
    def rate(cls, units: float, seconds: list[float], unit: str) -> "Summary":
        """`units` of work (jobs, pages) done in each of the timed runs."""
        return cls(
            len(seconds),
            units / statistics.median(seconds),
            units / percentile(seconds, 0.95),
            unit,
        )


@dataclass
class Row:
    """One line of the results table: a Docket figure, its raw baseline and its target."""

    bench: str
    figure: str
    ours: Summary
    raw: Summary | None = None
    target: str = ""
    met: bool | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        if self.raw is None or self.raw.p50 == 0:
            return None
        return self.ours.p50 / self.raw.p50

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "ratio": self.ratio}


def ratio_ok(ratio: float | None) -> bool:
    return ratio is not None and math.isfinite(ratio)


def within(row: Row, p50_max: float | None = None, ratio_max: float | None = None) -> bool:
    """Latency targets: p50 at most `p50_max` ms and at most `ratio_max` times raw."""
    ok = p50_max is None or row.ours.p50 <= p50_max
    if ratio_max is not None:
        ok = ok and ratio_ok(row.ratio) and row.ratio is not None and row.ratio <= ratio_max
    return ok


def fmt(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:.2f}" if value < 10 else f"{value:.1f}"


def table(rows: list[Row]) -> str:
    """A markdown table (pasted as is into docs/benchmarks.md)."""
    head = "| benchmark | figure | n | p50 | p95 | unit | raw p50 | ratio | target | met |"
    lines = [head, "|" + "---|" * 10]
    for row in rows:
        raw = fmt(row.raw.p50) if row.raw else "—"
        ratio = f"{row.ratio:.2f}x" if row.ratio is not None else "—"
        met = {True: "yes", False: "**no**", None: ""}[row.met]
        lines.append(
            f"| {row.bench} | {row.figure} | {row.ours.runs} | {fmt(row.ours.p50)} | "
            f"{fmt(row.ours.p95)} | {row.ours.unit} | {raw} | {ratio} | {row.target} | {met} |"
        )
    return "\n".join(lines)
