"""`dativo generate config`: a job YAML and an asset spec written from a source's discovery."""

from __future__ import annotations

import argparse
import json
import shlex
from typing import Any

from dativo_runner.cli.common import add_common_options, home_of, secrets_dir
from dativo_runner.cli.source_options import add_source_options, default_object, draft_options
from dativo_runner.drafts import Draft, load_draft, object_name, plan_draft
from dativo_runner.errors import EXIT_OK, ConfigError, Problem
from dativo_runner.generate_config import paths_for, refuse_overwrite, write_checked
from dativo_runner.secrets import Redactor
from dativo_runner.value_sample import with_value_pii

EXAMPLES = """examples:
  dativo generate config --source postgres --object public.orders --tenant acme \\
      --host 127.0.0.1 --user postgres --database shop
  dativo generate config --source csv --path 'data/deals/*.csv' --object deals --tenant acme --target s3
  dativo generate config --source stripe --object customers --tenant acme --secrets-dir secrets

Writes jobs/<tenant>/<source>_<object>_to_<target>.yaml and assets/<source>/v1.0/<object>.yaml;
an existing file is kept unless --force is given."""


def add_parser(sub: Any) -> None:
    """Register ``generate`` and its ``config`` subcommand."""
    generate = sub.add_parser(
        "generate",
        help="write configuration from a source (generate config)",
        description="Write project files from what a source offers.",
        epilog="example: dativo generate config --source csv --path 'data/deals/*.csv' --tenant acme",
    )
    kinds = generate.add_subparsers(dest="generate_what", required=True)
    config = kinds.add_parser(
        "config",
        help="write a job and an asset spec for one source object",
        description="Discover one object of a source, then write an asset spec (its schema, a guessed "
        "PII classification, a governance block to complete) and a job reading it into the target. "
        "Both are checked as `dativo run` checks them before they are kept.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    config.add_argument("--source", required=True, help="source connector name (registry/connectors.yaml)")
    config.add_argument("--tenant", required=True, help="tenant of the job (its secrets are used)")
    config.add_argument(
        "--target",
        default="iceberg",
        help="target connector (registry/connectors.yaml; default iceberg)",
    )
    config.add_argument(
        "--force", action="store_true", help="overwrite the job and asset files if they exist"
    )
    add_source_options(config, "the object: [schema.]table, API object, or file object (required)")
    add_common_options(config)
    config.add_argument("--json", action="store_true", help="print what was written as one JSON object")
    config.set_defaults(command=command_generate_config)


def command_generate_config(args: argparse.Namespace, redactor: Redactor) -> int:
    """Discover the object, write both files, print them and the next command."""
    home = home_of(args)
    display = f"--source {args.source}"
    name = default_object(args)
    if not name:
        raise ConfigError(
            [Problem(display, "--object", "is required (the table, API object or file object)")]
        )
    refuse_overwrite(home, paths_for(home, args.source, name, args.tenant, args.target), args.force)
    secrets = secrets_dir(home, args)
    draft = Draft(args.source, args.target, args.tenant, name, {}, {}, display)
    draft = plan_draft(home, draft, draft_options(args, name), mode=args.mode)
    job = load_draft(home, draft, mode=args.mode, secrets_dir=secrets, redactor=redactor)
    streams = [s for s in job.source_plugin.discover(job) if object_name(s.stream) == object_name(name)]
    streams = with_value_pii(job, streams[:1])
    if not streams:
        raise ConfigError(
            [Problem(display, "--object", f"the source offers no stream {name!r} (see dativo discover)")]
        )
    stream = streams[0]
    if not stream.fields:
        raise ConfigError([Problem(display, "--object", f"discovery found no fields in {stream.stream!r}")])
    written = write_checked(
        job, draft, stream, force=args.force, mode=args.mode, secrets_dir=secrets, redactor=redactor
    )
    run = ["dativo", "run", "--config", home.display(written.job_path)]
    if args.secrets_dir is not None:
        run += ["--secrets-dir", str(args.secrets_dir)]
    if args.home:
        run += ["--home", str(args.home)]
    fields = written.asset["asset"]["schema"]
    pii = [f["name"] for f in fields if f.get("classification") == "PII"]
    if args.json:
        print(
            redactor.redact(
                json.dumps(
                    {
                        "job": home.display(written.job_path),
                        "asset": home.display(written.asset_path),
                        "stream": stream.stream,
                        "fields": len(fields),
                        "primary_key": list(stream.key_properties),
                        "pii": pii,
                        "incremental": written.incremental,
                        "next": shlex.join(run),
                    },
                    indent=2,
                )
            )
        )
        return EXIT_OK
    key = ", ".join(stream.key_properties) or "none (add primary_key to merge on a key)"
    cursor = (
        written.incremental.get("cursor_field")
        or written.incremental.get("strategy")
        or "the source's default"
    )
    lines = [
        f"wrote {home.display(written.asset_path)}: {len(fields)} fields, key {key}, "
        f"PII guessed: {', '.join(pii) or 'none'}",
        f"wrote {home.display(written.job_path)}: {stream.stream} into {args.target}, incremental: {cursor}",
        f"review the asset (governance.owner is {written.asset['asset']['governance']['owner']}), then run:",
        f"  {shlex.join(run)}",
    ]
    print(redactor.redact("\n".join(lines)))
    return EXIT_OK
