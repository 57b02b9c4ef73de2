"""Imported by the parse forkserver only (activities/parse_pool.py): every parse process is
forked from it, so what is loaded here once is loaded in all of them for free - the engine,
and the default tokenizer (seconds to build). Importing it anywhere else would only cost
that time for nothing.

The OCR model is deliberately not loaded here (activities/parsing/ocr.py loads it in the
parse process that first needs it). Importing OpenCV and onnxruntime starts three threads,
and a process forked from one with threads inherits their locks and pools without the
threads themselves: OpenCV's parallel loops could then hang. It would also add ~145 MB
RSS (measured: +100 MB the imports, +45 MB the model's sessions) to the forkserver. The
cost is paid per OCR'd document instead: about a second (import and sessions), against a
second or more per OCR'd page."""

from activities import parse_pool
from activities.parsing.tokens import get_encoding
from core.params import ChunkingOptions

get_encoding(ChunkingOptions().encoding_name)

__all__ = ["parse_pool"]
