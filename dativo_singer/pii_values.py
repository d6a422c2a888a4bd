"""PII detection by value: does a column's sample look like e-mail addresses, phone numbers,
card numbers (Luhn-valid), IBANs (mod-97 valid), IP addresses, national ids or birth dates,
whatever the column is called (`dativo discover`, `dativo generate config`).

A kind is reported when at least ``SHARE`` of a column's non-empty sampled values are of it.
Each pattern runs over the sample first; only the candidates a pattern kept get a checksum or a
parse. Plain Python (a sample is a few hundred values), so a tap without Arrow watches too.
Names stay a signal too (``dativo_runner.pii_guess``).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from collections.abc import Callable, Sequence

SHARE = 0.8  # of non-empty sampled values
MIN_VALUES = 3  # fewer present values say nothing

_EMAIL = r"^[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$"
_CARD = r"^[0-9]{4}([ -]?[0-9]{3,4}){2,4}$"
_IBAN = r"^[A-Z]{2}[0-9]{2}( ?[A-Z0-9]{2,4}){3,8}$"
_IP = r"^([0-9]{1,3}(\.[0-9]{1,3}){3}|[0-9A-Fa-f:]*:[0-9A-Fa-f:.]+)$"
_NATIONAL_ID = r"^([0-9]{3}-[0-9]{2}-[0-9]{4}|[A-CEGHJ-PR-TW-Z]{2} ?[0-9]{2} ?[0-9]{2} ?[0-9]{2} ?[A-D])$"
# A phone number has separators or a leading +: bare digit runs are ids and amounts.
_PHONE = r"^(\+[0-9][0-9 ().-]{6,18}[0-9]|\(?[0-9]{2,4}\)?[ .-][0-9]{2,4}([ .-][0-9]{2,5}){1,2})$"
_DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"


def _luhn(text: str) -> bool:
    digits = [int(c) for c in text if c.isdigit()]
    if not 13 <= len(digits) <= 19:
        return False
    total = 0
    for index, digit in enumerate(reversed(digits)):
        if index % 2:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def _iban(text: str) -> bool:
    compact = text.replace(" ", "")
    moved = compact[4:] + compact[:4]
    return int("".join(str(int(c, 36)) for c in moved)) % 97 == 1


def _ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _phone(text: str) -> bool:
    if re.fullmatch(_DATE[1:-1], text):  # 2024-01-02 has the shape of 2024-01-0200
        return False
    return 7 <= sum(c.isdigit() for c in text) <= 15


def _birth_date(text: str) -> bool:
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        return False
    return 1900 <= day.year <= dt.date.today().year - 14


# (kind, pattern, check of each candidate the pattern kept), most specific first.
_KINDS: tuple[tuple[str, re.Pattern[str], Callable[[str], bool]], ...] = tuple(
    (kind, re.compile(pattern), check)
    for kind, pattern, check in (
        ("email", _EMAIL, lambda _: True),
        ("iban", _IBAN, _iban),
        ("card_number", _CARD, _luhn),
        ("national_id", _NATIONAL_ID, lambda _: True),
        ("ip_address", _IP, _ip),
        ("phone", _PHONE, _phone),
        ("birth_date", _DATE, _birth_date),
    )
)


# Kinds written as text however they look: a card or phone number is no quantity.
TEXT_KINDS = frozenset({"card_number", "iban", "national_id", "phone"})


def pii_type(guessed: str, kind: str | None) -> str:
    """The asset type of a column: ``string`` for personal numbers typed as numbers."""
    return "string" if kind in TEXT_KINDS else guessed


def detect_pii(values: Sequence[str | None]) -> str | None:
    """The kind of personal data a column's sampled values look like, or None."""
    present = [v.strip() for v in values if v and v.strip()]
    if len(present) < MIN_VALUES:
        return None
    needed = SHARE * len(present)
    for kind, pattern, check in _KINDS:
        matched = [text for text in present if pattern.search(text)]
        if len(matched) < needed:
            continue
        valid = sum(1 for text in matched if check(text))
        if valid >= needed and (kind != "birth_date" or _spread_of_years(matched) >= 5):
            return kind
    return None


def _spread_of_years(dates: list[str]) -> int:
    """Distinct years among date texts: birth dates spread, a batch of event dates does not."""
    return len({text[:4] for text in dates})
