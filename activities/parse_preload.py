"""Imported by the parse forkserver only (activities/parse_pool.py): every parse process is
forked from it, so what is loaded here once is loaded in all of them for free - the engine,
and the default tokenizer (seconds to build). Importing it anywhere else would only cost
that time for nothing."""

from activities import parse_pool
from activities.parsing.tokens import get_encoding
from core.params import ChunkingOptions

get_encoding(ChunkingOptions().encoding_name)

__all__ = ["parse_pool"]
