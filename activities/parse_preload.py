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

import gc

from activities import parse_pool
from activities.parsing.tokens import count_tokens, get_encoding
from core.params import ChunkingOptions

# A first count, so whatever the tokenizer builds on first use is built here once.
count_tokens("warm up", get_encoding(ChunkingOptions().encoding_name))
# Everything loaded so far goes to the GC's permanent generation (the docs' advice for a
# process that forks without exec): a child's collections then never walk, and so never
# copy-on-write, the ~175 MB it inherits. Measured: ~12-17 ms less CPU per 20-page PDF
# child (71/65 ms against 82/83, medians of two runs of 10 documents x 5).
gc.freeze()

__all__ = ["parse_pool"]
