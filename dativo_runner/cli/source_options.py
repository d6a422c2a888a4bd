"""Options describing a source on the command line (`dativo discover --connector`, `dativo
generate config`): connection, paths, ids, and ``--set`` for any other source-block key."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import yaml

from dativo_runner.drafts import DraftOptions, identifier
from dativo_runner.errors import ConfigError, Problem

_GLOB = set("*?[")


def add_source_options(parser: argparse.ArgumentParser, object_help: str) -> None:
    """The options of :class:`DraftOptions`."""
    group = parser.add_argument_group(
        "source (connection and path options; each connector uses what applies)"
    )
    group.add_argument("--object", help=object_help)
    group.add_argument("--path", help="csv, markdown_kv: file, folder or glob (relative to the home)")
    group.add_argument("--host", help="postgres, mysql: server host (default ${PG_HOST} / ${MYSQL_HOST})")
    group.add_argument("--port", help="postgres, mysql: server port")
    group.add_argument("--user", help="postgres, mysql: user")
    group.add_argument("--database", help="postgres, mysql: database")
    group.add_argument(
        "--password-secret",
        metavar="NAME",
        help="postgres, mysql: the tenant secret (or variable) holding the password "
        "(default PG_PASSWORD / MYSQL_PASSWORD, empty when unset)",
    )
    group.add_argument(
        "--secret", metavar="NAME", help="API sources: the tenant secret holding the key or token"
    )
    group.add_argument("--api-url", help="API sources: base URL (a proxy or an emulator)")
    group.add_argument("--folder-id", help="gdrive_csv: the Drive folder's id")
    group.add_argument("--name-pattern", help="gdrive_csv: file names to read (default *.csv)")
    group.add_argument("--spreadsheet-id", help="google_sheets: the spreadsheet's id")
    group.add_argument("--range", help="google_sheets: a tab title or an A1 range")
    group.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="any other source-block key (YAML value; dotted keys nest), e.g. --set delimiter=';'",
    )


def _settings(pairs: list[str]) -> dict[str, Any]:
    settings: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError([Problem("--set", "", f"{pair!r} is not KEY=VALUE")])
        try:
            settings[key.strip()] = yaml.safe_load(text) if text.strip() else ""
        except yaml.YAMLError:
            settings[key.strip()] = text
    return settings


def default_object(args: argparse.Namespace) -> str | None:
    """``--object``, else for a file source the file's stem (or its folder's name for a glob)."""
    if args.object:
        return str(args.object)
    if not args.path:
        return None
    parts = [part for part in Path(args.path).parts if not _GLOB & set(part)]
    return identifier(Path(parts[-1]).stem) if parts else None


def draft_options(args: argparse.Namespace, object_name: str | None) -> DraftOptions:
    """The options given, as :class:`DraftOptions`."""
    return DraftOptions(
        object=object_name,
        path=args.path,
        host=args.host,
        port=args.port,
        user=args.user,
        database=args.database,
        password_secret=args.password_secret,
        secret=args.secret,
        api_url=args.api_url,
        folder_id=args.folder_id,
        name_pattern=args.name_pattern,
        spreadsheet_id=args.spreadsheet_id,
        range=args.range,
        settings=_settings(args.set),
    )
