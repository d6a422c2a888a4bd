"""Meltano installs tap-stripe alone from its `pip_url` (the core and taps/tap_stripe of this
checkout; their libraries from the package index, so only with DATIVO_DIST_TEST=1: `make
test-dist`) and runs it into the peer target-jsonl against the Stripe emulator."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

from tests.emulators.server import serve
from tests.emulators.stripe import API_KEY, StripeEmulator
from tests.helpers.distributions import PLATFORM_HEAVY
from tests.interop.conftest import REPO, clean_env, peer_executable, run

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        os.environ.get("DATIVO_DIST_TEST") != "1", reason="installs from the package index: make test-dist"
    ),
]


def _project(folder: Path, api_url: str) -> Path:
    folder.mkdir()
    spec = {
        "version": 1,
        "default_environment": "dev",
        "project_id": "stripe-alone",
        "send_anonymous_usage_stats": False,
        "environments": [{"name": "dev"}],
        "plugins": {
            "extractors": [
                {
                    "name": "tap-stripe",
                    "namespace": "dativo_tap_stripe",
                    "pip_url": f"-e {REPO / 'dativo_singer'} -e {REPO / 'taps' / 'tap_stripe'}",
                    "executable": "tap-stripe",
                    "capabilities": ["catalog", "discover", "state", "about"],
                    "settings": [
                        {"name": "api_key", "kind": "string", "sensitive": True},
                        {"name": "api_url", "kind": "string"},
                        {"name": "max_requests_per_second", "kind": "decimal"},
                    ],
                    "config": {"api_url": api_url, "max_requests_per_second": 0},
                    "select": ["customers.*"],
                }
            ],
            "loaders": [
                {
                    "name": "target-jsonl",
                    "namespace": "target_jsonl",
                    "executable": str(peer_executable("target-jsonl")),
                    "config": {"destination_path": "out", "do_timestamp_file": False},
                }
            ],
        },
    }
    (folder / "meltano.yml").write_text(yaml.safe_dump(spec, sort_keys=False))
    (folder / "out").mkdir()
    return folder


def test_meltano_installs_tap_stripe_alone_and_runs_it(tmp_path: Path) -> None:
    meltano = peer_executable("meltano")
    env = clean_env(MELTANO_SEND_ANONYMOUS_USAGE_STATS="false", NO_COLOR="1", TAP_STRIPE_API_KEY=API_KEY)
    emulator = StripeEmulator({"customers": 180})
    with serve(emulator):
        project = _project(tmp_path / "meltano", emulator.url)
        run([meltano, "install", "extractor", "tap-stripe"], cwd=project, env=env, timeout=900)
        run([meltano, "run", "--no-install", "tap-stripe", "target-jsonl"], cwd=project, env=env, timeout=300)

    rows = [json.loads(line) for line in (project / "out" / "customers.jsonl").read_text().splitlines()]
    assert sorted(r["id"] for r in rows) == sorted(c["id"] for c in emulator.objects["customers"])
    venv = project / ".meltano" / "extractors" / "tap-stripe" / "venv"
    names = {p.name.split("-")[0].lower().replace("_", "-") for p in venv.glob("lib/python*/site-packages/*.dist-info")}
    assert {"dativo-singer", "dativo-tap-stripe", "singer-sdk"} <= names
    assert not [n for n in names if n.startswith(PLATFORM_HEAVY) or n == "dativo-ingest"], names
