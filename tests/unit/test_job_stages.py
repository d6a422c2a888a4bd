"""Each stage of loading a job on its own, on the repository's CSV demo job: what it returns and
the problem lines it reports (the whole loader's messages are checked by the bad-input corpora)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from dativo_runner import job_stages as stages
from dativo_runner.config_models import JobFile
from dativo_runner.errors import ConfigError, Problem
from dativo_runner.home import ProjectHome
from dativo_runner.secrets import Redactor

REPO = Path(__file__).resolve().parents[2]
HOME = ProjectHome(REPO)
JOB = REPO / "jobs/acme/csv_deals_to_iceberg.yaml"
FILE = "jobs/acme/csv_deals_to_iceberg.yaml"


def _interpolated(**changes: object) -> stages.Interpolated:
    raw = {**stages.read_job_file(JOB, HOME, FILE), **changes}
    return stages.interpolate_job(raw, "acme", HOME, None, Redactor(), FILE)


def test_reading_a_missing_job_names_the_file() -> None:
    with pytest.raises(ConfigError) as caught:
        stages.read_job_file(REPO / "jobs/acme/nope.yaml", HOME, "jobs/acme/nope.yaml")
    assert str(caught.value.problems[0]).startswith("jobs/acme/nope.yaml: file not found")


def test_a_tenant_that_is_not_allowed_stops_before_any_secret() -> None:
    raw = {**stages.read_job_file(JOB, HOME, FILE), "tenant_id": "../other"}
    with pytest.raises(ConfigError) as caught:
        stages.check_tenant(raw, HOME, "self_hosted", FILE)
    assert [p.field for p in caught.value.problems] == ["tenant_id"]
    assert stages.check_tenant({**raw, "tenant_id": "acme"}, HOME, "self_hosted", FILE) == "acme"


def test_interpolation_gives_the_typed_job_and_schema_problems() -> None:
    found = _interpolated()
    assert isinstance(found.config, JobFile)
    assert (found.config.source_connector, found.config.asset) == ("csv", "csv_deals")
    assert found.config.source.objects == ("deals",) and found.config.logging.level == "INFO"
    with pytest.raises(ConfigError) as caught:
        _interpolated(asset="1bad")
    assert [p.field for p in caught.value.problems] == ["asset"]


def test_connectors_resolve_to_plugins_and_recipes_or_problems() -> None:
    found = _interpolated()
    registry = stages.load_registry(found.config, HOME, "self_hosted", FILE)
    problems: list[Problem] = []
    connectors = stages.resolve_connectors(found, registry, HOME, "self_hosted", problems)
    assert problems == []
    assert sorted(connectors.plugins) == sorted(connectors.recipes) == ["source", "target"]
    assert connectors.recipes["source"].incremental.strategy == "file_fingerprint"
    moved = _interpolated(target_connector_path="connectors/targets/gone.yaml")
    connectors = stages.resolve_connectors(moved, registry, HOME, "self_hosted", problems)
    assert [str(p) for p in problems] == [f"{FILE}: target_connector_path: connectors/targets/gone.yaml not found"]
    assert "target" not in connectors.recipes


def test_unregistered_connectors_stop_at_the_registry() -> None:
    config = replace(_interpolated().config, target_connector="nowhere")
    with pytest.raises(ConfigError) as caught:
        stages.load_registry(config, HOME, "self_hosted", FILE)
    assert [p.field for p in caught.value.problems] == ["target_connector"]


def test_the_asset_is_loaded_and_matched_against_the_job() -> None:
    config = _interpolated().config
    problems: list[Problem] = []
    asset = stages.load_job_asset(config, HOME, FILE, problems)
    assert problems == [] and asset is not None and asset.name == "csv_deals"
    other = replace(config, source=replace(config.source, objects=("deals", "leads")))
    assert [str(p) for p in stages.asset_matches_job(asset, other, FILE)] == [
        f"{FILE}: source.objects: ['deals', 'leads'] but a job loads one asset: asset 'csv_deals' reads "
        "object 'deals' (give other objects jobs of their own)"
    ]


def test_incremental_settings_and_missing_programs() -> None:
    found = _interpolated()
    registry = stages.load_registry(found.config, HOME, "self_hosted", FILE)
    problems: list[Problem] = []
    connectors = stages.resolve_connectors(found, registry, HOME, "self_hosted", problems)
    asset = stages.load_job_asset(found.config, HOME, FILE, problems)
    assert asset is not None
    incremental = stages.job_incremental(found.config, connectors, asset, FILE, problems)
    assert problems == [] and incremental.strategy == "file_fingerprint"
    entry = replace(connectors.entry("source", found.config), executable="dativo-no-such-program")
    assert [str(p) for p in stages.missing_programs((entry,), FILE)] == [
        f"{FILE}: source_connector: 'csv' is registered but its program dativo-no-such-program is not installed"
    ]
