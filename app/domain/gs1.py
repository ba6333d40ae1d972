"""GS1 identifiers: mod-10 check digits, GTINs, SSCCs and GS1-128 element strings."""
from __future__ import annotations

import re

GTIN_LENGTHS = (8, 12, 13, 14)
SSCC_LENGTH = 18
COMPANY_PREFIX_LENGTHS = range(4, 13)
GROUP_SEPARATOR = "\x1d"

# Total length (AI included) of the element strings GS1 predefines by the AI's first two
# digits; every other AI is variable-length and needs a separator unless it comes last.
PREDEFINED_LENGTHS = {
    "00": 20, "01": 16, "02": 16, "03": 16, "04": 18,
    "11": 8, "12": 8, "13": 8, "14": 8, "15": 8, "16": 8, "17": 8, "18": 8, "19": 8,
    "20": 4, "31": 10, "32": 10, "33": 10, "34": 10, "35": 10, "36": 10, "41": 16,
}
_AI_FIELD = re.compile(r"\((\d{2,4})\)([^()]+)")


def is_digits(value: object) -> bool:
    """A non-empty string of ASCII digits (str.isdigit would also accept '²' and '٣')."""
    return isinstance(value, str) and bool(value) and all("0" <= c <= "9" for c in value)


def check_digit(digits: str) -> int:
    """The GS1 mod-10 check digit for a code's digits without their check digit."""
    if not is_digits(digits):
        raise ValueError(f"a GS1 check digit needs a string of digits 0-9, got {digits!r}")
    total = sum(int(d) * (3 if position % 2 == 0 else 1) for position, d in enumerate(reversed(digits)))
    return (10 - total % 10) % 10


def has_valid_check_digit(code: str) -> bool:
    """Whether the last digit of the code is the GS1 check digit of the others."""
    return is_digits(code) and len(code) >= 2 and check_digit(code[:-1]) == int(code[-1])


def is_valid_gtin(code: str) -> bool:
    """A GTIN-8, -12, -13 or -14 with the right check digit."""
    return isinstance(code, str) and len(code) in GTIN_LENGTHS and has_valid_check_digit(code)


def is_valid_sscc(code: str) -> bool:
    """An 18-digit Serial Shipping Container Code with the right check digit."""
    return isinstance(code, str) and len(code) == SSCC_LENGTH and has_valid_check_digit(code)


def make_sscc(extension_digit: int, company_prefix: str, serial: int) -> str:
    """The SSCC for a pallet or carton: extension, company prefix, zero-padded serial, check digit."""
    if isinstance(extension_digit, bool) or not isinstance(extension_digit, int) or not 0 <= extension_digit <= 9:
        raise ValueError(f"SSCC extension digit must be an integer 0-9, got {extension_digit!r}")
    if not is_digits(company_prefix) or len(company_prefix) not in COMPANY_PREFIX_LENGTHS:
        raise ValueError(f"GS1 company prefix must be 4 to 12 digits, got {company_prefix!r}")
    width = SSCC_LENGTH - 2 - len(company_prefix)
    if isinstance(serial, bool) or not isinstance(serial, int) or serial < 0:
        raise ValueError(f"SSCC serial reference must be a non-negative integer, got {serial!r}")
    if serial >= 10**width:
        raise ValueError(
            f"SSCC serial reference {serial} does not fit the {width} digits left by the "
            f"{len(company_prefix)}-digit company prefix {company_prefix} (at most {10**width - 1})"
        )
    body = f"{extension_digit}{company_prefix}{serial:0{width}d}"
    return body + str(check_digit(body))


def gs1_128_sscc_data(sscc: str) -> str:
    """The human-readable GS1-128 data for an SSCC: "(00)" followed by its 18 digits."""
    if not is_valid_sscc(sscc):
        raise ValueError(f"not a valid SSCC (18 digits with a GS1 check digit): {sscc!r}")
    return f"(00){sscc}"


def parse_ai_data(ai_data: str) -> list[tuple[str, str]]:
    """Split "(00)123...(10)LOT7" into (application identifier, value) pairs, checking fixed lengths."""
    fields = _AI_FIELD.findall(ai_data) if isinstance(ai_data, str) else []
    if not fields or "".join(f"({ai}){value}" for ai, value in fields) != ai_data:
        raise ValueError(f'GS1 data must be "(AI)value" fields such as "(00)123456789012345675", got {ai_data!r}')
    for ai, value in fields:
        _check_field(ai, value)
    return fields


def _check_field(ai: str, value: str) -> None:
    total = PREDEFINED_LENGTHS.get(ai[:2])
    if total is not None and len(ai) + len(value) != total:
        raise ValueError(f"GS1 AI ({ai}) takes {total - len(ai)} characters, got {value!r}")
    if ai == "00" and not is_valid_sscc(value):
        raise ValueError(f"GS1 AI (00) needs an SSCC with a valid check digit, got {value!r}")
    if ai in ("01", "02") and not is_valid_gtin(value):
        raise ValueError(f"GS1 AI ({ai}) needs a GTIN-14 with a valid check digit, got {value!r}")
    if any(not 32 < ord(c) < 127 for c in value):
        raise ValueError(f"GS1 AI ({ai}) value has characters a barcode cannot carry: {value!r}")


def element_string(ai_data: str) -> str:
    """The GS1 element string to encode: fields joined, a group separator after each variable-length one."""
    fields = parse_ai_data(ai_data)
    parts = []
    for index, (ai, value) in enumerate(fields):
        variable = ai[:2] not in PREDEFINED_LENGTHS
        last = index == len(fields) - 1
        parts.append(ai + value + (GROUP_SEPARATOR if variable and not last else ""))
    return "".join(parts)
