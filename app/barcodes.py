"""Barcodes as inline SVG for labels and PDFs: Code 128 for SKUs and bins, GS1-128, EAN-13.

The SVG is sized in millimetres and draws the bars as strokes with crisp edges, so WeasyPrint
draws them as vector bars at the nominal X-dimension (no raster, no blur at any resolution).
It carries no ids and no XML declaration, so several can sit inline in one HTML page.
"""
from __future__ import annotations

from html import escape

from barcode.codex import Code128, Gs1_128
from barcode.ean import EAN13

from app.domain import gs1

CODE128_QUIET_MODULES = 10
EAN13_QUIET_MODULES = (11, 7)
TEXT_MM = 3.0
TEXT_GAP_MM = 1.0


def code128_svg(data: str, *, module_mm: float = 0.33, height_mm: float = 12.0, human_readable: bool = True) -> str:
    """A Code 128 symbol for a SKU, bin or document code (printable ASCII)."""
    if not isinstance(data, str) or not data or any(not 32 <= ord(c) < 127 for c in data):
        raise ValueError(f"Code 128 data must be printable ASCII, got {data!r}")
    modules = Code128(data).build()[0]
    return _svg(modules, (CODE128_QUIET_MODULES,) * 2, module_mm, height_mm, data if human_readable else "")


def gs1_128_svg(ai_data: str, *, module_mm: float = 0.495, height_mm: float = 31.75,
                human_readable: bool = True) -> str:
    """A GS1-128 symbol for "(AI)value" data such as gs1_128_sscc_data(sscc); logistic-label size by default."""
    encoded = gs1.element_string(ai_data).replace(gs1.GROUP_SEPARATOR, Gs1_128.FNC1_CHAR)
    modules = Gs1_128(encoded).build()[0]
    text = " ".join(f"({ai}) {value}" for ai, value in gs1.parse_ai_data(ai_data))
    return _svg(modules, (CODE128_QUIET_MODULES,) * 2, module_mm, height_mm, text if human_readable else "")


def ean13_svg(gtin: str, *, module_mm: float = 0.33, height_mm: float = 22.85, human_readable: bool = True) -> str:
    """An EAN-13 symbol for a GTIN-13 (a GTIN-12 is encoded with a leading zero)."""
    code = "0" + gtin if isinstance(gtin, str) and len(gtin) == 12 else gtin
    if not (isinstance(code, str) and len(code) == 13 and gs1.is_valid_gtin(code)):
        raise ValueError(f"EAN-13 needs a GTIN-12 or GTIN-13 with a valid check digit, got {gtin!r}")
    modules = EAN13(code[:12]).build()[0]
    return _svg(modules, EAN13_QUIET_MODULES, module_mm, height_mm, code if human_readable else "")


def _svg(modules: str, quiet: tuple[int, int], module_mm: float, height_mm: float, text: str) -> str:
    width_mm = (quiet[0] + len(modules) + quiet[1]) * module_mm
    total_mm = height_mm + (TEXT_GAP_MM + TEXT_MM if text else 0)
    # The bars of each width form one stroked path (four elements at most, not one per bar: rendering time grows
    # with the element count), and strokes are snapped to the device's pixels, so the edges stay crisp.
    widths: dict[int, list[str]] = {}
    for start, run in _bar_runs(modules):
        widths.setdefault(run, []).append(f"M{_mm((quiet[0] + start + run / 2) * module_mm)} 0v{_mm(height_mm)}")
    bars = "".join(f'<path stroke-width="{_mm(run * module_mm)}" d="{"".join(lines)}"/>'
                   for run, lines in sorted(widths.items()))
    label = (f'<text x="{_mm(width_mm / 2)}" y="{_mm(total_mm - 0.2)}" font-family="DejaVu Sans Mono, monospace" '
             f'font-size="{_mm(TEXT_MM)}" text-anchor="middle" fill="#000">{escape(text)}</text>') if text else ""
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_mm(width_mm)}mm" height="{_mm(total_mm)}mm" '
        f'viewBox="0 0 {_mm(width_mm)} {_mm(total_mm)}" role="img" aria-label="{escape(text or "barcode")}">'
        f'<rect width="{_mm(width_mm)}" height="{_mm(total_mm)}" fill="#fff"/>'
        f'<g fill="none" stroke="#000" shape-rendering="crispEdges">{bars}</g>{label}</svg>'
    )


def _bar_runs(modules: str) -> list[tuple[int, int]]:
    """(first module, width) of each dark bar in a 0/1 module string."""
    runs: list[tuple[int, int]] = []
    start = None
    for position, module in enumerate(modules + "0"):
        if module == "1" and start is None:
            start = position
        elif module != "1" and start is not None:
            runs.append((start, position - start))
            start = None
    return runs


def _mm(value: float) -> str:
    return f"{value:.4f}".rstrip("0").rstrip(".")
