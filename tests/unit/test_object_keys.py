"""target-objects keys: the template's rules, the default layout, manifests in commit order."""

from __future__ import annotations

import datetime as dt

import pytest
from target_objects import keys
from target_objects.settings import object_settings

from dativo_singer.errors import FatalError


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{ingest_date}/{run_id}.{ext}", "must hold {run_id} and {n}"),
        ("{day}/{run_id}-{n}-{who}.{ext}", "unknown field(s) who"),
        ("_manifests/{run_id}-{n}.{ext}", "outside _manifests/"),
        ("../{run_id}-{n}.{ext}", "outside _manifests/"),
        ("{run_id-{n}", "setting 'key_template'"),
    ],
)
def test_bad_templates_are_refused_with_one_line(template: str, message: str) -> None:
    with pytest.raises(FatalError, match=None) as raised:
        keys.check_key_template(template)
    assert message in str(raised.value)


def test_default_layout_and_a_custom_template() -> None:
    settings = object_settings({"storage": "local", "prefix": "/raw/", "tenant": "acme"})
    now = dt.datetime(2024, 5, 1, 10, 1, tzinfo=dt.timezone.utc)
    args = {"stream": "deals", "tenant": "acme", "run_id": "R", "n": 7, "ext": "jsonl.gz", "now": now}
    root = settings.stream_root("deals")
    assert (
        keys.data_key(root, settings.key_template, **args)
        == "raw/acme/deals/ingest_date=2024-05-01/R-00007.jsonl.gz"
    )
    custom = "year={year}/month={month}/{hour}/{stream}-{run_id}-{n}.{ext}"
    assert (
        keys.data_key(root, custom, **args) == "raw/acme/deals/year=2024/month=05/10/deals-R-00007.jsonl.gz"
    )
    assert settings.manifest_prefix("deals") == "raw/acme/deals/_manifests/"
    assert object_settings({"storage": "local"}).stream_root("deals") == "deals"


def test_a_new_manifest_sorts_after_the_newest_even_with_a_clock_behind() -> None:
    ahead = dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1)
    newest = "p/_manifests/" + keys.manifest_name(ahead, "20990101T000000Z-ffffffff", 3)
    stamp = keys.next_commit_time(newest)
    assert stamp == ahead + dt.timedelta(microseconds=1)
    later = keys.manifest_name(stamp, "20000101T000000Z-00000000", 1)
    assert later > newest.rsplit("/", 1)[-1]
    assert keys.next_commit_time(None) <= dt.datetime.now(dt.timezone.utc)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"storage": "s3"}, "setting 'bucket' is required with storage s3"),
        ({"storage": "s3", "bucket": "b", "access_key_id": "k"}, "go together"),
        ({"storage": "azure", "bucket": "c", "azure_account_name": "a"}, "storage azure needs"),
        ({"write_mode": "merge"}, "write mode 'merge' is not supported"),
        ({"load_method": "overwrite"}, "write mode 'overwrite' is not supported"),
        ({"format": "csv", "nested": "struct"}, "'nested': struct cannot be written as csv"),
        ({"object_metadata": {"Owner-Name": "x"}}, "object_metadata name 'Owner-Name' is not allowed"),
        ({"file_max_rows": -1}, "must be positive"),
        ({"object_metadata": {"dativo_tags": "t," * 1100}}, "S3 allows 2048 bytes of user metadata"),
    ],
)
def test_settings_that_cannot_be_honoured_are_refused(config: dict, message: str) -> None:
    with pytest.raises(FatalError) as raised:
        object_settings({"storage": "local", **config})
    assert message in str(raised.value)
