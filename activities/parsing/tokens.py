"""Token counting and token-exact splitting on top of the offline bpe-openai tokenizer."""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable, Sequence
from typing import Protocol, cast

# Only encodings whose rank files ship inside the bpe-openai wheel; the legacy ones (gpt2,
# p50k, r50k) need `tiktoken_ext` and a download, which the service cannot rely on.
SUPPORTED_ENCODINGS: frozenset[str] = frozenset({"cl100k_base", "o200k_base", "voyage3_base"})

# bpe-openai refuses inputs of 1M+ characters and results over 200k tokens, so long texts are
# encoded in windows. 40k characters stay under 200k tokens even at 4 UTF-8 bytes per char.
_WINDOW_CHARS = 40_000


class Encoding(Protocol):
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


def tail_by_tokens(text: str, max_tokens: int, encoding: Encoding) -> str:
    """The last max_tokens tokens of text (fewer if needed to start on a whole character)."""
    if max_tokens <= 0:
        return ""
    tokens = encode(text, encoding)
    start = max(0, len(tokens) - max_tokens)
    while start < len(tokens) and not _starts_char(tokens[start], encoding):
        start += 1
    return encoding.decode(tokens[start:])
