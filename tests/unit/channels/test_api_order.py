import copy
from datetime import datetime, timezone
from decimal import Decimal

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.channels.api_order import ORDER_SCHEMA, parse_api_order
from app.domain.capture import MappingError
from tests.unit.channels.payloads import DELETE, replaced

RECEIVED_AT = datetime(2025, 3, 1, 9, 30, tzinfo=timezone.utc)
VALIDATOR = jsonschema.Draft202012Validator(ORDER_SCHEMA)


def a_body() -> dict:
    return {
        "channel": "web",
        "external_id": "W-1001",
        "lines": [
            {"sku": "TEE-RED-M", "qty": 2, "unit_price": "19.99", "discount": "2.00", "tax": "3.04"},
            {"sku": "MUG-BLUE", "qty": 1, "unit_price": 8.5},
        ],
        "ship_to": {"name": "Ann Lee", "address1": "1 Main St", "city": "Boston", "postcode": "02101", "country": "US"},
    }


def error_of(body: object) -> MappingError:
    with pytest.raises(MappingError) as error:
        parse_api_order(body, "USD", received_at=RECEIVED_AT)
    return error.value


def test_the_order_schema_is_a_valid_json_schema_and_accepts_the_example_body():
    jsonschema.Draft202012Validator.check_schema(ORDER_SCHEMA)
    assert VALIDATOR.is_valid(a_body())


def test_a_minimal_body_maps_to_a_draft_with_defaults():
    channel, draft = parse_api_order(a_body(), "USD", received_at=RECEIVED_AT)

    assert channel == "web"
    assert (draft.external_id, draft.currency, draft.placed_at) == ("W-1001", "USD", RECEIVED_AT)
    assert [(line.sku, line.qty, line.unit_price, line.discount, line.tax) for line in draft.lines] == [
        ("TEE-RED-M", 2, Decimal("19.99"), Decimal("2.00"), Decimal("3.04")),
        ("MUG-BLUE", 1, Decimal("8.50"), Decimal("0.00"), Decimal("0.00")),
    ]
    assert (draft.priority, draft.sla_days, draft.payment_captured) == (1, None, True)
    assert draft.total == Decimal("49.52")  # 39.98 - 2.00 + 3.04 + 8.50
    assert draft.reconciles()
    assert draft.ship_to.missing_fields() == ("region",)


def test_every_optional_field_is_read_and_unknown_keys_are_ignored():
    body = a_body() | {
        "priority": 3,
        "sla_days": 2,
        "currency": "EUR",
        "placed_at": "2025-02-28T23:15:00+01:00",
        "customer_name": "Ann Lee",
        "customer_email": "ann@example.com",
        "billing_country": "ie",
        "payment_captured": False,
        "shipping": "4.95",
        "shipping_tax": "0.99",
        "note": "leave at the door",
        "gift_wrap": True,
    }
    body["ship_to"] |= {"address2": "Apt 2", "region": "MA", "phone": "+1 617 555 0100", "email": "ann@example.com"}
    channel, draft = parse_api_order(body, "USD", received_at=RECEIVED_AT)

    assert (draft.priority, draft.sla_days, draft.currency, draft.payment_captured) == (3, 2, "EUR", False)
    assert draft.placed_at == datetime(2025, 2, 28, 22, 15, tzinfo=timezone.utc)
    assert (draft.customer_name, draft.customer_email, draft.billing_country, draft.note) == (
        "Ann Lee", "ann@example.com", "IE", "leave at the door",
    )
    assert (draft.ship_to.address2, draft.ship_to.region, draft.ship_to.phone) == ("Apt 2", "MA", "+1 617 555 0100")
    assert draft.total == Decimal("55.46")
    assert VALIDATOR.is_valid(body)


def mutated(path: str, value: object) -> dict:
    keys = [int(key) if key.isdigit() else key for key in path.replace("[", ".").replace("]", "").split(".")]
    return replaced(a_body(), keys, value)


@pytest.mark.parametrize(
    ("path", "value", "words"),
    [
        ("channel", DELETE, "channel is missing"),
        ("channel", "   ", "channel is blank"),
        ("external_id", 1001, "external_id must be text"),
        ("external_id", "x" * 201, "external_id is longer than 200 characters"),
        ("lines", [], "lines must hold between 1 and 1000 lines"),
        ("lines", {"sku": "A"}, "lines must be a list"),
        ("lines[1]", "MUG-BLUE", "lines[1] must be a JSON object"),
        ("lines[1].sku", DELETE, "lines[1].sku is missing"),
        ("lines[0].sku", "S" * 201, "lines[0].sku is longer than 200 characters"),
        ("lines[1].qty", 0, "lines[1].qty must be between 1 and 1000000"),
        ("lines[1].qty", -3, "lines[1].qty must be between 1 and 1000000"),
        ("lines[1].qty", "2", "lines[1].qty must be a whole number"),
        ("lines[1].qty", 1.5, "lines[1].qty must be a whole number"),
        ("lines[1].qty", True, "lines[1].qty must be a whole number"),
        ("lines[1].qty", DELETE, "lines[1].qty is missing"),
        ("lines[0].unit_price", "-1.00", "lines[0].unit_price must be an amount of at least 0"),
        ("lines[0].unit_price", -1, "lines[0].unit_price must not be negative"),
        ("lines[0].unit_price", "12,50", "lines[0].unit_price must be an amount of at least 0"),
        ("lines[0].unit_price", DELETE, "lines[0].unit_price is missing"),
        ("lines[0].discount", [2], "lines[0].discount must be an amount"),
        ("lines[0].tax", "lots", "lines[0].tax must be an amount of at least 0"),
        ("ship_to", DELETE, "ship_to is missing"),
        ("ship_to", "1 Main St, Boston", "ship_to must be a JSON object"),
        ("ship_to.name", DELETE, "ship_to.name is missing"),
        ("ship_to.postcode", DELETE, "ship_to.postcode is missing"),
        ("ship_to.country", "USA", "ship_to.country must be a two-letter country code"),
        ("ship_to.city", 42, "ship_to.city must be text"),
        ("priority", 0, "priority must be between 1 and 10"),
        ("priority", None, "priority must be a whole number"),
        ("sla_days", -1, "sla_days must be between 0 and 365"),
        ("currency", "usd", "currency must be three capital letters"),
        ("payment_captured", "yes", "payment_captured must be true or false"),
        ("placed_at", "2025-02-28 23:15", "placed_at must be a date and time with its offset"),
        ("shipping", "free", "shipping must be an amount of at least 0"),
        ("billing_country", "Ireland", "billing_country must be a two-letter country code"),
    ],
)
def test_a_bad_field_is_a_mapping_error_naming_its_json_path(path, value, words):
    body = mutated(path, value)
    error = error_of(body)

    assert error.field == path
    assert error.reason.startswith(words)
    assert not VALIDATOR.is_valid(body)


@pytest.mark.parametrize("body", [None, [], "order", 42])
def test_a_body_that_is_not_an_object_is_a_mapping_error(body):
    assert error_of(body).field == "body"


def test_a_blank_postcode_is_accepted_for_countries_without_postcodes():
    body = mutated("ship_to.postcode", "")
    body["ship_to"]["country"] = "HK"
    _, draft = parse_api_order(body, "USD")
    assert draft.ship_to.postcode is None
    assert draft.ship_to.missing_fields() == ()


def test_money_may_be_a_json_number_and_is_rounded_half_up_to_the_cent():
    body = mutated("lines[0].unit_price", 19.995)
    _, draft = parse_api_order(body, "USD")
    assert draft.lines[0].unit_price == Decimal("20.00")


# Random valid bodies: the schema and the parser both accept them, and the total is the hand sum.

cents = st.integers(min_value=0, max_value=10**8)
texts = st.text(max_size=200)
required_texts = texts.filter(lambda text: text.strip())
optional_texts = st.none() | texts
countries = st.from_regex(r"[A-Za-z]{2}", fullmatch=True)


@st.composite
def amounts(draw):
    """An amount in cents and one of the ways a client may write it."""
    value = draw(cents)
    written = draw(st.sampled_from(["text", "number", "integer"]))
    if written == "integer":
        value -= value % 100
        return Decimal(value) / 100, value // 100
    if written == "number":
        return Decimal(value) / 100, value / 100
    return Decimal(value) / 100, f"{value // 100}.{value % 100:02d}"


@st.composite
def valid_lines(draw):
    qty = draw(st.integers(min_value=1, max_value=1000))
    unit_price, written_price = draw(amounts())
    line = {"sku": draw(required_texts), "qty": qty, "unit_price": written_price}
    expected = qty * unit_price
    if draw(st.booleans()):
        discount, line["discount"] = draw(amounts())
        expected -= discount
    if draw(st.booleans()):
        tax, line["tax"] = draw(amounts())
        expected += tax
    return line, expected


@st.composite
def valid_bodies(draw):
    drawn_lines = draw(st.lists(valid_lines(), min_size=1, max_size=8))
    body = {
        "channel": draw(required_texts),
        "external_id": draw(required_texts),
        "lines": [line for line, _ in drawn_lines],
        "ship_to": {
            "name": draw(required_texts),
            "address1": draw(required_texts),
            "city": draw(required_texts),
            "postcode": draw(texts),
            "country": draw(countries),
            **draw(st.fixed_dictionaries({}, optional={k: optional_texts for k in ("address2", "region", "phone", "email")})),
        },
    }
    body |= draw(
        st.fixed_dictionaries(
            {},
            optional={
                "priority": st.integers(min_value=1, max_value=10),
                "sla_days": st.none() | st.integers(min_value=0, max_value=365),
                "currency": st.from_regex(r"[A-Z]{3}", fullmatch=True),
                "customer_email": optional_texts,
                "billing_country": st.none() | countries,
                "payment_captured": st.booleans(),
                "unknown_key": st.integers(),
            },
        )
    )
    expected = sum((amount for _, amount in drawn_lines), Decimal(0))
    for key in ("shipping", "shipping_tax"):
        if draw(st.booleans()):
            amount, body[key] = draw(amounts())
            expected += amount
    return body, expected


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(valid_bodies())
def test_random_valid_bodies_pass_the_schema_and_the_parser_and_total_the_hand_sum(drawn):
    body, expected_total = drawn
    assert VALIDATOR.is_valid(body), list(VALIDATOR.iter_errors(body))

    channel, draft = parse_api_order(body, "GBP")

    assert channel == body["channel"].strip()
    assert draft.computed_total() == expected_total
    assert draft.total == expected_total
    assert draft.reconciles()
    assert [line.qty for line in draft.lines] == [line["qty"] for line in body["lines"]]
    assert draft.currency == (body.get("currency") or "GBP")


# One field replaced by anything JSON can hold: the schema and the parser agree on it.

LEAF_PATHS = [
    "channel", "external_id", "number", "lines", "ship_to", "priority", "sla_days", "currency", "placed_at",
    "customer_name", "customer_email", "billing_country", "payment_captured", "shipping", "shipping_tax", "note",
    "lines[0]", "lines[0].sku", "lines[0].qty", "lines[0].unit_price", "lines[0].discount", "lines[0].tax",
    "lines[0].title", "ship_to.name", "ship_to.address1", "ship_to.address2", "ship_to.city", "ship_to.region",
    "ship_to.postcode", "ship_to.country", "ship_to.phone", "ship_to.email",
]
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-5, max_value=2_000_000)
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=210)
    | st.sampled_from(["", " ", "\n", "USD", "USD\n", "us", "us\n", "2025-02-28T23:15:00Z", "x" * 200, "x" * 201])
    | st.from_regex(r"-?[0-9]{1,13}(\.[0-9]{0,7})?\n?", fullmatch=True)
)
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3), max_leaves=5)


@settings(max_examples=1000, suppress_health_check=[HealthCheck.too_slow])
@given(path=st.sampled_from(LEAF_PATHS), value=st.just(DELETE) | json_values)
def test_the_schema_and_the_parser_accept_and_refuse_the_same_bodies(path, value):
    body = mutated(path, copy.deepcopy(value))
    schema_accepts = VALIDATOR.is_valid(body)
    try:
        parse_api_order(body, "USD")
        parser_accepts = True
    except MappingError:
        parser_accepts = False
    assert parser_accepts == schema_accepts, list(VALIDATOR.iter_errors(body))
