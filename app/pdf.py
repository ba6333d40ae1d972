"""Printed documents: render a template to PDF bytes with WeasyPrint."""
from __future__ import annotations

from flask import render_template
from weasyprint import HTML

from app import ROOT

PAGE_SIZES = {"A4": "A4", "Letter": "letter", "4x6": "4in 6in"}


def render_pdf(template: str, *, page_size: str = "A4", **context) -> bytes:
    """The PDF of `template` (under templates/pdf/), laid out for `page_size`: A4, Letter or 4x6."""
    if page_size not in PAGE_SIZES:
        raise ValueError(f"unknown page size {page_size}")
    html = render_template(template, page_size=PAGE_SIZES[page_size], **context)
    return HTML(string=html, base_url=str(ROOT / "static")).write_pdf()
