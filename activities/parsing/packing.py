"""Packing blocks into size-bounded chunks with token overlap (used by the chunk strategies)."""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from .tokens import Encoding, count_tokens, junction_tokens, split_counted, tail_by_tokens
from .types import Block, Chunk

BLOCK_SEPARATOR = "\n\n"
# Upper bound for the tokens a separator adds; exact counts are checked when a chunk is emitted.
_SEPARATOR_TOKENS = 1
# Natural boundaries tried in order by the recursive strategy, with the text that re-joins
# the pieces when they end up in the same chunk.
_LEVELS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\n[ \t]*\n"), "\n\n"),
    (re.compile(r"\n"), "\n"),
    (re.compile(r"(?<=[.!?])\s+"), " "),
]


Stop = Callable[[], bool]
"""Asked between units of work (a block, a chunk): True means stop now (a cancel)."""


def never() -> bool:
    return False


class Interrupted(Exception):
    """Chunking stopped because `stop()` said so (the job was cancelled)."""


def check(stop: Stop) -> None:
    if stop():
        raise Interrupted


# (text, glue, tokens): a piece of an oversized block, the text that joins it to the previous
# piece, and its token count.
Piece = tuple[str, str, int]


@dataclass(frozen=True)
class Segment:
    """A packable unit: a whole block, or a piece of a block that was too long."""

    text: str
    origin: Block
    source: int  # position of `origin` in the document; pieces of one block share it
    glue: str  # joins this piece to the previous piece of the same block
    tokens: int


def piece_limit(chunk_size: int, chunk_overlap: int) -> int:
    """Largest piece an oversized block is cut into.

    Leaving room for the overlap means a piece plus the carried-over tail still fits into one
    chunk; the cap at half the chunk keeps huge overlaps from producing tiny pieces.
    """
    return max(1, chunk_size - min(chunk_overlap, chunk_size // 2))


def split_recursive(
    text: str, limit: int, encoding: Encoding, level: int = 0, tokens: int | None = None
) -> list[Piece]:
    """Pieces of <= `limit` tokens, cut at paragraphs, lines, sentences, tokens; `tokens`
    is the count of `text` when the caller already has it."""
    if tokens is None:
        tokens = count_tokens(text, encoding)
    if tokens <= limit:
        return [(text, "", tokens)]
    for depth in range(level, len(_LEVELS)):
        pattern, glue = _LEVELS[depth]
        parts = [part for part in pattern.split(text) if part.strip()]
        if len(parts) > 1:
            pieces: list[Piece] = []
            for index, part in enumerate(parts):
                sub = split_recursive(part, limit, encoding, depth + 1)
                first, _, first_tokens = sub[0]
                pieces.append((first, glue if index else "", first_tokens))
                pieces.extend(sub[1:])
            return pieces
    return [(piece, "", count) for piece, count in split_counted(text, limit, encoding)]


def block_segments(
    blocks: Sequence[tuple[int, Block]],
    limit: int,
    encoding: Encoding,
    *,
    recursive: bool,
    stop: Stop = never,
) -> list[Segment]:
    """Segments for (source index, block) pairs, splitting blocks longer than `limit` tokens.

    Pieces are not counted a second time: the splitters hand back the counts they made.
    Raises Interrupted, between blocks, once `stop()` is true.
    """
    segments: list[Segment] = []
    for source, block in blocks:
        check(stop)
        if not block.content.strip():
            continue
        tokens = count_tokens(block.content, encoding)
        if tokens <= limit:
            segments.append(Segment(block.content, block, source, "", tokens))
            continue
        if recursive:
            pieces = split_recursive(block.content, limit, encoding, tokens=tokens)
        else:
            split = split_counted(block.content, limit, encoding)
            pieces = [(piece, "", count) for piece, count in split]
        for text, glue, count in pieces:
            segments.append(Segment(text, block, source, glue, count))
    return segments


def render(segments: Sequence[Segment]) -> tuple[Chunk, list[str], list[int | None]]:
    """Join segments into a chunk; consecutive pieces of one block become one block again.
    Also returns the joined texts and the token count of each where it is known already
    (a whole segment that needed no strip), for `_chunk_tokens`."""
    groups: list[list[Segment]] = []
    for segment in segments:
        if groups and groups[-1][-1].source == segment.source:
            groups[-1].append(segment)
        else:
            groups.append([segment])
    texts: list[str] = []
    counts: list[int | None] = []
    blocks: list[Block] = []
    for group in groups:
        first = group[0]
        joined = first.text + "".join(s.glue + s.text for s in group[1:])
        text = joined.strip()
        origin = first.origin
        # Chunk blocks carry only the part of the block that is in this chunk, so a long
        # block split over many chunks is not repeated in full in each of them.
        blocks.append(origin if text == origin.content else replace(origin, content=text))
        texts.append(text)
        counts.append(first.tokens if len(group) == 1 and text == joined else None)
    return Chunk(content=BLOCK_SEPARATOR.join(texts), blocks=blocks), texts, counts


def _chunk_tokens(
    chunk: Chunk, texts: list[str], counts: list[int | None], encoding: Encoding
) -> int:
    """The exact token count of the chunk: its parts' counts (counting only the parts not
    known yet) plus what the separators add (see `junction_tokens`), else a count of the
    whole content."""
    junctions = junction_tokens(texts, BLOCK_SEPARATOR, encoding)
    if junctions is None:
        return count_tokens(chunk.content, encoding)
    parts = (
        count_tokens(text, encoding) if count is None else count
        for text, count in zip(texts, counts, strict=True)
    )
    return junctions + sum(parts)


def _estimate(segments: Sequence[Segment]) -> int:
    return sum(s.tokens for s in segments) + _SEPARATOR_TOKENS * max(0, len(segments) - 1)


def _tail(
    segments: Sequence[Segment], budget: int, encoding: Encoding, *, whole: bool
) -> list[Segment]:
    """The last ~`budget` tokens of the previous chunk, as segments, to carry over.

    With `whole`, only complete segments are carried (sentences, lines, paragraphs), so the
    overlap of the recursive strategy starts on a natural boundary; a token cut is used only
    when even the last segment does not fit, so some overlap is always carried.
    """
    tail: list[Segment] = []
    remaining = budget
    for segment in reversed(segments):
        if remaining <= 0:
            break
        if segment.tokens <= remaining:
            tail.insert(0, segment)
            remaining -= segment.tokens + _SEPARATOR_TOKENS
            continue
        if whole and tail:
            break
        text = tail_by_tokens(segment.text, remaining, encoding)
        if text.strip():
            tokens = count_tokens(text, encoding)
            tail.insert(0, replace(segment, text=text, tokens=tokens))
        break
    return tail


def _emit(
    current: list[Segment], carried: int, size: int, encoding: Encoding
) -> tuple[Chunk, list[Segment], list[Segment]]:
    """Render `current`, handing segments back until the exact token count fits.

    Returns (chunk, segments in the chunk, segments to re-queue). The estimate used while
    packing is almost always exact; this loop covers tokenizer merges across separators.
    """
    kept = list(current)
    pushed: list[Segment] = []
    while True:
        chunk, texts, counts = render(kept)
        if _chunk_tokens(chunk, texts, counts, encoding) <= size:
            break
        if len(kept) - carried > 1:
            pushed.insert(0, kept.pop())
        elif carried:
            kept.pop(0)  # give up part of the overlap rather than exceed the size
            carried -= 1
        else:
            break  # a single segment is within the limit by construction
    return chunk, kept, pushed


def pack(
    segments: Sequence[Segment],
    size: int,
    overlap: int,
    encoding: Encoding,
    *,
    whole_overlap: bool = False,
    stop: Stop = never,
) -> list[Chunk]:
    """Greedily fill chunks of at most `size` tokens, starting each with ~`overlap` tokens
    carried over from the end of the previous chunk (see `_tail` for `whole_overlap`).
    Raises Interrupted, between chunks, once `stop()` is true."""
    chunks: list[Chunk] = []
    pending = deque(segments)
    current: list[Segment] = []
    carried = 0  # how many segments at the start of `current` are overlap
    estimate = 0  # running `_estimate(current)`, kept incrementally to stay linear
    while pending or len(current) > carried:
        if pending and (
            len(current) == carried or estimate + _SEPARATOR_TOKENS + pending[0].tokens <= size
        ):
            estimate += pending[0].tokens + (_SEPARATOR_TOKENS if current else 0)
            current.append(pending.popleft())
            continue
        check(stop)
        chunk, kept, pushed = _emit(current, carried, size, encoding)
        chunks.append(chunk)
        pending.extendleft(reversed(pushed))
        current = []
        if pending and overlap:
            budget = min(overlap, size - pending[0].tokens - 2 * _SEPARATOR_TOKENS)
            if budget > 0:
                current = _tail(kept, budget, encoding, whole=whole_overlap)
        carried = len(current)
        estimate = _estimate(current)
    return chunks
