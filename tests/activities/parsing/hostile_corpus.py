"""A hostile corpus made on the fly: bombs of each format and real-world oddities.

Shared by the tests and bench/hostile.py; every builder writes one file and returns its path.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import docx
import psutil
from reportlab.pdfgen import canvas

W = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
MC = 'xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006"'
WPS = 'xmlns:wps="http://schemas.microsoft.com/office/word/2010/wordprocessingShape"'
R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
    'relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Default Extension="png" ContentType="image/png"/>'
    '<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-'
    'officedocument.wordprocessingml.document.main+xml"/>'
    '<Override PartName="/word/footnotes.xml" ContentType="application/vnd.openxmlformats-'
    'officedocument.wordprocessingml.footnotes+xml"/>'
    "</Types>"
)
ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    f'<Relationship Id="rId1" Type="{R}/officeDocument" Target="word/document.xml"/>'
    "</Relationships>"
)


def paragraph(text: str) -> str:
    return f"<w:p><w:r><w:t>{text}</w:t></w:r></w:p>"


def raw_docx(
    path: Path,
    body: str,
    *,
    rels: str = "",
    parts: dict[str, bytes] | None = None,
) -> Path:
    """A minimal .docx written by hand (no python-docx), so bombs build in milliseconds."""
    document = f'<?xml version="1.0" encoding="UTF-8"?><w:document {W} {MC} {WPS}><w:body>'
    document += body + "</w:body></w:document>"
    doc_rels = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        f"{rels}</Relationships>"
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", TYPES)
        archive.writestr("_rels/.rels", ROOT_RELS)
        archive.writestr("word/document.xml", document)
        archive.writestr("word/_rels/document.xml.rels", doc_rels)
        for name, data in (parts or {}).items():
            archive.writestr(name, data)
    return path


def docx_paragraph_bomb(path: Path, paragraphs: int) -> Path:
    return raw_docx(path, paragraph("Lorem ipsum dolor sit amet.") * paragraphs)


def docx_image_bomb(path: Path, inflated_bytes: int) -> Path:
    """A few words and one image part that inflates to `inflated_bytes` of zeros."""
    rel = f'<Relationship Id="rId9" Type="{R}/image" Target="media/image1.png"/>'
    target = raw_docx(path, paragraph("tiny"), rels=rel)
    block = bytes(1024 * 1024)
    with (
        zipfile.ZipFile(target, "a", zipfile.ZIP_DEFLATED) as archive,
        archive.open("word/media/image1.png", "w", force_zip64=True) as member,
    ):
        for _ in range(inflated_bytes // len(block)):
            member.write(block)
    return path


def docx_missing_media(path: Path) -> Path:
    rel = f'<Relationship Id="rId9" Type="{R}/image" Target="media/missing.png"/>'
    return raw_docx(path, paragraph("Text beside a picture that is not there."), rels=rel)


def docx_text_box_and_footnote(path: Path) -> Path:
    box = (
        '<w:p><w:r><mc:AlternateContent><mc:Choice Requires="wps"><w:drawing><wps:txbx>'
        f"<w:txbxContent>{paragraph('Text inside a box')}</w:txbxContent></wps:txbx>"
        "</w:drawing></mc:Choice><mc:Fallback><w:pict><w:txbxContent>"
        f"{paragraph('Text inside a box')}</w:txbxContent></w:pict></mc:Fallback>"
        "</mc:AlternateContent></w:r></w:p>"
    )
    notes = (
        f'<?xml version="1.0" encoding="UTF-8"?><w:footnotes {W}>'
        f'<w:footnote w:type="separator" w:id="-1">{paragraph("---")}</w:footnote>'
        f'<w:footnote w:id="1">{paragraph("A footnote worth reading")}</w:footnote>'
        "</w:footnotes>"
    )
    rel = f'<Relationship Id="rId8" Type="{R}/footnotes" Target="footnotes.xml"/>'
    return raw_docx(path, box, rels=rel, parts={"word/footnotes.xml": notes.encode()})


def docx_header_footer(path: Path) -> Path:
    document = docx.Document()
    document.add_paragraph("Body text.")
    section = document.sections[0]
    section.header.paragraphs[0].text = "Company Confidential"
    section.footer.paragraphs[0].text = "Page footer text"
    document.save(str(path))
    return path


def html_deep(path: Path, depth: int) -> Path:
    path.write_text("<div>" * depth + "deep" + "</div>" * depth)
    return path


def html_wide(path: Path, elements: int) -> Path:
    path.write_text("<html><body>" + "<span>x</span>" * elements + "</body></html>")
    return path


def text_paragraphs(path: Path, paragraphs: int, words: int = 40) -> Path:
    path.write_text(("word " * words + "\n\n") * paragraphs)
    return path


def markdown_lines(path: Path, lines: int) -> Path:
    path.write_text("".join(f"- item {n} with a few words\n" for n in range(lines)))
    return path


def pdf_form(path: Path, value: str) -> Path:
    pdf = canvas.Canvas(str(path))
    pdf.acroForm.textfield(name="customer", value=value, x=72, y=700, width=300, height=20)
    pdf.showPage()
    pdf.save()
    return path


def cpu_seconds(pid: int) -> float | None:
    """CPU time a process has used so far; None once it is gone."""
    try:
        times = psutil.Process(pid).cpu_times()
    except psutil.NoSuchProcess:
        return None
    return float(times.user + times.system)
