"""docs/reference/ is what scripts/gen_reference.py writes today (else: run `make reference`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CHECKED_IN = REPO / "docs" / "reference"
REFRESH = "docs/reference is stale: run `make reference` (python scripts/gen_reference.py) and commit it"


def _files(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): p.read_text() for p in sorted(root.rglob("*.md"))}


def test_checked_in_reference_matches_a_fresh_generation(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "gen_reference.py"), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    fresh, current = _files(tmp_path), _files(CHECKED_IN)
    assert sorted(fresh) == sorted(current), REFRESH
    stale = [name for name in fresh if fresh[name] != current[name]]
    assert not stale, f"{REFRESH} (differs: {', '.join(stale)})"
    assert "connectors/tap-csv.md" in fresh and "CONFIGURATION.md" in fresh


def test_every_schema_property_has_a_description() -> None:
    sys.path.insert(0, str(REPO / "scripts"))
    try:
        import gen_reference
    finally:
        sys.path.pop(0)
    import json

    missing = []
    for path in sorted((REPO / "dativo_runner" / "schemas").rglob("*.schema.json")):
        schema = json.loads(path.read_text())
        for field, sub, _ in gen_reference.fields(schema, schema):
            if not sub.get("description"):
                missing.append(f"{path.name}: {field}")
    assert not missing, "schema properties without a description:\n" + "\n".join(missing)
