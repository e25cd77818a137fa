"""CEL conditions: checked when saved (syntax, unknown names, types), evaluated per document."""

from decimal import Decimal

import pytest

from backroom.approvals.conditions import check_condition, evaluate_condition
from backroom.approvals.document_types import INVENTORY_WASTE, PROCUREMENT_REQUISITION
from backroom.approvals.exceptions import ConditionFailed
from backroom.kernel.exceptions import ValidationFailed

REQUISITION = PROCUREMENT_REQUISITION


def messages(text: str, document_type=REQUISITION) -> list[str]:
    return [problem.message for problem in check_condition(text, document_type)]


@pytest.mark.parametrize(
    "text",
    [
        "",
        'amount > 100000 && category == "equipment"',
        'store in ["SHA001", "SHA002"] || region == "EAST"',
        'size(supplier) > 0 && supplier.startsWith("SUP")',
        "!is_urgent && requester == 7",
        "amount >= 5000.50 ? true : amount == 0",
        "int(amount) % 2 == 0",
        "amount in [100, 200.5]",
    ],
)
def test_valid_conditions_have_no_problems(text):
    assert messages(text) == []


def test_syntax_error_points_at_the_column():
    assert messages("amount > > 3") == ["Syntax error at column 10: unexpected “>”."]
    assert messages("amount @ 3") == ["Syntax error at column 8: unexpected “@”."]


def test_an_unfinished_condition_says_so():
    assert messages("amount > 5000 &&") == [
        "Syntax error: the condition ends too early; something is missing after it."
    ]


def test_unknown_field_names_the_field_and_lists_the_known_ones():
    assert messages("amont > 5000") == [
        "Column 1: unknown field “amont”. Fields of procurement.requisition: amount, store, "
        "region, category, supplier, requester, is_urgent."
    ]
    # Fields are per document type: waste has a reason, not a supplier.
    assert messages('supplier == "X"', INVENTORY_WASTE)[0].startswith(
        "Column 1: unknown field “supplier”."
    )


def test_wrong_types_point_at_the_offending_operand():
    assert messages('amount > "x"') == [
        "Column 10: “>” cannot compare “amount” (a decimal number) with text."
    ]
    assert messages("store == 5") == [
        "Column 10: “==” cannot compare “store” (text) with a whole number."
    ]
    assert messages("!amount") == [
        "Column 2: “!” needs true/false, not “amount” (a decimal number)."
    ]
    assert messages("amount == requester") == [
        "Column 11: “==” cannot mix “amount” (a decimal number) with “requester” (a whole number); "
        "convert one side with double() or int()."
    ]


def test_every_problem_is_reported_at_once_with_lines():
    assert messages('amount > "x" &&\n  colour == "red"') == [
        "Line 1, column 10: “>” cannot compare “amount” (a decimal number) with text.",
        "Line 2, column 3: unknown field “colour”. Fields of procurement.requisition: amount, "
        "store, region, category, supplier, requester, is_urgent.",
    ]


def test_a_condition_must_be_true_or_false():
    assert messages("amount + 1") == [
        "The condition must give true or false, but it gives a decimal number."
    ]


@pytest.mark.parametrize(
    ("text", "construct"),
    [("{'a': 1}", "a map"), ("store.size", "selecting a member with “.”"), ("store[0]", None)],
)
def test_unsupported_constructs_are_refused(text, construct):
    problems = messages(text)
    assert len(problems) == 1
    assert "is not supported in approval conditions." in problems[0]
    if construct:
        assert construct in problems[0]


def test_unknown_functions_are_refused():
    assert messages("has(store)") == [
        "Column 1: unknown function “has”. Use size, startsWith, endsWith, contains, matches, "
        "int, double or string."
    ]


# --- evaluation -----------------------------------------------------------------------------


def fields(amount, **more):
    return {"amount": amount, "store": "SHA001", **more}


@pytest.mark.parametrize(
    ("amount", "above", "at_least", "equal"),
    [
        (Decimal("99999.99"), False, False, False),
        (Decimal("100000.00"), False, True, True),
        (Decimal("100000"), False, True, True),
        (Decimal("100000.0001"), True, True, False),
        (Decimal("100000.01"), True, True, False),
        ("100000.00", False, True, True),
        (100000, False, True, True),
    ],
)
def test_decimal_thresholds_in_base_currency_compare_exactly(amount, above, at_least, equal):
    assert evaluate_condition("amount > 100000", REQUISITION, fields(amount)) is above
    assert evaluate_condition("amount > 100000.00", REQUISITION, fields(amount)) is above
    assert evaluate_condition("amount >= 100000", REQUISITION, fields(amount)) is at_least
    assert evaluate_condition("amount == 100000", REQUISITION, fields(amount)) is equal
    assert evaluate_condition("100000 < amount", REQUISITION, fields(amount)) is above


def test_cent_thresholds_are_exact():
    assert evaluate_condition("amount > 5000.01", REQUISITION, fields("5000.01")) is False
    assert evaluate_condition("amount > 5000.01", REQUISITION, fields("5000.02")) is True
    assert evaluate_condition("amount == 0.3", REQUISITION, fields("0.3")) is True


def test_missing_optional_fields_take_their_zero_value():
    assert evaluate_condition('supplier == ""', REQUISITION, fields("1")) is True
    assert evaluate_condition("!is_urgent", REQUISITION, fields("1")) is True


def test_bad_field_values_are_reported_together():
    with pytest.raises(ValidationFailed) as raised:
        evaluate_condition(
            "amount > 1",
            REQUISITION,
            {"amount": 1.5, "store": 7, "colour": "red", "requester": True},
        )
    assert raised.value.errors == {
        "fields.colour": ["“colour” is not a field of procurement.requisition."],
        "fields.amount": ['Give an exact decimal amount (e.g. "5000.00").'],
        "fields.store": ["Give text."],
        "fields.requester": ["Give a whole number."],
    }


def test_amounts_that_a_double_cannot_order_exactly_are_refused():
    with pytest.raises(ValidationFailed) as raised:
        evaluate_condition("amount > 1", REQUISITION, fields("1.00001"))
    assert raised.value.errors == {
        "fields.amount": ["An amount may have at most 4 decimal places."]
    }
    for huge in ("100000000000", "1E+30", "-1E+40"):
        with pytest.raises(ValidationFailed) as raised:
            evaluate_condition("amount > 1", REQUISITION, fields(huge))
        assert raised.value.errors == {
            "fields.amount": ["The amount is too large to route (limit 99,999,999,999.9999)."]
        }
    assert evaluate_condition("amount > 1", REQUISITION, fields("99999999999.9999")) is True


def test_a_failure_while_evaluating_is_a_coded_error():
    with pytest.raises(ConditionFailed) as raised:
        evaluate_condition("int(store) > 1", REQUISITION, fields("1"))
    assert raised.value.code == "condition_failed"
    assert "could not be evaluated" in raised.value.message


def test_an_invalid_condition_is_never_evaluated():
    with pytest.raises(ConditionFailed) as raised:
        evaluate_condition('amount > "x"', REQUISITION, fields("1"))
    assert "is invalid" in raised.value.message
