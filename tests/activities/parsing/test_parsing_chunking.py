from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import get_args

import pytest
from pydantic import ValidationError

from activities.parsing import (
    BBox,
    Block,
    Chunk,
    ChunkingOptions,
    Interrupted,
    Page,
    chunk_pages,
    chunk_to_dict,
    iter_pages,
    validate_chunking,
)
from activities.parsing.chunking import STRATEGIES
from activities.parsing.detect import PDF_MIME
from activities.parsing.tokens import SUPPORTED_ENCODINGS, count_tokens, get_encoding
from core.params import EncodingName

ENCODING = get_encoding("cl100k_base")
SENTENCES = [
    f"Sentence number {n} talks about topic {n % 7} in a few plain words." for n in range(200)
]


def _tokens(text: str) -> int:
    return count_tokens(text, ENCODING)


def _block(content: str, kind: str = "text", page: int = 1) -> Block:
    return Block(kind, content, page, BBox(0.1, 0.1, 0.5, 0.05), 1.0)


def _paragraph_pages(pages: int = 3, per_page: int = 10) -> list[Page]:
    sentences = iter(SENTENCES)
    return [
        Page(
            n,
            [_block(" ".join(next(sentences) for _ in range(3)), page=n) for _ in range(per_page)],
        )
        for n in range(1, pages + 1)
    ]


def _assert_sizes(chunks: list[Chunk], size: int) -> None:
    assert chunks
    for chunk in chunks:
        assert chunk.content.strip()
        assert chunk.blocks
        assert _tokens(chunk.content) <= size


def _overlap_chars(previous: str, current: str) -> int:
    """Length of the longest start of `current` that `previous` ends with."""
    return max((k for k in range(1, len(current) + 1) if previous.endswith(current[:k])), default=0)


def _assert_overlap(chunks: list[Chunk], min_chars: int = 5) -> None:
    for previous, current in itertools.pairwise(chunks):
        shared = _overlap_chars(previous.content, current.content)
        assert shared >= min_chars, (previous.content[-80:], current.content[:80])


# --- validation -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (ChunkingOptions.model_construct(strategy="magic"), "strategy"),
        (ChunkingOptions.model_construct(chunk_size=0), "chunk_size"),
        (ChunkingOptions.model_construct(chunk_size=8193), "chunk_size"),
        (ChunkingOptions.model_construct(chunk_size=True), "chunk_size"),
        (ChunkingOptions.model_construct(chunk_size=100, chunk_overlap=100), "chunk_overlap"),
        (ChunkingOptions.model_construct(chunk_overlap=-1), "chunk_overlap"),
        (ChunkingOptions.model_construct(encoding_name="gpt2"), "encoding_name"),
        (ChunkingOptions.model_construct(encoding_name="nope"), "encoding_name"),
    ],
)
def test_validate_chunking_rejects_bad_options(options: ChunkingOptions, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        validate_chunking(options)
    with pytest.raises(ValueError, match=message):
        chunk_pages(_paragraph_pages(1, 1), options)


@pytest.mark.parametrize(
    "options",
    [
        ChunkingOptions(),
        ChunkingOptions(strategy="by_section", chunk_size=1, chunk_overlap=0),
        ChunkingOptions(chunk_size=8192, chunk_overlap=8191, encoding_name="o200k_base"),
    ],
)
def test_validate_chunking_accepts_good_options(options: ChunkingOptions) -> None:
    validate_chunking(options)


def test_encoding_is_cached_per_name() -> None:
    assert get_encoding("cl100k_base") is get_encoding("cl100k_base")


# --- token_size -------------------------------------------------------------------------


def test_token_size_respects_size_overlaps_and_keeps_all_text() -> None:
    pages = _paragraph_pages()
    chunks = chunk_pages(pages, ChunkingOptions(chunk_size=120, chunk_overlap=20))
    _assert_sizes(chunks, 120)
    _assert_overlap(chunks)
    assert len(chunks) > 3
    everything = "\n".join(chunk.content for chunk in chunks)
    for page in pages:
        for block in page.blocks:
            assert block.content in everything
    # Whole blocks are passed through unchanged, with their geometry and page.
    assert chunks[0].blocks[0] == pages[0].blocks[0]


def test_token_size_without_overlap_does_not_repeat_text() -> None:
    pages = _paragraph_pages()
    chunks = chunk_pages(pages, ChunkingOptions(chunk_size=120, chunk_overlap=0))
    _assert_sizes(chunks, 120)
    contents = [block.content for chunk in chunks for block in chunk.blocks]
    assert contents == [block.content for page in pages for block in page.blocks]


def test_token_size_splits_a_block_longer_than_a_chunk() -> None:
    long_text = " ".join(SENTENCES[:60])
    pages = [Page(1, [_block("Short intro."), _block(long_text, page=1)])]
    chunks = chunk_pages(pages, ChunkingOptions(chunk_size=64, chunk_overlap=0))
    _assert_sizes(chunks, 64)
    pieces = [b.content for c in chunks for b in c.blocks if b.content != "Short intro."]
    assert len(pieces) > 3
    # Pieces are cut at token boundaries (mid-word is fine) and trimmed at the chunk edges.
    assert "".join("".join(pieces).split()) == "".join(long_text.split())
    with_overlap = chunk_pages(pages, ChunkingOptions(chunk_size=64, chunk_overlap=16))
    _assert_sizes(with_overlap, 64)
    _assert_overlap(with_overlap)


def test_token_split_never_breaks_multibyte_characters() -> None:
    text = "日本語のテキストと絵文字😀🎉が混ざった文章です。" * 40
    chunks = chunk_pages([Page(1, [_block(text)])], ChunkingOptions(chunk_size=7, chunk_overlap=3))
    _assert_sizes(chunks, 7)
    assert all("\ufffd" not in chunk.content for chunk in chunks)


# --- recursive --------------------------------------------------------------------------


def test_recursive_cuts_at_sentence_boundaries() -> None:
    long_text = " ".join(SENTENCES[:40])
    options = ChunkingOptions(strategy="recursive", chunk_size=60, chunk_overlap=0)
    chunks = chunk_pages([Page(1, [_block(long_text)])], options)
    _assert_sizes(chunks, 60)
    assert len(chunks) > 5
    for chunk in chunks:
        assert chunk.content.startswith("Sentence number") and chunk.content.endswith(".")
    assert " ".join(chunk.content for chunk in chunks) == long_text


def test_recursive_prefers_paragraphs_then_lines() -> None:
    table = "| a | b |\n| --- | --- |\n" + "\n".join(f"| row {n} | {n * n} |" for n in range(60))
    options = ChunkingOptions(strategy="recursive", chunk_size=50, chunk_overlap=10)
    chunks = chunk_pages([Page(1, [_block(table, kind="table")])], options)
    _assert_sizes(chunks, 50)
    # The overlap is made of whole rows: each chunk starts with the previous one's last row.
    _assert_overlap(chunks, min_chars=len("| row 3 | 9 |"))
    for previous, current in itertools.pairwise(chunks):
        assert current.content.split("\n")[0] == previous.content.split("\n")[-1]
    for chunk in chunks:
        # Rows are never cut in half: every line of every chunk is a complete row.
        assert all(
            line.startswith("| ") and line.endswith(" |") for line in chunk.content.split("\n")
        )


def test_recursive_falls_back_to_tokens_for_unbroken_text() -> None:
    text = "x" * 5000
    options = ChunkingOptions(strategy="recursive", chunk_size=30, chunk_overlap=5)
    chunks = chunk_pages([Page(1, [_block(text)])], options)
    _assert_sizes(chunks, 30)


# --- by_page / by_section ---------------------------------------------------------------


def test_by_page_gives_one_chunk_per_page(report_pdf: Path) -> None:
    pages = list(iter_pages(report_pdf, PDF_MIME))
    chunks = chunk_pages(pages, ChunkingOptions(strategy="by_page"))
    assert len(chunks) == len(pages) == 3
    for page, chunk in zip(pages, chunks, strict=True):
        assert chunk.blocks == page.blocks
        assert {block.page_number for block in chunk.blocks} == {page.number}
        assert chunk.content == "\n\n".join(block.content for block in page.blocks)


def test_by_page_skips_pages_without_text() -> None:
    pages = [Page(1, []), *_paragraph_pages(2, 2)]
    assert len(chunk_pages(pages, ChunkingOptions(strategy="by_page"))) == 2


def test_by_section_starts_a_chunk_at_each_heading() -> None:
    blocks = [_block("Preamble text.")]
    for n in range(4):
        blocks.append(_block(f"## Section {n}", kind="heading"))
        blocks.extend(_block(sentence) for sentence in SENTENCES[n * 3 : n * 3 + 3])
    chunks = chunk_pages([Page(1, blocks)], ChunkingOptions(strategy="by_section"))
    assert [chunk.content.split("\n")[0] for chunk in chunks] == [
        "Preamble text.",
        "## Section 0",
        "## Section 1",
        "## Section 2",
        "## Section 3",
    ]
    assert all(chunk.blocks[0].type == "heading" for chunk in chunks[1:])


def test_by_section_splits_long_sections_within_size() -> None:
    blocks = [_block("# Only heading", kind="heading"), *(_block(s) for s in SENTENCES[:50])]
    blocks.append(_block("# Next", kind="heading"))
    options = ChunkingOptions(strategy="by_section", chunk_size=100, chunk_overlap=10)
    chunks = chunk_pages([Page(1, blocks)], options)
    _assert_sizes(chunks, 100)
    assert chunks[0].content.startswith("# Only heading")
    assert chunks[-1].content == "# Next"  # overlap never crosses a section boundary


def test_no_pages_give_no_chunks() -> None:
    for strategy in ("token_size", "recursive", "by_page", "by_section"):
        assert chunk_pages([], ChunkingOptions(strategy=strategy)) == []


# --- serialisation ----------------------------------------------------------------------


def test_chunk_to_dict_is_json_ready() -> None:
    chunk = Chunk(
        content="# T\n\nbody",
        blocks=[_block("# T", kind="heading"), Block("text", "body", 2, None, 0.5)],
    )
    data = chunk_to_dict(chunk)
    assert json.loads(json.dumps(data)) == {
        "content": "# T\n\nbody",
        "blocks": [
            {
                "type": "heading",
                "content": "# T",
                "bbox": {"left": 0.1, "top": 0.1, "width": 0.5, "height": 0.05},
                "confidence": 1.0,
                "page_number": 1,
            },
            {"type": "text", "content": "body", "bbox": None, "confidence": 0.5, "page_number": 2},
        ],
    }


@pytest.mark.parametrize(
    "given",
    [
        {"strategy": "magic"},
        {"chunk_size": 0},
        {"chunk_size": 8193},
        {"chunk_size": 100, "chunk_overlap": 100},
        {"chunk_overlap": -1},
        {"encoding_name": "gpt2"},
    ],
)
def test_the_typed_model_rejects_what_the_engine_rejects(given: dict[str, object]) -> None:
    """One model for the API's edge and the engine: what it admits, the engine can run."""
    with pytest.raises(ValidationError):
        ChunkingOptions.model_validate(given)
    with pytest.raises(ValueError):
        validate_chunking(ChunkingOptions.model_construct(**given))  # type: ignore[arg-type]


def test_the_typed_model_admits_every_encoding_the_engine_has() -> None:
    assert set(get_args(EncodingName)) == SUPPORTED_ENCODINGS
    for name in SUPPORTED_ENCODINGS:
        validate_chunking(ChunkingOptions.model_validate({"encoding_name": name}))


@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
def test_chunking_stops_between_units_once_asked(strategy: str) -> None:
    """A cancel stops the chunker within one block or chunk, for every strategy."""
    pages = [Page(n, [_block(f"word {n} " * 40)]) for n in range(1, 200)]
    options = ChunkingOptions(strategy=strategy, chunk_size=64, chunk_overlap=8)
    asked = 0

    def stop_after_ten() -> bool:
        nonlocal asked
        asked += 1
        return asked > 10

    with pytest.raises(Interrupted):
        chunk_pages(pages, options, stop_after_ten)
    assert asked == 11  # asked between units, and stopped at the first yes
    assert chunk_pages(pages, options)  # without a stop, the same pages chunk fully


def test_stored_pages_decode_one_at_a_time_and_stop_on_cancel() -> None:
    import threading

    from activities.chunk import json_array_items

    pages = [{"number": n, "blocks": []} for n in range(1, 50)]
    stop = threading.Event()
    assert list(json_array_items(json.dumps(pages), stop)) == pages
    assert list(json_array_items(" [ ] ", stop)) == []
    items = json_array_items(json.dumps(pages), stop)
    assert next(items) == pages[0]
    stop.set()
    with pytest.raises(Interrupted):
        next(items)
