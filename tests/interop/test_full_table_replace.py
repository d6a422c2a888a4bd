"""Full-table streams reread without a second copy: tap-hubspot's streams without a replication
key (owners, pipelines, associations) send ACTIVATE_VERSION by default, which MeltanoLabs
target-postgres (singer-sdk, its own venv) and target-objects honour by replacing the stream's
earlier rows, so a row gone at the source goes from the target too; with
``emit_activate_version_messages: false`` it stays (and an append-only target adds a copy)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from target_objects.formats import get_format
from target_objects.manifest import current_manifests, manifest_keys, read_manifest
from target_objects.stores.local import LocalStore

from tests.emulators.hubspot import TOKEN, HubSpotEmulator
from tests.emulators.server import serve
from tests.helpers.databases import TARGET, unique_name
from tests.helpers.saas import BIN, FAST_RETRIES, only_streams
from tests.interop.conftest import clean_env, peer_executable, write_json

pytestmark = pytest.mark.integration

FULL_TABLE = {"owners", "pipelines", "associations"}


@pytest.fixture
def hubspot() -> Any:
    with serve(HubSpotEmulator({"contacts": 6, "companies": 3, "deals": 4})) as emulator:
        yield emulator


def _tap_output(emulator: Any, tmp_path: Path, streams: set[str], **extra: Any) -> bytes:
    config = {"access_token": TOKEN, "api_url": emulator.url, **FAST_RETRIES, **extra}
    catalog = only_streams("tap-hubspot", config, tmp_path, streams)
    argv = [str(BIN / "tap-hubspot"), "--config", str(write_json(tmp_path / "config.json", config))]
    argv += ["--catalog", str(write_json(tmp_path / "catalog.json", catalog))]
    done = subprocess.run(argv, capture_output=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    return done.stdout


def test_tap_hubspot_sends_activate_version_for_full_table_streams_only(hubspot: Any, tmp_path: Path) -> None:
    out = _tap_output(hubspot, tmp_path, {*FULL_TABLE, "contacts"})
    messages = [json.loads(line) for line in out.splitlines()]
    activated = {m["stream"] for m in messages if m["type"] == "ACTIVATE_VERSION"}
    assert activated == FULL_TABLE
    for stream in FULL_TABLE:  # announced before the stream's first record, which carries it
        kinds = [m["type"] for m in messages if m.get("stream") == stream]
        assert kinds.index("ACTIVATE_VERSION") < kinds.index("RECORD")
        assert {m.get("version") for m in messages if m["type"] == "RECORD" and m["stream"] == stream} != {
            None
        }


def _owners_in_postgres(pg: Any, schema: str) -> int:
    import psycopg2

    with psycopg2.connect(pg.dsn) as connection, connection.cursor() as cursor:
        cursor.execute(f'SELECT count(*) FROM "{schema}".owners')
        (count,) = cursor.fetchone()
    return int(count)


@pytest.mark.parametrize("emit", [True, False])
def test_owners_reread_into_meltanolabs_target_postgres(
    hubspot: Any, tmp_path: Path, pg_service: Any, emit: bool
) -> None:
    target = peer_executable("target-postgres")
    schema = unique_name("hs")
    config = {
        "host": pg_service.host,
        "port": pg_service.port,
        "user": pg_service.user,
        "password": "unused",
        "database": pg_service.db,
        "default_target_schema": schema,
        "hard_delete": True,
    }
    argv = [target, "--config", write_json(tmp_path / "pg-target.json", config)]
    try:
        first = len(hubspot.owners)
        for run in (1, 2):
            if run == 2:
                hubspot.owners.pop()  # an owner removed at the source between the runs
            messages = _tap_output(
                hubspot, tmp_path / f"run{run}", {"owners"}, emit_activate_version_messages=emit
            )
            loaded = subprocess.run(
                [str(a) for a in argv],
                input=messages,
                capture_output=True,
                env=clean_env(),
                timeout=180,
                check=False,
            )
            assert loaded.returncode == 0, loaded.stderr.decode()[-3000:]
        # target-postgres upserts on the key either way; only ACTIVATE_VERSION drops the row the
        # source no longer has (hard_delete: deleted, not just marked)
        assert _owners_in_postgres(pg_service, schema) == (len(hubspot.owners) if emit else first)
    finally:
        import psycopg2

        with psycopg2.connect(pg_service.dsn) as connection, connection.cursor() as cursor:
            cursor.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def _object_rows(folder: Path, stream: str, current: bool) -> list[dict[str, Any]]:
    store = LocalStore(folder)
    prefix = f"{stream}/_manifests/"
    manifests = [read_manifest(store, key) for key in manifest_keys(store, prefix)]
    rows: list[dict[str, Any]] = []
    for manifest in current_manifests(manifests) if current else manifests:
        for entry in manifest["files"]:
            data = get_format(manifest["format"]).read(store.get(entry["key"]), manifest["compression"])
            rows.extend(data.to_pylist())
    return rows


def test_owners_reread_into_target_objects_replaces_the_stream(hubspot: Any, tmp_path: Path) -> None:
    folder = tmp_path / "objects"
    config = {"storage": "local", "local_dir": str(folder), "format": "jsonl", "compression": "none"}
    argv = [*TARGET[:2], "from target_objects.target import main; main()", "--config"]
    argv.append(str(write_json(tmp_path / "objects.json", config)))
    first = len(hubspot.owners)
    for run in (1, 2):
        if run == 2:
            hubspot.owners.pop()  # an owner removed at the source between the runs
        messages = _tap_output(hubspot, tmp_path / f"run{run}", {"owners"})
        loaded = subprocess.run(
            argv, input=messages, capture_output=True, cwd=tmp_path, timeout=120, check=False
        )
        assert loaded.returncode == 0, loaded.stderr.decode()[-3000:]
    current = _object_rows(folder, "owners", current=True)
    assert sorted(r["id"] for r in current) == sorted(o["id"] for o in hubspot.owners)
    assert len(_object_rows(folder, "owners", current=False)) == first + len(hubspot.owners)
