"""A throwaway project home for end-to-end runs of the `dativo` CLI."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
DEALS_HEADER = (
    "deal_id,deal_name,company,stage,amount,currency,probability,is_won,owner_email,created_at,close_date"
)


@dataclass
class Project:
    """A copy of the repo's registry, connectors and assets in a temp folder, plus jobs/data."""

    root: Path

    @classmethod
    def create(cls, root: Path) -> Project:
        """Copy the configuration folders of the repo into ``root``."""
        for folder in ("registry", "connectors", "assets", "configs"):
            shutil.copytree(REPO / folder, root / folder)
        (root / "jobs").mkdir()
        (root / "data").mkdir()
        return cls(root)

    def write(self, relative: str, text: str) -> Path:
        """Write a file under the home."""
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    def write_job(self, name: str, job: dict[str, Any], tenant: str = "acme") -> Path:
        """Write ``jobs/<tenant>/<name>.yaml``."""
        return self.write(f"jobs/{tenant}/{name}.yaml", yaml.safe_dump(job, sort_keys=False))

    def deals_job(self, **overrides: Any) -> dict[str, Any]:
        """The CSV deals job over ``data/deals/*.csv`` into the embedded catalog."""
        job: dict[str, Any] = {
            "tenant_id": "acme",
            "environment": "test",
            "source_connector": "csv",
            "source_connector_path": "connectors/sources/csv.yaml",
            "target_connector": "iceberg",
            "target_connector_path": "connectors/targets/iceberg.yaml",
            "asset": "csv_deals",
            "asset_path": "assets/csv/v1.0/deals.yaml",
            "source": {
                "objects": ["deals"],
                "files": [{"object": "deals", "path": "data/deals/*.csv"}],
            },
            "target": {},
        }
        job.update(overrides)
        return job

    def write_deals(self, name: str, rows: list[str]) -> Path:
        """A deals CSV with the standard header."""
        return self.write(f"data/deals/{name}", "\n".join([DEALS_HEADER, *rows]) + "\n")

    def dativo(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """Run the `dativo` CLI with this home; captures stdout and stderr."""
        full_env = {**os.environ, **(env or {})}
        full_env.pop("DATIVO_HOME", None)
        return subprocess.run(
            [sys.executable, "-m", "dativo_runner", *args, "--home", str(self.root)],
            cwd=self.root,
            env=full_env,
            capture_output=True,
            text=True,
            timeout=300,
        )

    def run_json(self, *args: str, env: dict[str, str] | None = None) -> tuple[int, dict[str, Any], str]:
        """`dativo run --json ...`: exit code, parsed summary, stderr."""
        result = self.dativo("run", "--json", *args, env=env)
        summary = json.loads(result.stdout) if result.stdout.strip() else {}
        return result.returncode, summary, result.stderr

    def files_under(self, folder: str) -> list[Path]:
        """Every file below a folder of the home (empty when it does not exist)."""
        base = self.root / folder
        return sorted(p for p in base.rglob("*") if p.is_file()) if base.exists() else []
