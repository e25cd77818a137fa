"""Conditions in CEL (Common Expression Language), checked when saved and evaluated per document.

Package: `cel-python` (imports as `celpy`), pure Python. We use its parser (a Lark tree with
line/column positions) and its interpreter; never `eval`. CEL's own type checker is not part of
cel-python, so `check_condition` walks the tree with the document type's declared fields and
reports, all at once and each with its column (any `DocumentType` works, registered or not: the
alert rules check their conditions against one declaring the KPI values, see
`backroom.dashboards.rules`):

- syntax errors (from the parser's position),
- unknown field names (with the fields the document type offers),
- type errors (`amount > "x"`, `store == 5`, `!amount`, a condition that is not true/false),
- constructs outside the supported subset (maps, messages, macros, field selection).

The supported subset: literals (int, double, string, bool, lists), the declared fields,
`&& || ! ?:`, comparisons, `+ - * / %`, `in` with a list, `size()`, the string methods
`startsWith endsWith contains matches`, and `int() double() string()` conversions.

Money is handed to CEL as a **double**, deliberately, not as integer minor units: administrators
write thresholds in currency units (`amount > 100000`), and CEL compares doubles with int and
double literals alike. The conversion is `float(Decimal)` (correctly rounded, so monotone: a ≤ b
implies float(a) ≤ float(b)), and it is exact in order and equality for every decimal with at most
15 significant digits. Amounts are therefore accepted with at most 4 decimal places (storage
precision) and an absolute value below 10¹¹ (99,999,999,999.9999); anything else is refused with
a clear error instead of being rounded into a different route.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

import celpy
import celpy.celtypes as celtypes
import lark
from celpy.celparser import CELParseError
from celpy.evaluation import CELEvalError
from django.utils.translation import gettext as _

from backroom.approvals.exceptions import ConditionFailed
from backroom.approvals.registry import DocumentType, FieldType
from backroom.kernel.exceptions import ErrorCollector

MAX_CONDITION_LENGTH = 2000
MONEY_LIMIT = Decimal(10) ** 11
MONEY_QUANTUM = Decimal("0.0001")

_NUMERIC = {"int", "double"}
_STRING_METHODS = {"startsWith", "endsWith", "contains", "matches"}
_CONVERSIONS = {"int": "int", "double": "double", "string": "string"}

_environment = celpy.Environment()


@dataclass(frozen=True)
class ConditionProblem:
    """One problem found in a condition: a localised message and where it is (1-based)."""

    message: str
    line: int | None = None
    column: int | None = None


def _type_label(cel_type: str) -> str:
    if cel_type == "int":
        return _("a whole number")
    if cel_type == "double":
        return _("a decimal number")
    if cel_type == "string":
        return _("text")
    if cel_type == "bool":
        return _("true/false")
    if cel_type == "null":
        return _("null")
    if cel_type.startswith("list"):
        return _("a list")
    return cel_type


def _where(line: int | None, column: int | None, multiline: bool) -> str:
    if column is None:
        return _("somewhere")
    if multiline and line is not None:
        return _("line %(line)s, column %(column)s") % {"line": line, "column": column}
    return _("column %(column)s") % {"column": column}


@dataclass
class _Typed:
    cel_type: str  # "int", "double", "string", "bool", "null", "list(T)", or "error"
    field: str | None = None  # set when the expression is a bare field name
    # Int literal nodes (a bare literal, or a list literal's items) that may become doubles.
    int_literals: tuple[Any, ...] = ()


def _coerce_to_double(literals: tuple[Any, ...]) -> None:
    """Rewrite int literals as double literals, so `amount > 100000` compares double with double.

    cel-python follows CEL's strict overloads (`1.0 == 1` has no overload), so an int literal
    next to money is made a double in the tree. Mixing non-literal ints and doubles is refused
    when the condition is checked; the writer converts with `double()` or `int()`.
    """
    for literal in literals:
        token = literal.children[0]
        if token.type != "INT_LIT":
            continue
        value = int(token.value, 16) if "x" in token.value.lower() else int(token.value)
        literal.children[0] = lark.Token.new_borrow_pos("FLOAT_LIT", repr(float(value)), token)


class _Checker:
    def __init__(self, text: str, document_type: DocumentType) -> None:
        self.text = text
        self.document_type = document_type
        self.multiline = "\n" in text
        self.problems: list[ConditionProblem] = []

    # --- reporting ---------------------------------------------------------------------------
    def _at(self, node: Any) -> tuple[int | None, int | None]:
        if isinstance(node, lark.Token):
            return node.line, node.column
        meta = getattr(node, "meta", None)
        if meta is None or getattr(meta, "empty", True):
            return None, None
        return meta.line, meta.column

    def report(self, node: Any, message: str) -> _Typed:
        line, column = self._at(node)
        where = _where(line, column, self.multiline)
        self.problems.append(
            ConditionProblem(f"{where[:1].upper()}{where[1:]}: {message}", line, column)
        )
        return _Typed("error")

    def describe(self, typed: _Typed) -> str:
        if typed.field is not None:
            return _("“%(field)s” (%(type)s)") % {
                "field": typed.field,
                "type": _type_label(typed.cel_type),
            }
        return _type_label(typed.cel_type)

    def unify(self, left: _Typed, right: _Typed) -> str | None:
        """The common numeric type of two numeric operands (coercing int literals), or None."""
        if left.cel_type == right.cel_type:
            return left.cel_type
        for int_side, double_side in ((left, right), (right, left)):
            if int_side.cel_type == "int" and double_side.cel_type == "double":
                if int_side.int_literals:
                    _coerce_to_double(int_side.int_literals)
                    return "double"
        return None

    def mixing(self, node: Any, operator: str, left: _Typed, right: _Typed) -> _Typed:
        return self.report(
            node,
            _(
                "“%(operator)s” cannot mix %(left)s with %(right)s; convert one side with "
                "double() or int()."
            )
            % {"operator": operator, "left": self.describe(left), "right": self.describe(right)},
        )

    # --- the walk ----------------------------------------------------------------------------
    def check(self, node: Any) -> _Typed:
        if isinstance(node, lark.Token):  # pragma: no cover - the grammar wraps tokens in rules
            return self.report(node, _("unexpected “%(token)s”.") % {"token": node.value})
        handler = getattr(self, f"_{node.data}", None)
        if handler is None:
            return self.unsupported(node)
        return handler(node)  # type: ignore[no-any-return]

    def unsupported(self, node: Any, what: str | None = None) -> _Typed:
        construct = what or {
            "map_lit": _("a map"),
            "member_object": _("a message"),
            "member_index": _("indexing with [ ]"),
            "member_dot": _("selecting a member with “.”"),
            "dot_ident": _("a leading “.”"),
            "dot_ident_arg": _("a leading “.”"),
        }.get(str(node.data), str(node.data))
        if self.document_type.conditions_label:
            return self.report(
                node,
                _("%(construct)s is not supported in %(conditions)s.")
                % {"construct": construct, "conditions": self.document_type.conditions_label},
            )
        return self.report(
            node,
            _("%(construct)s is not supported in approval conditions.") % {"construct": construct},
        )

    def _single(self, node: Any) -> _Typed:
        return self.check(node.children[0])

    def _expr(self, node: Any) -> _Typed:
        if len(node.children) == 1:
            return self.check(node.children[0])
        condition, when_true, when_false = node.children
        test = self.check(condition)
        if test.cel_type not in ("bool", "error"):
            self.report(
                condition,
                _("the test before “?” must be true/false, not %(type)s.")
                % {"type": self.describe(test)},
            )
        left, right = self.check(when_true), self.check(when_false)
        if "error" in (left.cel_type, right.cel_type):
            return _Typed("error")
        if left.cel_type == right.cel_type:
            return _Typed(left.cel_type)
        if {left.cel_type, right.cel_type} <= _NUMERIC:
            common = self.unify(left, right)
            if common is not None:
                return _Typed(common)
            return self.mixing(when_false, "?:", left, right)
        return self.report(
            when_false,
            _("both branches of “?:” must have the same type, not %(left)s and %(right)s.")
            % {"left": self.describe(left), "right": self.describe(right)},
        )

    def _logical(self, node: Any, operator: str) -> _Typed:
        if len(node.children) == 1:
            return self.check(node.children[0])
        result = _Typed("bool")
        for child in node.children:
            typed = self.check(child)
            if typed.cel_type == "error":
                result = _Typed("error")
            elif typed.cel_type != "bool":
                result = self.report(
                    child,
                    _("“%(operator)s” needs true/false on both sides, not %(type)s.")
                    % {"operator": operator, "type": self.describe(typed)},
                )
        return result

    def _conditionalor(self, node: Any) -> _Typed:
        return self._logical(node, "||")

    def _conditionaland(self, node: Any) -> _Typed:
        return self._logical(node, "&&")

    _RELATIONS = {
        "relation_lt": "<",
        "relation_le": "<=",
        "relation_gt": ">",
        "relation_ge": ">=",
        "relation_eq": "==",
        "relation_ne": "!=",
        "relation_in": "in",
    }

    def _relation(self, node: Any) -> _Typed:
        if len(node.children) == 1:
            return self.check(node.children[0])
        operation, right_node = node.children
        operator = self._RELATIONS[str(operation.data)]
        left = self.check(operation.children[0])
        right = self.check(right_node)
        if "error" in (left.cel_type, right.cel_type):
            return _Typed("error")
        if operator == "in":
            element = right.cel_type[5:-1] if right.cel_type.startswith("list(") else None
            if element is None:
                return self.report(
                    right_node,
                    _("“in” needs a list on its right, not %(type)s.")
                    % {"type": self.describe(right)},
                )
            if element in ("", "error"):
                return _Typed("bool")
            if {left.cel_type, element} <= _NUMERIC:
                items = _Typed(element, int_literals=right.int_literals)
                if self.unify(left, items) is not None:
                    return _Typed("bool")
                return self.mixing(right_node, operator, left, items)
            if _comparable(left.cel_type, element, equality=True):
                return _Typed("bool")
            return self.report(
                right_node,
                _("“in” cannot look for %(left)s in a list whose items are %(right)s.")
                % {"left": self.describe(left), "right": _type_label(element)},
            )
        equality = operator in ("==", "!=")
        if {left.cel_type, right.cel_type} <= _NUMERIC:
            if self.unify(left, right) is not None:
                return _Typed("bool")
            return self.mixing(right_node, operator, left, right)
        if _comparable(left.cel_type, right.cel_type, equality=equality):
            return _Typed("bool")
        return self.report(
            right_node,
            _("“%(operator)s” cannot compare %(left)s with %(right)s.")
            % {"operator": operator, "left": self.describe(left), "right": self.describe(right)},
        )

    def _arithmetic(self, node: Any, operators: dict[str, str]) -> _Typed:
        if len(node.children) == 1:
            return self.check(node.children[0])
        operation, right_node = node.children
        operator = operators[str(operation.data)]
        left = self.check(operation.children[0])
        right = self.check(right_node)
        if "error" in (left.cel_type, right.cel_type):
            return _Typed("error")
        if operator == "+" and left.cel_type == right.cel_type == "string":
            return _Typed("string")
        if operator == "%" and left.cel_type == right.cel_type == "int":
            return _Typed("int")
        if operator != "%" and left.cel_type in _NUMERIC and right.cel_type in _NUMERIC:
            common = self.unify(left, right)
            if common is not None:
                return _Typed(common)
            return self.mixing(right_node, operator, left, right)
        return self.report(
            right_node,
            _("“%(operator)s” cannot combine %(left)s with %(right)s.")
            % {"operator": operator, "left": self.describe(left), "right": self.describe(right)},
        )

    def _addition(self, node: Any) -> _Typed:
        return self._arithmetic(node, {"addition_add": "+", "addition_sub": "-"})

    def _multiplication(self, node: Any) -> _Typed:
        return self._arithmetic(
            node,
            {"multiplication_mul": "*", "multiplication_div": "/", "multiplication_mod": "%"},
        )

    def _unary(self, node: Any) -> _Typed:
        if len(node.children) == 1:
            return self.check(node.children[0])
        operation, operand_node = node.children
        operand = self.check(operand_node)
        if operand.cel_type == "error":
            return operand
        if operation.data == "unary_not":
            if operand.cel_type == "bool":
                return _Typed("bool")
            return self.report(
                operand_node,
                _("“!” needs true/false, not %(type)s.") % {"type": self.describe(operand)},
            )
        if operand.cel_type in _NUMERIC:
            return _Typed(operand.cel_type)
        return self.report(
            operand_node,
            _("“-” needs a number, not %(type)s.") % {"type": self.describe(operand)},
        )

    _member = _single
    _primary = _single

    def _paren_expr(self, node: Any) -> _Typed:
        typed = self.check(node.children[0])
        return _Typed(typed.cel_type, int_literals=typed.int_literals)

    def _ident(self, node: Any) -> _Typed:
        token = node.children[0]
        name = str(token.value)
        spec = self.document_type.get_field(name)
        if spec is None:
            return self.report(
                token,
                _("unknown field “%(name)s”. Fields of %(document_type)s: %(fields)s.")
                % {
                    "name": name,
                    "document_type": self.document_type.code,
                    "fields": ", ".join(self.document_type.field_names),
                },
            )
        return _Typed(spec.type.cel_type, field=name)

    def _literal(self, node: Any) -> _Typed:
        token = node.children[0]
        kind = token.type
        if kind == "INT_LIT":
            return _Typed("int", int_literals=(node,))
        if kind == "UINT_LIT":
            return self.unsupported(node, _("an unsigned literal"))
        if kind == "FLOAT_LIT":
            return _Typed("double")
        if kind in ("STRING_LIT", "MLSTRING_LIT"):
            return _Typed("string")
        if kind == "BOOL_LIT":
            return _Typed("bool")
        if kind == "NULL_LIT":
            return _Typed("null")
        return self.unsupported(node, _("a bytes literal"))

    def _arguments(self, node: Any | None) -> list[Any]:
        return list(node.children) if node is not None else []

    def _list_lit(self, node: Any) -> _Typed:
        items = self._arguments(node.children[0] if node.children else None)
        element = ""
        literals: list[Any] = []
        typed_items = [self.check(item) for item in items]
        for item, typed in zip(items, typed_items, strict=True):
            if typed.cel_type == "error":
                return typed
            literals.extend(typed.int_literals)
            if not element:
                element = typed.cel_type
            elif element != typed.cel_type:
                if {element, typed.cel_type} <= _NUMERIC:
                    if all(t.int_literals for t in typed_items if t.cel_type == "int"):
                        _coerce_to_double(tuple(literals) + typed.int_literals)
                        element = "double"
                        continue
                    return self.mixing(item, "[ ]", _Typed(element), typed)
                return self.report(
                    item,
                    _("a list must hold one type, not %(first)s and %(other)s.")
                    % {"first": _type_label(element), "other": _type_label(typed.cel_type)},
                )
        if element == "double" and literals:
            _coerce_to_double(tuple(literals))
            return _Typed("list(double)")
        return _Typed(f"list({element})", int_literals=tuple(literals) if element == "int" else ())

    def _call(self, node: Any, name_token: Any, target: _Typed | None, args: list[Any]) -> _Typed:
        name = str(name_token.value)
        typed_args = [self.check(arg) for arg in args]
        if any(arg.cel_type == "error" for arg in typed_args) or (
            target is not None and target.cel_type == "error"
        ):
            return _Typed("error")
        subject = [target] if target is not None else []
        operands = subject + typed_args
        if name == "size" and len(operands) == 1:
            if operands[0].cel_type == "string" or operands[0].cel_type.startswith("list("):
                return _Typed("int")
            return self.report(
                name_token,
                _("“size” needs text or a list, not %(type)s.")
                % {"type": self.describe(operands[0])},
            )
        if name in _STRING_METHODS and target is not None and len(typed_args) == 1:
            if target.cel_type == "string" and typed_args[0].cel_type == "string":
                return _Typed("bool")
            return self.report(
                name_token,
                _("“%(name)s” works on text with a text argument.") % {"name": name},
            )
        if name in _CONVERSIONS and target is None and len(typed_args) == 1:
            source = typed_args[0].cel_type
            if source in _NUMERIC | {"string"}:
                return _Typed(_CONVERSIONS[name])
            return self.report(
                name_token,
                _("“%(name)s” cannot convert %(type)s.")
                % {"name": name, "type": self.describe(typed_args[0])},
            )
        known = {"size", *_STRING_METHODS, *_CONVERSIONS}
        if name in known:
            return self.report(
                name_token,
                _("“%(name)s” is called with the wrong number of arguments.") % {"name": name},
            )
        return self.report(
            name_token,
            _(
                "unknown function “%(name)s”. Use size, startsWith, endsWith, contains, matches, int, double or string."
            )
            % {"name": name},
        )

    def _ident_arg(self, node: Any) -> _Typed:
        name_token = node.children[0]
        args = self._arguments(node.children[1] if len(node.children) > 1 else None)
        return self._call(node, name_token, None, args)

    def _member_dot_arg(self, node: Any) -> _Typed:
        target_node, name_token = node.children[0], node.children[1]
        args = self._arguments(node.children[2] if len(node.children) > 2 else None)
        target = self.check(target_node)
        return self._call(node, name_token, target, args)


def _comparable(left: str, right: str, *, equality: bool) -> bool:
    if left == right and left in ("string", "int", "double"):
        return True
    return equality and left == right and left == "bool"


def _syntax_problem(text: str, error: CELParseError) -> ConditionProblem:
    cause = error.__context__
    line, column = error.line, error.column
    where = _where(line, column, "\n" in text)
    if isinstance(cause, lark.exceptions.UnexpectedToken) and cause.token.type == "$END":
        message = _("the condition ends too early; something is missing after it.")
        return ConditionProblem(_("Syntax error: %(message)s") % {"message": message}, line, column)
    if isinstance(cause, lark.exceptions.UnexpectedToken):
        near = str(cause.token.value)
    elif isinstance(cause, lark.exceptions.UnexpectedCharacters):
        near = text.splitlines()[(line or 1) - 1][(column or 1) - 1 : (column or 1)]
    else:  # pragma: no cover - other Lark errors carry no position
        near = ""
    return ConditionProblem(
        _("Syntax error at %(where)s: unexpected “%(near)s”.") % {"where": where, "near": near},
        line,
        column,
    )


def check_condition(text: str, document_type: DocumentType) -> list[ConditionProblem]:
    """Every problem in `text` as a condition on `document_type`; empty when it is valid.

    A blank condition is valid and means "always".
    """
    return _check(text, document_type)[1]


def _check(text: str, document_type: DocumentType) -> tuple[Any, list[ConditionProblem]]:
    """The checked (and literal-coerced) tree with its problems."""
    if not text.strip():
        return None, []
    if len(text) > MAX_CONDITION_LENGTH:
        return None, [
            ConditionProblem(
                _("A condition may have at most %(limit)s characters.")
                % {"limit": MAX_CONDITION_LENGTH}
            )
        ]
    try:
        tree = _environment.compile(text)
    except CELParseError as error:
        return None, [_syntax_problem(text, error)]
    except RecursionError:
        return None, [ConditionProblem(_("The condition is nested too deeply."))]
    checker = _Checker(text, document_type)
    typed = checker.check(tree)
    if typed.cel_type not in ("bool", "error"):
        checker.problems.append(
            ConditionProblem(
                _("The condition must give true or false, but it gives %(type)s.")
                % {"type": checker.describe(typed)}
            )
        )
    return tree, checker.problems


def validate_condition(
    errors: ErrorCollector, field: str, text: str, document_type: DocumentType
) -> None:
    """Add each problem of `text` to `errors` under `field` (e.g. "steps.2.condition")."""
    for problem in check_condition(text, document_type):
        errors.add(field, problem.message)


# --- evaluation ------------------------------------------------------------------------------


def _money(value: Any) -> Decimal | None:
    if isinstance(value, bool | float):
        return None
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    return amount if amount.is_finite() else None


def to_cel_values(
    document_type: DocumentType, fields: Mapping[str, Any], *, prefix: str = "fields"
) -> dict[str, Any]:
    """The CEL activation for a document's field values; every bad value reported at once.

    Unknown names are refused; missing optional fields take their type's zero value
    ("" / 0 / 0.0 / false) so a condition never fails on an absent supplier.
    """
    errors = ErrorCollector()
    for name in fields:
        if document_type.get_field(name) is None:
            errors.add(
                f"{prefix}.{name}",
                _("“%(name)s” is not a field of %(document_type)s.")
                % {"name": name, "document_type": document_type.code},
            )
    activation: dict[str, Any] = {}
    for spec in document_type.fields:
        key = f"{prefix}.{spec.name}"
        value = fields.get(spec.name)
        if value is None or (value == "" and spec.type != FieldType.STRING):
            if spec.required:
                errors.add(key, _("This field is required."))
                continue
            value = {
                FieldType.MONEY: Decimal(0),
                FieldType.STRING: "",
                FieldType.INT: 0,
                FieldType.BOOL: False,
            }[spec.type]
        if spec.type == FieldType.MONEY:
            amount = _money(value)
            if amount is None:
                errors.add(key, _('Give an exact decimal amount (e.g. "5000.00").'))
            elif abs(amount) >= MONEY_LIMIT:
                errors.add(key, _("The amount is too large to route (limit 99,999,999,999.9999)."))
            elif amount != amount.quantize(MONEY_QUANTUM):
                errors.add(key, _("An amount may have at most 4 decimal places."))
            else:
                activation[spec.name] = celtypes.DoubleType(float(amount))
        elif spec.type == FieldType.STRING:
            if not isinstance(value, str):
                errors.add(key, _("Give text."))
            else:
                activation[spec.name] = celtypes.StringType(value)
        elif spec.type == FieldType.INT:
            if isinstance(value, bool) or not isinstance(value, int):
                errors.add(key, _("Give a whole number."))
            else:
                activation[spec.name] = celtypes.IntType(value)
        elif not isinstance(value, bool):
            errors.add(key, _("Give true or false."))
        else:
            activation[spec.name] = celtypes.BoolType(value)
    errors.raise_if_any()
    return activation


@lru_cache(maxsize=1024)
def _program(text: str, document_type: DocumentType) -> celpy.Runner:
    tree, problems = _check(text, document_type)
    if problems:
        raise ConditionFailed(
            _("The condition “%(condition)s” is invalid: %(problem)s")
            % {"condition": text, "problem": problems[0].message},
            details={"condition": text, "problems": [p.message for p in problems]},
        )
    return _environment.program(tree)


def evaluate_activation(
    text: str, document_type: DocumentType, activation: Mapping[str, Any]
) -> bool:
    """Evaluate a condition against values from `to_cel_values`; blank means True."""
    if not text.strip():
        return True
    try:
        result = _program(text, document_type).evaluate(dict(activation))
    except CELEvalError as error:
        raise ConditionFailed(
            _("The condition “%(condition)s” could not be evaluated: %(error)s.")
            % {"condition": text, "error": error.args[0] if error.args else error},
            details={"condition": text},
        ) from None
    except CELParseError:
        raise ConditionFailed(details={"condition": text}) from None
    if isinstance(result, CELEvalError):
        raise ConditionFailed(
            _("The condition “%(condition)s” could not be evaluated: %(error)s.")
            % {"condition": text, "error": result.args[0] if result.args else result},
            details={"condition": text},
        )
    if not isinstance(result, celtypes.BoolType):
        raise ConditionFailed(
            _("The condition “%(condition)s” gives %(value)s, not true or false.")
            % {"condition": text, "value": result},
            details={"condition": text},
        )
    return bool(result)


def evaluate_condition(text: str, document_type: DocumentType, fields: Mapping[str, Any]) -> bool:
    """Whether `text` holds for a document with these field values."""
    return evaluate_activation(text, document_type, to_cel_values(document_type, fields))
