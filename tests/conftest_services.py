"""pytest fixtures for the local test services (PostgreSQL, SeaweedFS, Azurite, MariaDB).

Loaded as a plugin (``pytest_plugins = ["tests.conftest_services"]`` in tests/conftest.py, or
``-p tests.conftest_services``). A service that is not answering is started with
``scripts/services.sh start <name>`` (which needs ``scripts/services.sh install`` once per
machine); services are left running after the session, stop them with
``scripts/services.sh stop``.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import pytest

from tests import services


def _ensure(name: str):
    try:
        services.ensure_up(name)
    except (RuntimeError, OSError) as exc:
        pytest.fail(
            f"local service {name!r} is not available: {exc}\n"
            f"(run `scripts/services.sh install {name}` once, then retry)",
            pytrace=False,
        )
    return services.service_info(name)


@pytest.fixture(scope="session")
def pg_service() -> services.PostgresService:
    """The PostgreSQL 15 service on 127.0.0.1 (database ``dativo``, user ``postgres``)."""
    info = _ensure("postgres")
    assert isinstance(info, services.PostgresService)
    return info


@pytest.fixture(scope="session")
def seaweedfs_service() -> services.SeaweedFSService:
    """SeaweedFS: S3 gateway + Iceberg REST catalog on 127.0.0.1."""
    info = _ensure("seaweedfs")
    assert isinstance(info, services.SeaweedFSService)
    return info


@pytest.fixture(scope="session")
def azurite_service() -> services.AzuriteService:
    """Azurite blob emulator on 127.0.0.1 (account devstoreaccount1)."""
    info = _ensure("azurite")
    assert isinstance(info, services.AzuriteService)
    return info


@pytest.fixture(scope="session")
def mariadb_service() -> services.MariaDBService:
    """MariaDB 10.11 on 127.0.0.1 (database ``dativo``, user ``root`` without a password)."""
    info = _ensure("mariadb")
    assert isinstance(info, services.MariaDBService)
    return info


_SERVICE_FIXTURES = {
    "postgres": "pg_service",
    "seaweedfs": "seaweedfs_service",
    "azurite": "azurite_service",
    "mariadb": "mariadb_service",
}


def unique_suffix(request: pytest.FixtureRequest) -> str:
    """A short lowercase suffix, unique per test, usable in namespaces, paths and buckets."""
    name = re.sub(r"[^a-z0-9]+", "_", request.node.name.lower()).strip("_")[-24:]
    return f"{name}_{uuid.uuid4().hex[:8]}".strip("_")


@pytest.fixture(params=services.COMBINATIONS)
def catalog_props(request: pytest.FixtureRequest, tmp_path) -> Iterator[dict[str, str]]:
    """A fresh pyiceberg catalog property dict, once per catalog x store combination.

    Use with ``load_catalog(name, **catalog_props)``. Catalogs/warehouses that are shared
    between tests (PostgreSQL catalog, REST catalog) need a namespace unique to the test:
    ``catalog_namespace`` gives one.
    """
    combination: str = request.param
    for service in services.REQUIRED_SERVICES[combination]:
        request.getfixturevalue(_SERVICE_FIXTURES[service])
    yield services.catalog_props(combination, tmp_path, unique_suffix(request))


@pytest.fixture
def catalog_namespace(request: pytest.FixtureRequest) -> str:
    """A namespace name unique to this test (safe in shared catalogs)."""
    return f"t_{unique_suffix(request)}"
