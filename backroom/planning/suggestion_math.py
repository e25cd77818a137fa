"""The arithmetic of a suggested order line, apart from where its numbers come from, so each
step can be checked with golden numbers and shown on the page.

    window     = the days from today until the delivery after next (an order placed today
                 arrives with the next delivery and must last until the one after it)
    usage      = forecast ingredient usage over the window (recipes × forecast menu demand,
                 plus planned events)
    safety     = z(service level) × σ(daily usage error) × √(days in window)
    need       = usage + safety − on hand − on order − in transit
    packs      = need ÷ pack size, rounded up; at least the supplier's minimum order (MOQ)
    suggested  = packs × pack size (0 when need ≤ 0: nothing to order)

A line without a pack (a warehouse or central kitchen sending any quantity) orders the need
itself, at least the minimum, rounded up to the ledger's step only.

Without a forecast for the item (a new ingredient, a store without history) the par level is
the target instead: need = par − on hand − on order − in transit.

All quantities are base units of the item, except `pack_size` and `moq`, which are base units
per purchase pack and the minimum number of base units to order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal
from statistics import NormalDist

ZERO = Decimal(0)
STEP = Decimal("0.000001")  # the ledger's quantity precision


class Basis:
    FORECAST = "forecast"
    PAR = "par"
    NONE = "none"


@dataclass(frozen=True)
class LineInputs:
    usage: Decimal | None  # forecast usage over the window; None: no forecast
    daily_error: Decimal  # σ of one day's usage (base units)
    window_days: int
    service_level: Decimal  # e.g. 0.95
    on_hand: Decimal
    on_order: Decimal
    in_transit: Decimal
    pack_size: Decimal | None  # base units per pack (1 when sold loose); None: no packs
    moq: Decimal = ZERO  # minimum order, base units
    par: Decimal | None = None


@dataclass(frozen=True)
class Suggestion:
    basis: str
    usage: Decimal
    safety_stock: Decimal
    target: Decimal  # usage + safety, or the par
    need: Decimal  # target − on hand − on order − in transit (may be ≤ 0)
    packs: int
    quantity: Decimal  # what to order, base units
    rounded_up_by: Decimal  # quantity − need when ordering (pack and MOQ rounding)


def z_score(service_level: Decimal) -> Decimal:
    """The standard normal quantile of the service level (0.95 → 1.644854)."""
    level = float(service_level)
    if not 0 < level < 1:
        raise ValueError("service level must be between 0 and 1")
    return Decimal(str(round(NormalDist().inv_cdf(level), 6)))


def safety_stock(daily_error: Decimal, window_days: int, service_level: Decimal) -> Decimal:
    if daily_error <= 0 or window_days <= 0:
        return ZERO
    root = Decimal(str(math.sqrt(window_days)))
    return (z_score(service_level) * daily_error * root).quantize(STEP, ROUND_HALF_UP)


def suggest(inputs: LineInputs) -> Suggestion:
    """One line's suggestion with every step of the way (see the module)."""
    available = inputs.on_hand + inputs.on_order + inputs.in_transit
    if inputs.usage is not None:
        basis = Basis.FORECAST
        usage = inputs.usage.quantize(STEP, ROUND_HALF_UP)
        safety = safety_stock(inputs.daily_error, inputs.window_days, inputs.service_level)
        target = usage + safety
    elif inputs.par is not None:
        basis, usage, safety, target = Basis.PAR, ZERO, ZERO, inputs.par
    else:
        basis, usage, safety, target = Basis.NONE, ZERO, ZERO, ZERO
    need = target - available
    if need <= 0 or basis == Basis.NONE:
        return Suggestion(basis, usage, safety, target, need, 0, ZERO, ZERO)
    wanted = max(need, inputs.moq)
    if inputs.pack_size is None:
        quantity = wanted.quantize(STEP, ROUND_CEILING)
        return Suggestion(basis, usage, safety, target, need, 0, quantity, quantity - need)
    pack = inputs.pack_size if inputs.pack_size > 0 else Decimal(1)
    packs = int((wanted / pack).to_integral_value(ROUND_CEILING))
    quantity = (pack * packs).quantize(STEP)
    return Suggestion(basis, usage, safety, target, need, packs, quantity, quantity - need)
