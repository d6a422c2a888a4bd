"""tap-stripe installed alone into a clean virtualenv, from this checkout's dativo_singer/ and
taps/tap_stripe/ (their dependencies from the package index, so only with DATIVO_DIST_TEST=1:
`make test-dist`): it brings singer-sdk and its own libraries, nothing of the platform, and its
console script describes itself, discovers and syncs the local Stripe emulator."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.emulators.server import serve
from tests.emulators.stripe import API_KEY, StripeEmulator
from tests.helpers.distributions import PLATFORM_HEAVY, REPO, installed, make_venv, venv_env

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        os.environ.get("DATIVO_DIST_TEST") != "1", reason="installs from the package index: make test-dist"
    ),
]


def test_tap_stripe_alone_installs_and_syncs(tmp_path: Path) -> None:
    python = make_venv(tmp_path / "venv", str(REPO / "dativo_singer"), str(REPO / "taps" / "tap_stripe"))
    names = installed(python)
    assert {"dativo-tap-stripe", "dativo-singer", "singer-sdk", "requests"} <= set(names)
    assert not [n for n in names if n.startswith(PLATFORM_HEAVY) or n == "dativo-ingest"], names
    tap = python.parent / "tap-stripe"
    alone = venv_env()  # the venv's packages only

    about = subprocess.run([tap, "--about", "--format", "json"], capture_output=True, text=True, check=True, env=alone)
    assert json.loads(about.stdout)["version"] == "0.1.0"
    emulator = StripeEmulator({"customers": 250, "invoices": 30})
    config = tmp_path / "config.json"
    with serve(emulator):
        config.write_text(json.dumps({"api_key": API_KEY, "api_url": emulator.url, "max_requests_per_second": 0}))
        catalog = subprocess.run([tap, "--config", config, "--discover"], capture_output=True, text=True, check=True, env=alone)
        assert "customers" in {s["tap_stream_id"] for s in json.loads(catalog.stdout)["streams"]}
        synced = subprocess.run([tap, "--config", config], capture_output=True, text=True, timeout=300, env=alone)
        parquet = tmp_path / "parquet.json"
        batches = {"encoding": {"format": "parquet"}, "storage": {"root": (tmp_path / "b").as_uri()}}
        parquet.write_text(json.dumps({**json.loads(config.read_text()), "batch_config": batches}))
        refused = subprocess.run([tap, "--config", parquet], capture_output=True, text=True, timeout=300, env=alone)
    assert synced.returncode == 0, synced.stderr[-2000:]
    messages = [json.loads(line) for line in synced.stdout.splitlines() if line.startswith("{")]
    customers = {m["record"]["id"] for m in messages if m["type"] == "RECORD" and m["stream"] == "customers"}
    assert customers == {c["id"] for c in emulator.objects["customers"]}
    assert [m for m in messages if m["type"] == "STATE"]
    # Parquet BATCH files need the [parquet] extra: one line saying so, not a traceback.
    assert refused.returncode == 2, refused.stderr[-2000:]
    assert "parquet needs pyarrow, which is not installed (install the tap's [parquet] extra" in refused.stderr
    assert "Traceback" not in refused.stderr
