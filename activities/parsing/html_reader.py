"""HTML reader (BeautifulSoup with the stdlib html.parser; lxml is deliberately not used)."""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bs4 import BeautifulSoup, MarkupResemblesLocatorWarning, XMLParsedAsHTMLWarning
from bs4.builder._htmlparser import BeautifulSoupHTMLParser, HTMLParserTreeBuilder
from bs4.element import NavigableString, PreformattedString, Tag

from .limits import Checkpoint, over_limit
from .markdown import collapse_whitespace, markdown_table
from .types import (
    BLOCK_CODE,
    BLOCK_HEADING,
    BLOCK_LIST_ITEM,
    BLOCK_TABLE,
    BLOCK_TEXT,
    Block,
    Page,
    ParseError,
)

_DROP = frozenset(
    {"script", "style", "noscript", "template", "head", "svg", "math", "canvas", "iframe"}
    | {"object", "embed", "select", "textarea"}
)
_HEADINGS = {f"h{level}": level for level in range(1, 7)}
# Elements that separate blocks; their inline content (if any) becomes its own text block.
_BLOCK_TAGS = frozenset(
    {"html", "body", "div", "section", "article", "main", "header", "footer", "nav", "aside"}
    | {"ul", "ol", "dl", "dt", "dd", "form", "fieldset", "legend", "figure", "figcaption"}
    | {"blockquote", "details", "summary", "center", "address", "hgroup", "menu", "p"}
    | {"h1", "h2", "h3", "h4", "h5", "h6", "li", "pre", "table", "hr"}
)
_EMPHASIS = {"strong": "**", "b": "**", "em": "*", "i": "*"}
_CODE = frozenset({"code", "kbd", "samp"})
_LISTS = ["ul", "ol"]
# <br> must survive whitespace collapsing, so it is carried as a private-use character.
_BREAK = "\ue000"
_EDGES = re.compile(r"^(\s*)(.*?)(\s*)$", re.DOTALL)
_LANGUAGE = re.compile(r"^(?:language|lang)-(\S+)$")
# Markup is fed to the parser in pieces of this many characters with a checkpoint between
# them: ~20 ms of parsing each, so a cancel lands quickly, while few enough pieces that an
# unterminated construct (re-scanned by html.parser on every feed) stays cheap.
_FEED_CHARS = 64 * 1024
_START_TAG = re.compile(rb"<[A-Za-z]")


class _BoundedParser(BeautifulSoupHTMLParser):
    """html.parser fed piece by piece, counting elements and depth against the limits."""

    checkpoint = Checkpoint()  # replaced per parse by _BoundedBuilder

    def feed(self, data: str) -> None:
        for start in range(0, len(data), _FEED_CHARS):
            self.checkpoint.tick()
            super().feed(data[start : start + _FEED_CHARS])

    def handle_starttag(
        self, tag: str, attrs: list[tuple[str, str | None]], handle_empty_element: bool = True
    ) -> None:
        self.checkpoint.count("max_html_elements", "HTML elements")
        super().handle_starttag(tag, attrs, handle_empty_element)
        depth = len(self.soup.tagStack) - 1  # the soup itself is at the bottom
        if depth > self.checkpoint.limits.max_depth:
            over_limit("max_depth", depth, "levels of nesting", self.checkpoint.limits, more=True)


class _BoundedBuilder(HTMLParserTreeBuilder):
    def __init__(self, checkpoint: Checkpoint) -> None:
        super().__init__()
        parser = type("_Parser", (_BoundedParser,), {"checkpoint": checkpoint})
        self._parser_class: type[BeautifulSoupHTMLParser] = parser

    def feed(self, markup: Any, _parser_class: Any = None) -> None:
        super().feed(markup, _parser_class=self._parser_class)


def _is_text(node: object) -> bool:
    # Comments, doctypes, CDATA and processing instructions are PreformattedStrings.
    return isinstance(node, NavigableString) and not isinstance(node, PreformattedString)


def _has_block_inside(tag: Tag) -> bool:
    # A plain scan: bs4's find() with a list of names builds a matcher per call, which made
    # it ~1 ms per element - minutes for a large page.
    return any(isinstance(node, Tag) and node.name in _BLOCK_TAGS for node in tag.descendants)


def _wrap(inner: str, marker: str) -> str:
    # Markdown emphasis must hug the text: "** x **" is not bold, so keep spaces outside.
    match = _EDGES.match(inner)
    if match is None or not match.group(2):
        return inner
    return f"{match.group(1)}{marker}{match.group(2)}{marker}{match.group(3)}"


def _inline_tag(tag: Tag, exclude: frozenset[str] = frozenset()) -> str:
    """Markdown for one element in inline context (emphasis, code, line breaks)."""
    if tag.name in _DROP or tag.name in exclude:
        return ""
    if tag.name == "br":
        return _BREAK
    if tag.name in _CODE:
        code = tag.get_text()
        return _wrap(code, "``" if "`" in code else "`")
    if tag.name in _EMPHASIS:
        return _wrap(_inline(tag, exclude), _EMPHASIS[tag.name])
    if tag.name in _BLOCK_TAGS:
        # Block elements nested in inline context (e.g. <p> inside <li>) still need a word
        # boundary around them.
        return f" {_inline(tag, exclude)} "
    return _inline(tag, exclude)


def _inline(node: Tag, exclude: frozenset[str] = frozenset()) -> str:
    """Markdown for a node's inline content."""
    parts: list[str] = []
    for child in node.children:
        if _is_text(child):
            parts.append(str(child))
        elif isinstance(child, Tag):
            parts.append(_inline_tag(child, exclude))
    return "".join(parts)


def _clean(text: str, breaks: str = "\n") -> str:
    lines = (collapse_whitespace(line) for line in text.split(_BREAK))
    return breaks.join(line for line in lines if line).strip()


def _block(kind: str, content: str) -> Block:
    return Block(type=kind, content=content, page_number=1, bbox=None, confidence=1.0)


def _code_block(pre: Tag) -> str:
    text = pre.get_text().strip("\n")
    if not text.strip():
        return ""
    language = ""
    for candidate in [pre, *pre.find_all("code", limit=1)]:
        for css_class in candidate.get_attribute_list("class"):
            match = _LANGUAGE.match(str(css_class or ""))
            if match:
                language = match.group(1)
    fence = "~~~" if "```" in text else "```"
    return f"{fence}{language}\n{text}\n{fence}"


def _table(table: Tag) -> str:
    rows: list[list[str]] = []
    for row in table.find_all("tr"):
        if row.find_parent("table") is not table:
            continue  # a nested table's row; its text is already inside the outer cell
        cells: list[str] = []
        for cell in row.find_all(["td", "th"], recursive=False):
            cells.append(_clean(_inline(cell), breaks=" "))
            span = str(cell.get("colspan") or "1")
            # Merged cells keep later columns aligned; the cap guards against absurd spans.
            cells.extend([""] * (min(int(span), 100) - 1 if span.isdigit() else 0))
        rows.append(cells)
    return markdown_table(rows)


class _Walker:
    """Depth-first walk emitting one block per heading, paragraph, list item, pre and table."""

    def __init__(self, checkpoint: Checkpoint) -> None:
        self.checkpoint = checkpoint
        self.blocks: list[Block] = []
        self._buffer: list[str] = []
        self._list_depth = 0

    def flush(self) -> None:
        text = _clean("".join(self._buffer))
        self._buffer.clear()
        if text:
            self.blocks.append(_block(BLOCK_TEXT, text))

    def walk(self, node: Tag) -> None:
        for child in node.children:
            if isinstance(child, Tag):
                self._visit(child)
            elif _is_text(child):
                self._buffer.append(str(child))

    def _visit(self, tag: Tag) -> None:
        self.checkpoint.tick()
        name = tag.name
        if name in _DROP:
            return
        if name == "br":
            self._buffer.append(_BREAK)
            return
        if name not in _BLOCK_TAGS and not _has_block_inside(tag):
            self._buffer.append(_inline_tag(tag))
            return
        self.flush()
        if name in _HEADINGS:
            text = _clean(_inline(tag), breaks=" ")
            if text:
                self.blocks.append(_block(BLOCK_HEADING, "#" * _HEADINGS[name] + " " + text))
        elif name == "li":
            self._list_item(tag)
        elif name == "pre":
            code = _code_block(tag)
            if code:
                self.blocks.append(_block(BLOCK_CODE, code))
        elif name == "table":
            table = _table(tag)
            if table:
                self.blocks.append(_block(BLOCK_TABLE, table))
        else:
            self.walk(tag)
            self.flush()

    def _list_item(self, item: Tag) -> None:
        parent = item.parent
        marker = "- "
        if parent is not None and parent.name == "ol":
            start = str(parent.get("start") or "1")
            first = int(start) if start.isdigit() else 1
            marker = f"{first + len(item.find_previous_siblings('li'))}. "
        text = _clean(_inline(item, exclude=frozenset(_LISTS)), breaks=" ")
        if text:
            indent = "  " * self._list_depth
            self.blocks.append(_block(BLOCK_LIST_ITEM, indent + marker + text))
        self._list_depth += 1
        try:
            for nested in item.find_all(_LISTS):
                if nested.find_parent("li") is item:
                    self.walk(nested)
                    self.flush()
        finally:
            self._list_depth -= 1


def html_blocks(data: bytes | str, checkpoint: Checkpoint | None = None) -> list[Block]:
    point = checkpoint or Checkpoint()
    with warnings.catch_warnings():
        # bs4 warns about input that merely looks like a URL or XML; neither matters here and
        # the service runs tests with warnings as errors.
        warnings.simplefilter("ignore", MarkupResemblesLocatorWarning)
        warnings.simplefilter("ignore", XMLParsedAsHTMLWarning)
        soup = BeautifulSoup(data, builder=_BoundedBuilder(point))
    walker = _Walker(point)
    try:
        walker.walk(soup)
    except RecursionError as exc:
        raise ParseError("The HTML document is nested too deeply to be parsed.") from exc
    walker.flush()
    return walker.blocks


def _decode(data: bytes) -> str | bytes:
    """UTF-8 if the bytes are valid UTF-8, else the raw bytes for BeautifulSoup to decode.

    Valid UTF-8 is by far the most common case and a strong signal; BeautifulSoup's own
    guessing (used for everything else, honouring <meta charset>) can mistake unusual
    UTF-8 input for UTF-16.
    """
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data


def iter_html_pages(path: Path, checkpoint: Checkpoint) -> Iterator[Page]:
    data = path.read_bytes()
    # Start tags counted in the raw bytes (milliseconds) so a page far over the limit fails
    # at once rather than after parsing up to it; the parser's own count stays the rule.
    checkpoint.check("max_html_elements", len(_START_TAG.findall(data)), "HTML elements")
    for block in html_blocks(_decode(data), checkpoint):
        yield Page(number=1, blocks=[block])
