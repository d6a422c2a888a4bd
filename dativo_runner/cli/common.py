"""What every command shares: options, the project home, loading a job, printing errors."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from dativo_runner.errors import ConfigError
from dativo_runner.home import ProjectHome
from dativo_runner.job_config import Job, load_job_config
from dativo_runner.log_lines import emit
from dativo_runner.secrets import Redactor


def add_common_options(parser: argparse.ArgumentParser) -> None:
    """``--home``, ``--secrets-dir`` and ``--mode``."""
    parser.add_argument("--home", help="project home (default: $DATIVO_HOME or the current directory)")
    parser.add_argument("--secrets-dir", type=Path, help="folder of <tenant>/*.env and *.json secrets")
    parser.add_argument("--mode", choices=["self_hosted", "cloud"], default="self_hosted")


def home_of(args: argparse.Namespace) -> ProjectHome:
    """The project home the options name."""
    return ProjectHome.from_option(args.home)


def secrets_dir(home: ProjectHome, args: argparse.Namespace) -> Path | None:
    """``--secrets-dir`` resolved against the home (it must exist)."""
    if args.secrets_dir is None:
        return None
    folder = typed_path(home, args.secrets_dir)
    if not folder.is_dir():
        raise ConfigError(f"{args.secrets_dir}: {home.not_found('secrets folder')}")
    return folder


def typed_path(home: ProjectHome, value: Path) -> Path:
    """A path option: relative to the home, or, when it is not there but is in the current
    folder, as the user typed it (``--config main/jobs/x.yaml --home main``)."""
    in_home = home.resolve(value)
    if not value.is_absolute() and not in_home.exists() and value.exists():
        return Path(os.path.abspath(value))
    return in_home


def load_job(args: argparse.Namespace, path: Path | None = None, redactor: Redactor | None = None) -> Job:
    """The job of ``--config`` (or ``path``), loaded and validated with its secrets."""
    home = home_of(args)
    return load_job_config(
        typed_path(home, path or args.config),
        home,
        mode=args.mode,
        secrets_dir=secrets_dir(home, args),
        redactor=redactor,
    )


def job_files(home: ProjectHome, args: argparse.Namespace) -> list[Path]:
    """``--config`` alone, or every YAML file below ``--job-dir``."""
    if args.config is not None:
        return [typed_path(home, args.config)]
    folder = typed_path(home, args.job_dir)
    if not folder.is_dir():
        raise ConfigError(f"{args.job_dir}: {home.not_found('job folder')}")
    files = sorted(p for p in folder.rglob("*.y*ml") if p.suffix in (".yaml", ".yml"))
    if not files:
        raise ConfigError(f"{args.job_dir}: no job YAML files in this folder")
    return files


def print_error(message: str, redactor: Redactor | None = None, job: str | None = None) -> None:
    """One ``dativo: error:`` line on stderr (a JSON object with ``--log-format json``, whose
    ``job`` is ``<tenant>/<job>`` when given), redacted; the only way errors leave the CLI."""
    text = redactor.redact(message) if redactor is not None else message
    text = text.removeprefix("dativo: error: ").removeprefix("dativo: ")
    emit("error", "error", text, text=f"dativo: error: {text}", job=job)


def print_warning(message: str, redactor: Redactor | None = None) -> None:
    """One ``dativo: warning:`` line on stderr (JSON with ``--log-format json``), redacted."""
    text = redactor.redact(message) if redactor is not None else message
    emit("warning", "warning", text, text=f"dativo: warning: {text}")


def say(text: str, event: str = "note") -> None:
    """One informational ``dativo: ...`` line on stderr (JSON with ``--log-format json``)."""
    emit("info", event, text, text=f"dativo: {text}")
