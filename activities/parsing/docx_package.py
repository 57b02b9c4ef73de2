"""A .docx package made safe to hand to python-docx: bounded, and tolerant of missing media.

python-docx inflates every part of the zip into memory, media included, and fails on a
relationship whose target is missing. So before it sees the file, every member's header is
checked (compression ratio, declared size), only the XML parts are inflated - in pieces,
counting the real bytes (headers can lie), paragraphs and elements against the limits - and
media, embeddings and missing targets become empty placeholders: the text does not need
them, and a 2 GiB image is never inflated.
"""

from __future__ import annotations

import io
import posixpath
import zipfile
from collections.abc import Iterator

from docx.oxml.parser import parse_xml

from .limits import MIB, Checkpoint, LimitExceeded, over_limit

_XML_SUFFIXES = (".xml", ".rels")
_READ_BYTES = MIB  # inflate in pieces this big, with a checkpoint between them
# Small parts compress far better than media (an empty table can be 1:200); the ratio is
# only judged for members big enough to hurt.
_RATIO_MIN_BYTES = MIB
_PARAGRAPH_TAGS = (b"<w:p>", b"<w:p ")
_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}Relationship"


def _check_header(info: zipfile.ZipInfo, checkpoint: Checkpoint) -> None:
    limit = checkpoint.limits.max_compression_ratio
    if info.file_size >= _RATIO_MIN_BYTES:
        ratio = info.file_size // max(info.compress_size, 1)
        if ratio > limit:
            raise LimitExceeded(
                f"document part {info.filename} inflates {ratio:,} times "
                f"({info.file_size // MIB:,} MB from {info.compress_size:,} bytes); the limit "
                f"is {limit:,} (DOCKET_MAX_COMPRESSION_RATIO)"
            )
    if info.filename.endswith(_XML_SUFFIXES):
        checkpoint.check("max_docx_part_bytes", info.file_size, f"of XML in {info.filename}")


def _elements(piece: bytes) -> int:
    # Start and empty-element tags; end tags, declarations and comments are not elements.
    return piece.count(b"<") - piece.count(b"</") - piece.count(b"<?") - piece.count(b"<!")


def _inflate(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, checkpoint: Checkpoint, paragraphs: int
) -> tuple[bytes, int]:
    """The part's bytes and the package's paragraphs so far (`paragraphs` before it). Its
    paragraphs and elements are counted piece by piece, so a part over either limit fails
    as soon as it crosses it, without inflating the rest (a 1.5M-paragraph part took
    seconds to inflate and count in full)."""
    limits = checkpoint.limits
    limit = limits.max_docx_part_bytes
    pieces: list[bytes] = []
    size = elements = 0
    tail = b""  # the end of the previous piece: a tag split between two pieces still counts
    with archive.open(info) as member:
        while piece := member.read(_READ_BYTES):
            checkpoint.tick()
            size += len(piece)
            if size > limit:  # the header said less
                checkpoint.check("max_docx_part_bytes", size, f"of XML in {info.filename}")
            elements += _elements(piece)
            if elements > limits.max_xml_elements:
                over_limit(
                    "max_xml_elements",
                    elements,
                    f"XML elements in {info.filename}",
                    limits,
                    more=True,
                )
            window = tail + piece
            paragraphs += sum(map(window.count, _PARAGRAPH_TAGS)) - sum(
                map(tail.count, _PARAGRAPH_TAGS)
            )
            if paragraphs > limits.max_paragraphs:
                over_limit("max_paragraphs", paragraphs, "paragraphs", limits, more=True)
            tail = piece[-len(_PARAGRAPH_TAGS[0]) :]
            pieces.append(piece)
    return b"".join(pieces), paragraphs


def _internal_targets(rels_name: str, data: bytes) -> Iterator[str]:
    """Member names of the internal targets of one relationships part."""
    # word/_rels/document.xml.rels describes word/document.xml: targets are relative to word/.
    base = posixpath.dirname(posixpath.dirname(rels_name))
    for rel in parse_xml(data).iter(_REL):
        target = rel.get("Target") or ""
        if rel.get("TargetMode") == "External" or not target:
            continue
        joined = target.lstrip("/") if target.startswith("/") else posixpath.join(base, target)
        yield posixpath.normpath(joined)


def safe_package(data: io.BufferedIOBase | str, checkpoint: Checkpoint) -> io.BytesIO:
    """The package as python-docx should read it (see the module docstring).

    Raises zipfile.BadZipFile for a file that is no zip, LimitExceeded over a limit.
    """
    out = io.BytesIO()
    with zipfile.ZipFile(data) as archive, zipfile.ZipFile(out, "w") as copy:
        infos = archive.infolist()
        present = {info.filename for info in infos}
        for info in infos:
            checkpoint.tick()
            _check_header(info, checkpoint)
        paragraphs = 0  # over the whole package
        written: set[str] = set()
        for info in infos:
            if info.filename in written:
                continue  # a duplicate member name: the first one counts, as for zipfile
            written.add(info.filename)
            if not info.filename.endswith(_XML_SUFFIXES):
                copy.writestr(info.filename, b"")
                continue
            content, paragraphs = _inflate(archive, info, checkpoint, paragraphs)
            copy.writestr(info.filename, content)
            if info.filename.endswith(".rels"):
                for target in _internal_targets(info.filename, content):
                    if target not in present:
                        present.add(target)
                        written.add(target)
                        copy.writestr(target, b"")
    out.seek(0)
    return out
