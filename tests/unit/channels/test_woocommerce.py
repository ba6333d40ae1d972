import copy
from datetime import datetime, timezone
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.channels import woocommerce
from app.domain.capture import MappingError
from tests.unit.channels.payloads import DELETE, json_values, load_fixture, mapped_or_refused, paths_in, replaced

ORDERS = "woocommerce_rest_api_docs__wp_api_v3_orders_list_example.json"
REFUNDS = "woocommerce_rest_api_docs__wp_api_v3_order_refunds_list_example.json"


def money(text: str) -> Decimal:
    return Decimal(text)


def fixture_order(order_id: int) -> dict:
    return next(order for order in load_fixture(ORDERS) if order["id"] == order_id)


def with_skus(order: dict) -> dict:
    """The fixture order with its blank SKUs filled in (WC-<line id>); nothing else changes."""
    filled = copy.deepcopy(order)
    for line in filled["line_items"]:
        line["sku"] = line["sku"] or f"WC-{line['id']}"
    return filled


@pytest.mark.parametrize("order_id", [727, 723])
def test_the_woocommerce_fixture_orders_have_lines_without_sku_so_they_go_to_the_exception_queue(order_id):
    # The docs' example products have sku "", and Keel matches lines on SKU.
    with pytest.raises(MappingError) as error:
        woocommerce.parse_order(fixture_order(order_id))
    assert error.value.field == "line_items[0].sku"
    assert error.value.reason == "line_items[0].sku is missing"


def test_the_woocommerce_processing_order_maps_every_line_with_sku_quantity_price_and_tax():
    draft = woocommerce.parse_order(with_skus(fixture_order(727)))

    assert [(line.sku, line.qty, line.unit_price, line.discount, line.tax) for line in draft.lines] == [
        ("WC-315", 2, money("3.00"), money("0.00"), money("0.45")),
        ("Bar3", 1, money("12.00"), money("0.00"), money("0.90")),
    ]
    assert [line.external_line_id for line in draft.lines] == ["315", "316"]
    assert draft.lines[1].title == "Ship Your Idea \u2013 Color: Black, Size: M Test"  # &ndash; unescaped
    assert (draft.shipping, draft.shipping_tax, draft.order_discount, draft.fees) == (
        money("10.00"), money("0.00"), money("0.00"), money("0.00"),
    )
    assert draft.total == money("29.35")
    assert draft.computed_total() == money("29.35")
    assert draft.reconciles()


def test_the_woocommerce_processing_order_carries_identity_dates_customer_and_address():
    draft = woocommerce.parse_order(with_skus(fixture_order(727)))

    assert (draft.external_id, draft.number, draft.currency) == ("727", "727", "USD")
    assert draft.placed_at == datetime(2017, 3, 22, 19, 28, 2, tzinfo=timezone.utc)
    assert draft.updated_at == datetime(2017, 3, 22, 19, 28, 8, tzinfo=timezone.utc)
    assert draft.customer_name == "John Doe"
    assert draft.customer_email == "john.doe@example.com"
    assert draft.ship_to.name == "John Doe"
    assert (draft.ship_to.address1, draft.ship_to.city, draft.ship_to.region, draft.ship_to.postcode, draft.ship_to.country) == (
        "969 Market", "San Francisco", "CA", "94103", "US",
    )
    assert draft.ship_to.missing_fields() == ()
    assert draft.billing_country == "US"
    assert draft.payment_captured is True
    assert draft.raw_status == "processing"
    assert draft.prices_include_tax is False


def test_the_woocommerce_completed_order_reconciles_9_plus_20_plus_10_shipping_to_39():
    draft = woocommerce.parse_order(with_skus(fixture_order(723)))

    assert [(line.sku, line.qty, line.unit_price, line.tax) for line in draft.lines] == [
        ("WC-311", 1, money("9.00"), money("0.00")),
        ("WC-313", 1, money("20.00"), money("0.00")),
    ]
    assert draft.shipping == money("10.00")
    assert draft.total == money("39.00")
    assert draft.reconciles()
    assert draft.payment_captured is True
    assert draft.customer_name == "Jo\u00e3o Silva"
    assert (draft.ship_to.postcode, draft.ship_to.country) == ("12345-000", "BR")


def test_an_order_lists_its_refunds_with_positive_amounts_and_no_lines():
    refunds = woocommerce.listed_refunds(fixture_order(723))
    assert [(r.external_id, r.order_external_id, r.amount, r.lines) for r in refunds] == [
        ("726", "723", money("10.00"), ()), ("724", "723", money("9.00"), ())]
    assert refunds[0].created_at.isoformat() == "2017-03-21T19:54:51+00:00"  # the order's last modification
    assert woocommerce.listed_refunds(fixture_order(727)) == []


def test_a_listed_refund_without_an_id_is_named():
    order = fixture_order(723)
    order["refunds"][0].pop("id")
    with pytest.raises(MappingError) as caught:
        woocommerce.listed_refunds(order)
    assert caught.value.field == "refunds[0].id"


def test_the_woocommerce_refunds_map_negative_line_quantities_and_totals_to_positive_ones():
    amount_only, with_line = (woocommerce.parse_refund(refund) for refund in load_fixture(REFUNDS))

    assert (amount_only.external_id, amount_only.order_external_id) == ("726", "723")
    assert amount_only.created_at == datetime(2017, 3, 21, 20, 7, 11, tzinfo=timezone.utc)
    assert amount_only.amount == money("10.00")
    assert amount_only.lines == ()
    assert amount_only.reason is None

    assert (with_line.external_id, with_line.order_external_id, with_line.amount) == ("724", "723", money("9.00"))
    [line] = with_line.lines
    # sku is "" in the sample; _refunded_item_id (311) names the order line it refunds.
    assert (line.sku, line.qty, line.amount, line.restock, line.external_line_id) == (None, 1, money("9.00"), False, "311")


def test_a_refund_takes_the_order_id_given_over_its_link():
    refund = load_fixture(REFUNDS)[0]
    assert woocommerce.parse_refund(refund, order_external_id="999").order_external_id == "999"
    del refund["_links"]
    with pytest.raises(MappingError) as error:
        woocommerce.parse_refund(refund)
    assert error.value.field == "order_id"


def an_order() -> dict:
    return with_skus(fixture_order(727))


def test_a_coupon_shows_as_the_line_discount_and_the_order_still_reconciles():
    payload = an_order()
    payload["line_items"][1].update(subtotal="12.00", total="10.00", total_tax="0.75")
    payload["discount_total"] = "2.00"
    payload["total"] = "27.20"  # 6.00 + 0.45 + 10.00 + 0.75 + 10.00 shipping
    draft = woocommerce.parse_order(payload)

    assert (draft.lines[1].unit_price, draft.lines[1].discount, draft.lines[1].tax) == (money("12.00"), money("2.00"), money("0.75"))
    assert draft.reconciles()


def test_a_subtotal_that_does_not_divide_into_cents_rounds_the_unit_price_up_and_shows_the_rest_as_discount():
    payload = an_order()
    payload["line_items"][0].update(quantity=3, subtotal="10.00", total="10.00", total_tax="0.00")
    payload["total"] = "32.90"  # 10.00 + 12.00 + 0.90 + 10.00
    draft = woocommerce.parse_order(payload)

    assert (draft.lines[0].unit_price, draft.lines[0].discount) == (money("3.34"), money("0.02"))
    assert draft.lines[0].net_amount() == money("10.00")
    assert draft.reconciles()


def test_fee_lines_are_carried_as_fees_with_their_tax():
    payload = an_order()
    payload["fee_lines"] = [
        {"name": "Gift wrap", "total": "2.50", "total_tax": "0.19"},
        {"name": "Loyalty discount", "total": "-1.00", "total_tax": "0.00"},
    ]
    payload["total"] = "31.04"  # 29.35 + 2.69 - 1.00
    draft = woocommerce.parse_order(payload)

    assert draft.fees == money("1.69")
    assert draft.reconciles()


@pytest.mark.parametrize(
    ("status", "captured"),
    [("processing", True), ("completed", True), ("pending", False), ("on-hold", False), ("failed", False), ("cancelled", False)],
)
def test_status_decides_whether_payment_is_captured(status, captured):
    payload = an_order()
    payload["status"] = status
    assert woocommerce.parse_order(payload).payment_captured is captured


def test_a_cancelled_order_is_cancelled_at_its_last_change():
    payload = an_order()
    payload["status"] = "cancelled"
    draft = woocommerce.parse_order(payload)
    assert draft.cancelled_at == datetime(2017, 3, 22, 19, 28, 8, tzinfo=timezone.utc)
    assert draft.cancel_reason == "cancelled"


def test_an_order_deleted_delivery_carries_only_the_id_and_maps_to_a_cancellation():
    cancellation = woocommerce.parse_cancellation({"id": 727})
    assert (cancellation.external_id, cancellation.cancelled_at, cancellation.reason) == ("727", None, "deleted")


def test_topics_pick_the_handling_and_deletion_cancels():
    assert woocommerce.TOPICS == {
        "order.created": "order",
        "order.updated": "order",
        "order.restored": "order",
        "order.deleted": "cancel",
    }


@pytest.mark.parametrize(
    ("key", "value", "field"),
    [
        ("quantity", 0, "line_items[1].quantity"),
        ("quantity", "1", "line_items[1].quantity"),
        ("total", "twelve", "line_items[1].total"),
        ("sku", None, "line_items[1].sku"),
    ],
)
def test_a_bad_line_is_a_mapping_error_naming_it(key, value, field):
    payload = an_order()
    payload["line_items"][1][key] = value
    with pytest.raises(MappingError) as error:
        woocommerce.parse_order(payload)
    assert error.value.field == field


def test_an_order_without_its_gmt_creation_date_is_a_mapping_error():
    payload = an_order()
    del payload["date_created_gmt"]
    with pytest.raises(MappingError) as error:
        woocommerce.parse_order(payload)
    assert error.value.field == "date_created_gmt"


def test_a_malformed_shipping_address_is_a_mapping_error():
    payload = an_order()
    payload["shipping"] = ["969 Market"]
    with pytest.raises(MappingError) as error:
        woocommerce.parse_order(payload)
    assert error.value.field == "shipping"


@pytest.mark.parametrize(
    ("headers", "body", "ping"),
    [
        ({}, b"webhook_id=15", True),
        ({"Content-Type": "application/x-www-form-urlencoded"}, b"webhook_id=15\n", True),
        ({"X-WC-Webhook-Signature": "abc="}, b"webhook_id=15", False),
        ({"x-wc-webhook-signature": "abc="}, b"webhook_id=15", False),
        ({}, b'{"id": 727}', False),
        ({}, b"webhook_id=abc", False),
        ({}, b"", False),
    ],
)
def test_a_ping_is_an_unsigned_webhook_id_form_body(headers, body, ping):
    assert woocommerce.is_ping(headers, body) is ping


# Whatever a sender gets wrong, mapping either succeeds or raises MappingError: never anything else.

JSON_VALUES = json_values(["", "0", "-1", "1e999", "NaN", "2025-13-01T00:00:00", "2025-01-01T00:00:00+02:00"])
ORDER_PATHS = [path for path in paths_in(an_order()) if path]
REFUND_PATHS = [path for path in paths_in(load_fixture(REFUNDS)[1]) if path]


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(path=st.sampled_from(ORDER_PATHS), value=st.just(DELETE) | JSON_VALUES)
def test_a_damaged_order_payload_maps_or_raises_mapping_error_and_nothing_else(path, value):
    draft = mapped_or_refused(woocommerce.parse_order, replaced(an_order(), path, value))
    assert draft is None or isinstance(draft.reconciles(), bool)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(path=st.sampled_from(REFUND_PATHS), value=st.just(DELETE) | JSON_VALUES)
def test_a_damaged_refund_payload_maps_or_raises_mapping_error_and_nothing_else(path, value):
    refund = mapped_or_refused(woocommerce.parse_refund, replaced(load_fixture(REFUNDS)[1], path, value))
    assert refund is None or isinstance(refund.lines_amount(), Decimal)
