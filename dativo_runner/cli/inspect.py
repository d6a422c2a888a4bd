"""`dativo inspect`: what a job's target holds: location, schema, partitioning, commits with
their bookmarks, row count, first rows. The target plugin builds the report (``inspect``)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from dativo_runner.cli.common import add_common_options, load_job
from dativo_runner.errors import EXIT_OK
from dativo_runner.secrets import Redactor
from dativo_runner.state_report import describe

EPILOG = """examples:
  dativo inspect --config jobs/acme/csv_deals_to_iceberg.yaml
  dativo inspect --config jobs/acme/mysql_customers_to_s3.yaml --limit 0 --json

A job that has never run prints one line saying nothing landed yet, and exits 0 (with --json:
an object whose "exists" is false)."""


def _limit(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} is negative")
    return value


def add_parser(sub: Any) -> None:
    """Register the subcommand."""
    inspect = sub.add_parser(
        "inspect",
        help="print what a job's target holds: schema, commits and their bookmarks, rows",
        description="Location, schema, partition spec, every snapshot (Iceberg) or manifest "
        "(object targets) with the bookmark committed in it, the row count and the first rows.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    inspect.add_argument("--config", type=Path, required=True, help="job YAML file")
    inspect.add_argument("--limit", type=_limit, default=5, metavar="N", help="rows to print (default 5)")
    inspect.add_argument("--json", action="store_true", help="print the report as one JSON object")
    add_common_options(inspect)
    inspect.set_defaults(command=command_inspect)


def command_inspect(args: argparse.Namespace, redactor: Redactor) -> int:
    """Print the report (text, or one JSON object)."""
    job = load_job(args, redactor=redactor)
    report = {"job": job.file, **job.target_plugin.inspect(job, args.limit)}
    text = json.dumps(report, default=str) if args.json else render(report)
    print(redactor.redact(text))
    return EXIT_OK


def _bookmark_lines(bookmark: Any) -> list[str]:
    """One line per stream of a committed Singer state."""
    if not isinstance(bookmark, dict):
        return ["no bookmark"] if bookmark is None else [str(bookmark)]
    streams = bookmark.get("bookmarks") or {}
    if not isinstance(streams, dict) or not streams:
        return ["no stream bookmarked"]
    return [f"{name}: {describe(value)[0]}" for name, value in sorted(streams.items())]


def _row(row: dict[str, Any]) -> str:
    return "  " + ", ".join(f"{k}={v}" for k, v in row.items())


def render(report: dict[str, Any]) -> str:
    """The report as text."""
    where = report["location"]
    if not report.get("exists"):
        return f"{where}: nothing landed yet (run the job first)"
    lines = [f"{where} ({report['target']} target, write_mode {report.get('write_mode')})"]
    if "table_location" in report:
        lines.append(f"  table location: {report['table_location']}")
        lines.append(f"  metadata: {report['metadata_location']}")
    else:
        lines.append(f"  manifests: {report['manifest_prefix']}")
        lines.append(f"  format: {report['format']}, compression {report['compression']}")
    lines.append(f"rows: {report['rows']:,}")
    lines.append("schema:")
    for column in report["schema"]:
        required = " (required)" if column.get("required") else ""
        lines.append(f"  {column['name']}: {column['type']}{required}")
    spec = report.get("partition_spec") or []
    lines.append(
        "partition spec: "
        + (", ".join(f"{p['transform']}({p['source']}) as {p['name']}" for p in spec) if spec else "none")
    )
    if "snapshots" in report:
        _snapshots(report["snapshots"], lines)
    else:
        _manifests(report["manifests"], lines)
    sample = report.get("sample") or []
    lines.append(f"first {len(sample)} row(s):")
    lines.extend(_row(row) for row in sample)
    return "\n".join(lines)


def _snapshots(snapshots: list[dict[str, Any]], lines: list[str]) -> None:
    lines.append(f"snapshots ({len(snapshots)}, oldest first):")
    for snap in snapshots:
        head = f" [head of {snap['head_of']}]" if snap.get("head_of") else ""
        total = f", {snap['total_rows']:,} in total" if snap.get("total_rows") is not None else ""
        kind = snap.get("dativo_operation") or snap.get("operation")
        rows = f"+{snap['added_rows']:,} rows{total}{head}"
        lines.append(f"  {snap['snapshot_id']} {snap['committed_at']} {kind}: {rows}")
        lines.extend(f"    bookmark {line}" for line in _bookmark_lines(snap.get("bookmark")))


def _manifests(manifests: list[dict[str, Any]], lines: list[str]) -> None:
    lines.append(f"manifests ({len(manifests)}, oldest first):")
    for manifest in manifests:
        lines.append(
            f"  {manifest['manifest']} (commit {manifest['commit']}, {manifest['committed_at']}): "
            f"{manifest['rows']:,} rows in {len(manifest['files'])} file(s)"
        )
        lines.extend(f"    file {f['url']} ({f['rows']} rows, {f['bytes']} bytes)" for f in manifest["files"])
        lines.extend(f"    bookmark {line}" for line in _bookmark_lines(manifest.get("bookmark")))
