"""The README's snippets that read the demo table with pyiceberg and DuckDB work as written."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from tests.helpers import duckdb_reader
from tests.helpers.project import REPO, Project

pytestmark = pytest.mark.integration


def _snippets() -> list[str]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("## Reading the tables with other tools", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)


def test_readme_reads_the_demo_table_with_pyiceberg_and_duckdb(project: Project, capsys) -> None:
    shutil.copytree(REPO / "data" / "deals", project.root / "data" / "deals", dirs_exist_ok=True)
    shutil.copytree(REPO / "jobs", project.root / "jobs", dirs_exist_ok=True)
    result = project.dativo("run", "--config", "jobs/acme/csv_deals_to_iceberg.yaml")
    assert result.returncode == 0, result.stderr

    pyiceberg_code, duckdb_code = _snippets()
    # The one change: DuckDB's extensions come from site-packages here (no network), not INSTALL.
    offline = duckdb_code.replace(
        'con = duckdb.connect()\ncon.sql("INSTALL iceberg; LOAD iceberg")\n', "con = connect()\n"
    )
    assert offline != duckdb_code
    namespace: dict[str, object] = {"connect": duckdb_reader.connect}
    cwd = Path.cwd()
    os.chdir(project.root)
    try:
        exec(pyiceberg_code, namespace)
        exec(offline, namespace)
    finally:
        os.chdir(cwd)
    assert capsys.readouterr().out.splitlines() == ["5000", "(5000,)"]
