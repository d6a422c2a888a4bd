"""PII detection by value on a labelled corpus of columns: the hit rate on columns holding
personal data and the false positives on columns that do not, whatever the columns are called.

Figures on this corpus (printed with ``-s``): every personal column found with its kind
(hit rate 1.0), no false positive among the ordinary columns."""

from __future__ import annotations

import random

import pytest

from dativo_singer.pii_values import detect_pii

RANDOM = random.Random(22)


def _luhn_complete(prefix: str, length: int = 16) -> str:
    body = prefix + "".join(RANDOM.choice("0123456789") for _ in range(length - len(prefix) - 1))
    for check in "0123456789":
        digits = [int(c) for c in body + check]
        total = sum(d if i % 2 == 0 else (d * 2 - 9 if d > 4 else d * 2) for i, d in enumerate(reversed(digits)))
        if total % 10 == 0:
            return body + check
    raise AssertionError


def _grouped(card: str) -> str:
    return " ".join(card[i : i + 4] for i in range(0, len(card), 4))


def _iban(country: str, bban: str) -> str:
    moved = bban + country + "00"
    check = 98 - int("".join(str(int(c, 36)) for c in moved)) % 97
    return f"{country}{check:02d}{bban}"


N = 40
PERSONAL: dict[str, tuple[str, list[str]]] = {
    "contact": ("email", [f"user{i}.name@example{i % 3}.com" for i in range(N)]),
    "who_mail": ("email", [f"J.Doe+{i}@mail.co.uk" for i in range(N)]),
    "card": ("card_number", [_luhn_complete(RANDOM.choice(["4", "51", "37"])) for _ in range(N)]),
    "pan": ("card_number", [_grouped(_luhn_complete("4")) for _ in range(N)]),
    "acct": ("iban", [_iban("DE", f"{RANDOM.randrange(10**17, 10**18)}") for _ in range(N)]),
    "acct2": ("iban", [_iban("GB", f"NWBK{RANDOM.randrange(10**13, 10**14)}") for _ in range(N)]),
    "ip": ("ip_address", [f"10.{i}.{i * 3 % 255}.{i * 7 % 255}" for i in range(N)]),
    "src": ("ip_address", [f"2001:db8::{i:x}" for i in range(N)]),
    "tel": ("phone", [f"+1 415 555 {1000 + i}" for i in range(N)]),
    "num": ("phone", [f"(212) 555-{1000 + i}" for i in range(N)]),
    "ssn_like": ("national_id", [f"{100 + i}-{10 + i % 80}-{1000 + i}" for i in range(N)]),
    "ni": ("national_id", [f"AB{100000 + i}C" for i in range(N)]),
    "dob": ("birth_date", [f"{1950 + i}-0{1 + i % 9}-1{i % 9}" for i in range(N)]),
}
ORDINARY: dict[str, list[str]] = {
    "id": [str(1000 + i) for i in range(N)],
    "big_id": [str(10**15 + i * 7919) for i in range(N)],
    "amount": [f"{i * 13.37:.2f}" for i in range(N)],
    "created_at": [f"2024-0{1 + i % 9}-1{i % 9}T10:00:00Z" for i in range(N)],
    "close_date": [f"2024-0{1 + i % 9}-1{i % 9}" for i in range(N)],
    "stage": [RANDOM.choice(["won", "lost", "proposal"]) for _ in range(N)],
    "company": [RANDOM.choice(["Acme Corp", "Blue Yonder Airlines", "Fourth Coffee"]) for _ in range(N)],
    "uuid": [f"{RANDOM.getrandbits(128):032x}" for _ in range(N)],
    "url": [f"https://example.com/p/{i}" for i in range(N)],
    "version": [f"1.{i}.{i % 4}" for i in range(N)],
    "sku": [f"SKU-{10000 + i}" for i in range(N)],
    "ratio": [f"0.{i:02d}" for i in range(N)],
    "zip_like": [f"{10000 + i * 37}" for i in range(N)],
    "currency": [RANDOM.choice(["USD", "EUR", "GBP"]) for _ in range(N)],
    "domain": [f"host{i}.example.com" for i in range(N)],
    "time": [f"{i % 24:02d}:{i % 60:02d}:00" for i in range(N)],
}


def test_detector_figures_on_the_corpus() -> None:
    hits = [name for name, (kind, values) in PERSONAL.items() if detect_pii(values) == kind]
    false_positives = [name for name, values in ORDINARY.items() if detect_pii(values) is not None]
    hit_rate = len(hits) / len(PERSONAL)
    print(f"PII by value: hit rate {hit_rate:.2f} ({len(hits)}/{len(PERSONAL)}), "
          f"false positives {len(false_positives)}/{len(ORDINARY)}")
    assert hit_rate == 1.0, sorted(set(PERSONAL) - set(hits))
    assert false_positives == []


@pytest.mark.parametrize(
    ("values", "kind"),
    [
        (["a@x.io", "b@x.io", "", None, "c@x.io", "not an email"], None),  # 3 of 4 present: below 80%
        (["a@x.io", "b@x.io", "", None, "c@x.io", "d@x.io", "not an email"], "email"),  # 4 of 5
        (["a@x.io", "b@x.io"], None),  # too few values to say
        (["4111111111111112"] * 5, None),  # card-shaped, Luhn-invalid
    ],
)
def test_shares_and_checksums(values: list[str | None], kind: str | None) -> None:
    assert detect_pii(values) == kind
