"""`dativo discover`: the streams and fields a source offers, through its plugin and tap."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from dativo_runner.cli.common import add_common_options, home_of, load_job, secrets_dir
from dativo_runner.cli.source_options import add_source_options, default_object, draft_options
from dativo_runner.discovery import DiscoveredStream
from dativo_runner.drafts import Draft, load_draft, plan_draft
from dativo_runner.errors import EXIT_OK
from dativo_runner.job_config import Job
from dativo_runner.secrets import Redactor
from dativo_runner.value_sample import with_value_pii

EXAMPLES = """examples:
  dativo discover --config jobs/acme/postgres_orders_to_iceberg.yaml
  dativo discover --connector postgres --host 127.0.0.1 --user postgres --database shop --object public.orders
  dativo discover --connector csv --path 'data/deals/*.csv' --json
  dativo discover --connector stripe --tenant acme --secrets-dir secrets --object customers"""


def add_parser(sub: Any) -> None:
    """Register the subcommand."""
    discover = sub.add_parser(
        "discover",
        help="list the streams and fields a source offers",
        description="Run the source's tap in discovery mode and print each stream: its fields with "
        "types, its key and the fields that can serve as an incremental cursor. Nothing is written.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    what = discover.add_mutually_exclusive_group(required=True)
    what.add_argument("--config", type=Path, help="job YAML file: discover its source")
    what.add_argument("--connector", help="source connector name (registry/connectors.yaml)")
    discover.add_argument("--tenant", default="default", help="tenant whose secrets are used (--connector)")
    add_source_options(
        discover,
        "table ([schema.]table; schema.* for a whole schema) or object to show (default: every stream)",
    )
    add_common_options(discover)
    discover.add_argument("--json", action="store_true", help="print the streams as one JSON object")
    discover.set_defaults(command=command_discover)


def discovery_job(args: argparse.Namespace, redactor: Redactor) -> Job:
    """The job of ``--config``, or one drafted from ``--connector`` and the source options."""
    if args.config is not None:
        return load_job(args, redactor=redactor)
    home = home_of(args)
    name = default_object(args)
    display = f"--connector {args.connector}"
    draft = Draft(args.connector, "iceberg", args.tenant, name, {}, {}, display)
    draft = plan_draft(home, draft, draft_options(args, name), mode=args.mode)
    return load_draft(home, draft, mode=args.mode, secrets_dir=secrets_dir(home, args), redactor=redactor)


def render_text(source: str, streams: list[DiscoveredStream]) -> str:
    """Each stream with its key, cursor candidates and fields, aligned."""
    lines = [f"{source}: {len(streams)} stream{'s' if len(streams) != 1 else ''}"]
    for stream in streams:
        facts = [f"key: {', '.join(stream.key_properties) or '-'}"]
        if stream.replication_key:
            facts.append(f"replication key: {stream.replication_key}")
        facts.append(f"cursor candidates: {', '.join(stream.replication_key_candidates) or '-'}")
        if stream.sampled_rows is not None:
            facts.append(f"types from {stream.sampled_rows} sampled rows")
        lines += ["", f"{stream.stream}  ({'; '.join(facts)})"]
        width = max((len(f.name) for f in stream.fields), default=0)
        for field in stream.fields:
            kind = f"array<{field.items}>" if field.items else field.type
            flags = [] if field.nullable else ["not null"]
            if field.name in stream.key_properties:
                flags.append("key")
            if field.pii:
                flags.append(f"PII? values look like {field.pii.replace('_', ' ')}s")
            lines.append(f"  {field.name.ljust(width)}  {kind.ljust(14)} {' '.join(flags)}".rstrip())
        lines += [f"  note: {note}" for note in stream.notes]
    return "\n".join(lines)


def command_discover(args: argparse.Namespace, redactor: Redactor) -> int:
    """Print the streams (text, or JSON with ``--json``)."""
    job = discovery_job(args, redactor)
    streams = with_value_pii(job, job.source_plugin.discover(job))
    source = job.source_entry.name
    if args.json:
        text = json.dumps({"source": source, "streams": [s.to_dict() for s in streams]}, indent=2)
    else:
        text = render_text(source, streams)
    print(redactor.redact(text))
    return EXIT_OK
