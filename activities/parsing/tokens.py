"""Token counting and token-exact splitting on top of the offline bpe-openai tokenizer."""

from __future__ import annotations

import functools
import itertools
import re
import warnings
from collections.abc import Callable, Sequence
from typing import Protocol, cast

# Only encodings whose rank files ship inside the bpe-openai wheel; the legacy ones (gpt2,
# p50k, r50k) need `tiktoken_ext` and a download, which the service cannot rely on.
SUPPORTED_ENCODINGS: frozenset[str] = frozenset({"cl100k_base", "o200k_base", "voyage3_base"})

# bpe-openai refuses inputs of 1M+ characters and results over 200k tokens, so long texts are
# encoded in windows. 40k characters stay under 200k tokens even at 4 UTF-8 bytes per char.
_WINDOW_CHARS = 40_000


# Encodings whose pretokenizers (tiktoken's patterns) `junction_tokens` and `_piece_start`
# rely on; voyage3_base always takes the plain path.
_ANALYSED = frozenset({"cl100k_base", "o200k_base"})
# A tail of n tokens is encoded from about its last 8n characters (English runs ~4 a token;
# a tail found too short falls back to encoding the whole text), trying a few spaces.
_TAIL_CHARS_PER_TOKEN = 8
_PIECE_START_TRIES = 8
_BLANK_LINE = "\n\n"
# An ASCII letter or digit, then at most a few closing punctuation marks, at the very end.
# Deliberately narrow: every character of the junction must be one the argument covers.
_MAX_CLOSING = 8
_CLEAN_END = re.compile(rf"[A-Za-z0-9]([.,;:!?)\]\"]{{0,{_MAX_CLOSING}}})\Z")


class Encoding(Protocol):
    def __hash__(self) -> int: ...  # cached per encoding (`_counter`, `_junction`)

    def encode_ordinary(self, text: str) -> list[int]: ...

    def decode(self, tokens: Sequence[int], errors: str = ...) -> str: ...

    def decode_single_token_bytes(self, token: int) -> bytes: ...


@functools.lru_cache(maxsize=8)  # bounded; there are only a few encodings
def get_encoding(name: str) -> Encoding:
    """Load (once per name, ~0.1-0.5 s) an encoding; ValueError for unknown names."""
    if name not in SUPPORTED_ENCODINGS:
        known = ", ".join(sorted(SUPPORTED_ENCODINGS))
        raise ValueError(f"Unknown encoding_name {name!r}; supported encodings are: {known}.")
    with warnings.catch_warnings():
        # bpe-openai 0.1.4 reads its data files through the deprecated
        # importlib.resources.open_binary, which is fatal under `-W error` test runs.
        warnings.simplefilter("ignore", DeprecationWarning)
        import bpe_openai

        return cast(Encoding, bpe_openai.get_encoding(name))


def _windows(text: str) -> list[str]:
    """Cut text into pieces the tokenizer accepts, at whitespace where possible.

    Cutting just before a space keeps token boundaries identical to encoding the whole text,
    because the tokenizer's pre-split attaches a leading space to the following word.
    """
    pieces: list[str] = []
    start = 0
    while len(text) - start > _WINDOW_CHARS:
        end = text.rfind(" ", start + 1, start + _WINDOW_CHARS)
        if end <= start:
            end = start + _WINDOW_CHARS
        pieces.append(text[start:end])
        start = end
    pieces.append(text[start:])
    return pieces


def encode(text: str, encoding: Encoding) -> list[int]:
    if len(text) <= _WINDOW_CHARS:
        return encoding.encode_ordinary(text)
    tokens: list[int] = []
    for piece in _windows(text):
        tokens.extend(encoding.encode_ordinary(piece))
    return tokens


@functools.lru_cache(maxsize=8)  # one entry per encoding object; there are only a few
def _counter(encoding: Encoding) -> Callable[[str], int] | None:
    """bpe-openai's native count, when the encoding has one.

    Counting is about half of all chunking time and the native count skips building (and
    copying) the token list: ~25% less per call. It is the same tokenizer, so it agrees with
    `len(encode(...))`; other Encoding implementations simply fall back to encoding.
    """
    count = getattr(getattr(encoding, "_backend", None), "count", None)
    return cast(Callable[[str], int], count) if callable(count) else None


def count_tokens(text: str, encoding: Encoding) -> int:
    count = _counter(encoding)
    if count is None:
        return len(encode(text, encoding))
    try:
        if len(text) <= _WINDOW_CHARS:
            return count(text)
        return sum(count(piece) for piece in _windows(text))
    except UnicodeEncodeError:
        # Lone surrogates: encode_ordinary replaces them before tokenizing; count cannot.
        return len(encode(text, encoding))


@functools.lru_cache(maxsize=256)  # keyed by short punctuation runs; a handful in practice
def _junction(encoding: Encoding, punctuation: str) -> int:
    """Tokens that joining "<alnum><punctuation>" to a following text with a blank line adds."""
    return count_tokens(punctuation + _BLANK_LINE, encoding) - count_tokens(punctuation, encoding)


def junction_tokens(texts: Sequence[str], separator: str, encoding: Encoding) -> int | None:
    """How many tokens `separator.join(texts)` has beyond the sum of the texts' own counts,
    or None when that is not certain (the caller then counts the join as a whole).

    The encodings' pretokenizers (regexes without look-behind, matched left to right) split
    "A\\n\\nB" into A's pieces, one piece for the blank line, then B's pieces when A ends
    with an ASCII letter or digit and B starts with a character other than whitespace: no
    piece of A reaches past its last letter or digit except a final run of punctuation,
    which takes the newlines along (".\\n\\n" is one piece), and the blank line's piece
    stops at B. `_junction` counts exactly that run with and without the newlines. o200k's
    punctuation piece also swallows a "/" after the newlines, so B must not start with one.
    Texts past one tokenizer window are counted in windows, so they are not joined here.
    """
    if (
        separator != _BLANK_LINE
        or getattr(encoding, "name", None) not in _ANALYSED
        or sum(map(len, texts)) + len(separator) * len(texts) > _WINDOW_CHARS
    ):
        return None
    total = 0
    for previous, text in itertools.pairwise(texts):
        # Searched in the last few characters only: a search over a whole text for an
        # anchored end still tries every position.
        end = _CLEAN_END.search(previous, max(0, len(previous) - _MAX_CLOSING - 1))
        if end is None or not text or text[0].isspace() or text[0] == "/":
            return None
        total += _junction(encoding, end.group(1))
    return total


def _starts_char(token: int, encoding: Encoding) -> bool:
    """True if the token starts a new character (its first byte is not a UTF-8 continuation)."""
    data = encoding.decode_single_token_bytes(token)
    return not data or not 0x80 <= data[0] <= 0xBF


def _cut(tokens: Sequence[int], start: int, end: int, encoding: Encoding) -> int:
    """Move a cut position back (or, failing that, forward) onto a character boundary."""
    cut = end
    while start + 1 < cut < len(tokens) and not _starts_char(tokens[cut], encoding):
        cut -= 1
    # A single character wider than the window: keep it whole rather than break it.
    while cut < len(tokens) and not _starts_char(tokens[cut], encoding):
        cut += 1
    return cut


def split_by_tokens(text: str, max_tokens: int, encoding: Encoding) -> list[str]:
    """Split text into consecutive pieces of at most max_tokens tokens each.

    Concatenating the pieces gives back the text. Cuts never fall inside a multi-byte
    character (a token can hold half of one), so every piece decodes cleanly. Each piece is
    re-counted because BPE is not guaranteed to re-encode a slice into the same tokens.
    """
    return [piece for piece, _ in split_counted(text, max_tokens, encoding)]


def split_counted(text: str, max_tokens: int, encoding: Encoding) -> list[tuple[str, int]]:
    """`split_by_tokens` with each piece's token count, which it has to compute anyway:
    callers need the counts too and would otherwise tokenize every piece a second time."""
    tokens = encode(text, encoding)
    pieces: list[tuple[str, int]] = []
    start = 0
    while start < len(tokens):
        end = _cut(tokens, start, min(start + max_tokens, len(tokens)), encoding)
        piece = encoding.decode(tokens[start:end])
        count = count_tokens(piece, encoding)
        while end - start > 1 and count > max_tokens:
            shorter = _cut(tokens, start, end - 1, encoding)
            if shorter >= end:
                break
            end = shorter
            piece = encoding.decode(tokens[start:end])
            count = count_tokens(piece, encoding)
        pieces.append((piece, count))
        start = end
    return [(piece, count) for piece, count in pieces if piece]


def _piece_start(text: str, end: int) -> int:
    """A position at or before `end` where the pretokenizer of the analysed encodings always
    starts a piece, or 0: a space after an ASCII letter or digit (no piece holding a letter
    or digit takes a space after it, and the patterns have no look-behind, so the text from
    there on is split, and encoded, exactly as it is within the whole text)."""
    for _ in range(_PIECE_START_TRIES):
        end = text.rfind(" ", 1, end)
        if end <= 0:
            return 0
        if text[end - 1].isascii() and text[end - 1].isalnum():
            return end
    return 0


def _tail_tokens(text: str, max_tokens: int, encoding: Encoding) -> list[int]:
    """Tokens ending with the last `max_tokens` tokens of `encode(text)`, the same ones,
    from encoding only an end of the text where that is certain (see `_piece_start`)."""
    end = len(text) - max_tokens * _TAIL_CHARS_PER_TOKEN
    if len(text) <= _WINDOW_CHARS and end > 0 and getattr(encoding, "name", None) in _ANALYSED:
        start = _piece_start(text, end)
        if start:
            tokens = encoding.encode_ordinary(text[start:])
            if len(tokens) >= max_tokens:
                return tokens
    return encode(text, encoding)


def tail_by_tokens(text: str, max_tokens: int, encoding: Encoding) -> str:
    """The last max_tokens tokens of text (fewer if needed to start on a whole character)."""
    if max_tokens <= 0:
        return ""
    tokens = _tail_tokens(text, max_tokens, encoding)
    start = max(0, len(tokens) - max_tokens)
    while start < len(tokens) and not _starts_char(tokens[start], encoding):
        start += 1
    # From a character boundary to the end of a whole text: valid UTF-8, which the native
    # decoder turns into the same string as `decode` (a Python loop over the tokens).
    native = getattr(getattr(encoding, "_backend", None), "decode", None)
    return str(native(tokens[start:])) if callable(native) else encoding.decode(tokens[start:])
