import base64
import datetime as dt
import hashlib
import hmac
import json
from decimal import Decimal

import pytest

from backroom.channels.choices import OrderStatus
from backroom.channels.platforms import square
from backroom.channels.platforms.base import Credentials, EventKind, InboundRequest
from backroom.channels.platforms.errors import (
    BadSignature,
    MalformedCsv,
    MalformedPayload,
    MissingParameter,
)

EXPORT = """\ufeffDate,Time,Time Zone,Category,Item,Qty,Price Point Name,SKU,Modifiers Applied,Gross Sales,Discounts,Net Sales,Tax,Transaction ID,Payment ID,Device Name,Notes,Details,Event Type,Location,Dining Option,Customer ID,Customer Name
2026-03-01,12:05:10,Pacific Time (US & Canada),Coffee,Latte,2,Large,LATTE-L,"Oat Milk, Extra Shot",$11.00,-$1.00,$10.00,$0.90,T1,P1,Front,,,Payment,Mission St,For Here,C1,Ann Lee
2026-03-01,12:05:10,Pacific Time (US & Canada),Bakery,Croissant,1,Regular,,,$4.25,$0.00,$4.25,$0.38,T1,P1,Front,warm it,,Payment,Mission St,For Here,C1,Ann Lee
2026-03-01,12:30:00,Pacific Time (US & Canada),Coffee,Drip Coffee,0.5,,DRIP,,$1.50,$0.00,$1.50,$0.14,T2,P2,Front,,,Payment,Mission St,To Go,,
2026-03-01,12:30:00,Pacific Time (US & Canada),Coffee,Drip Coffee,0.5,,DRIP,,$1.50,$0.00,$1.50,$0.14,T2,P2,Front,,,Payment,Mission St,To Go,,
2026-03-01,13:10:00,Pacific Time (US & Canada),Coffee,Latte,-1,Large,LATTE-L,"Oat Milk, Extra Shot",-$5.50,$0.50,-$5.00,-$0.45,T1,P1,Front,,,Refund,Mission St,For Here,C1,Ann Lee

"""


def parse(text: str, **options) -> square.SquareImport:
    return square.parse_item_sales(text.encode(), **options)


def test_golden_parse_of_an_item_sales_export():
    result = parse(EXPORT)

    assert result.errors == ()
    assert result.file_sha256 == hashlib.sha256(EXPORT.encode()).hexdigest()
    assert len(result.lines) == 5
    assert "Unit" in result.missing_columns and "Date" not in result.missing_columns
    placed = [event for event in result.events if event.kind == EventKind.ORDER_PLACED]
    assert [event.external_order_id for event in placed] == ["T1", "T2"]

    t1 = placed[0]
    assert (t1.event_key, t1.status) == ("placed", OrderStatus.COMPLETED)
    order = t1.order
    assert order is not None
    assert order.placed_at == dt.datetime(2026, 3, 1, 20, 5, 10, tzinfo=dt.UTC)
    assert (order.store_ref, order.currency, order.customer_name, order.notes) == (
        "Mission St",
        "USD",
        "Ann Lee",
        "warm it",
    )
    assert [
        (line.line_no, line.external_sku, line.name, line.quantity, line.unit_price)
        for line in order.lines
    ] == [
        (1, "LATTE-L", "Latte", Decimal(2), Decimal("5.5000")),
        (2, "Croissant", "Croissant", Decimal(1), Decimal("4.2500")),
    ]
    assert [modifier.code for modifier in order.lines[0].modifiers] == ["Oat Milk", "Extra Shot"]
    assert (order.original_price, order.merchant_discount, order.total) == (
        Decimal("15.25"),
        Decimal("1.00"),
        Decimal("15.53"),
    )

    t2 = placed[1].order
    assert t2 is not None
    assert [(line.external_sku, line.quantity, line.unit_price) for line in t2.lines] == [
        ("DRIP", Decimal("0.5"), Decimal("3.0000")),
        ("DRIP", Decimal("0.5"), Decimal("3.0000")),
    ]

    [refund] = [event for event in result.events if event.raw_type == "Refund"]
    assert (refund.kind, refund.status, refund.external_order_id) == (
        EventKind.PARTIALLY_REFUNDED,
        OrderStatus.PARTIALLY_REFUNDED,
        "T1",
    )
    assert [(line.external_sku, line.quantity, line.amount) for line in refund.refund_lines] == [
        ("LATTE-L", Decimal(1), Decimal("5.00"))
    ]
    assert refund.refund_amount == Decimal("5.45")
    assert refund.event_key.startswith("refund:")


def test_line_keys_are_stable_and_tell_identical_lines_apart():
    first, again = parse(EXPORT), parse(EXPORT)
    keys = [line.line_key for line in first.lines]
    assert keys == [line.line_key for line in again.lines]
    assert len(set(keys)) == 5  # the two identical Drip Coffee lines differ by occurrence
    assert first.file_sha256 == again.file_sha256
    assert [event.event_key for event in first.events] == [
        event.event_key for event in again.events
    ]
    # The same rows in another (overlapping) export give the same keys, the file another hash.
    overlapping = parse(
        EXPORT
        + "2026-03-02,09:00:00,UTC,Coffee,Mocha,1,,MOCHA,,$5.00,$0.00,$5.00,$0.40,T3,P3,,,,Payment,Mission St,,,\n"
    )
    assert [line.line_key for line in overlapping.lines][:5] == keys
    assert overlapping.file_sha256 != first.file_sha256


def test_refunding_everything_is_a_whole_refund():
    text = EXPORT.replace("Latte,-1,", "Latte,-2,") + (
        "2026-03-01,13:10:00,Pacific Time (US & Canada),Bakery,Croissant,-1,Regular,,,-$4.25,$0.00,-$4.25,-$0.38,T1,P1,,,,Refund,Mission St,,,\n"
    )
    [refund] = [event for event in parse(text).events if event.raw_type == "Refund"]
    assert (refund.kind, refund.status) == (EventKind.REFUNDED, OrderStatus.REFUNDED)


@pytest.mark.parametrize(
    ("text", "amount"),
    [
        ("$8.00", Decimal("8.00")),
        ("-$8.00", Decimal("-8.00")),
        ("$-8.00", Decimal("-8.00")),
        ("($8.00)", Decimal("-8.00")),
        ("$1,234.50", Decimal("1234.50")),
        ("CA$3.10", Decimal("3.10")),
        ("€2.5", Decimal("2.5")),
        ("8", Decimal(8)),
        ("$.50", Decimal("0.50")),
    ],
)
def test_currency_strings(text, amount):
    assert square.parse_money(text) == amount


@pytest.mark.parametrize("text", ["", "$", "eight", "$1.2.3", "--$1", "$1,23", "1-2"])
def test_text_that_is_not_money(text):
    assert square.parse_money(text) is None


def test_every_bad_row_is_reported_at_once_and_good_rows_still_parse():
    header = "Date,Time,Time Zone,Item,Qty,SKU,Gross Sales,Discounts,Net Sales,Transaction ID,Event Type,Location\n"
    rows = [
        "2026-03-01,10:00:00,UTC,Bagel,two,BAGEL,$3.00,$0.00,$3.00,T10,Payment,Main",  # row 2: Qty
        "2026-03-01,10:00:00,UTC,Juice,1,JUICE,$1.2.3,$0.00,$4.00,T10,Payment,Main",  # row 3: money
        "2026-03-01,10:00:00,Mars Time,Tea,1,TEA,$2.00,$0.00,$2.00,T11,Payment,Main",  # row 4: zone
        "2026-03-01,10:00:00,UTC,Tea,1,TEA,$2.00,$0.00,$2.00,,Payment,Main",  # row 5: no ticket
        "2026-03-01,10:00:00,UTC,Tea,1,TEA,$2.00,$0.00,$2.00,T12,Void,Main",  # row 6: event type
        "31/31/2026,25:00,UTC,Tea,0,TEA,$2.00,oops,$2.00,T13,Payment,Main",  # row 7: three problems
        "2026-03-01,10:00:00,UTC,Tea,1,TEA,$2.00,$0.00,$2.00,T11,Payment,Main",  # row 8: good, T11 held
        "2026-03-01,11:00:00,UTC,Tea,1,TEA,$2.00,$0.00,$2.00,T14,Payment,Main",  # row 9: good
    ]
    result = parse(header + "\n".join(rows) + "\n")

    assert [(error.row, error.column) for error in result.errors] == [
        (2, "Qty"),
        (3, "Gross Sales"),
        (4, "Time Zone"),
        (5, "Transaction ID"),
        (6, "Event Type"),
        (7, "Date"),
        (7, "Qty"),
        (7, "Discounts"),
    ]
    assert result.error_details()["row 3: Gross Sales"] == ["is not an amount of money."]
    assert [line.row for line in result.lines] == [8, 9]
    assert [event.external_order_id for event in result.events] == ["T14"]
    assert result.skipped_transactions == ("T10", "T11", "T12", "T13")


def test_an_older_export_without_optional_columns():
    text = "Date,Time,Item,Qty,Gross Sales,Transaction ID\n2026-03-01,09:15,Flat White,1,$4.50,T7\n03/02/2026,9:30 AM,Flat White,1,$4.50,T8\n"
    result = parse(text, default_timezone="Asia/Shanghai", currency="CNY")
    assert result.errors == ()
    assert {"Time Zone", "SKU", "Event Type", "Net Sales", "PAN Suffix"} <= set(
        result.missing_columns
    )
    [first, second] = result.events
    assert first.order is not None and second.order is not None
    assert first.order.placed_at == dt.datetime(2026, 3, 1, 1, 15, tzinfo=dt.UTC)
    assert second.order.placed_at == dt.datetime(2026, 3, 2, 1, 30, tzinfo=dt.UTC)
    assert (first.order.total, first.order.currency) == (Decimal("4.50"), "CNY")
    assert first.order.lines[0].external_sku == "Flat White"


def test_a_file_missing_required_columns_or_not_utf8_cannot_be_imported():
    with pytest.raises(MalformedCsv) as caught:
        parse("Date,Item,Gross Sales\n2026-03-01,Tea,$2.00\n")
    assert caught.value.code == "malformed_csv"
    assert set(caught.value.errors) == {"Time", "Qty", "Transaction ID"}
    with pytest.raises(MalformedCsv):
        square.parse_item_sales("Date,Time\n".encode("utf-16"))
    with pytest.raises(MalformedCsv):
        parse("")


# --- webhooks --------------------------------------------------------------------------------

URL = "https://backroom.example.com/channels/square/4/"
KEY = "sq-signature-key"
BODY = json.dumps(
    {
        "merchant_id": "ML1",
        "type": "refund.created",
        "event_id": "c2e0f6e8-3c7b-4c5f-9f7a-1f0b8f1a2b3c",
        "data": {
            "type": "refund",
            "id": "R1",
            "object": {"refund": {"id": "R1", "order_id": "O1"}},
        },
    }
).encode()


def test_webhook_signature_matches_hmac_computed_by_hand():
    by_hand = base64.b64encode(
        hmac.new(KEY.encode(), URL.encode() + BODY, hashlib.sha256).digest()
    ).decode()
    assert square.sign_webhook(URL, BODY, KEY) == by_hand
    assert square.verify_webhook(URL, BODY, by_hand, KEY)
    assert not square.verify_webhook(URL, BODY + b" ", by_hand, KEY)
    assert not square.verify_webhook(URL + "?x=1", BODY, by_hand, KEY)
    assert not square.verify_webhook(URL, BODY, by_hand, "other-key")


def test_webhook_adapter_verifies_and_keys_events_by_event_id():
    adapter = square.SquareAdapter()
    signature = square.sign_webhook(URL, BODY, KEY)
    request = InboundRequest("POST", URL, body=BODY, headers={square.SIGNATURE_HEADER: signature})
    adapter.verify_request(request, Credentials(secret=KEY))
    [event] = adapter.parse(request)
    assert (event.kind, event.event_key, event.raw_type, event.external_order_id) == (
        EventKind.IGNORED,
        "c2e0f6e8-3c7b-4c5f-9f7a-1f0b8f1a2b3c",
        "refund.created",
        "O1",
    )
    assert adapter.store_ref(request) == "ML1"
    assert adapter.ack().status == 200

    tampered = InboundRequest(
        "POST", URL, body=BODY.replace(b"R1", b"R2"), headers={square.SIGNATURE_HEADER: signature}
    )
    with pytest.raises(BadSignature) as caught:
        adapter.verify_request(tampered, Credentials(secret=KEY))
    assert adapter.reject(caught.value).status == 401
    with pytest.raises(MissingParameter):
        adapter.verify_request(InboundRequest("POST", URL, body=BODY), Credentials(secret=KEY))
    with pytest.raises(MalformedPayload) as malformed:
        square.parse_webhook(b'{"type": "x"}')
    assert list(malformed.value.errors) == ["event_id"]
