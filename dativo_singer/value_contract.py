"""The value contract: a value lands exactly in its column's type, or it is refused.

One set of rules for every path (RECORD lines, records, BATCH files) and both sides (a tap typing
text, a target converting records): each function returns the exact value or raises
``ValueError``; callers dead-letter the record with the reason. The table of rules is in
docs/ICEBERG_TARGET.md ("Value contract").

- decimals: finite, no more fractional digits than the column's scale, no more integer digits
  than its precision leaves (never rounded);
- integers: a fraction is refused (``2.0`` is 2, ``2.7`` is refused; never truncated);
- floats: NaN and ±Infinity are IEEE values, carried in JSON as ``"NaN"``, ``"Infinity"``,
  ``"-Infinity"`` (JSON has no such numbers);
- dates: a time part is refused unless it is midnight UTC (nothing is dropped);
- timestamps: more than six fractional second digits are refused unless the rest are zeros
  (Iceberg keeps microseconds).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from decimal import Decimal, InvalidOperation
from typing import Any

# Non-finite floats as text (case-insensitive), and how JSON carries them.
_NON_FINITE = {
    "nan": math.nan,
    "+nan": math.nan,
    "-nan": math.nan,
    "inf": math.inf,
    "+inf": math.inf,
    "infinity": math.inf,
    "+infinity": math.inf,
    "-inf": -math.inf,
    "-infinity": -math.inf,
}
NAN_TEXT, INFINITY_TEXT, MINUS_INFINITY_TEXT = "NaN", "Infinity", "-Infinity"
_FRACTION = re.compile(r"[T ]\d\d:\d\d:\d\d[.,](\d+)")
_MIDNIGHT = re.compile(r"^[T ]00:00(:00(\.0+)?)?(Z|z|[+-]00:?00)?$")


def non_finite(text: str) -> float | None:
    """The IEEE value a text names (``NaN``, ``inf``, ``-Infinity`` ...), or None."""
    return _NON_FINITE.get(text.strip().lower())


def float_json(value: float) -> float | str:
    """A float as a JSON value: non-finite ones as the texts ``"NaN"``, ``"Infinity"``,
    ``"-Infinity"``, which ``float_value`` reads back."""
    if math.isfinite(value):
        return value
    if math.isnan(value):
        return NAN_TEXT
    return INFINITY_TEXT if value > 0 else MINUS_INFINITY_TEXT


def float_value(value: Any) -> float:
    """A float column's value: a number, or a text naming a non-finite value."""
    if isinstance(value, bool):
        raise ValueError("a boolean is not a number")
    if isinstance(value, int | float | Decimal):
        return float(value)
    if isinstance(value, str):
        named = non_finite(value)
        if named is not None:
            return named
    raise ValueError(f"{value!r} is not a number")


def decimal_value(value: Any) -> Decimal:
    """A finite decimal, exactly as given (floats by their shortest text: JSON's digits)."""
    if isinstance(value, bool):
        raise ValueError("a boolean is not a decimal")
    try:
        text = repr(value) if isinstance(value, float) else str(value)  # a float: its JSON digits
        number = value if isinstance(value, Decimal) else Decimal(text)
    except InvalidOperation:
        raise ValueError(f"{value!r} is not a decimal number") from None
    if not number.is_finite():
        raise ValueError(f"{value!r} is not a finite decimal")
    return number


def decimal_in(value: Any, precision: int, scale: int) -> Decimal:
    """``decimal_value`` that fits ``decimal(precision, scale)`` without rounding."""
    number = decimal_value(value)
    exponent = number.as_tuple().exponent
    assert isinstance(exponent, int)  # finite
    if exponent < -scale and number != number.quantize(Decimal(1).scaleb(-scale)):
        raise ValueError(f"{value!r} has more than {scale} fractional digit(s)")
    integer_digits = len(str(abs(int(number)))) if abs(number) >= 1 else 0
    if integer_digits > precision - scale:
        raise ValueError(f"{value!r} has more than {precision - scale} integer digit(s)")
    return number


def integer_value(value: Any) -> int:
    """An integer; a float or decimal only when it is whole (``2.0``), never truncated."""
    if isinstance(value, bool):
        raise ValueError("a boolean is not an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, float | Decimal):
        if (isinstance(value, float) and not math.isfinite(value)) or value != int(value):
            raise ValueError(f"{value!r} is not a whole number")
        return int(value)
    raise ValueError(f"{value!r} is not an integer")


def check_fraction(text: str) -> None:
    """Refuse a time with sub-microsecond digits that are not zeros."""
    match = _FRACTION.search(text)
    if match and len(match.group(1)) > 6 and match.group(1)[6:].strip("0"):
        raise ValueError(f"{text!r} has more than 6 fractional second digits")


def parse_datetime(text: str) -> dt.datetime:
    """An RFC 3339 / ISO 8601 date-time; ``Z`` or ``z`` is UTC and the ``T`` may be ``t`` (RFC
    3339 allows lowercase, ``datetime.fromisoformat`` refuses a ``z``). Naive stays naive."""
    text = text.strip()
    if text[-1:] in ("Z", "z"):
        text = text[:-1] + "+00:00"
    if len(text) > 10 and text[10] == "t":
        text = text[:10] + "T" + text[11:]
    return dt.datetime.fromisoformat(text)


def timestamp_value(value: Any) -> dt.datetime:
    """A timestamp (ISO 8601 text or datetime); without an offset it is UTC."""
    if isinstance(value, dt.datetime):
        parsed = value
    elif isinstance(value, str):
        check_fraction(value)
        parsed = parse_datetime(value)
    else:
        raise ValueError(f"{value!r} is not a timestamp")
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)


def date_value(value: Any) -> dt.date:
    """A date; a timestamp only at midnight UTC (a time part is never dropped)."""
    if isinstance(value, dt.datetime):
        offset = value.utcoffset()
        if value.time() != dt.time(0) or offset not in (None, dt.timedelta(0)):
            raise ValueError(f"{value!r} has a time part")
        return value.date()
    if isinstance(value, dt.date):
        return value
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a date")
    text = value.strip()
    if len(text) > 10 and not _MIDNIGHT.match(text[10:]):
        raise ValueError(f"{value!r} has a time part")
    return dt.date.fromisoformat(text[:10])
