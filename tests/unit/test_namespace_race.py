"""Writers that create one namespace at the same moment in one SQL catalog all carry on."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

from pyiceberg.catalog.sql import SqlCatalog
from target_iceberg.ownership import OWNER_PROPERTY, claim_namespace

WRITERS = 6
NAMESPACES = 15


def _writer(root: str, start: multiprocessing.synchronize.Barrier) -> list[str]:
    catalog = SqlCatalog("lake", uri=f"sqlite:///{root}/catalog.db", warehouse=f"file://{root}")
    problems = []
    start.wait()
    for index in range(NAMESPACES):
        try:
            claim_namespace(catalog, f"acme_{index}", "acme")
        except Exception as exc:  # what a writer would have failed with
            problems.append(f"{type(exc).__name__}: {exc}")
    return problems


def test_concurrent_creators_of_one_namespace_all_carry_on(tmp_path: Path) -> None:
    SqlCatalog("lake", uri=f"sqlite:///{tmp_path}/catalog.db", warehouse=f"file://{tmp_path}")
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager:
        start = manager.Barrier(WRITERS)
        with context.Pool(WRITERS) as pool:
            results = pool.starmap(_writer, [(str(tmp_path), start)] * WRITERS)
    assert [p for problems in results for p in problems] == []
    catalog = SqlCatalog("lake", uri=f"sqlite:///{tmp_path}/catalog.db", warehouse=f"file://{tmp_path}")
    owners = {catalog.load_namespace_properties(f"acme_{i}").get(OWNER_PROPERTY) for i in range(NAMESPACES)}
    assert owners == {"acme"}
