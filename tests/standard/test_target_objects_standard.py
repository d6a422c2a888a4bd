"""singer-sdk's standard target tests for target-objects on a local folder, and a few of the
suite's files read back through the manifests and compared value by value."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from singer_sdk.testing import get_target_test_class
from target_objects.target import TargetObjects

from tests.helpers import objects
from tests.helpers.read_back import READ_BACK_MATRIX_FILES, _normal, _sent, singer_file

# Removed when the interpreter exits (the suite's config must exist when the class is built).
_FOLDER = tempfile.TemporaryDirectory(prefix="dativo-std-objects-")
_CONFIG = {
    "storage": "local",
    "local_dir": f"{_FOLDER.name}/objects",
    "tenant": "standard",
    "dead_letter_dir": f"{_FOLDER.name}/dead",
}

TestTargetObjects = get_target_test_class(target_class=TargetObjects, config=_CONFIG)

TARGET = [sys.executable, "-c", "from target_objects.target import main; main()"]


@pytest.mark.parametrize("file_format", ["parquet", "jsonl"])
@pytest.mark.parametrize("name", READ_BACK_MATRIX_FILES)
def test_files_hold_what_was_sent(name: str, file_format: str, tmp_path: Path) -> None:
    """Every record sent is in a file a manifest names, values as sent."""
    config = {
        **_CONFIG,
        "local_dir": str(tmp_path / "objects"),
        "format": file_format,
        "dead_letter_dir": str(tmp_path / "dead"),
    }
    (tmp_path / "config.json").write_text(json.dumps(config))
    with singer_file(name).open("rb") as stdin:
        result = subprocess.run(
            [*TARGET, "--config", str(tmp_path / "config.json")],
            stdin=stdin,
            capture_output=True,
            timeout=300,
            check=False,
        )
    assert result.returncode == 0, result.stderr.decode()[-3000:]
    bucket = objects.LocalFolder(tmp_path / "objects")
    for stream, (props, records) in _sent(singer_file(name)).items():
        root = objects.stream_root(config, stream)
        if not records:
            assert objects.manifests(bucket, root) == []
            continue
        objects.check_manifests_match_objects(bucket, root)
        stored = objects.rows(bucket, root, key=next(iter(props))) or []
        columns = sorted({c for r in stored for c in r})
        assert set(columns) == {p for p in props if not p.startswith("_sdc_")}, stream
        got = sorted(
            json.dumps(
                {c: _normal(r.get(c), props[c], stored=True) for c in columns}, sort_keys=True, default=str
            )
            for r in stored
        )
        want = sorted(
            json.dumps({c: _normal(r.get(c), props[c]) for c in columns}, sort_keys=True, default=str)
            for r in records
        )
        assert got == want, f"{name}/{stream}"
