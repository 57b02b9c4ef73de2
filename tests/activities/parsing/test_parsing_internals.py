"""Unit tests for the pure helpers: PDF layout heuristics and token utilities."""

from __future__ import annotations

import random

import pytest

from activities.parsing.pdf_layout import Glyph, layout_blocks, normalise_box
from activities.parsing.tokens import (
    Encoding,
    _starts_char,
    count_tokens,
    encode,
    get_encoding,
    junction_tokens,
    split_by_tokens,
    tail_by_tokens,
)

PAGE = (0.0, 0.0, 200.0, 100.0)  # a 200 x 100 pt page
EDGES = (20.0, 70.0, 60.0, 80.0)  # left, bottom, right, top in PDF user space


@pytest.mark.parametrize(
    ("rotation", "expected"),
    [
        (0, (0.1, 0.2, 0.2, 0.1)),
        (90, (0.7, 0.1, 0.1, 0.2)),
        (180, (0.7, 0.7, 0.2, 0.1)),
        (270, (0.2, 0.7, 0.1, 0.2)),
    ],
)
def test_normalise_box_flips_y_and_applies_rotation(
    rotation: int, expected: tuple[float, float, float, float]
) -> None:
    box = normalise_box(EDGES, PAGE, rotation)
    assert (box.left, box.top, box.width, box.height) == pytest.approx(expected)


def test_normalise_box_handles_offset_page_and_clamps() -> None:
    box = normalise_box((-50.0, 90.0, 150.0, 130.0), (100.0, 0.0, 300.0, 100.0), 0)
    assert (box.left, box.top, box.width, box.height) == pytest.approx((0.0, 0.0, 0.25, 0.1))


def _line(text: str, x: float, baseline: float, size: float = 10.0) -> list[Glyph]:
    glyphs = []
    for offset, char in enumerate(text):
        left = x + offset * size * 0.5
        glyph = Glyph(char, left, baseline - 0.2 * size, left + 0.5 * size, baseline + size, size)
        glyphs.append(glyph if char != " " else Glyph(" ", 0, 0, 0, 0, 0))
    return [*glyphs, Glyph("\r", 0, 0, 0, 0, 0), Glyph("\n", 0, 0, 0, 0, 0)]


def test_double_spaced_lines_stay_one_paragraph() -> None:
    glyphs = [
        *_line("first line of", 10, 500),
        *_line("the paragraph", 10, 480),  # 20pt pitch for 10pt text: double spacing
        *_line("still going.", 10, 460),
        *_line("new paragraph", 10, 420),
    ]
    blocks = layout_blocks(glyphs, 1, (0, 0, 600, 800), 0)
    assert [block.content for block in blocks] == [
        "first line of the paragraph still going.",
        "new paragraph",
    ]


def test_lines_without_pdfium_breaks_are_split_by_position_and_hyphens_join() -> None:
    first = [g for g in _line("exam-", 10, 500) if g.char not in "\r\n"]
    first[-1] = first[-1]._replace(hyphen=True)
    glyphs = [*first, *_line("ple text", 10, 488), *_line("1. numbered", 10, 476)]
    blocks = layout_blocks(glyphs, 3, (0, 0, 600, 800), 0)
    assert [(b.type, b.content, b.page_number) for b in blocks] == [
        ("text", "exam-ple text", 3),
        ("list_item", "1. numbered", 3),
    ]


ENCODING = get_encoding("cl100k_base")


def test_split_by_tokens_round_trips_and_respects_limit() -> None:
    text = "Grüße aus Köln! 東京タワー 🚀 " * 30
    pieces = split_by_tokens(text, 5, ENCODING)
    assert "".join(pieces) == text
    assert all(count_tokens(piece, ENCODING) <= 5 for piece in pieces)


def test_tail_by_tokens_returns_the_end() -> None:
    text = "one two three four five six seven"
    tail = tail_by_tokens(text, 3, ENCODING)
    assert text.endswith(tail) and count_tokens(tail, ENCODING) == 3
    assert tail_by_tokens(text, 0, ENCODING) == ""


def test_very_long_text_is_counted_in_windows() -> None:
    # bpe-openai refuses 1M+ characters in one call; the helpers must not.
    text = "word" + " word" * 209_999  # one token per word
    assert count_tokens(text, ENCODING) == 210_000


# Characters that stress the pretokenizer at a junction: letters (ASCII, accented, CJK,
# upper/lower for o200k's case splits), digits (grouped in threes), every punctuation mark
# the junction rule covers and some it does not, apostrophes (contractions), "/" (o200k
# takes it after newlines), spaces, tabs and newlines, and an emoji.
_ALPHABET = "aZé東5 0.,;:!?)]\"'/-\t\n\r🚀(%*"


@pytest.mark.parametrize("name", ["cl100k_base", "o200k_base", "voyage3_base"])
def test_junction_tokens_make_the_exact_count_of_the_join(name: str) -> None:
    encoding = get_encoding(name)
    rng = random.Random(name)
    joined = 0
    for _ in range(3000):
        texts = [
            "".join(rng.choice(_ALPHABET) for _ in range(rng.randint(1, 12))).strip()
            for _ in range(rng.randint(1, 4))
        ]
        junctions = junction_tokens(texts, "\n\n", encoding)
        if junctions is not None:
            joined += 1
            total = junctions + sum(count_tokens(text, encoding) for text in texts)
            assert total == count_tokens("\n\n".join(texts), encoding), texts
    # The rule applies often enough to matter, and never to voyage3_base (not analysed).
    assert joined == 0 if name == "voyage3_base" else joined > 300


def _tail_of_the_whole(text: str, budget: int, encoding: Encoding) -> str:
    """tail_by_tokens as it was: encode the whole text, keep the last tokens."""
    tokens = encode(text, encoding)
    start = max(0, len(tokens) - budget)
    while start < len(tokens) and not _starts_char(tokens[start], encoding):
        start += 1
    return encoding.decode(tokens[start:])


@pytest.mark.parametrize("name", ["cl100k_base", "o200k_base"])
def test_tail_from_an_end_of_the_text_is_the_tail_of_the_whole_encoding(name: str) -> None:
    encoding = get_encoding(name)
    rng = random.Random(name)
    words = ["word", "Ünïcode", "東京", "12345", "it's", "a-b", "x.", "(y)", "🚀", "/p", "  "]
    for _ in range(500):
        text = "".join(rng.choice(words) + rng.choice(" \t\n, ") for _ in range(rng.randint(1, 80)))
        budget = rng.randint(1, 30)
        expected = _tail_of_the_whole(text, budget, encoding)
        assert tail_by_tokens(text, budget, encoding) == expected, (text, budget)
