import copy
from datetime import datetime, timezone
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.channels import shopify
from app.domain.capture import MappingError
from tests.unit.channels.payloads import DELETE, json_values, load_fixture, mapped_or_refused, paths_in, replaced

ORDER_2008 = "shopify_python_api__order.json"
ORDER_2025 = "shopify_api_ruby__rest_2025_07_order_test8_get_order.json"
CANCELLED_2025 = "shopify_api_ruby__rest_2025_07_order_test13_cancel_order.json"
REFUND_2016 = "shopify_python_api__refund.json"


def money(text: str) -> Decimal:
    return Decimal(text)


def test_the_shopify_fixture_order_maps_every_line_with_sku_quantity_price_discount_and_tax():
    draft = shopify.parse_order(load_fixture(ORDER_2025))

    assert [(line.sku, line.qty, line.unit_price, line.discount, line.tax) for line in draft.lines] == [
        ("IPOD2008GREEN", 1, money("199.00"), money("3.34"), money("3.98")),
        ("IPOD2008RED", 1, money("199.00"), money("3.33"), money("3.98")),
        ("IPOD2008BLACK", 1, money("199.00"), money("3.33"), money("3.98")),
    ]
    assert [line.external_line_id for line in draft.lines] == ["466157049", "518995019", "703073504"]
    assert draft.lines[0].title == "IPod Nano - 8gb - green"


def test_the_2025_shopify_order_reconciles_597_less_10_discount_plus_11_94_tax_to_598_94():
    draft = shopify.parse_order(load_fixture(ORDER_2025))

    assert draft.shipping == money("0.00")
    assert draft.shipping_tax == money("0.00")
    assert draft.order_discount == money("0.00")
    assert draft.total == money("598.94")
    assert draft.computed_total() == money("598.94")
    assert draft.reconciles()


def test_the_2025_shopify_order_carries_its_identity_customer_and_addresses():
    draft = shopify.parse_order(load_fixture(ORDER_2025))

    assert draft.external_id == "450789469"
    assert draft.number == "#1001"
    assert draft.currency == "USD"
    assert draft.placed_at == datetime(2008, 1, 10, 16, 0, tzinfo=timezone.utc)
    assert draft.placed_at.tzinfo is not None
    assert draft.updated_at == datetime(2008, 1, 10, 16, 0, tzinfo=timezone.utc)
    assert draft.customer_name == "Bob Norman"
    assert draft.customer_email == "bob.norman@mail.example.com"
    assert draft.ship_to.name == "Bob Norman"
    assert draft.ship_to.address1 == "Chestnut Street 92"
    assert draft.ship_to.address2 is None
    assert (draft.ship_to.city, draft.ship_to.region, draft.ship_to.postcode, draft.ship_to.country) == (
        "Louisville", "KY", "40202", "US",
    )
    assert draft.ship_to.phone == "+1(502)-459-2181"
    assert draft.ship_to.missing_fields() == ()
    assert draft.billing_country == "US"
    assert draft.payment_captured is True  # partially_refunded: the money was taken first
    assert draft.raw_status == "partially_refunded"
    assert draft.cancelled_at is None
    assert draft.prices_include_tax is False


def test_the_2008_shopify_order_maps_its_shape_but_does_not_reconcile_as_the_sample_says():
    draft = shopify.parse_order(load_fixture(ORDER_2008))

    assert [(line.sku, line.qty, line.unit_price, line.discount) for line in draft.lines] == [
        ("IPOD2008GREEN", 1, money("199.00"), money("0.00")),
        ("IPOD2008RED", 1, money("199.00"), money("0.00")),
        ("IPOD2008BLACK", 1, money("199.00"), money("0.00")),
    ]
    # This pre-2019 shape states tax only on the order (11.94); it is spread over the lines.
    assert [line.tax for line in draft.lines] == [money("3.98")] * 3
    assert draft.payment_captured is False  # financial_status "authorized"
    assert draft.customer_email == "bob.norman@hostmail.com"
    assert draft.ship_to.phone == "555-625-1199"
    # SOURCES.md: three lines at 199.00 but subtotal_price 398.00 and total_price 409.94. The
    # sample was edited by hand, so Keel's sum (597.00 + 11.94) is one line's price above it.
    assert draft.total == money("409.94")
    assert draft.computed_total() == money("608.94")
    assert draft.computed_total() - draft.total == money("199.00")
    assert not draft.reconciles()


def test_the_cancellation_fixture_yields_cancelled_at_and_reason():
    payload = load_fixture(CANCELLED_2025)
    draft = shopify.parse_order(payload)
    cancellation = shopify.parse_cancellation(payload)

    cancelled_at = datetime(2025, 7, 2, 16, 31, 25, tzinfo=timezone.utc)
    assert draft.cancelled_at == cancelled_at
    assert draft.cancel_reason == "other"
    assert draft.updated_at == cancelled_at
    assert draft.raw_status == "partially_refunded"
    assert draft.reconciles()
    assert (cancellation.external_id, cancellation.cancelled_at, cancellation.reason) == ("450789469", cancelled_at, "other")


def test_a_cancellation_of_an_order_that_is_not_cancelled_is_a_mapping_error():
    with pytest.raises(MappingError) as error:
        shopify.parse_cancellation(load_fixture(ORDER_2025))
    assert error.value.field == "cancelled_at"


def test_the_refund_fixture_maps_lines_by_sku_and_line_id_and_the_money_returned():
    refund = shopify.parse_refund(load_fixture(REFUND_2016))

    assert refund.external_id == "509562969"
    assert refund.order_external_id == "450789469"
    assert refund.created_at == datetime(2016, 6, 20, 17, 35, 6, tzinfo=timezone.utc)
    assert refund.note == "it broke during shipping"
    assert [(line.sku, line.qty, line.restock, line.external_line_id) for line in refund.lines] == [
        ("IPOD2008BLACK", 1, True, "703073504"),
        ("IPOD2008GREEN", 1, True, "466157049"),
    ]
    # No subtotal on these old refund lines: each is its line's 199.00 plus 3.98 tax.
    assert [line.amount for line in refund.lines] == [money("202.98"), money("202.98")]
    assert refund.amount == money("209.00")
    assert refund.shipping_refund == money("0.00")


def test_the_refund_inside_the_2025_order_uses_refund_line_subtotals_and_tax():
    refund = shopify.parse_refund(load_fixture(ORDER_2025)["order"]["refunds"][0])

    assert [(line.sku, line.amount, line.restock) for line in refund.lines] == [
        ("IPOD2008BLACK", money("199.64"), True),
        ("IPOD2008GREEN", money("199.65"), True),
    ]
    # The sample's transaction (209.00) is not the lines' 399.29: Keel keeps both as stated.
    assert refund.amount == money("209.00")
    assert refund.lines_amount() == money("399.29")


def test_a_bare_webhook_body_maps_like_the_wrapped_rest_response():
    wrapped = load_fixture(ORDER_2025)
    assert shopify.parse_order(wrapped["order"]) == shopify.parse_order(wrapped)
    refund = load_fixture(REFUND_2016)
    assert shopify.parse_refund(refund["refund"]) == shopify.parse_refund(refund)


def test_topics_pick_order_cancel_and_refund_handling():
    assert shopify.TOPICS == {
        "orders/create": "order",
        "orders/updated": "order",
        "orders/cancelled": "cancel",
        "refunds/create": "refund",
    }


@pytest.mark.parametrize(
    ("status", "captured"),
    [("paid", True), ("partially_paid", True), ("authorized", False), ("pending", False), ("voided", False), (None, False)],
)
def test_financial_status_decides_whether_payment_is_captured(status, captured):
    payload = load_fixture(ORDER_2025)["order"]
    payload["financial_status"] = status
    assert shopify.parse_order(payload).payment_captured is captured


def an_order() -> dict:
    return copy.deepcopy(load_fixture(ORDER_2025)["order"])


def test_a_line_without_sku_is_a_mapping_error_that_names_the_line():
    payload = an_order()
    payload["line_items"][1]["sku"] = ""
    with pytest.raises(MappingError) as error:
        shopify.parse_order(payload)
    assert error.value.field == "line_items[1].sku"
    assert error.value.reason == "line_items[1].sku is missing"


@pytest.mark.parametrize(("quantity", "reason"), [("two", "whole number"), (0, "at least 1"), (-1, "at least 1"), (1.5, "whole number"), (True, "whole number"), (10**7, "implausibly large")])
def test_a_bad_quantity_is_a_mapping_error(quantity, reason):
    payload = an_order()
    payload["line_items"][2]["quantity"] = quantity
    with pytest.raises(MappingError) as error:
        shopify.parse_order(payload)
    assert error.value.field == "line_items[2].quantity"
    assert reason in error.value.reason


@pytest.mark.parametrize(("key", "field"), [("price", "line_items[0].price"), ("total_price", "total_price")])
def test_unparsable_money_is_a_mapping_error(key, field):
    payload = an_order()
    target = payload["line_items"][0] if key == "price" else payload
    target[key] = "199,00"
    with pytest.raises(MappingError) as error:
        shopify.parse_order(payload)
    assert error.value.field == field


def test_a_malformed_shipping_address_is_a_mapping_error():
    payload = an_order()
    payload["shipping_address"] = "Chestnut Street 92, Louisville"
    with pytest.raises(MappingError) as error:
        shopify.parse_order(payload)
    assert error.value.field == "shipping_address"


def test_an_order_without_a_shipping_address_maps_with_every_address_field_missing():
    payload = an_order()
    del payload["shipping_address"]
    draft = shopify.parse_order(payload)
    assert draft.ship_to.missing_fields() == ("name", "address1", "city", "postcode", "country")


def test_an_order_with_a_naive_timestamp_is_a_mapping_error():
    payload = an_order()
    payload["processed_at"] = "2008-01-10T11:00:00"
    with pytest.raises(MappingError) as error:
        shopify.parse_order(payload)
    assert error.value.field == "processed_at"


def test_prices_that_include_tax_reconcile_without_adding_the_tax_twice():
    payload = an_order()
    payload["taxes_included"] = True
    # With taxes included, each 199.00 already holds its 3.98 of tax: 597.00 - 10.00 = 587.00.
    payload["total_price"] = "587.00"
    draft = shopify.parse_order(payload)

    assert draft.prices_include_tax is True
    assert [line.tax for line in draft.lines] == [money("3.98")] * 3
    assert draft.computed_total() == money("587.00")
    assert draft.reconciles()


def test_shipping_with_tax_and_a_shipping_discount_reconciles():
    payload = an_order()
    payload["shipping_lines"][0].update(
        price="12.00",
        tax_lines=[{"price": "0.72", "rate": 0.06, "title": "State Tax"}],
        discount_allocations=[{"amount": "2.00", "discount_application_index": 1}],
    )
    payload["total_price"] = "609.66"  # 598.94 + 12.00 + 0.72 - 2.00
    draft = shopify.parse_order(payload)

    assert (draft.shipping, draft.shipping_tax, draft.order_discount) == (money("12.00"), money("0.72"), money("2.00"))
    assert draft.reconciles()


def test_a_removed_shipping_line_is_not_charged():
    payload = an_order()
    payload["shipping_lines"].append({"price": "9.99", "is_removed": True, "tax_lines": []})
    assert shopify.parse_order(payload).shipping == money("0.00")


def test_a_refund_that_returns_no_stock_and_refunds_shipping_maps_both():
    refund = load_fixture(ORDER_2025)["order"]["refunds"][0]
    refund["refund_line_items"][0]["restock_type"] = "no_restock"
    refund["order_adjustments"] = [{"kind": "shipping_refund", "amount": "-5.00", "tax_amount": "-0.30"}]
    draft = shopify.parse_refund(refund)

    assert [line.restock for line in draft.lines] == [False, True]
    assert draft.shipping_refund == money("5.30")


def test_a_refund_line_without_sku_or_line_id_is_a_mapping_error():
    refund = load_fixture(REFUND_2016)["refund"]
    del refund["refund_line_items"][1]["line_item_id"]
    del refund["refund_line_items"][1]["line_item"]
    with pytest.raises(MappingError) as error:
        shopify.parse_refund(refund)
    assert error.value.field == "refund_line_items[1].line_item.sku"


def test_failed_refund_transactions_are_not_money_returned():
    refund = load_fixture(REFUND_2016)["refund"]
    refund["transactions"].append({"kind": "refund", "status": "failure", "amount": "50.00"})
    assert shopify.parse_refund(refund).amount == money("209.00")


def test_a_body_that_is_not_an_object_is_a_mapping_error():
    with pytest.raises(MappingError):
        shopify.parse_order(["not", "an", "order"])


# Whatever a sender gets wrong, mapping either succeeds or raises MappingError: never anything else.

JSON_VALUES = json_values(["", "0", "-1", "1e999", "NaN", "2025-13-01T00:00:00Z", "2025-01-01T00:00:00"])
ORDER_PATHS = [path for path in paths_in(load_fixture(ORDER_2025)) if len(path) > 1]
REFUND_PATHS = [path for path in paths_in(load_fixture(REFUND_2016)) if len(path) > 1]


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(path=st.sampled_from(ORDER_PATHS), value=st.just(DELETE) | JSON_VALUES)
def test_a_damaged_order_payload_maps_or_raises_mapping_error_and_nothing_else(path, value):
    draft = mapped_or_refused(shopify.parse_order, replaced(load_fixture(ORDER_2025), path, value))
    assert draft is None or isinstance(draft.reconciles(), bool)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(path=st.sampled_from(REFUND_PATHS), value=st.just(DELETE) | JSON_VALUES)
def test_a_damaged_refund_payload_maps_or_raises_mapping_error_and_nothing_else(path, value):
    refund = mapped_or_refused(shopify.parse_refund, replaced(load_fixture(REFUND_2016), path, value))
    assert refund is None or isinstance(refund.lines_amount(), Decimal)
