"""The project's distributions (dativo_singer/, taps/*/, targets/*/, each with a pyproject.toml) and
clean virtualenvs to install one of them into (tests, benchmarks/dist_size_bench.py)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import tomllib

REPO = Path(__file__).resolve().parents[2]
# Libraries of the platform that a tap installed alone must not bring.
PLATFORM_HEAVY = ("pyiceberg", "connectorx", "adbc-driver", "azure-", "google-", "dagster", "pyarrow", "boto")
BASE = ("pip", "setuptools", "wheel")  # what `python -m venv` puts in every venv
_BUILT = shutil.ignore_patterns("build", "*.egg-info", "__pycache__")


def local_projects() -> dict[str, tuple[Path, dict[str, Any]]]:
    """Distribution name -> (folder, [project] table) for every distribution but the root one."""
    found = {}
    for path in [REPO / "dativo_singer" / "pyproject.toml", *sorted(REPO.glob("t*/*/pyproject.toml"))]:
        project = tomllib.loads(path.read_text())["project"]
        found[project["name"]] = (path.parent, project)
    return found


def _name_and_extras(requirement: str) -> tuple[str, list[str]]:
    match = re.match(r"\s*([A-Za-z0-9_.-]+)\s*(?:\[([^\]]*)\])?", requirement)
    assert match, requirement
    extras = [e.strip() for e in (match.group(2) or "").split(",") if e.strip()]
    return match.group(1).lower().replace("_", "-"), extras


def declared_requirements(name: str, extras: tuple[str, ...] = ()) -> set[str]:
    """Every third-party distribution name that ``name[extras]`` declares, through the local
    distributions it depends on (their own requirements, not what those bring in turn)."""
    projects = local_projects()
    found: set[str] = set()
    pending = [(name, list(extras))]
    seen: set[tuple[str, tuple[str, ...]]] = set()
    while pending:
        current, wanted = pending.pop()
        key = (current, tuple(sorted(wanted)))
        if key in seen:
            continue
        seen.add(key)
        project = projects[current][1]
        requirements = list(project.get("dependencies", []))
        for extra in wanted:
            requirements += project.get("optional-dependencies", {}).get(extra, [])
        for requirement in requirements:
            dependency, its_extras = _name_and_extras(requirement)
            if dependency in projects:
                pending.append((dependency, its_extras))
            else:
                found.add(dependency)
    return found


def make_venv(folder: Path, *requirements: str, pip_args: tuple[str, ...] = ()) -> Path:
    """A new virtualenv at ``folder`` with ``requirements`` pip-installed (from the package index
    as pip is configured); its python."""
    subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True, timeout=120)
    python = folder / "bin" / "python"
    # A local folder is built from a copy: setuptools writes build/ beside the sources it builds.
    sources = [
        str(shutil.copytree(r, folder / "src" / Path(r).name, ignore=_BUILT)) if Path(r).is_dir() else r
        for r in requirements
    ]
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", *pip_args, *sources],
        check=True,
        capture_output=True,
        timeout=900,
    )
    return python


def venv_env() -> dict[str, str]:
    """This environment without PYTHONPATH: a program of the venv sees the venv's packages only."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}


def installed(python: Path) -> dict[str, str]:
    """Distribution name -> version installed in that venv, without pip and setuptools."""
    code = "import importlib.metadata as m, json; print(json.dumps({d.metadata['Name']: d.version for d in m.distributions()}))"
    # -I: neither PYTHONPATH nor the current folder (a checkout holds egg-info of its own)
    out = subprocess.run([str(python), "-I", "-c", code], check=True, capture_output=True, text=True).stdout
    names: dict[str, str] = json.loads(out)
    return {n.lower().replace("_", "-"): v for n, v in names.items() if n.lower() not in BASE}


def site_packages_mb(python: Path) -> float:
    """MB on disk of the venv's site-packages (every file, pip and setuptools included)."""
    code = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    site = Path(subprocess.run([str(python), "-c", code], check=True, capture_output=True, text=True).stdout.strip())
    return sum(p.stat().st_size for p in site.rglob("*") if p.is_file() and not p.is_symlink()) / 1e6
