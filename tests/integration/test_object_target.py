"""target-objects on SeaweedFS (S3) and Azurite (Azure Blob): every format and compression read
back exactly with the stores' own clients, manifests that list exactly the files written, start-up
failures, governance metadata, DuckDB as a reader. The CLI end to end: test_object_target_cli.py."""

from __future__ import annotations

import datetime as dt
import io
import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from contextlib import redirect_stdout
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from target_objects.target import TargetObjects

from dativo_singer.errors import FatalError
from tests import services
from tests.helpers import objects
from tests.helpers.singer import encode, records, schema, state

pytestmark = pytest.mark.integration

TARGET = [sys.executable, "-c", "from target_objects.target import main; main()"]
PROPS = {
    "id": {"type": "integer"},
    "name": {"type": ["string", "null"]},
    "amount": {"type": ["number", "null"], "multipleOf": 0.01},
    "score": {"type": ["number", "null"]},
    "active": {"type": ["boolean", "null"]},
    "born": {"type": ["string", "null"], "format": "date"},
    "seen_at": {"type": ["string", "null"], "format": "date-time"},
    "opens": {"type": ["string", "null"], "format": "time"},
    "tags": {"type": ["array", "null"], "items": {"type": "string"}},
}
SENT = [
    {
        "id": 1,
        "name": 'Zoë, "quoted"',
        "amount": 1.25,
        "score": 0.25,
        "active": True,
        "born": "2020-01-02",
        "seen_at": "2024-05-01T10:01:00Z",
        "opens": "09:30:00",
        "tags": ["a", "é"],
    },
    {
        "id": 2,
        "name": "",
        "amount": 12345.6,
        "score": -2.5,
        "active": False,
        "born": "1999-12-31",
        "seen_at": "2024-05-01T23:59:59.5+02:00",
        "opens": "23:00:01",
        "tags": [],
    },
    {
        "id": 3,
        "name": None,
        "amount": None,
        "score": None,
        "active": None,
        "born": None,
        "seen_at": None,
        "opens": None,
        "tags": None,
    },
]
UTC = dt.timezone.utc
# What each format holds for SENT, as its plain reader gives it back (CSV: text; null is empty).
EXPECTED: dict[str, list[dict[str, Any]]] = {
    "parquet": [
        {
            "id": 1,
            "name": 'Zoë, "quoted"',
            "amount": Decimal("1.25"),
            "score": 0.25,
            "active": True,
            "born": dt.date(2020, 1, 2),
            "seen_at": dt.datetime(2024, 5, 1, 10, 1, tzinfo=UTC),
            "opens": dt.time(9, 30),
            "tags": '["a","é"]',
        },
        {
            "id": 2,
            "name": "",
            "amount": Decimal("12345.60"),
            "score": -2.5,
            "active": False,
            "born": dt.date(1999, 12, 31),
            "seen_at": dt.datetime(2024, 5, 1, 21, 59, 59, 500000, tzinfo=UTC),
            "opens": dt.time(23, 0, 1),
            "tags": "[]",
        },
        dict.fromkeys(PROPS, None) | {"id": 3},
    ],
    "jsonl": [
        {
            "id": 1,
            "name": 'Zoë, "quoted"',
            "amount": Decimal("1.25"),
            "score": Decimal("0.25"),
            "active": True,
            "born": "2020-01-02",
            "seen_at": "2024-05-01T10:01:00Z",
            "opens": "09:30:00",
            "tags": '["a","é"]',
        },
        {
            "id": 2,
            "name": "",
            "amount": Decimal("12345.60"),
            "score": Decimal("-2.5"),
            "active": False,
            "born": "1999-12-31",
            "seen_at": "2024-05-01T21:59:59.500000Z",
            "opens": "23:00:01",
            "tags": "[]",
        },
        dict.fromkeys(PROPS, None) | {"id": 3},
    ],
    "csv": [
        {
            "id": "1",
            "name": 'Zoë, "quoted"',
            "amount": "1.25",
            "score": "0.25",
            "active": "true",
            "born": "2020-01-02",
            "seen_at": "2024-05-01 10:01:00.000000Z",
            "opens": "09:30:00.000000",
            "tags": '["a","é"]',
        },
        {
            "id": "2",
            "name": "",
            "amount": "12345.60",
            "score": "-2.5",
            "active": "false",
            "born": "1999-12-31",
            "seen_at": "2024-05-01 21:59:59.500000Z",
            "opens": "23:00:01.000000",
            "tags": "[]",
        },
        dict.fromkeys(PROPS, "") | {"id": "3"},
    ],
}
GOVERNANCE = {"dativo_owner": "data-team@example.com", "dativo_classification": "PII", "dativo_note": "café"}


def _store_config(storage: str) -> dict[str, Any]:
    if storage == "s3":
        bucket, sw = objects.s3_bucket(), services.seaweedfs()
        return {
            "storage": "s3",
            "bucket": bucket.name,
            "endpoint": sw.s3_endpoint,
            "region": sw.region,
            "access_key_id": sw.access_key,
            "secret_access_key": sw.secret_key,
            "path_style": True,
        }
    container = objects.azure_container()
    return {
        "storage": "azure",
        "bucket": container.client.container_name,
        "azure_connection_string": services.azurite().connection_string,
    }


@pytest.fixture(scope="module", params=["s3", "azure"])
def store(request: pytest.FixtureRequest) -> dict[str, Any]:
    return _store_config(request.param)


def _run_in_process(config: dict[str, Any], messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The target in this process (the matrix would spend most of its time starting Python)."""
    out = io.StringIO()
    with redirect_stdout(out):
        TargetObjects(config=config, validate_config=True).listen(io.BytesIO(encode(messages, True).encode()))
    return [json.loads(line) for line in out.getvalue().splitlines() if line.strip()]


@pytest.mark.parametrize("compression", ["none", "gzip", "zstd"])
@pytest.mark.parametrize("file_format", ["jsonl", "csv", "parquet"])
def test_every_format_and_compression_reads_back_exactly(
    store: dict[str, Any], file_format: str, compression: str, tmp_path: Path
) -> None:
    config = {
        **store,
        "prefix": objects.unique_prefix("fmt"),
        "tenant": "acme",
        "format": file_format,
        "compression": compression,
        "object_metadata": GOVERNANCE,
        "dead_letter_dir": str(tmp_path),
    }
    messages = [schema("people", PROPS, ["id"]), *records("people", SENT), state({"pos": 3})]
    assert _run_in_process(config, messages) == [{"pos": 3}]

    bucket, root = objects.bucket_of(config), objects.stream_root(config, "people")
    entries = objects.check_manifests_match_objects(bucket, root)
    assert [e["rows"] for e in entries] == [3]
    ext = (
        "parquet"
        if file_format == "parquet"
        else file_format + {"none": "", "gzip": ".gz", "zstd": ".zst"}[compression]
    )
    assert entries[0]["key"].startswith(f"{root}/ingest_date={dt.datetime.now(UTC):%Y-%m-%d}/")
    assert entries[0]["key"].endswith(f"-00001.{ext}")
    assert (
        objects.rows(bucket, root) == EXPECTED[file_format]
        if file_format != "csv"
        else (sorted(objects.rows(bucket, root) or [], key=lambda r: r["id"]) == EXPECTED["csv"])
    )
    manifest = objects.manifests(bucket, root)[0]
    assert manifest["state"] == {"pos": 3} and manifest["schema"]["properties"] == PROPS
    assert (manifest["format"], manifest["compression"], manifest["rows"]) == (file_format, compression, 3)
    for key in (entries[0]["key"], bucket.keys(f"{root}/_manifests/")[0]):
        assert bucket.metadata(key) == {**GOVERNANCE, "dativo_note": "caf%C3%A9"}
    secret = config.get("secret_access_key") or config["azure_connection_string"]
    assert all(secret not in bucket.get(k).decode("utf-8", "replace") for k in bucket.keys(root))


def test_files_rotate_by_rows_and_bytes_under_one_manifest(tmp_path: Path) -> None:
    config = {
        **_store_config("s3"),
        "prefix": objects.unique_prefix("rot"),
        "file_max_rows": 4,
        "dead_letter_dir": str(tmp_path),
    }
    rows = [{"id": i, "name": "x" * 20} for i in range(1, 11)]
    _run_in_process(config, [schema("r", PROPS, ["id"]), *records("r", rows), state({"p": 1})])
    minio = objects.MinioBucket(config["bucket"])  # read with the MinIO SDK here, boto3 elsewhere
    by_rows = objects.check_manifests_match_objects(minio, objects.stream_root(config, "r"))
    assert minio.metadata(by_rows[0]["key"]) == {}  # no object_metadata set: none written
    assert [e["rows"] for e in by_rows] == [4, 4, 2]
    assert [e["key"][-11:] for e in by_rows] == ["00001.jsonl", "00002.jsonl", "00003.jsonl"]

    config = {**config, "prefix": objects.unique_prefix("rot"), "file_max_rows": 1000, "file_max_bytes": 400}
    rows = [{"id": i, "name": "y" * 40} for i in range(1, 101)]
    _run_in_process(config, [schema("r", PROPS, ["id"]), *records("r", rows), state({"p": 1})])
    bucket, root = objects.bucket_of(config), objects.stream_root(config, "r")
    by_bytes = objects.check_manifests_match_objects(bucket, root)
    assert len(by_bytes) > 5 and sum(e["rows"] for e in by_bytes) == 100
    assert all(400 <= e["bytes"] < 800 for e in by_bytes[:-1]), [e["bytes"] for e in by_bytes]
    assert [r["id"] for r in objects.rows(bucket, root) or []] == list(range(1, 101))


def _start(config: dict[str, Any], tmp: Path, name: str) -> subprocess.CompletedProcess[str]:
    path = tmp / f"{name}.json"
    path.write_text(json.dumps(config))
    messages = [schema("people", PROPS, ["id"]), *records("people", SENT), state({"pos": 3})]
    return subprocess.run(
        [*TARGET, "--config", str(path)],
        input=encode(messages, True),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_bad_stores_stop_at_start_up_with_one_line_and_write_nothing(tmp_path: Path) -> None:
    s3, azure, sw = _store_config("s3"), _store_config("azure"), services.seaweedfs()
    prefix = objects.unique_prefix("bad")
    wrong_key = "W" * 43 + "="  # base64, like a real account key
    wrong_azure = services.azurite().connection_string.replace(services.AZURITE_KEY, wrong_key)
    common = {"prefix": prefix, "dead_letter_dir": str(tmp_path)}
    # As programs: the exit code and the one stderr line.
    cases = {
        "s3-wrong-secret": ({**s3, "secret_access_key": "not-the-secret-123"}, 2, "access denied"),
        "s3-unreachable": ({**s3, "endpoint": "http://127.0.0.1:9"}, 75, "http://127.0.0.1:9 unreachable"),
    }
    with ThreadPoolExecutor(len(cases)) as pool:
        runs = {n: pool.submit(_start, {**c, **common}, tmp_path, n) for n, (c, _, _) in cases.items()}
    for name, (_, code, message) in cases.items():
        result = runs[name].result()
        errors = [line for line in result.stderr.splitlines() if "error" in line.lower()]
        assert result.returncode == code, (name, result.stderr[-2000:])
        assert len(errors) == 1 and errors[0].startswith("target-objects: error: "), (name, result.stderr)
        assert message in errors[0], (name, errors[0])
        assert "Traceback" not in result.stderr and result.stdout == ""
        assert "not-the-secret-123" not in result.stderr and sw.secret_key not in result.stderr
    # The other failures, in this process (the same FatalError becomes the same kind of line).
    for config, message in (
        (
            {**s3, "bucket": "no-such-bucket-dativo"},
            f"'no-such-bucket-dativo' at {sw.s3_endpoint} does not exist",
        ),
        ({**azure, "azure_connection_string": wrong_azure}, "access denied (AuthorizationFailure)"),
        ({**azure, "bucket": "no-such-container"}, "container 'no-such-container' at http://"),
    ):
        with pytest.raises(FatalError) as raised:
            TargetObjects(config={**config, **common}, validate_config=True)
        assert message in str(raised.value) and "\n" not in str(raised.value)
        assert wrong_key not in str(raised.value) and services.AZURITE_KEY not in str(raised.value)
    assert objects.s3_bucket().keys(prefix) == [] and objects.azure_container().keys(prefix) == []


@pytest.mark.parametrize(
    ("file_format", "compression", "reader"),
    [("parquet", "zstd", "read_parquet"), ("jsonl", "zstd", "read_json"), ("csv", "gzip", "read_csv")],
)
def test_duckdb_reads_the_files_the_manifests_name(
    file_format: str, compression: str, reader: str, tmp_path: Path
) -> None:
    import duckdb

    config = {
        "storage": "local",
        "local_dir": str(tmp_path / "objects"),
        "tenant": "acme",
        "format": file_format,
        "compression": compression,
        "dead_letter_dir": str(tmp_path),
    }
    _run_in_process(config, [schema("people", PROPS, ["id"]), *records("people", SENT), state({"pos": 3})])
    bucket = objects.LocalFolder(tmp_path / "objects")
    bucket.put(
        "acme/people/ingest_date=2024-01-01/killed-00001." + file_format, b"not data"
    )  # no manifest names it
    paths = [
        str(bucket.root / f["key"]) for m in objects.manifests(bucket, "acme/people") for f in m["files"]
    ]
    con = duckdb.connect(config={"autoinstall_known_extensions": False})
    found = con.sql(
        f"SELECT id, amount, CAST(seen_at AS VARCHAR) FROM {reader}({paths}) ORDER BY id"
    ).fetchall()
    assert [(r[0], None if r[1] is None else Decimal(str(r[1]))) for r in found] == [
        (1, Decimal("1.25")),
        (2, Decimal("12345.6")),
        (3, None),
    ]
    assert str(found[0][2]).replace("T", " ").startswith("2024-05-01 10:01:00")  # text or a timestamp
