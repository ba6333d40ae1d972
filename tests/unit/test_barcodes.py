"""Barcode SVGs: printed through WeasyPrint at 300 dpi they scan back, with crisp bars at the nominal size."""
from __future__ import annotations

import base64
import re
import shutil
import subprocess
from xml.etree import ElementTree

import pytest
from PIL import Image

from app.barcodes import code128_svg, ean13_svg, gs1_128_svg
from app.domain.gs1 import gs1_128_sscc_data, make_sscc

ZBAR = "{http://zbar.sourceforge.net/2008/barcode}"
SSCC = make_sscc(3, "0614141", 123456789)
needs_tools = pytest.mark.skipif(
    not (shutil.which("zbarimg") and shutil.which("pdftoppm")),
    reason="needs zbarimg (zbar-tools) and pdftoppm (poppler-utils)",
)


def printed_page(tmp_path, *svgs: str) -> str:
    """The SVGs inline in an HTML page, through WeasyPrint to PDF, rasterised at 300 dpi; the PNG's path."""
    from weasyprint import HTML

    body = "".join(f"<p>{svg}</p>" for svg in svgs)
    HTML(string=f"<!doctype html><html><body>{body}</body></html>").write_pdf(tmp_path / "label.pdf")
    subprocess.run(["pdftoppm", "-r", "300", "-png", "-singlefile", tmp_path / "label.pdf", tmp_path / "label"],
                   check=True)
    return str(tmp_path / "label.png")


def scanned(png: str) -> list[tuple[str, str, str]]:
    """(symbology, modifiers, data) of every barcode zbarimg finds."""
    xml = subprocess.run(["zbarimg", "-q", "--xml", png], capture_output=True, text=True).stdout
    found = []
    for symbol in ElementTree.fromstring(xml).iter(f"{ZBAR}symbol"):
        data = symbol.find(f"{ZBAR}data")
        text = data.text.strip()
        # zbar sends data with control characters (the GS separator) as base64.
        decoded = base64.b64decode(text).decode() if data.get("format") == "base64" else text
        found.append((symbol.get("type"), symbol.get("modifiers", ""), decoded))
    return found


@needs_tools
def test_an_sscc_label_printed_through_weasyprint_scans_as_gs1_128(tmp_path):
    png = printed_page(tmp_path, gs1_128_svg(gs1_128_sscc_data(SSCC)))
    assert scanned(png) == [("CODE-128", "GS1", "00" + SSCC)]


@needs_tools
def test_sku_bin_and_gtin_codes_on_one_page_all_scan(tmp_path):
    png = printed_page(tmp_path, code128_svg("TEE-RED-M"), code128_svg("BIN-A01-03"), ean13_svg("4006381333931"),
                       gs1_128_svg("(01)09506000134352(10)LOT7(21)XYZ"))
    found = {(kind, data) for kind, _, data in scanned(png)}
    assert found == {("CODE-128", "TEE-RED-M"), ("CODE-128", "BIN-A01-03"), ("EAN-13", "4006381333931"),
                     ("CODE-128", "010950600013435210LOT7\x1d21XYZ")}


@needs_tools
def test_the_printed_bars_are_crisp_black_on_white_and_whole_modules_wide(tmp_path):
    png = printed_page(tmp_path, gs1_128_svg(gs1_128_sscc_data(SSCC), human_readable=False))
    image = Image.open(png).convert("L")
    histogram = image.histogram()
    assert histogram[0] / sum(histogram[:255]) > 0.99
    module_px = 0.495 / 25.4 * 300
    bars = dark_runs(middle_scanline(image))
    assert len(bars) == 13 * 3 + 4  # start, FNC1, ten digit pairs, check: three bars each; stop: four
    for width in bars:
        assert abs(width / module_px - round(width / module_px)) < 0.25, width


def middle_scanline(image: Image.Image) -> list[int]:
    inked_rows = [y for y in range(image.height) if min(image.crop((0, y, image.width, y + 1)).getextrema()) == 0]
    y = (inked_rows[0] + inked_rows[-1]) // 2
    return [image.getpixel((x, y)) for x in range(image.width)]


def dark_runs(scanline: list[int]) -> list[int]:
    runs, width = [], 0
    for value in scanline + [255]:
        if value < 128:
            width += 1
        elif width:
            runs.append(width)
            width = 0
    return runs


def test_the_svg_is_sized_in_millimetres_from_the_x_dimension():
    svg = gs1_128_svg(gs1_128_sscc_data(SSCC), module_mm=0.5, height_mm=30, human_readable=False)
    # Start C, FNC1, ten digit pairs, check symbol: 13 x 11 modules, stop 13, quiet zones 2 x 10.
    width = re.match(r'<svg [^>]*width="([\d.]+)mm" height="30mm"', svg).group(1)
    assert float(width) == (13 * 11 + 13 + 20) * 0.5


def test_the_svg_has_no_ids_or_xml_declaration_to_clash_inline():
    svg = code128_svg("BIN-A01-03")
    assert svg.startswith("<svg ") and "id=" not in svg and "<?xml" not in svg


def test_the_human_readable_line_shows_each_application_identifier_in_brackets():
    assert "(00) " + SSCC in gs1_128_svg(gs1_128_sscc_data(SSCC))
    assert ">TEE-RED-M<" in code128_svg("TEE-RED-M")


@pytest.mark.parametrize("render, data", [
    (code128_svg, "SKU-É"),
    (code128_svg, ""),
    (ean13_svg, "4006381333932"),
    (ean13_svg, "12345"),
    (gs1_128_svg, "(00)306141411234567890"),
])
def test_data_a_symbol_cannot_carry_is_refused(render, data):
    with pytest.raises(ValueError):
        render(data)


def test_a_gtin_12_is_printed_as_ean_13_with_a_leading_zero():
    assert ">0416000336108<" in ean13_svg("416000336108")
