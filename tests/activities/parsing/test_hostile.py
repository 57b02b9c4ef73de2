"""A hostile corpus against the engine and the parse pool: every case ends, at once for a
limit, with the limit named; a cancel leaves no CPU busy; memory stays under the limit."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from activities.parse_pool import ParseCrashed, ParsePool, PoolConfig
from activities.parsing import ChunkingOptions, ParseError, iter_pages
from activities.parsing.detect import DOCX_MIME, HTML_MIME, MARKDOWN_MIME, PDF_MIME, TEXT_MIME
from activities.parsing.limits import MIB, LimitExceeded, ParseLimits
from tests.activities.parsing import hostile_corpus as corpus
from tests.documents import make_pdf as make_pdf_bytes

MEMORY = 1024 * MIB
LIMIT_SECONDS = 2.0  # a document over a limit fails well within this, not after parsing it
CANCEL_IDLE_SECONDS = 0.5  # the parse process is gone (or idle) this soon after a cancel
TINY_BESIDE_HUGE_SECONDS = 2.0
# Through a parse process: its start and the pipe add to LIMIT_SECONDS (and the first one
# waits for the forkserver to import the engine).
HUGE_PARAGRAPHS = 190_000  # 202 characters each
REAP_SECONDS = 5.0  # a killed parse process is gone (reaped) within this
POOL_LIMIT_SECONDS = 20.0  # the bar for a tiny job while a huge one parses


def _texts(path: Path, mime: str) -> list[str]:
    return [block.content for page in iter_pages(path, mime) for block in page.blocks]


@pytest.mark.parametrize(
    ("build", "mime", "message"),
    [
        (
            lambda p: corpus.docx_paragraph_bomb(p, 300_000),
            DOCX_MIME,
            "document has more than 200,000 paragraphs; the limit is 200,000 "
            "(DOCKET_MAX_PARAGRAPHS)",
        ),
        (lambda p: corpus.docx_image_bomb(p, 64 * MIB), DOCX_MIME, "DOCKET_MAX_COMPRESSION_RATIO"),
        (lambda p: corpus.html_deep(p, 1000), HTML_MIME, "(DOCKET_MAX_DEPTH)"),
        (
            lambda p: corpus.html_wide(p, 300_000),
            HTML_MIME,
            "the limit is 200,000 (DOCKET_MAX_HTML_ELEMENTS)",
        ),
    ],
    ids=["docx-paragraphs", "docx-image-bomb", "html-deep", "html-wide"],
)
def test_bombs_fail_at_once_naming_the_limit(
    tmp_path: Path, build: Callable[[Path], Path], mime: str, message: str
) -> None:
    path = build(tmp_path / "bomb")
    began = time.monotonic()
    with pytest.raises(LimitExceeded) as caught:
        _texts(path, mime)
    assert message in str(caught.value)
    assert time.monotonic() - began < LIMIT_SECONDS


def test_text_and_page_limits_name_their_settings(
    tmp_path: Path, make_pdf: Callable[..., Path]
) -> None:
    text = corpus.text_paragraphs(tmp_path / "t.txt", 100)
    limits = ParseLimits(max_text_chars=1000)
    from activities.parsing.limits import Checkpoint

    with pytest.raises(
        LimitExceeded, match=r"characters of text; the limit is 1,000 \(DOCKET_MAX_TEXT_CHARS\)"
    ):
        list(iter_pages(text, TEXT_MIME, Checkpoint(limits)))
    pdf = make_pdf([[(72, 700, "page")]] * 3)
    with pytest.raises(
        LimitExceeded, match=r"document has 3 pages; the limit is 2 \(DOCKET_MAX_PAGES\)"
    ):
        list(iter_pages(pdf, PDF_MIME, Checkpoint(ParseLimits(max_pages=2))))


def test_real_world_oddities_keep_their_text(tmp_path: Path) -> None:
    assert _texts(corpus.docx_text_box_and_footnote(tmp_path / "a.docx"), DOCX_MIME) == [
        "Text inside a box",  # once: the VML fallback copy is skipped
        "A footnote worth reading",  # the separator note is not text
    ]
    assert set(_texts(corpus.docx_header_footer(tmp_path / "b.docx"), DOCX_MIME)) == {
        "Body text.",
        "Company Confidential",
        "Page footer text",
    }
    assert _texts(corpus.docx_missing_media(tmp_path / "c.docx"), DOCX_MIME) == [
        "Text beside a picture that is not there."
    ]
    assert _texts(corpus.pdf_form(tmp_path / "d.pdf", "ACME Corp"), PDF_MIME) == ["ACME Corp"]


def test_only_pdfs_without_a_text_layer_are_said_to_need_ocr(
    tmp_path: Path, make_pdf: Callable[..., Path]
) -> None:
    with pytest.raises(ParseError, match="none of its 2 page"):
        _texts(make_pdf([[], []], shapes_only=True), PDF_MIME)
    empty = tmp_path / "empty.txt"
    empty.write_text("   \n")
    with pytest.raises(ParseError) as caught:
        _texts(empty, TEXT_MIME)
    assert "OCR" not in str(caught.value)


def test_a_stale_password_error_is_not_blamed_on_a_broken_pdf(
    tmp_path: Path, make_pdf: Callable[..., Path]
) -> None:
    with pytest.raises(ParseError, match="password"):
        _texts(make_pdf([[(72, 700, "secret")]], encrypt="pw"), PDF_MIME)
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer <<>>\n%%EOF")
    with pytest.raises(ParseError, match="not a valid PDF"):
        _texts(broken, PDF_MIME)


def _pool(**overrides: object) -> ParsePool:
    config: dict[str, object] = {
        "slots": 2,
        "memory_bytes": MEMORY,
        "wall_seconds": 60.0,
        "cancel_grace_seconds": 0.05,
    }
    config.update(overrides)
    return ParsePool(PoolConfig(**config))  # type: ignore[arg-type]


async def _cancel_and_measure(pool: ParsePool, path: Path, mime: str) -> float:
    """Cancel a running parse; the seconds until its process is gone."""
    pids: list[int] = []
    task = asyncio.create_task(pool.parse(path, mime, ChunkingOptions, on_start=pids.append))
    deadline = time.monotonic() + 30
    while not pids or (corpus.cpu_seconds(pids[0]) or 0.0) < 0.2:  # busy parsing, not starting
        assert time.monotonic() < deadline and not task.done()
        await asyncio.sleep(0.01)
    cancelled_at = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    stopped = time.monotonic() - cancelled_at
    # Returned once the process was sent SIGKILL (it runs no more of the parse); its exit
    # is waited for in the background, and it is gone moments later.
    await asyncio.wait_for(pool.reaped(), REAP_SECONDS)
    assert not psutil.pid_exists(pids[0]) or psutil.Process(pids[0]).status() == "zombie"
    return stopped


@pytest.mark.parametrize(
    ("build", "mime"),
    [
        (lambda p: corpus.text_paragraphs(p, 100_000), TEXT_MIME),
        (lambda p: corpus.markdown_lines(p, 200_000), MARKDOWN_MIME),
        (lambda p: corpus.html_wide(p, 100_000), HTML_MIME),
        (lambda p: corpus.docx_paragraph_bomb(p, 190_000), DOCX_MIME),
        (lambda p: _pdf_pages(p, 600), PDF_MIME),
    ],
    ids=["txt", "md", "html", "docx", "pdf"],
)
async def test_cancel_stops_the_parse_process(
    tmp_path: Path, build: Callable[[Path], Path], mime: str
) -> None:
    path = build(tmp_path / "big")
    assert await _cancel_and_measure(_pool(), path, mime) < CANCEL_IDLE_SECONDS


def _pdf_pages(path: Path, pages: int) -> Path:
    path.write_bytes(make_pdf_bytes(pages=pages, lines_per_page=30))
    return path


# Every limit of the issue, each a generated bomb through a parse process, with limits low
# enough that the bombs build in milliseconds (the defaults are tested above and in the
# bench): (build, mime, limits, the message's tail).
LIMIT_BOMBS: dict[str, tuple[Callable[[Path], Path], str, ParseLimits, str]] = {
    "paragraphs": (
        lambda p: corpus.docx_paragraph_bomb(p, 300_000),
        DOCX_MIME,
        ParseLimits(),
        "more than 200,000 paragraphs; the limit is 200,000 (DOCKET_MAX_PARAGRAPHS)",
    ),
    "xml-elements": (
        lambda p: corpus.docx_paragraph_bomb(p, 20_000),
        DOCX_MIME,
        ParseLimits(max_xml_elements=10_000),
        "the limit is 10,000 (DOCKET_MAX_XML_ELEMENTS)",
    ),
    "docx-part-size": (
        lambda p: corpus.docx_paragraph_bomb(p, 60_000),
        DOCX_MIME,
        ParseLimits(max_docx_part_bytes=MIB),
        "of XML in word/document.xml; the limit is 1 MB (DOCKET_MAX_DOCX_PART_MB)",
    ),
    "compression-ratio": (
        lambda p: corpus.docx_image_bomb(p, 64 * MIB),
        DOCX_MIME,
        ParseLimits(),
        "the limit is 500 (DOCKET_MAX_COMPRESSION_RATIO)",
    ),
    "html-elements": (
        lambda p: corpus.html_wide(p, 300_000),
        HTML_MIME,
        ParseLimits(),
        "the limit is 200,000 (DOCKET_MAX_HTML_ELEMENTS)",
    ),
    "html-depth": (
        lambda p: corpus.html_deep(p, 100_000),
        HTML_MIME,
        ParseLimits(),
        "the limit is 256 (DOCKET_MAX_DEPTH)",
    ),
    "text-length": (
        lambda p: corpus.text_paragraphs(p, 20_000),
        TEXT_MIME,
        ParseLimits(max_text_chars=1_000_000),
        "more than 1,000,000 characters of text; the limit is 1,000,000 (DOCKET_MAX_TEXT_CHARS)",
    ),
    "markdown-length": (
        lambda p: corpus.markdown_lines(p, 100_000),
        MARKDOWN_MIME,
        ParseLimits(max_text_chars=1_000_000),
        "the limit is 1,000,000 (DOCKET_MAX_TEXT_CHARS)",
    ),
    "pages": (
        lambda p: _pdf_pages(p, 30),
        PDF_MIME,
        ParseLimits(max_pages=20),
        "document has 30 pages; the limit is 20 (DOCKET_MAX_PAGES)",
    ),
    "chunks": (
        lambda p: corpus.text_paragraphs(p, 200),
        TEXT_MIME,
        ParseLimits(max_chunks=5),
        "chunks; the limit is 5 (DOCKET_MAX_CHUNKS)",
    ),
}


@pytest.mark.parametrize("case", list(LIMIT_BOMBS))
async def test_every_limit_fails_its_bomb_at_once_within_the_memory_limit(
    tmp_path: Path, case: str
) -> None:
    build, mime, limits, message = LIMIT_BOMBS[case]
    path = build(tmp_path / "bomb")
    pool = _pool(limits=limits)
    began = time.monotonic()
    with pytest.raises(LimitExceeded) as caught:
        await pool.parse(path, mime, ChunkingOptions)
    assert message in str(caught.value)
    # The parse process's start (the forkserver's first fork) is part of the deadline.
    assert time.monotonic() - began < POOL_LIMIT_SECONDS
    assert 0 < pool.last_peak_rss_bytes < MEMORY


async def test_a_tiny_document_is_not_starved_by_a_huge_one(tmp_path: Path) -> None:
    pool = _pool()
    huge = asyncio.create_task(
        pool.parse(
            # Under every limit (190,000 paragraphs, 38 M characters), so it parses for
            # seconds: over one it would fail early, before the tiny one is done.
            corpus.text_paragraphs(tmp_path / "huge.txt", HUGE_PARAGRAPHS),
            TEXT_MIME,
            ChunkingOptions,
        )
    )
    await asyncio.sleep(0.5)  # let it take a slot
    tiny = corpus.text_paragraphs(tmp_path / "tiny.txt", 3)
    began = time.monotonic()
    parsed = await pool.parse(tiny, TEXT_MIME, ChunkingOptions)
    assert time.monotonic() - began < TINY_BESIDE_HUGE_SECONDS and parsed.chunks
    assert not huge.done()
    huge.cancel()
    with pytest.raises(asyncio.CancelledError):
        await huge


async def test_memory_wall_time_and_crash_surface_as_clear_errors(tmp_path: Path) -> None:
    html = corpus.html_wide(tmp_path / "w.html", 150_000)
    pool = _pool(memory_bytes=320 * MIB)  # a parse process starts at ~260 MB
    with pytest.raises(LimitExceeded, match=r"the limit is 320 MB \(DOCKET_MAX_PARSE_MEMORY_MB\)"):
        await pool.parse(html, HTML_MIME, ChunkingOptions)
    assert 0 < pool.last_peak_rss_bytes <= 320 * MIB

    with pytest.raises(LimitExceeded, match=r"DOCKET_MAX_PARSE_SECONDS"):
        await _pool(wall_seconds=0.5).parse(html, HTML_MIME, ChunkingOptions)

    def crash(pid: int) -> None:
        os.kill(pid, signal.SIGSEGV)

    with pytest.raises(ParseCrashed, match="exit code -11"):
        await _pool().parse(html, HTML_MIME, ChunkingOptions, on_start=crash)
