"""DOCX, HTML, plain-text and markdown readers, and the engine's mime-type dispatch."""

from __future__ import annotations

import zipfile
from pathlib import Path

import docx
import pytest

from activities.parsing import SUPPORTED_MIME_TYPES, Block, ParseError, iter_pages
from activities.parsing.detect import DOCX_MIME, HTML_MIME, MARKDOWN_MIME, TEXT_MIME


def _blocks(path: Path, mime_type: str) -> list[Block]:
    pages = list(iter_pages(path, mime_type))
    assert [page.number for page in pages] == [1]
    for block in pages[0].blocks:
        assert block.page_number == 1 and block.bbox is None and block.confidence == 1.0
    return pages[0].blocks


def _write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    return path


# --- DOCX -------------------------------------------------------------------------------


def test_docx_headings_paragraphs_lists_and_tables(sample_docx: Path) -> None:
    blocks = _blocks(sample_docx, DOCX_MIME)
    assert [(b.type, b.content) for b in blocks] == [
        ("heading", "# Project Plan"),
        ("text", "This plan describes the delivery schedule."),
        ("heading", "## Milestones"),
        ("list_item", "- Design review"),
        ("list_item", "  - Nested detail"),
        ("list_item", "- Launch"),
        ("table", "| Phase | Weeks |\n| --- | --- |\n| Build | 6 |\n| Test \\| QA | 2 |"),
        ("text", "Closing remarks."),
    ]


def test_corrupt_docx_raises_parse_error(tmp_path: Path) -> None:
    path = _write(tmp_path, "broken.docx", b"PK\x03\x04 this is not really a zip")
    with pytest.raises(ParseError, match=r"\.docx"):
        _blocks(path, DOCX_MIME)


def test_zip_that_is_not_a_word_document_raises_parse_error(tmp_path: Path) -> None:
    path = tmp_path / "other.docx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("hello.txt", "hi")
    with pytest.raises(ParseError):
        _blocks(path, DOCX_MIME)


def test_docx_without_text_raises_parse_error(tmp_path: Path) -> None:
    path = tmp_path / "empty.docx"
    docx.Document().save(str(path))
    with pytest.raises(ParseError, match="no extractable text"):
        _blocks(path, DOCX_MIME)


# --- HTML -------------------------------------------------------------------------------

HTML = """<!DOCTYPE html>
<html><head><title>Ignored title</title><style>p { color: red }</style></head>
<body>
<script>var hidden = "script text";</script>
<nav>Loose navigation text</nav>
<h1>Main <em>Title</em></h1>
<p>First paragraph with <strong>bold</strong>, <code>x = 1</code> and
   a <a href="/x">link</a>.<br>Second line.</p>
<div>Text directly in a div<div>and a nested div</div></div>
<ul><li>Apple<ul><li>Green apple</li></ul></li><li>Banana</li></ul>
<ol start="3"><li>Third</li><li>Fourth</li></ol>
<pre><code class="language-python">def f():

    return 1
</code></pre>
<table><tr><th>Name</th><th>Qty</th></tr><tr><td>Pen</td><td>2</td></tr>
<tr><td colspan="2">Total</td></tr></table>
<!-- a comment -->
<h2>End</h2>
</body></html>"""


def test_html_blocks(tmp_path: Path) -> None:
    blocks = _blocks(_write(tmp_path, "page.html", HTML), HTML_MIME)
    assert [(b.type, b.content) for b in blocks] == [
        ("text", "Loose navigation text"),
        ("heading", "# Main *Title*"),
        ("text", "First paragraph with **bold**, `x = 1` and a link.\nSecond line."),
        ("text", "Text directly in a div"),
        ("text", "and a nested div"),
        ("list_item", "- Apple"),
        ("list_item", "  - Green apple"),
        ("list_item", "- Banana"),
        ("list_item", "3. Third"),
        ("list_item", "4. Fourth"),
        ("code", "```python\ndef f():\n\n    return 1\n```"),
        ("table", "| Name | Qty |\n| --- | --- |\n| Pen | 2 |\n| Total |  |"),
        ("heading", "## End"),
    ]


def test_html_honours_declared_charset(tmp_path: Path) -> None:
    html = '<html><head><meta charset="iso-8859-1"></head><body><p>Caf\xe9</p></body></html>'
    path = _write(tmp_path, "latin.html", html.encode("latin-1"))
    assert _blocks(path, HTML_MIME)[0].content == "Caf\xe9"


def test_html_with_only_scripts_raises_no_text(tmp_path: Path) -> None:
    path = _write(tmp_path, "empty.html", "<html><script>alert(1)</script><p>  </p></html>")
    with pytest.raises(ParseError, match="no extractable text"):
        _blocks(path, HTML_MIME)


# --- TXT / MD ---------------------------------------------------------------------------


def test_text_paragraphs_split_on_blank_lines(tmp_path: Path) -> None:
    path = _write(
        tmp_path, "notes.txt", b"First line\r\nstill first.\r\n \r\nSecond.\n\n\n\nThird."
    )
    assert [(b.type, b.content) for b in _blocks(path, TEXT_MIME)] == [
        ("text", "First line\nstill first."),
        ("text", "Second."),
        ("text", "Third."),
    ]


def test_text_decoding_handles_bom_and_legacy_encodings(tmp_path: Path) -> None:
    bom = _write(tmp_path, "bom.txt", "\ufeffCaf\u00e9".encode())
    assert _blocks(bom, TEXT_MIME)[0].content == "Caf\u00e9"
    legacy = _write(tmp_path, "legacy.txt", "Na\u00efve \u201cquotes\u201d".encode("cp1252"))
    assert _blocks(legacy, TEXT_MIME)[0].content == "Na\u00efve \u201cquotes\u201d"
    utf16 = _write(tmp_path, "utf16.txt", "wide text".encode("utf-16"))
    assert _blocks(utf16, TEXT_MIME)[0].content == "wide text"


def test_binary_data_as_text_raises_parse_error(tmp_path: Path) -> None:
    path = _write(tmp_path, "binary.txt", b"\x00\x01\x02garbage\x00")
    with pytest.raises(ParseError, match="binary"):
        _blocks(path, TEXT_MIME)


def test_empty_text_raises_no_text(tmp_path: Path) -> None:
    path = _write(tmp_path, "blank.txt", "\n\n   \n")
    with pytest.raises(ParseError, match="no extractable text"):
        _blocks(path, TEXT_MIME)


MARKDOWN = """# Title
Intro right under the heading.

#hashtag is not a heading

## Steps
- one
  continued
- two

```sh
echo a

echo b
```

| a | b |
|---|---|
| 1 | 2 |
"""


def test_markdown_blocks(tmp_path: Path) -> None:
    blocks = _blocks(_write(tmp_path, "readme.md", MARKDOWN), MARKDOWN_MIME)
    assert [(b.type, b.content) for b in blocks] == [
        ("heading", "# Title"),
        ("text", "Intro right under the heading."),
        ("text", "#hashtag is not a heading"),
        ("heading", "## Steps"),
        ("list_item", "- one\n  continued"),
        ("list_item", "- two"),
        ("code", "```sh\necho a\n\necho b\n```"),
        ("table", "| a | b |\n|---|---|\n| 1 | 2 |"),
    ]


# --- dispatch ---------------------------------------------------------------------------


def test_unsupported_mime_type_fails_immediately_and_names_supported_types(
    tmp_path: Path,
) -> None:
    path = _write(tmp_path, "sheet.xlsx", b"PK\x03\x04")
    with pytest.raises(ParseError) as caught:
        iter_pages(path, "application/vnd.ms-excel")
    message = str(caught.value)
    assert "application/vnd.ms-excel" in message
    assert all(mime in message for mime in SUPPORTED_MIME_TYPES)


def test_mime_type_parameters_and_case_are_ignored(tmp_path: Path) -> None:
    path = _write(tmp_path, "a.txt", "hello")
    assert _blocks(path, "Text/Plain; charset=utf-8")[0].content == "hello"


def test_nul_characters_never_reach_blocks(tmp_path: Path) -> None:
    path = _write(tmp_path, "nul.txt", "a\x00b\n\n\x00".encode("utf-16"))
    assert [b.content for b in _blocks(path, TEXT_MIME)] == ["ab"]


def test_utf8_html_without_charset_is_decoded_as_utf8(tmp_path: Path) -> None:
    text = "Gr\u00fc\u00dfe \u2013 \u201cquoted\u201d"
    path = _write(tmp_path, "plain.html", f"<p>{text}</p>")
    assert _blocks(path, HTML_MIME)[0].content == text
