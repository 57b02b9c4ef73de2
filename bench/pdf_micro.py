"""Micro-benchmark of the PDF path: raw pypdfium2 text extraction vs docket's parse.

Run: .venv/bin/python -m bench.pdf_micro [pages] [rounds]
Prints the median per-page cost of (a) textpage.get_text_range, (b) iter_pages,
(c) iter_pages + chunk_pages with default options, and the throughput ratios to (a).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pypdfium2 as pdfium

from activities.parsing import ChunkingOptions, chunk_pages, iter_pages
from bench.corpus import dense_pdf

PDF = "application/pdf"


def raw_extract(paths: list[Path]) -> int:
    """Plain text of every page, the least any PDF parser must do; returns the page count."""
    pages = 0
    for path in paths:
        document = pdfium.PdfDocument(path)
        try:
            for index in range(len(document)):
                page = document[index]
                textpage = page.get_textpage()
                textpage.get_text_range()
                textpage.close()
                page.close()
                pages += 1
        finally:
            document.close()
    return pages


def engine_parse(paths: list[Path]) -> int:
    """What the parse activity runs: Docket's engine, then default chunking."""
    pages = 0
    for path in paths:
        parsed = list(iter_pages(path, PDF))
        chunk_pages(parsed, ChunkingOptions())
        pages += len(parsed)
    return pages


def _raw(path: Path) -> None:
    raw_extract([path])


def _parse(path: Path) -> None:
    list(iter_pages(path, PDF))


def _parse_chunk(path: Path) -> None:
    engine_parse([path])


def _medians_ms_per_page(
    runs: list[Callable[[Path], None]], path: Path, pages: int, rounds: int
) -> list[float]:
    # Interleaved so background load on a shared machine hits every variant alike, and CPU
    # time of this process rather than wall time, which other processes inflate.
    times: list[list[float]] = [[] for _ in runs]
    for round_ in range(rounds + 1):
        for run, samples in zip(runs, times, strict=True):
            start = time.process_time()
            run(path)
            if round_:  # round 0 warms up: imports, encodings, pdfium caches
                samples.append(time.process_time() - start)
    return [statistics.median(samples) / pages * 1000 for samples in times]


def main() -> None:
    pages = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 9
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "dense.pdf"
        path.write_bytes(dense_pdf(pages, seed=0))
        raw, parse, both = _medians_ms_per_page([_raw, _parse, _parse_chunk], path, pages, rounds)
    print(f"raw get_text_range      {raw:7.3f} ms/page")
    print(f"iter_pages              {parse:7.3f} ms/page  ratio {raw / parse:.2f}x raw pages/s")
    print(f"iter_pages+chunk_pages  {both:7.3f} ms/page  ratio {raw / both:.2f}x raw pages/s")


if __name__ == "__main__":
    main()
