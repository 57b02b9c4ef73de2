"""The activity-side driver of the engine: one parse thread, turns, prompt cancellation."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Generator
from pathlib import Path

import pytest
from temporalio.testing import ActivityEnvironment

from activities import parse_run
from activities.parse_run import DocumentParse, Parsed, threaded_parse
from activities.parsing import ChunkingOptions, Page, chunk_pages, chunk_to_dict, iter_pages
from activities.parsing.detect import PDF_MIME
from activities.parsing.limits import MIB, Checkpoint, LimitExceeded, ParseLimits
from tests.activities.parsing.conftest import PdfFactory

PAGES = 30
PAGE_SECONDS = 0.02  # how long each page takes once slowed down
SETTLE_SECONDS = 0.3  # many pages' worth: time for a parse that did not stop to go on


def _document(make_pdf: PdfFactory) -> Path:
    return make_pdf(
        [[(72, 700 - 14 * n, f"Page {p} line {n}") for n in range(20)] for p in range(PAGES)]
    )


async def _parse(path: Path, runs: list[DocumentParse]) -> Parsed:
    async with threaded_parse(path, PDF_MIME, ChunkingOptions) as parse:
        assert isinstance(parse, DocumentParse)
        runs.append(parse)
        return await parse.run()


async def test_result_is_the_engines_and_heartbeats_report_pages(
    make_pdf: PdfFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(parse_run, "SLICE_SECONDS", 0.0)  # one page per turn
    path = _document(make_pdf)
    beats: list[int] = []
    env = ActivityEnvironment()
    env.on_heartbeat = lambda *details: beats.append(details[0])

    parsed = await env.run(_parse, path, [])

    pages = list(iter_pages(path, PDF_MIME))
    assert parsed.page_count == PAGES
    assert parsed.chunks == [chunk_to_dict(c) for c in chunk_pages(pages, ChunkingOptions())]
    # After every turn that read a page (the last one only finds that none are left).
    assert beats == list(range(1, PAGES + 1))


async def test_cancel_stops_within_a_page_and_releases_the_document(
    make_pdf: PdfFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(parse_run, "SLICE_SECONDS", 60.0)  # one turn would read everything
    closed: list[bool] = []
    reading = threading.Event()  # set by the parse thread once it is past the first page

    def slow_pages(
        path: Path, mime_type: str, checkpoint: Checkpoint
    ) -> Generator[Page, None, None]:
        pages = iter_pages(path, mime_type, checkpoint)
        try:
            for number, page in enumerate(pages):
                if number:
                    reading.set()
                time.sleep(PAGE_SECONDS)
                yield page
        finally:
            pages.close()
            closed.append(True)

    monkeypatch.setattr(parse_run, "iter_pages", slow_pages)
    runs: list[DocumentParse] = []
    env = ActivityEnvironment()
    task = asyncio.create_task(env.run(_parse, _document(make_pdf), runs))
    await asyncio.to_thread(reading.wait)
    env.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    read_at_cancel = len(runs[0].pages)
    await asyncio.sleep(SETTLE_SECONDS)
    assert len(runs[0].pages) <= read_at_cancel + 1
    assert closed == [True]


def test_a_result_over_the_size_limit_fails_naming_the_setting(tmp_path: Path) -> None:
    text = tmp_path / "big.txt"
    text.write_text("words of a paragraph that is long enough to matter\n\n" * 60_000)
    limits = ParseLimits(max_result_bytes=2 * MIB)
    parse = DocumentParse(text, "text/plain", lambda: ChunkingOptions(), limits)
    with pytest.raises(LimitExceeded, match=r"the limit is 2 MB \(DOCKET_MAX_RESULT_MB\)"):
        while parse.step() is None:
            pass
