"""The Markdown-KV codec: what hand-written files read as, the escaping rule, round trips, errors."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dativo_singer.markdown_kv import (
    Document,
    MarkdownKVError,
    Record,
    parse_bytes,
    parse_text,
    render_document,
)
from dativo_singer.markdown_kv.escape import key_text, value_text
from dativo_singer.markdown_kv.render import render_record

ISSUE_EXAMPLE = """# Employee Database

## Record 1

```
id: 1
name: Diana A0
department: Engineering
```
"""


def test_the_documented_layout() -> None:
    doc = parse_text(ISSUE_EXAMPLE, "emp.md")
    assert doc == Document(
        "Employee Database",
        [Record("Record 1", {"id": "1", "name": "Diana A0", "department": "Engineering"})],
    )
    assert doc.records[0].line == 3
    assert render_document(doc) == ISSUE_EXAMPLE


def test_hand_written_variants() -> None:
    text = (
        "## First\r\n"
        "```text\r\n"
        "first name: Ana\r\n"
        "homepage: https://example.com/a?b=c:d\r\n"
        "note: uses `code` and 🎉\r\n"
        "empty:\r\n"
        "spaced:    padded value   \r\n"
        "story: line one\r\n"
        "  line two\r\n"
        "```\r\n"
        "\r\n"
        "## Unfenced\r\n"
        "id: 2\r\n"
        "time: 12:30:00\r\n"
        "\r\n"
        "~~~~\r\n"
        "id: 3\r\n"
        "~~~~\r\n"
    )
    doc = parse_bytes(("\ufeff" + text).encode(), "x.md")
    assert doc.title is None
    assert [r.heading for r in doc.records] == ["First", "Unfenced", None]
    assert doc.records[0].fields == {
        "first name": "Ana",
        "homepage": "https://example.com/a?b=c:d",
        "note": "uses `code` and 🎉",
        "empty": "",
        "spaced": "padded value",
        "story": "line one\nline two",
    }
    assert doc.records[1].fields == {"id": "2", "time": "12:30:00"}
    assert doc.records[2].fields == {"id": "3"}
    assert [r.line for r in doc.records] == [1, 12, 16]


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("plain: with colon", "plain: with colon"),
        ("", ""),
        (" lead", '" lead"'),
        ("a\nb", '"a\\nb"'),
        ("a\r\nb", '"a\\r\\nb"'),
        ('"quoted"', '"\\"quoted\\""'),
        ("tab\there", '"tab\\there"'),
    ],
)
def test_values_are_quoted_only_when_needed(value: str, written: str) -> None:
    assert value_text(value) == written
    assert parse_text(f"k: {written}").records[0].fields["k"] == value


@pytest.mark.parametrize(
    ("key", "written"),
    [
        ("first name", "first name"),
        ("a:b", "a:b"),
        ("a: b", '"a: b"'),
        ("ends:", '"ends:"'),
        ("# x", '"# x"'),
        ("", '""'),
        ("```", '"```"'),
    ],
)
def test_keys_are_quoted_only_when_needed(key: str, written: str) -> None:
    assert key_text(key) == written
    assert parse_text(f"{written}: v").records[0].fields == {key: "v"}


def test_a_quoted_looking_value_or_key_that_is_not_one_json_string_is_literal() -> None:
    assert parse_text('k: "a" and "b"').records[0].fields["k"] == '"a" and "b"'
    assert parse_text('k: "open').records[0].fields["k"] == '"open'
    assert parse_text('"the" key: v').records[0].fields == {'"the" key': "v"}


def test_none_is_left_out_and_values_are_written_as_text() -> None:
    text = render_record("h", {"a": None, "b": True, "c": 1.5, "d": {"x": [1]}, "e": 0})
    assert parse_text(text).records[0].fields == {"b": "true", "c": "1.5", "d": '{"x":[1]}', "e": "0"}


@pytest.mark.parametrize(
    ("text", "line", "detail"),
    [
        ("# T\n\n## A\n```\nid: 1\n", 4, "this fenced block is never closed"),
        ("## A\nid: 1\nnot a pair\n", 3, "expected 'key: value', got 'not a pair'"),
        ("## A\n```\nid: 1\nid: 2\n```\n", 4, "key 'id' repeats in this record"),
        ("## A\n```\n```\nid: 1\n", 4, "a 'key: value' line after the record's fenced block"),
        ("## A\n# Late title\n", 2, "a '# title' after the document's start"),
        ("### deep\n", 1, "only a '# title' and '## record' headings are allowed"),
        ("## A\n: v\n", 2, "empty key"),
        ('## A\n"k" v\n', 2, "expected 'key: value', got '\"k\" v'"),
    ],
)
def test_malformed_documents_name_file_and_line(text: str, line: int, detail: str) -> None:
    with pytest.raises(MarkdownKVError) as caught:
        parse_text(text, "docs/bad.md")
    assert caught.value.line == line
    assert str(caught.value).startswith(f"docs/bad.md line {line}: ")
    assert detail in str(caught.value)


def test_bytes_that_are_not_utf8_text() -> None:
    with pytest.raises(MarkdownKVError, match=r"^a\.md line 2: not valid utf-8 \(byte 0xE9 at offset 9\)"):
        parse_bytes(b"## A\nid: \xe9\n", "a.md")
    with pytest.raises(MarkdownKVError, match=r"^b\.md line 1: not a text file"):
        parse_bytes(b"PK\x00\x03", "b.md")


# Any text at all (control characters, line breaks, quotes, colons, fences, emoji).
ANY_TEXT = st.text(max_size=30)
FIELDS = st.dictionaries(ANY_TEXT, ANY_TEXT, max_size=6)
RECORDS = st.lists(st.builds(Record, st.none() | ANY_TEXT, FIELDS), max_size=5)
DOCUMENTS = st.builds(Document, st.none() | ANY_TEXT, RECORDS)


@settings(max_examples=200, deadline=None)
@given(DOCUMENTS, st.sampled_from(["\n", "\r\n"]))
def test_every_document_round_trips(document: Document, newline: str) -> None:
    text = render_document(document, newline)
    assert parse_text(text, "t.md") == document
    assert parse_bytes(text.encode("utf-8"), "t.md") == document


@settings(max_examples=200, deadline=None)
@given(ANY_TEXT)
def test_escaping_is_reversible_and_one_line(text: str) -> None:
    for written in (value_text(text), key_text(text)):
        assert "\n" not in written and "\r" not in written
    assert parse_text(f"{key_text(text)}: {value_text(text)}").records[0].fields == {text: text}
