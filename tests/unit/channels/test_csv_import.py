from datetime import datetime, timezone
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from app.channels.csv_import import MAX_ROWS, RowError, parse_orders_csv

HEADER = "channel,external_id,sku,qty,unit_price,ship_name,address1,address2,city,region,postcode,country,email,priority,sla_days"
RECEIVED_AT = datetime(2025, 3, 1, 9, 30, tzinfo=timezone.utc)


def csv_text(*rows: str, header: str = HEADER) -> str:
    return "\n".join([header, *rows]) + "\n"


def test_rows_of_the_same_channel_and_external_id_become_one_order_grouped_by_channel():
    result = parse_orders_csv(
        csv_text(
            "web,W-1,TEE-RED-M,2,19.99,Ann Lee,1 Main St,Apt 2,Boston,MA,02101,US,ann@example.com,2,3",
            "web,W-1,MUG-BLUE,1,8.50,Ann Lee,1 Main St,Apt 2,Boston,MA,02101,US,ann@example.com,2,3",
            "wholesale,B-7,TEE-RED-M,40,9.00,Shop Ltd,2 High St,,Leeds,,LS1 4AP,gb,,,",
        ),
        "USD",
        received_at=RECEIVED_AT,
    )

    assert result.ok
    assert result.order_count() == 2
    [web] = result.drafts["web"]
    [wholesale] = result.drafts["wholesale"]
    assert web.external_id == "W-1"
    assert [(line.sku, line.qty, line.unit_price) for line in web.lines] == [
        ("TEE-RED-M", 2, Decimal("19.99")),
        ("MUG-BLUE", 1, Decimal("8.50")),
    ]
    assert web.total == Decimal("48.48")
    assert web.reconciles()
    assert (web.priority, web.sla_days, web.currency, web.placed_at) == (2, 3, "USD", RECEIVED_AT)
    assert web.customer_email == "ann@example.com"
    assert (web.ship_to.name, web.ship_to.address2, web.ship_to.region, web.ship_to.postcode) == ("Ann Lee", "Apt 2", "MA", "02101")
    assert web.payment_captured is True
    assert (wholesale.total, wholesale.priority, wholesale.sla_days) == (Decimal("360.00"), 1, None)
    assert (wholesale.ship_to.country, wholesale.ship_to.region, wholesale.ship_to.email) == ("GB", None, None)


def test_every_bad_row_is_reported_with_its_number_and_field_not_just_the_first():
    result = parse_orders_csv(
        csv_text(
            "web,W-1,TEE-RED-M,2,19.99,Ann Lee,1 Main St,,Boston,MA,02101,US,,,",
            "web,W-2,,0,abc,Bob Ray,2 Main St,,Boston,MA,02101,US,,,",
            "web,W-3,MUG-BLUE,1,-4.00,Cy Dee,3 Main St,,Boston,MA,02101,USA,,11,",
            "web,W-4,MUG-BLUE,1.5,4.00,,4 Main St,,Boston,MA,02101,US,,,-1",
        ),
        "USD",
    )

    assert [order.external_id for order in result.drafts["web"]] == ["W-1"]
    assert {(error.row_number, error.field) for error in result.errors} == {
        (3, "sku"), (3, "qty"), (3, "unit_price"),
        (4, "unit_price"), (4, "country"), (4, "priority"),
        (5, "qty"), (5, "ship_name"), (5, "sla_days"),
    }
    assert [error.row_number for error in result.errors] == sorted(error.row_number for error in result.errors)
    assert not result.ok


def test_one_bad_row_leaves_its_whole_order_out_but_not_the_others():
    result = parse_orders_csv(
        csv_text(
            "web,W-1,TEE-RED-M,2,19.99,Ann Lee,1 Main St,,Boston,MA,02101,US,,,",
            "web,W-1,MUG-BLUE,many,8.50,Ann Lee,1 Main St,,Boston,MA,02101,US,,,",
            "web,W-2,MUG-BLUE,1,8.50,Bob Ray,2 Main St,,Boston,MA,02101,US,,,",
        ),
        "USD",
    )

    assert [order.external_id for order in result.drafts["web"]] == ["W-2"]
    assert result.errors == [RowError(3, "qty", "qty must be a whole number from 1 to 1000000, not 'many'")]


def test_the_ship_to_must_be_the_same_on_every_row_of_an_order():
    result = parse_orders_csv(
        csv_text(
            "web,W-1,TEE-RED-M,2,19.99,Ann Lee,1 Main St,,Boston,MA,02101,US,,,",
            "web,W-1,MUG-BLUE,1,8.50,Ann Lee,9 Other St,,Boston,MA,02101,US,,,",
        ),
        "USD",
    )

    assert result.drafts == {}
    [error] = result.errors
    assert (error.row_number, error.field) == (3, "ship_to")
    assert "differs from row 2" in error.message


def test_a_byte_order_mark_crlf_line_ends_and_blank_trailing_lines_are_fine():
    text = "\ufeff" + "\r\n".join([HEADER, "web,W-1,TEE-RED-M,2,19.99,Ann Lee,1 Main St,,Boston,MA,02101,US,,,", "", ""]) + "\r\n\r\n"
    result = parse_orders_csv(text, "EUR")

    assert result.ok
    [order] = result.drafts["web"]
    assert (order.currency, order.total, order.ship_to.country) == ("EUR", Decimal("39.98"), "US")


def test_quoted_cells_may_hold_commas():
    result = parse_orders_csv(csv_text('web,W-1,TEE-RED-M,1,5.00,"Lee, Ann","1 Main St, Unit 4",,Boston,MA,02101,US,,,'), "USD")
    [order] = result.drafts["web"]
    assert (order.ship_to.name, order.ship_to.address1) == ("Lee, Ann", "1 Main St, Unit 4")


def test_optional_columns_may_be_left_out_of_the_header():
    header = "channel,external_id,sku,qty,unit_price,ship_name,address1,city,postcode,country"
    result = parse_orders_csv(csv_text("web,W-1,TEE-RED-M,1,5.00,Ann Lee,1 Main St,Boston,02101,US", header=header), "USD")

    assert result.ok
    [order] = result.drafts["web"]
    assert (order.priority, order.sla_days, order.ship_to.region) == (1, None, None)
    assert order.ship_to.missing_fields() == ("region",)  # a US address needs its state before it ships


def test_an_unknown_or_missing_header_column_is_an_error_on_row_1():
    header = "channel,external_id,sku,quantity,unit_price,ship_name,address1,city,postcode,country"
    result = parse_orders_csv(csv_text("web,W-1,TEE-RED-M,1,5.00,Ann Lee,1 Main St,Boston,02101,US", header=header), "USD")

    assert result.drafts == {}
    assert {(error.row_number, error.field) for error in result.errors} == {(1, "quantity"), (1, "qty")}
    assert any("unknown column 'quantity'" in error.message for error in result.errors)
    assert any("required column 'qty' is missing" in error.message for error in result.errors)


def test_an_empty_file_is_an_error_on_row_1():
    for text in ("", "\ufeff", "\r\n\r\n"):
        result = parse_orders_csv(text, "USD")
        assert [error.row_number for error in result.errors] == [1]
        assert result.drafts == {}


def test_a_row_with_more_cells_than_the_header_is_an_error():
    result = parse_orders_csv(csv_text("web,W-1,TEE-RED-M,1,5.00,Ann Lee,1 Main St,,Boston,MA,02101,US,,,,extra"), "USD")
    assert result.drafts == {}
    assert "16 cells" in result.errors[0].message


def test_more_than_ten_thousand_rows_are_refused_with_a_clear_error():
    row = "web,W-{},TEE-RED-M,1,5.00,Ann Lee,1 Main St,,Boston,MA,02101,US,,,"
    result = parse_orders_csv(csv_text(*(row.format(i) for i in range(MAX_ROWS + 1))), "USD")

    assert result.drafts == {}
    [error] = result.errors
    assert error.row_number == MAX_ROWS + 2
    assert "more than 10,000 rows" in error.message


def test_exactly_ten_thousand_rows_are_accepted():
    row = "web,W-{},TEE-RED-M,1,5.00,Ann Lee,1 Main St,,Boston,MA,02101,US,,,"
    result = parse_orders_csv(csv_text(*(row.format(i) for i in range(MAX_ROWS))), "USD")
    assert result.ok
    assert result.order_count() == MAX_ROWS


def test_a_cell_longer_than_200_characters_is_an_error():
    result = parse_orders_csv(csv_text(f"web,W-1,{'S' * 201},1,5.00,Ann Lee,1 Main St,,Boston,MA,02101,US,,,"), "USD")
    assert [(error.row_number, error.field) for error in result.errors] == [(2, "sku")]


@settings(max_examples=300)
@given(st.lists(st.lists(st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=8), max_size=16), max_size=6))
def test_any_text_under_the_header_gives_drafts_or_row_errors_and_never_raises(rows):
    text = "\n".join([HEADER, *(",".join(cells) for cells in rows)])
    result = parse_orders_csv(text, "USD")
    assert all(error.row_number >= 1 and error.message for error in result.errors)
    assert all(draft.reconciles() for drafts in result.drafts.values() for draft in drafts)
