"""The batch's fast paths give the same result as the general ones.

- `schemas.plain_lines` takes the common batch without a pydantic model per line: whatever it
  accepts, `MoveLineIn` accepts with the same values, and whatever pydantic refuses, it leaves
  to pydantic (which reports every problem with its place).
- The moves' binary `COPY` is built by `ledger.copy_rows`: every field survives the round trip.
- On PostgreSQL a batch streams its moves while applying its lines: a line short of stock or a
  key posted before still leaves nothing behind, and the posting counts its moves.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from decimal import Decimal as D
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from hypothesis import given, settings
from hypothesis import strategies as st
from psycopg.types.numeric import DecimalBinaryDumper
from pydantic import ValidationError

from backroom.inventory import services
from backroom.inventory.exceptions import BatchRejected
from backroom.inventory.ledger import MoveRow, _cost_numeric, insert_moves, numeric_scaled
from backroom.inventory.ledger_checks import balance_differences, valuation_differences
from backroom.inventory.models import StockMove, StockPosting
from backroom.inventory.schemas import BatchIn, MoveLineIn, plain_lines
from backroom.inventory.tests.conftest import key
from backroom.kernel.actors import SYSTEM
from backroom.testing.factories import make_user, token_client_for

# --- plain_lines against pydantic ----------------------------------------------------------

numbers = st.sampled_from(
    ["1", "12", "-3", "0", "0.5", "-0.000001", "1.1234567", "123456789012", "1234567890123",
     " 5", "5 ", "1e3", "1_000", "+1", "", "NaN", "١", "1.", ".5", 5, 0, -2, 1.5, True, None]
)  # fmt: skip
texts = st.sampled_from(["L1", "", "x" * 20, "x" * 21, "x" * 60, "x" * 61, "a\x00", 7, None])
line = st.fixed_dictionaries(
    {
        "action": st.sampled_from(["receive", "issue", "adjust", "move", "", 1]),
        "key": st.sampled_from(["k", "", "k" * 150, "k" * 151, "k\x00", 3, "键"]),
        "item_id": st.sampled_from([1, 0, -1, 2**53, 2**53 + 1, "5", 1.0, True]),
        "location_id": st.sampled_from([2, 0, "2", None]),
        "quantity": numbers,
    },
    optional={
        "unit": texts,
        "unit_cost": numbers,
        "lot_code": texts,
        "expiry_date": st.sampled_from(
            ["2099-02-05", "2099-02-30", "2099-2-5", "20990205", dt.date(2099, 2, 5), None]
        ),
        "reason": st.sampled_from(["waste", "count_variance", "receipt", "nonsense", None]),
        "source": st.sampled_from([None, {"type": "pos.sale", "id": "1", "number": "N"}]),
        "occurred_at": st.sampled_from([None, "2026-01-01T10:00:00+08:00"]),
        "extra": st.just("ignored"),
    },
)


def _pydantic(line: dict) -> tuple | None:
    try:
        model = MoveLineIn.model_validate(line)
    except ValidationError:
        return None
    return (
        model.action,
        model.item_id,
        model.location_id,
        model.quantity,
        model.key,
        model.unit,
        model.unit_cost,
        model.lot_code,
        model.expiry_date,
        model.reason,
        model.source,
        model.occurred_at,
    )


@settings(max_examples=400, deadline=None)
@given(lines=st.lists(line, min_size=1, max_size=4))
def test_plain_lines_accept_only_what_pydantic_accepts_with_the_same_values(lines):
    plain = plain_lines({"moves": lines})
    validated = [_pydantic(line) for line in lines]
    if plain is None:
        return  # left to pydantic
    assert None not in validated
    assert plain == validated
    for ours, theirs in zip(plain, validated, strict=True):
        assert [type(value) for value in ours] == [type(value) for value in theirs]


def test_the_common_batch_takes_the_plain_path_and_the_rest_pydantic():
    common = {
        "action": "receive",
        "key": "k1",
        "item_id": 1,
        "location_id": 2,
        "quantity": "2.5",
        "unit_cost": "1.25",
        "lot_code": "L1",
        "expiry_date": "2099-02-05",
    }
    batch = BatchIn.model_validate({"moves": [common, {**common, "key": "k2", "unit": "bag"}]})
    assert batch._plain is not None and batch.moves == []
    assert [line[4] for line in batch.plain()] == ["k1", "k2"]
    assert batch.plain()[0][3] == D("2.5") and batch.plain()[0][8] == dt.date(2099, 2, 5)
    sourced = {**common, "source": {"type": "pos.sale", "id": "9", "number": "S-9"}}
    slow = BatchIn.model_validate({"moves": [common, sourced]})
    assert slow._plain is None and len(slow.moves) == 2
    assert slow.plain()[1][10].number == "S-9"
    with pytest.raises(ValidationError) as problems:
        BatchIn.model_validate(
            {"moves": [common, {**common, "key": ""}, {**common, "quantity": "x"}]}
        )
    assert {error["loc"] for error in problems.value.errors()} == {
        ("moves", 1, "key"),
        ("moves", 2, "quantity"),
    }
    with pytest.raises(ValidationError):
        BatchIn.model_validate({"moves": []})


def test_a_batch_on_either_path_posts_and_a_bad_one_reports_every_place(stock, tree):
    client = token_client_for(make_user("hq_admin", tree.store_a), "hq_admin", tree.store_a)
    common = {
        "action": "receive",
        "item_id": stock.napkins.pk,
        "location_id": stock.walk_in.pk,
        "quantity": "4",
        "unit_cost": "0.50",
    }

    def post(lines):
        return client.post(
            "/api/v1/inventory/batches?moves=true",
            data=json.dumps({"moves": lines}),
            content_type="application/json",
        )

    plain = post([{**common, "key": "p1"}, {**common, "key": "p2", "action": "issue"}])
    assert plain.status_code == 201, plain.content
    assert [move["reason"] for move in plain.json()["moves"]] == ["receipt", "consumption"]
    sourced = post(
        [
            {**common, "key": "s1", "source": {"type": "pos.sale", "id": "9", "number": "S-9"}},
            {**common, "key": "s2", "occurred_at": timezone.now().isoformat()},
        ]
    )
    assert sourced.status_code == 201, sourced.content
    assert [move["source_number"] for move in sourced.json()["moves"]] == ["S-9", ""]
    bad = post([{**common, "key": ""}, {**common, "key": "b2", "quantity": "1e400"}])
    assert bad.status_code == 422
    text = bad.content.decode()
    assert "moves" in text and "key" in text and "quantity" in text
    assert StockMove.objects.count() == 4
    assert balance_differences() + valuation_differences() == []


# --- the binary COPY -----------------------------------------------------------------------


def test_numerics_are_encoded_as_psycopg_encodes_them():
    """`numeric_scaled` and the unit cost's fast path give psycopg's own binary numeric
    (after the 4-byte length), edges of the fast path and random values of every size."""
    dump = DecimalBinaryDumper(D).dump
    rng = random.Random(2026)
    costs = [0, 1, 10**4, 10**8 - 1, 10**10, 10**10 + 1, 10**14 - 1, 10**14, 10**24 - 1]
    costs += [rng.randint(0, 10 ** rng.randint(0, 24)) for _ in range(20_000)]
    costs += [rng.randint(1, 9999) * 10 ** rng.randint(0, 13) for _ in range(5_000)]
    for value in costs:
        expected = bytes(dump(D(value).scaleb(-10)))
        assert _cost_numeric(value)[4:] == expected, value
        assert numeric_scaled(value, 10)[4:] == expected, value
        assert numeric_scaled(-value, 10)[4:] == bytes(dump(D(-value).scaleb(-10))), value
        assert numeric_scaled(value, 6)[4:] == bytes(dump(D(value).scaleb(-6))), value


def test_every_field_of_a_move_survives_the_insert(stock):
    posting = StockPosting.objects.create(operation="batch", move_count=2)
    shanghai = dt.datetime(2026, 3, 1, 23, 59, 59, 999_999, tzinfo=ZoneInfo("Asia/Shanghai"))
    now = timezone.now()
    rows = [
        MoveRow(
            None, posting.pk, stock.flour.pk, stock.walk_in.site_id, stock.walk_in.pk, None,
            D("-12.345678"), D("1234.5678901234"), D("-15241.5765"), "consumption",
            "pos.sale", "sale-é-1", "N°1", "键-1", 0, shanghai, now, None, None,
        ),
        MoveRow(
            None, posting.pk, stock.milk.pk, stock.walk_in.site_id, stock.walk_in.pk, 2**40,
            D("0.000001"), D("0"), D("0.0000"), "reversal", "", "", "", "键-1", 1, now, now,
            2**40 + 1, 2**41,
        ),
    ]  # fmt: skip
    insert_moves(rows)
    assert all(row.id is not None for row in rows)
    stored = {move.pk: move for move in StockMove.objects.filter(posting_id=posting.pk)}
    for row in rows:
        move = stored[row.id]
        assert (
            move.posting_id, move.item_id, move.site_id, move.location_id, move.lot_id,
            move.quantity, move.unit_cost, move.value, move.reason, move.source_type,
            move.source_id, move.source_number, move.idempotency_key, move.key_line,
            move.occurred_at, move.recorded_at, move.actor_id, move.reverses_id,
        ) == (
            row.posting_id, row.item_id, row.site_id, row.location_id, row.lot_id,
            row.quantity, row.unit_cost, row.value, row.reason, row.source_type,
            row.source_id, row.source_number, row.idempotency_key, row.key_line,
            row.occurred_at, row.recorded_at, row.actor_id, row.reverses_id,
        )  # fmt: skip


# --- streaming -----------------------------------------------------------------------------


def _issue(stock, quantity: str, **extra) -> services.MoveInput:
    return services.MoveInput(
        action="issue",
        item_id=stock.flour.pk,
        location_id=stock.walk_in.pk,
        quantity=D(quantity),
        key=key("s"),
        **extra,
    )


def _receipts(stock, count: int) -> list[services.MoveInput]:
    return [
        services.MoveInput(
            action="receive",
            item_id=stock.flour.pk,
            location_id=stock.walk_in.pk,
            quantity=D(2),
            unit_cost=D(3),
            key=key("r"),
            lot_code=f"L{n % 3}",
            expiry_date=timezone.localdate() + dt.timedelta(days=n % 3 + 1),
        )
        for n in range(count)
    ]


def test_a_long_batch_counts_its_moves_and_returns_their_ids_in_order(stock):
    result = services.post_moves([*_receipts(stock, 1200), _issue(stock, "2399")], actor=SYSTEM)
    posting = StockPosting.objects.get(pk=result.posting.pk)
    assert posting.move_count == len(result.rows) == 1203  # the issue takes three lots
    assert posting.site_id == stock.walk_in.site_id
    stored = list(StockMove.objects.filter(posting=posting).order_by("id"))
    assert [move.pk for move in stored] == [row.id for row in result.rows]
    assert [(move.idempotency_key, move.key_line) for move in stored] == [
        (row.idempotency_key, row.key_line) for row in result.rows
    ]
    assert balance_differences() + valuation_differences() == []


def test_a_line_short_of_stock_after_many_streamed_leaves_nothing(stock):
    with pytest.raises(BatchRejected) as rejected:
        services.post_moves([*_receipts(stock, 1100), _issue(stock, "2201")], actor=SYSTEM)
    assert [line["index"] for line in rejected.value.details["lines"]] == [1100]
    assert [line["code"] for line in rejected.value.details["lines"]] == ["insufficient_stock"]
    assert StockMove.objects.count() == 0
    assert StockPosting.objects.count() == 0


def test_a_key_posted_before_among_many_streamed_is_replayed(stock):
    earlier = _receipts(stock, 1)
    first = services.post_moves(earlier, actor=SYSTEM)
    later = services.post_moves([*_receipts(stock, 1100), *earlier], actor=SYSTEM)
    assert later.rows[-1].idempotency_key == earlier[0].key
    assert StockMove.objects.count() == 1101
    assert StockMove.objects.filter(idempotency_key=earlier[0].key).get().pk == first.rows[0].id
    assert balance_differences() + valuation_differences() == []


def test_lines_checked_inside_the_stream_report_every_problem_and_leave_nothing(stock):
    # Lines without a lot or unit are checked as they are applied, inside the stream: every
    # line's problems are still reported at once, and a shortfall before them is not (nothing
    # is applied after the first problem); nothing is written.
    lines = [
        *_receipts(stock, 600),
        _issue(stock, "5000"),  # short of stock, applied before the next line's check
        _issue(stock, "0"),
        services.MoveInput("issue", 10**9, stock.walk_in.pk, D(1), key("x")),  # no such item
        _issue(stock, "1"),
    ]
    with pytest.raises(BatchRejected) as rejected:
        services.post_moves(lines, actor=SYSTEM)
    assert [(line["index"], line["code"]) for line in rejected.value.details["lines"]] == [
        (601, "negative_quantity"),
        (602, "invalid"),
    ]
    assert StockMove.objects.count() == 0
    assert StockPosting.objects.count() == 0
    assert balance_differences() + valuation_differences() == []


def test_lines_naming_a_lot_or_unit_are_checked_first_with_the_others(stock):
    lines = [
        *_receipts(stock, 3),
        _issue(stock, "0"),  # no lot or unit: checked too, before anything is applied
        _issue(stock, "1", lot_code="NOPE"),
        _issue(stock, "1", unit="crate"),
    ]
    with pytest.raises(BatchRejected) as rejected:
        services.post_moves(lines, actor=SYSTEM)
    assert [(line["index"], line["code"]) for line in rejected.value.details["lines"]] == [
        (3, "negative_quantity"),
        (4, "unknown_lot"),
        (5, "unknown_unit"),
    ]
    assert StockMove.objects.count() == 0
    assert StockPosting.objects.count() == 0


def test_a_batch_reports_every_bad_or_repeated_key(stock):
    first, second = _receipts(stock, 2)
    lines = [
        first,
        services.MoveInput(
            "receive", stock.flour.pk, stock.walk_in.pk, D(1), first.key, None, D(2)
        ),
        services.MoveInput("receive", stock.flour.pk, stock.walk_in.pk, D(1), " ", None, D(2)),
        services.MoveInput(
            "receive", stock.flour.pk, stock.walk_in.pk, D(1), "k" * 201, None, D(2)
        ),
        second,
    ]
    with pytest.raises(BatchRejected) as rejected:
        services.post_moves(lines, actor=SYSTEM)
    problems = rejected.value.details["lines"]
    assert [line["index"] for line in problems] == [1, 2, 3]
    assert "line 0" in problems[0]["details"]["fields"]["key"][0]
    assert [line["code"] for line in problems] == ["invalid"] * 3
    assert StockMove.objects.count() == 0
