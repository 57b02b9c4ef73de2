"""How a worker's parse subprocesses are bounded: slots, memory, wall time, limits, OCR."""

from __future__ import annotations

from dataclasses import dataclass, field

from activities.parsing.limits import MIB, ParseLimits
from activities.parsing.types import OcrOptions
from core.settings import Settings


@dataclass(frozen=True)
class PoolConfig:
    slots: int
    memory_bytes: int
    wall_seconds: float
    cancel_grace_seconds: float
    limits: ParseLimits = field(default_factory=ParseLimits)
    ocr_concurrency: int = 1  # documents being OCR'd at once (DOCKET_OCR_CONCURRENCY)
    ocr_render_dpi: int = OcrOptions.render_dpi

    @classmethod
    def from_settings(cls, settings: Settings) -> PoolConfig:
        return cls(
            slots=settings.parse_slots,
            memory_bytes=settings.max_parse_memory_mb * MIB,
            wall_seconds=settings.max_parse_seconds,
            cancel_grace_seconds=settings.parse_cancel_grace_ms / 1000,
            limits=ParseLimits(
                max_pages=settings.max_pages,
                max_paragraphs=settings.max_paragraphs,
                max_text_chars=settings.max_text_chars,
                max_chunks=settings.max_chunks,
                max_result_bytes=settings.max_result_mb * MIB,
                max_html_elements=settings.max_html_elements,
                max_xml_elements=settings.max_xml_elements,
                max_depth=settings.max_depth,
                max_docx_part_bytes=settings.max_docx_part_mb * MIB,
                max_compression_ratio=settings.max_compression_ratio,
                max_image_pixels=settings.max_image_pixels,
            ),
            ocr_concurrency=settings.ocr_concurrency,
            ocr_render_dpi=settings.ocr_render_dpi,
        )
