"""PDF documents with Chinese text: an A4 document with WenQuanYi Micro Hei registered
(embedded as a subset, so any reader shows the text; licence in `data/fonts/NOTICE.md`)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from fpdf import FPDF

FONT = Path(__file__).parent / "data" / "fonts" / "wqy-microhei.ttf"
FONT_NAME = "wqy"


def new_document(*, title: str, created_at: datetime) -> FPDF:
    """A fresh A4 document with the CJK font set; `created_at` fixes the metadata date, so the
    same content renders to the same bytes."""
    pdf = FPDF(format="A4")
    pdf.set_creation_date(created_at)
    pdf.set_title(title)
    pdf.set_creator("techexchange")
    pdf.add_font(FONT_NAME, fname=str(FONT))
    pdf.add_page()
    pdf.set_font(FONT_NAME, size=11)
    return pdf
