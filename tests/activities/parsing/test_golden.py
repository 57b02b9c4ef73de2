"""Golden output: every document of the test corpus, parsed and chunked, must give exactly
(byte for byte) the result JSON recorded from the engine before its speed-ups.

The digests in golden/hashes.json were recorded on main before any change to the engine's
speed. A change that alters output on purpose re-records them, and says so in its commit:

    DOCKET_GOLDEN_RECORD=1 .venv/bin/python -m pytest -q tests/activities/parsing/test_golden.py
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from activities.parse_run import DocumentParse, Parsed
from activities.parsing import ChunkingOptions, Page, chunk_pages, chunk_to_dict, page_from_dict
from activities.parsing.detect import DOCX_MIME, HTML_MIME, MARKDOWN_MIME, PDF_MIME, TEXT_MIME
from bench.corpus import dense_pdf
from tests import documents
from tests.activities.parsing import hostile_corpus
from tests.activities.parsing.golden import corpus

HASHES = Path(__file__).parent / "golden" / "hashes.json"
RECORD = "DOCKET_GOLDEN_RECORD"
PdfFactory = Callable[..., Path]

# Besides the stored result (pages and default chunks), chunking variants that split
# blocks, carry overlaps and cut at every level, for each strategy and both tokenizers.
VARIANTS = {
    "token_size_40_10": ChunkingOptions(chunk_size=40, chunk_overlap=10),
    "recursive": ChunkingOptions(strategy="recursive"),
    "recursive_40_10": ChunkingOptions(strategy="recursive", chunk_size=40, chunk_overlap=10),
    "by_page": ChunkingOptions(strategy="by_page"),
    "by_section_40_10": ChunkingOptions(strategy="by_section", chunk_size=40, chunk_overlap=10),
    "o200k_100_0": ChunkingOptions(encoding_name="o200k_base", chunk_size=100, chunk_overlap=0),
}


def _corpus(
    tmp_path: Path, make_pdf: PdfFactory, report_pdf: Path, sample_docx: Path
) -> dict[str, tuple[Path, str]]:
    """name -> (file, mime type): the documents of tests/documents.py, of this folder's
    fixtures and hostile corpus (those with text), of bench/corpus.py, and golden/corpus.py."""

    def write(name: str, data: bytes) -> Path:
        path = tmp_path / name
        path.write_bytes(data)
        return path

    mixed = corpus.mixed_layout_pdf(tmp_path / "mixed.pdf")
    pdfs = {
        "documents_3x5": write("d1.pdf", documents.make_pdf(3)),
        "documents_2x40": write("d2.pdf", documents.make_pdf(2, 40)),
        "report": report_pdf,
        "report_rotated": corpus.rotated_pdf(report_pdf, tmp_path / "report_rot.pdf"),
        "blank_then_text": make_pdf([[], [(72, 700, "Text only on page two.")]]),
        "page_per_line": make_pdf([[(72, 700, f"Page {n} text")] for n in range(12)]),
        "form": hostile_corpus.pdf_form(tmp_path / "form.pdf", "Jane Q. Customer"),
        "dense_20": write("dense0.pdf", dense_pdf(20, seed=0)),
        "dense_5": write("dense1.pdf", dense_pdf(5, seed=1)),
        "mixed": mixed,
        "mixed_rotated": corpus.rotated_pdf(mixed, tmp_path / "mixed_rot.pdf"),
    }
    others = {
        "sample_docx": (sample_docx, DOCX_MIME),
        "docx_box_footnote": (
            hostile_corpus.docx_text_box_and_footnote(tmp_path / "box.docx"),
            DOCX_MIME,
        ),
        "docx_header_footer": (
            hostile_corpus.docx_header_footer(tmp_path / "hf.docx"),
            DOCX_MIME,
        ),
        "text_paragraphs": (hostile_corpus.text_paragraphs(tmp_path / "p.txt", 30), TEXT_MIME),
        "markdown_lines": (hostile_corpus.markdown_lines(tmp_path / "l.md", 60), MARKDOWN_MIME),
        "long_text": (corpus.text_file(tmp_path / "long.txt"), TEXT_MIME),
        "markdown": (corpus.markdown_file(tmp_path / "doc.md"), MARKDOWN_MIME),
        "html": (corpus.html_file(tmp_path / "doc.html"), HTML_MIME),
    }
    return {name: (path, PDF_MIME) for name, path in pdfs.items()} | others


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _parsed(path: Path, mime_type: str) -> Parsed:
    """The result exactly as the parse activity stores it (default chunking)."""
    parse = DocumentParse(path, mime_type, ChunkingOptions)
    while (parsed := parse.step()) is None:
        pass
    return parsed


def _chunks_json(pages: list[Page], options: ChunkingOptions) -> str:
    return json.dumps([chunk_to_dict(chunk) for chunk in chunk_pages(pages, options)])


def _digests(path: Path, mime_type: str) -> dict[str, str]:
    parsed = _parsed(path, mime_type)
    # Chunked again from the stored pages, as a rechunk does: the stored form must be enough.
    pages = [page_from_dict(page) for page in json.loads(parsed.pages_json)]
    found = {"pages": _digest(parsed.pages_json), "token_size": _digest(parsed.chunks_json)}
    for name, options in VARIANTS.items():
        found[name] = _digest(_chunks_json(pages, options))
    return found


def test_every_document_parses_and_chunks_exactly_as_recorded(
    tmp_path: Path, make_pdf: PdfFactory, report_pdf: Path, sample_docx: Path
) -> None:
    documents_ = _corpus(tmp_path, make_pdf, report_pdf, sample_docx)
    found = {name: _digests(path, mime) for name, (path, mime) in documents_.items()}
    if os.environ.get(RECORD):
        HASHES.write_text(json.dumps(found, indent=1, sort_keys=True) + "\n")
        pytest.skip(f"recorded {len(found)} documents into {HASHES}")
    recorded = json.loads(HASHES.read_text())
    changed = sorted(
        f"{name}/{variant}"
        for name in recorded.keys() | found.keys()
        for variant in recorded.get(name, {}).keys() | found.get(name, {}).keys()
        if recorded.get(name, {}).get(variant) != found.get(name, {}).get(variant)
    )
    assert not changed, f"output differs from the golden record for: {changed}"
