"""Typed parsing of CSV cells."""

from __future__ import annotations

from decimal import Decimal

import pytest

from dativo_singer.text_values import converter_for


@pytest.mark.parametrize(
    ("prop", "text", "expected"),
    [
        ({"type": "integer"}, "42", 42),
        ({"type": "integer"}, "42.0", 42),
        ({"type": ["number", "null"]}, "1.5", 1.5),
        ({"type": "number", "multipleOf": 0.01}, "10.10", Decimal("10.10")),
        ({"type": "boolean"}, "Yes", True),
        ({"type": "boolean"}, "0", False),
        ({"type": "string", "format": "date"}, "2024-02-29", "2024-02-29"),
        (
            {"type": "string", "format": "date-time"},
            "2024-01-01T10:00:00Z",
            "2024-01-01T10:00:00+00:00",
        ),
        (
            {"type": "string", "format": "date-time"},
            "2024-01-01 10:00:00",
            "2024-01-01T10:00:00+00:00",
        ),
        (
            {"type": "string", "format": "date-time"},
            "2024-01-01t10:00:00z",  # RFC 3339 allows lowercase
            "2024-01-01T10:00:00+00:00",
        ),
        ({"type": "string", "format": "time"}, "10:11:12", "10:11:12"),
        ({"type": "string"}, " keep spaces ", " keep spaces "),
    ],
)
def test_values_parse_to_their_declared_type(prop: dict, text: str, expected: object) -> None:
    assert converter_for(prop)(text) == expected


@pytest.mark.parametrize(
    ("prop", "text", "message"),
    [
        ({"type": "integer"}, "12.5", "'12.5' is not an integer"),
        ({"type": "number"}, "abc", "'abc' is not a number"),
        ({"type": "boolean"}, "maybe", "'maybe' is not a boolean"),
        ({"type": "string", "format": "date"}, "2024-02-30", "'2024-02-30' is not a date"),
        ({"type": "string", "format": "date-time"}, "yesterday", "'yesterday' is not a timestamp"),
    ],
)
def test_bad_values_say_what_was_expected(prop: dict, text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        converter_for(prop)(text)
