"""Money in aid: integer fen inside, a decimal string with two places in CNY at every boundary ("1000.00").

Nothing here or anywhere in aid computes money with float: amounts arrive as `Decimal` (the `Money`
field) or as strings, become fen, are added and compared as integers, and leave as strings.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

FEN = Decimal("0.01")


def fen(amount: Decimal | str | int) -> int:
    """Yuan (a Decimal, or a decimal string) to integer fen; refuses more than two places."""
    value = Decimal(amount) if not isinstance(amount, Decimal) else amount
    cents = value * 100
    if cents != cents.to_integral_value():
        raise ValueError(f"{amount} has more than two decimal places")
    return int(cents)


def yuan(fen_amount: int) -> str:
    """Integer fen to the API's decimal string: 100000 -> "1000.00", -5 -> "-0.05"."""
    sign = "-" if fen_amount < 0 else ""
    whole, cents = divmod(abs(fen_amount), 100)
    return f"{sign}{whole}.{cents:02d}"


def share_of(cost_fen: int, share: str) -> int:
    """`share` (a decimal string such as "0.5") of a cost in fen, rounded half up to the fen."""
    return int((Decimal(cost_fen) * Decimal(share)).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def as_yuan(value: int) -> float:
    """A metric's value in yuan (Prometheus samples are floats; only metrics use this, never the books)."""
    return value / 100
