"""tap-stripe and tap-hubspot as programs against the loopback emulators: every object exactly
once across pages (also with faults on 20% of requests), resumed after a kill with no gap, past
HubSpot's 10,000-result search cap, and credentials that never show."""

from __future__ import annotations

import json
import signal
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.emulators.hubspot import TOKEN, HubSpotEmulator, iso
from tests.emulators.server import Faults, serve
from tests.emulators.stripe import API_KEY, StripeEmulator
from tests.helpers.saas import BIN, FAST_RETRIES, only_streams, run_tap

pytestmark = pytest.mark.integration


def _stripe_config(url: str, **extra: Any) -> dict[str, Any]:
    return {"api_key": API_KEY, "api_url": url, **FAST_RETRIES, **extra}


def _hubspot_config(url: str, **extra: Any) -> dict[str, Any]:
    return {"access_token": TOKEN, "api_url": url, **FAST_RETRIES, **extra}


def _exactly_once(records: list[dict[str, Any]], expected: set[str]) -> None:
    counts = Counter(r["id"] for r in records)
    assert set(counts) == expected
    assert max(counts.values()) == 1, [k for k, v in counts.items() if v > 1][:5]


def test_stripe_every_object_once_with_faults_on_a_fifth_of_requests(tmp_path: Path) -> None:
    emulator = StripeEmulator({"customers": 1_500, "invoices": 120})
    with serve(emulator):
        run = run_tap("tap-stripe", _stripe_config(emulator.url), tmp_path / "clean")
        assert run.code == 0, run.stderr[-2000:]
        _exactly_once(run.records("customers"), {c["id"] for c in emulator.objects["customers"]})
        _exactly_once(run.records("invoices"), {c["id"] for c in emulator.objects["invoices"]})
        assert run.records("customers")[0]["created"] == "2024-01-01T08:19:00+00:00"  # newest first

        emulator.faults = Faults(rate=0.2, seed=11, burst_429=4)  # a burst of 429s, then a fifth fail
        faulty = run_tap("tap-stripe", _stripe_config(emulator.url), tmp_path / "faults")

    assert faulty.code == 0, faulty.stderr[-2000:]
    assert set(emulator.faults.injected) == {"429", "500", "slow", "drop"}, emulator.faults.injected
    assert emulator.faults.injected["429"] >= 5
    _exactly_once(faulty.records("customers"), {c["id"] for c in emulator.objects["customers"]})
    _exactly_once(faulty.records("invoices"), {c["id"] for c in emulator.objects["invoices"]})
    assert faulty.records("customers") == run.records("customers")


def test_hubspot_every_record_once_list_and_search_with_faults(tmp_path: Path) -> None:
    emulator = HubSpotEmulator({"contacts": 600, "companies": 40, "deals": 60})
    emulator.faults = Faults(rate=0.2, seed=5)
    with serve(emulator):
        full = run_tap("tap-hubspot", _hubspot_config(emulator.url), tmp_path / "list")
        since = run_tap(
            "tap-hubspot",
            _hubspot_config(emulator.url, start_date="2024-01-01T00:05:00Z"),
            tmp_path / "search",
        )

    assert set(emulator.faults.injected) == {"429", "500", "slow", "drop"}, emulator.faults.injected
    assert full.code == 0, full.stderr[-2000:]
    for kind in ("contacts", "companies", "deals"):
        _exactly_once(full.records(kind), {r["id"] for r in emulator.records[kind]})
    assert {r["id"] for r in full.records("owners")} == {o["id"] for o in emulator.owners}
    links = {
        (a["from_object_type"], a["from_id"], a["to_object_type"], a["to_id"])
        for a in full.records("associations")
    }
    expected = {
        (s, f, t, to) for (s, t), m in emulator.associations.items() for f, tos in m.items() for to in tos
    }
    assert links == expected and len(full.records("associations")) == len(expected)
    assert since.code == 0, since.stderr[-2000:]
    later = {
        r["id"]
        for r in emulator.records["contacts"]
        if r["properties"]["lastmodifieddate"] >= "2024-01-01T00:05:00"
    }
    _exactly_once(since.records("contacts"), later)
    modified = [r["lastmodifieddate"] for r in since.records("contacts")]
    assert modified == sorted(modified)  # the search is ascending: the bookmark is resumable


def test_hubspot_more_than_10000_modified_since_the_bookmark_all_arrive(tmp_path: Path) -> None:
    emulator = HubSpotEmulator({"contacts": 10_450, "companies": 0, "deals": 0})
    config = _hubspot_config("", request_timeout_seconds=10)  # a search over 10k records takes a while
    with serve(emulator):
        config["api_url"] = emulator.url
        catalog = only_streams("tap-hubspot", config, tmp_path, {"contacts"})
        bookmark = iso(1_800_000_000_000)
        emulator.touch("contacts", 10_450, start_ms=1_800_000_000_000 + 1_000)
        state = {
            "bookmarks": {
                "contacts": {"replication_key": "lastmodifieddate", "replication_key_value": bookmark}
            }
        }
        run = run_tap("tap-hubspot", config, tmp_path / "run", state=state, catalog=catalog)

    assert run.code == 0, run.stderr[-2000:]
    _exactly_once(run.records("contacts"), {r["id"] for r in emulator.records["contacts"]})
    searches = [r for r in emulator.requests if r.path.endswith("/search")]
    assert sum(1 for r in searches if r.body["after"] == "0") == 2  # the cap was met once and passed
    assert "search cap reached" in run.stderr


def _kill_after_state(args: list[str], predicate: Any) -> list[dict[str, Any]]:
    """Run a tap, SIGKILL it at the first STATE matching ``predicate``; the messages up to it."""
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    messages: list[dict[str, Any]] = []
    assert process.stdout is not None
    for line in process.stdout:
        message = json.loads(line)
        messages.append(message)
        if message["type"] == "STATE" and predicate(message["value"]):
            process.send_signal(signal.SIGKILL)
            break
    process.wait()
    return messages


def test_stripe_killed_midway_resumes_from_state_without_gap(tmp_path: Path) -> None:
    emulator = StripeEmulator({"customers": 2_600})
    config = _stripe_config("")
    with serve(emulator):
        config["api_url"] = emulator.url
        catalog = only_streams("tap-stripe", config, tmp_path, {"customers"})
        (tmp_path / "catalog.json").write_text(json.dumps(catalog))
        args = [
            str(BIN / "tap-stripe"),
            "--config",
            str(tmp_path / "config.json"),
            "--catalog",
            str(tmp_path / "catalog.json"),
        ]
        first = _kill_after_state(
            args, lambda v: (v["bookmarks"].get("customers", {}).get("pass") or {}).get("upper")
        )
        state = [m["value"] for m in first if m["type"] == "STATE"][-1]
        before = [m["record"]["id"] for m in first if m["type"] == "RECORD"]
        resumed = run_tap("tap-stripe", config, tmp_path / "resume", state=state, catalog=catalog)

    assert resumed.code == 0, resumed.stderr[-2000:]
    after = [r["id"] for r in resumed.records("customers")]
    assert len(after) < 2_600  # it resumed, not restarted
    assert set(before) | set(after) == {c["id"] for c in emulator.objects["customers"]}
    final = resumed.last_state["bookmarks"]["customers"]
    assert "pass" not in final and final["replication_key_value"] == "2024-01-01T14:26:00+00:00"


def test_hubspot_killed_midway_resumes_from_state_without_gap(tmp_path: Path) -> None:
    emulator = HubSpotEmulator({"contacts": 2_500, "companies": 0, "deals": 0})
    config = _hubspot_config("", start_date="2023-12-31T00:00:00Z")
    with serve(emulator):
        config["api_url"] = emulator.url
        catalog = only_streams("tap-hubspot", config, tmp_path, {"contacts"})
        (tmp_path / "catalog.json").write_text(json.dumps(catalog))
        args = [
            str(BIN / "tap-hubspot"),
            "--config",
            str(tmp_path / "config.json"),
            "--catalog",
            str(tmp_path / "catalog.json"),
        ]
        first = _kill_after_state(
            args, lambda v: v["bookmarks"].get("contacts", {}).get("replication_key_value")
        )
        state = [m["value"] for m in first if m["type"] == "STATE"][-1]
        before = [m["record"]["id"] for m in first if m["type"] == "RECORD"]
        resumed = run_tap("tap-hubspot", config, tmp_path / "resume", state=state, catalog=catalog)

    assert resumed.code == 0, resumed.stderr[-2000:]
    after = [r["id"] for r in resumed.records("contacts")]
    assert len(after) < 2_500
    assert set(before) | set(after) == {r["id"] for r in emulator.records["contacts"]}


@pytest.mark.parametrize("program", ["tap-stripe", "tap-hubspot"])
def test_wrong_credentials_exit_2_with_one_line_and_never_show(tmp_path: Path, program: str) -> None:
    wrong = (
        "sk_test_not_the_key_0000000000000W4rn"
        if program == "tap-stripe"
        else "pat-na1-wrong-0000-0000-0000-000000W4rn"
    )
    emulator: Any = (
        StripeEmulator({"customers": 3}) if program == "tap-stripe" else HubSpotEmulator({"contacts": 3})
    )
    with serve(emulator):
        setting = "api_key" if program == "tap-stripe" else "access_token"
        run = run_tap(program, {**FAST_RETRIES, "api_url": emulator.url, setting: wrong}, tmp_path)

    assert run.code == 2
    last = run.stderr.strip().splitlines()[-1]
    assert last.startswith(f"{program}: error: ") and f"the {setting} ****W4rn" in last and "HTTP 401" in last
    assert wrong not in run.stdout + run.stderr and wrong[:-4] not in run.stdout + run.stderr
    assert len([r for r in emulator.requests]) == 1 if program == "tap-stripe" else True  # no retry of a 401


def test_hubspot_daily_limit_and_long_retry_after_stop_with_a_clear_error(tmp_path: Path) -> None:
    emulator = HubSpotEmulator({"contacts": 3})
    with serve(emulator):
        emulator.daily_remaining = 0
        daily = run_tap("tap-hubspot", _hubspot_config(emulator.url), tmp_path / "daily")
        emulator.daily_remaining = 1_000
        emulator.retry_after = 3_600
        emulator.faults = Faults(burst_429=1)
        patient = run_tap(
            "tap-hubspot", _hubspot_config(emulator.url, max_retry_after_seconds=60), tmp_path / "wait"
        )

    assert daily.code == 2
    assert (
        "HubSpot rate limit exhausted" in daily.stderr.splitlines()[-1] and "daily API limit" in daily.stderr
    )
    assert patient.code == 2
    assert "asks to wait 3600 s (more than max_retry_after_seconds 60)" in patient.stderr.splitlines()[-1]


def test_retries_run_out_as_a_retriable_exit(tmp_path: Path) -> None:
    emulator = StripeEmulator({"customers": 3})
    emulator.faults = Faults(rate=1.0, kinds=("500",))
    with serve(emulator):
        run = run_tap("tap-stripe", _stripe_config(emulator.url, max_tries=3), tmp_path)

    assert run.code == 75
    assert (
        run.stderr.strip()
        .splitlines()[-1]
        .endswith("HTTP 500 Internal Server Error: An unknown error occurred (after 3 attempts)")
    )
    assert len(emulator.requests) == 3
