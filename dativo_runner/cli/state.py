"""`dativo state show|reset|set`: what a job has bookmarked, and changing it safely."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from dativo_runner.cli.common import add_common_options, home_of, load_job
from dativo_runner.errors import EXIT_OK, ConfigError, Problem
from dativo_runner.job_config import Job
from dativo_runner.partitions import keys_text
from dativo_runner.runner import state_path
from dativo_runner.secrets import Redactor
from dativo_runner.state_edit import (
    Change,
    check_stream,
    parse_bookmark,
    parse_value,
    read_state_file,
    replication_key,
    reset,
    set_bookmark,
    set_state,
)
from dativo_runner.state_report import JobState, as_dict, as_text, load_job_state, stream_bookmark
from dativo_runner.terminal_text import fit

EPILOG = """examples:
  dativo state show  --config jobs/acme/postgres_orders_to_iceberg.yaml
  dativo state reset --config jobs/acme/postgres_orders_to_iceberg.yaml --stream orders
  dativo state set   --config jobs/acme/postgres_orders_to_iceberg.yaml --value 2024-06-01T00:00:00Z
  dativo state set   --config jobs/acme/csv_deals_to_iceberg.yaml --file state/acme/.backups/deals.<time>.json

reset and set keep a backup of what the next run would have resumed from (under
<state dir>/<tenant>/.backups/), refuse while a run of the job holds its lock, and write a state
file the next run resumes from even where the target keeps its own committed bookmark."""


def add_parser(sub: Any) -> None:
    """Register the subcommand and its three actions."""
    state = sub.add_parser(
        "state",
        help="show, reset or set what a job has bookmarked",
        description="What a job has bookmarked per stream (the state file and the bookmark "
        "committed in the target), and resetting or setting it.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = state.add_subparsers(dest="state_action", required=True, metavar="{show,reset,set}")
    show = actions.add_parser(
        "show",
        help="print each stream's bookmarks",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    reset_parser = actions.add_parser(
        "reset",
        help="forget bookmarks: the next run reads from the start",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    set_parser = actions.add_parser(
        "set",
        help="set a stream's bookmark",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    for parser in (show, reset_parser, set_parser):
        parser.add_argument("--config", type=Path, required=True, help="job YAML file")
        add_common_options(parser)
        parser.add_argument("--state-dir", type=Path, help="state folder (default: <home>/state)")
        parser.add_argument("--json", action="store_true", help="print the report as one JSON object")
        parser.add_argument("--partition", metavar="KEY", help="the partition of a partitioned job")
    show.add_argument("--full", action="store_true", help="64-character hashes in full, lines not wrapped")
    reset_parser.add_argument("--stream", help="reset this stream only (default: every stream)")
    reset_parser.add_argument(
        "--force", action="store_true", help="reset even where reading again would duplicate rows"
    )
    set_parser.add_argument("--stream", help="the stream (default: the job's stream)")
    given = set_parser.add_mutually_exclusive_group(required=True)
    given.add_argument("--value", help="the replication key's value to resume after")
    given.add_argument("--bookmark", help="the stream's whole bookmark, as a JSON object")
    given.add_argument("--file", type=Path, help="a whole Singer state file (e.g. a backup)")
    show.set_defaults(command=command_show)
    reset_parser.set_defaults(command=command_reset)
    set_parser.set_defaults(command=command_set)


def _load(args: argparse.Namespace, redactor: Redactor) -> JobState:
    job = load_job(args, redactor=redactor)
    if args.partition is not None or job.partitions is not None:  # each partition has its own state
        if args.partition is None:
            keys = keys_text(job.partitions.keys if job.partitions else ())
            message = f"the job is partitioned: give --partition KEY (valid keys: {keys})"
            raise ConfigError([Problem(job.file, "partitions", message)])
        job = job.with_partition(args.partition)
    folder = home_of(args).resolve(args.state_dir) if args.state_dir else None
    return load_job_state(job, state_path(job, folder))


def _print(redactor: Redactor, text: str) -> None:
    print(redactor.redact(text))


def command_show(args: argparse.Namespace, redactor: Redactor) -> int:
    """Print the report."""
    state = _load(args, redactor)
    if args.json:
        _print(redactor, json.dumps(as_dict(state), default=str))
    else:
        print(fit(redactor.redact(as_text(state)), full=args.full))
    return EXIT_OK


def _warn(redactor: Redactor, message: str) -> None:
    sys.stderr.write(redactor.redact(f"dativo: warning: {message}\n"))


def _duplicates(job: Job, state: JobState) -> str | None:
    return job.target_plugin.reread_duplicates(job, state.target_config)


def _report(args: argparse.Namespace, redactor: Redactor, state: JobState, change: Change) -> None:
    job = state.job
    if args.json:
        data = {
            "job": job.file,
            "action": change.action,
            "streams": change.streams,
            "state_file": job.home.display(state.store.path),
            "backup": change.backup,
            "state": change.state,
        }
        _print(redactor, json.dumps(data, default=str))
        return
    what = "every stream" if args.state_action == "reset" and not args.stream else ", ".join(change.streams)
    verb = "reset" if change.action == "reset" else "set"
    lines = [f"{job.file}: {verb} {what} in {job.home.display(state.store.path)}"]
    lines.append(f"previous bookmarks saved to {change.backup}" if change.backup else "no previous bookmark")
    if change.backup:
        lines.append(f"  undo: dativo state set --config {job.file} --file {change.backup}")
    lines.append("the next run resumes from this state, over the target's committed bookmark")
    _print(redactor, "\n".join(lines))


def command_reset(args: argparse.Namespace, redactor: Redactor) -> int:
    """Forget bookmarks, refusing (without --force) where reading again would duplicate rows."""
    state = _load(args, redactor)
    job = state.job
    if args.stream:
        check_stream(state, args.stream)
    if state.point.state is None or (args.stream and stream_bookmark(state.point.state, args.stream) is None):
        _print(redactor, f"{job.file}: nothing bookmarked; the next run reads from the start already")
        return EXIT_OK
    duplicates = _duplicates(job, state)
    if duplicates and not args.force:
        raise ConfigError([Problem(job.file, "", f"not reset: {duplicates}; pass --force to reset anyway")])
    if duplicates:
        _warn(redactor, f"{job.file}: {duplicates} (reset anyway: --force)")
    if job.target_plugin.replaces_all(state.target_config):
        _warn(
            redactor,
            f"{job.file}: the target replaces the table every run, which reads the source "
            "from the start anyway",
        )
    _report(args, redactor, state, reset(state, args.stream))
    return EXIT_OK


def command_set(args: argparse.Namespace, redactor: Redactor) -> int:
    """Set one stream's bookmark (or the whole state from a file)."""
    state = _load(args, redactor)
    job = state.job
    if args.file is not None:
        change = set_state(state, read_state_file(job, home_of(args).resolve(args.file)))
    else:
        stream = check_stream(state, args.stream or job.asset.object)
        if args.bookmark is not None:
            bookmark = parse_bookmark(job, args.bookmark)
        else:
            key = replication_key(state, stream)
            current = stream_bookmark(state.point.state, stream) or {}
            bookmark = {k: v for k, v in current.items() if k != "progress_markers"}
            bookmark.update(replication_key=key, replication_key_value=parse_value(job, key, args.value))
        change = set_bookmark(state, stream, bookmark)
    duplicates = _duplicates(job, state)
    if duplicates:
        _warn(
            redactor,
            f"{job.file}: rows after the new bookmark that are already in the target "
            f"will land again: {duplicates}",
        )
    _report(args, redactor, state, change)
    return EXIT_OK
