"""tap-csv settings: the config schema (shown by `--about`) and the checks run at start-up.

Every problem is phrased as ``setting: what is wrong`` so that the console script prints one
clear line (``tap-csv: error: files[0]: header is false but no columns are given``) instead of
a traceback, in every mode (sync, ``--discover``, ``--test``).
"""

from __future__ import annotations

import codecs
from typing import Any

from jsonschema import Draft7Validator
from singer_sdk import typing as th

from dativo_singer.batch_settings import jsonl_codec_problems

# The keys of another popular tap-csv (MeltanoLabs) that a copied config may carry.
FOREIGN_KEYS = {
    "entity": "this tap names the stream 'object'; 'entity' is not a setting of this tap",
    "keys": "primary keys are set per object in the top-level 'key_properties'",
}

FILE_ENTRY = th.ObjectType(
    th.Property(
        "object",
        th.StringType,
        required=True,
        description="Stream name; several entries may name the same object (their files are one stream)",
    ),
    th.Property(
        "path",
        th.StringType,
        required=True,
        description="File path or glob (`**` recurses), relative to `base_dir` unless absolute",
    ),
    th.Property(
        "delimiter",
        th.StringType,
        default=",",
        description="One character separating fields; `\\t` (backslash t) is read as a tab",
    ),
    th.Property(
        "encoding",
        th.StringType,
        default="utf-8",
        description="Text encoding (a Python codec name); a UTF-8 byte order mark is skipped",
    ),
    th.Property(
        "header",
        th.BooleanType,
        default=True,
        description="The first line (after `skip_rows`) names the columns; false needs `columns`",
    ),
    th.Property(
        "columns",
        th.ArrayType(th.StringType),
        description="Column names in file order; when given, the file has no header line",
    ),
    th.Property(
        "skip_rows",
        th.IntegerType,
        default=0,
        description="Physical lines to skip before the header (or first row)",
    ),
    th.Property(
        "quotechar",
        th.StringType,
        default='"',
        description="One character quoting fields that hold delimiters, quotes or line breaks",
    ),
    th.Property(
        "null_values",
        th.ArrayType(th.StringType),
        description='Cell texts read as null (default: only the empty cell `""`)',
    ),
)

CONFIG_SCHEMA: dict[str, Any] = th.PropertiesList(
    th.Property(
        "files",
        th.ArrayType(FILE_ENTRY),
        required=True,
        description="The files to read: one entry per path or glob, each naming its object (stream)",
    ),
    th.Property(
        "schemas",
        th.ObjectType(additional_properties=True),
        description="JSON Schema per object, which types the cells; without one, every header "
        "column is a nullable string",
    ),
    th.Property(
        "key_properties",
        th.ObjectType(additional_properties=th.ArrayType(th.StringType)),
        description="Primary key columns per object",
    ),
    th.Property(
        "base_dir",
        th.StringType,
        description="Directory relative paths start from; `_sdc_source_file` is relative to it",
    ),
    th.Property(
        "batch_line_numbers",
        th.BooleanType,
        default=True,
        description="Write `_sdc_source_lineno` into Parquet BATCH files; false leaves the column "
        "out of the files (it stays in the schema and in RECORD messages), so a target that does "
        "not keep it can add the files to its table as they are (`dativo run` sets false)",
    ),
    th.Property(
        "on_invalid_value",
        th.StringType,
        allowed_values=["fail", "pass"],
        default="fail",
        description="fail: stop naming file, line and column; pass: emit the raw text and let "
        "the target reject (dead-letter) the record",
    ),
).to_dict()


def single_char(value: str) -> str:
    """The one-character form of a delimiter or quote setting (``\\t`` written out is a tab)."""
    return "\t" if value == "\\t" else value


def _encoding_problem(where: str, encoding: Any) -> str | None:
    try:
        info = codecs.lookup(str(encoding))
    except LookupError:
        return f"{where}: unknown encoding {encoding!r}"
    if not getattr(info, "_is_text_encoding", True):
        return f"{where}: {encoding!r} is not a text encoding"
    return None


def _names_problems(where: str, names: Any) -> list[str]:
    if not isinstance(names, list):
        return []  # the schema check reports the type
    seen: dict[str, int] = {}
    problems = []
    for k, name in enumerate(names):
        if not isinstance(name, str) or not name.strip():
            problems.append(f"{where}[{k}]: column name is empty")
        elif name in seen:
            problems.append(f"{where}[{k}]: column {name!r} repeats {where}[{seen[name]}]")
        else:
            seen[name] = k
    return problems


def _entry_problems(i: int, entry: Any) -> list[str]:
    where = f"files[{i}]"
    if not isinstance(entry, dict):
        return [f"{where}: expected an object with 'object' and 'path', got {type(entry).__name__}"]
    problems = []
    for key, required in (("object", "the stream name"), ("path", "a file path or glob")):
        if not entry.get(key):
            hints = [hint for foreign, hint in FOREIGN_KEYS.items() if foreign in entry]
            problems.append(f"{where}: {key!r} is required ({'; '.join(hints) or required})")
    if entry.get("header", True) is False and not entry.get("columns"):
        problems.append(f"{where}: header is false but no columns are given")
    if entry.get("encoding"):
        problem = _encoding_problem(f"{where}.encoding", entry["encoding"])
        if problem:
            problems.append(problem)
    chars = {}
    for key, default in (("delimiter", ","), ("quotechar", '"')):
        value = entry.get(key) or default
        if isinstance(value, str):
            chars[key] = single_char(value)
            if len(chars[key]) != 1 or chars[key] in "\r\n":
                problems.append(f"{where}.{key}: must be one character (not a line break), got {value!r}")
    if len(chars) == 2 and chars["delimiter"] == chars["quotechar"]:
        problems.append(f"{where}: delimiter and quotechar are both {chars['delimiter']!r}")
    if isinstance(entry.get("skip_rows"), int) and entry["skip_rows"] < 0:
        problems.append(f"{where}.skip_rows: must be 0 or more, got {entry['skip_rows']}")
    problems.extend(_names_problems(f"{where}.columns", entry.get("columns")))
    return problems


JSON_TYPES = {"string", "integer", "number", "boolean", "null", "object", "array"}


def _object_schema_problems(name: str, schema: Any) -> list[str]:
    """An object's JSON Schema: an object whose properties are schemas with known types."""
    where = f"schemas.{name}"
    properties = schema.get("properties", {}) if isinstance(schema, dict) else None
    if not isinstance(properties, dict):
        return [f"{where}: expected a JSON Schema object with 'properties'"]
    problems = []
    for column, prop in properties.items():
        if not isinstance(prop, dict):
            problems.append(f"{where}.properties.{column}: expected a JSON Schema object, got {prop!r}")
            continue
        declared = prop.get("type", "string")
        types = [declared] if isinstance(declared, str) else declared
        unknown = [t for t in types if t not in JSON_TYPES] if isinstance(types, list) else [declared]
        if unknown:
            problems.append(f"{where}.properties.{column}.type: unknown type {unknown[0]!r}")
    return problems


def _schema_problems(config: dict[str, Any]) -> list[str]:
    """What the declared config schema says, with paths written as ``files[0].header``."""
    problems = []
    for error in Draft7Validator(CONFIG_SCHEMA).iter_errors(config):
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
        problems.append(f"{where.lstrip('.') or 'config'}: {error.message}")
    return sorted(problems)


def config_problems(config: dict[str, Any]) -> list[str]:
    """Every problem of a tap-csv config, each one ``setting: what is wrong``."""
    files = config.get("files")
    if not isinstance(files, list) or not files:
        return ["files: is required: a list of {object, path} entries"]
    problems = [p for i, entry in enumerate(files) for p in _entry_problems(i, entry)]
    schemas = config.get("schemas")
    if isinstance(schemas, dict):
        for name, schema in schemas.items():
            problems.extend(_object_schema_problems(name, schema))
    return problems or _schema_problems(config) or jsonl_codec_problems(config)
