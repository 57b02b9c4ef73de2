"""Benchmarks: each prints medians/p95 and a ratio to a raw baseline measured in the same run."""
