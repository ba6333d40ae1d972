"""GS1 check digits, GTINs and SSCCs against the shared vectors, and an SSCC that a scanner reads back."""
from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.domain import gs1
from app.domain.gs1 import (check_digit, element_string, gs1_128_sscc_data, has_valid_check_digit, is_valid_gtin,
                            is_valid_sscc, make_sscc, parse_ai_data)

SHARED = Path(os.environ.get("KEEL_SHARED", Path(__file__).resolve().parents[3].parent / "shared"))
VECTORS = json.loads((SHARED / "fixtures" / "gs1_check_digits.json").read_text())


@pytest.mark.parametrize("code", VECTORS["valid"])
def test_each_valid_vector_ends_in_the_check_digit_of_its_body(code):
    assert check_digit(code[:-1]) == int(code[-1])
    assert has_valid_check_digit(code)


@pytest.mark.parametrize("code", VECTORS["valid"])
def test_a_valid_vector_is_a_gtin_or_an_sscc_by_its_length(code):
    assert is_valid_gtin(code) == (len(code) in (8, 12, 13, 14))
    assert is_valid_sscc(code) == (len(code) == 18)


@pytest.mark.parametrize("code", VECTORS["bad_check_digit"])
def test_a_wrong_check_digit_is_rejected(code):
    assert check_digit(code[:-1]) != int(code[-1])
    assert not has_valid_check_digit(code)
    assert not is_valid_gtin(code) and not is_valid_sscc(code)


@pytest.mark.parametrize("code", VECTORS["not_digits"] + ["", "١٢٣٤٥٦٧٨", "1234567²"])
def test_anything_but_ascii_digits_is_not_a_code(code):
    assert not has_valid_check_digit(code)
    assert not is_valid_gtin(code) and not is_valid_sscc(code)
    with pytest.raises(ValueError, match="digits 0-9"):
        check_digit(code)


@given(st.text("0123456789", min_size=1, max_size=17), st.data())
def test_changing_any_one_digit_breaks_the_check_digit(body, data):
    code = body + str(check_digit(body))
    position = data.draw(st.integers(0, len(code) - 1))
    other = data.draw(st.sampled_from([d for d in "0123456789" if d != code[position]]))
    assert has_valid_check_digit(code)
    assert not has_valid_check_digit(code[:position] + other + code[position + 1:])


def test_make_sscc_builds_the_gs1_example_from_its_parts():
    assert make_sscc(1, "0614141", 123456789) == "106141411234567897"
    assert make_sscc(0, "123456789", 1) == "0" + "123456789" + "0000001" + "2"


def test_make_sscc_pads_the_serial_to_the_room_the_prefix_leaves():
    sscc = make_sscc(3, "0614141", 42)
    assert len(sscc) == 18 and sscc.startswith("30614141000000042") and is_valid_sscc(sscc)


def test_make_sscc_refuses_a_serial_that_does_not_fit():
    assert make_sscc(0, "0614141", 999_999_999)
    with pytest.raises(ValueError, match=r"does not fit the 9 digits .* \(at most 999999999\)"):
        make_sscc(0, "0614141", 1_000_000_000)


@pytest.mark.parametrize("extension, prefix, serial, message", [
    (10, "0614141", 1, "extension digit"),
    (True, "0614141", 1, "extension digit"),
    (1, "614A41", 1, "company prefix"),
    (1, "123", 1, "company prefix"),
    (1, "0614141", -1, "non-negative"),
    (1, "0614141", "7", "non-negative"),
])
def test_make_sscc_names_the_bad_part(extension, prefix, serial, message):
    with pytest.raises(ValueError, match=message):
        make_sscc(extension, prefix, serial)


def test_the_gs1_128_data_of_an_sscc_carries_application_identifier_00():
    assert gs1_128_sscc_data("106141411234567897") == "(00)106141411234567897"
    with pytest.raises(ValueError, match="not a valid SSCC"):
        gs1_128_sscc_data("106141411234567890")


def test_a_variable_length_field_is_followed_by_a_group_separator_unless_last():
    data = "(01)09506000134352(10)ABC12(21)XYZ"
    assert parse_ai_data(data) == [("01", "09506000134352"), ("10", "ABC12"), ("21", "XYZ")]
    assert element_string(data) == "0109506000134352" + "10ABC12\x1d" + "21XYZ"


@pytest.mark.parametrize("data, message", [
    ("00106141411234567897", "fields"),
    ("(00)10614141123456789", "takes 18"),
    ("(00)106141411234567890", "SSCC"),
    ("(01)09506000134353", "GTIN-14"),
    ("(10)AB C", "cannot carry"),
])
def test_malformed_ai_data_is_refused(data, message):
    with pytest.raises(ValueError, match=message):
        element_string(data)


def test_the_gs1_module_imports_only_the_standard_library():
    tree = ast.parse(Path(gs1.__file__).read_text())
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert imported <= {"__future__", "re"}


@pytest.mark.skipif(shutil.which("zbarimg") is None, reason="zbarimg (Debian zbar-tools) is not installed")
def test_an_sscc_rendered_as_a_gs1_128_png_scans_back_with_a_valid_check_digit(tmp_path):
    from barcode.codex import Gs1_128
    from barcode.writer import ImageWriter

    sscc = make_sscc(3, "0614141", 123456789)
    element = element_string(gs1_128_sscc_data(sscc))
    png = Gs1_128(element, writer=ImageWriter()).save(str(tmp_path / "sscc"))
    scanned = subprocess.run(["zbarimg", "-q", "--xml", png], capture_output=True, text=True, check=True).stdout
    assert "type='CODE-128'" in scanned and "modifiers='GS1'" in scanned
    data = scanned.split("<![CDATA[")[1].split("]]>")[0]
    assert data == "00" + sscc
    assert is_valid_sscc(data[2:])
