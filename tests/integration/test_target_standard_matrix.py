"""singer-sdk's standard target suite on every catalog x store combination."""

from __future__ import annotations

import tempfile
import uuid
from pathlib import Path

import pytest
from singer_sdk.testing import get_target_test_class
from target_iceberg.target import TargetIceberg

from tests import services

pytestmark = pytest.mark.integration

_FIXTURE_OF_SERVICE = {
    "postgres": "pg_service",
    "seaweedfs": "seaweedfs_service",
    "azurite": "azurite_service",
}


def _props(combination: str, folder: Path, suffix: str) -> dict[str, str]:
    # Built without touching the services (they are started by fixtures, not at import).
    builders = {
        "sqlite+file": lambda: services.sqlite_file_props(folder, suffix),
        "postgres+file": lambda: services.postgres_file_props(folder, suffix),
        "sqlite+s3": lambda: services.sqlite_s3_props(folder, suffix),
        "rest+s3": lambda: services.rest_s3_props(suffix),
        "sqlite+azure": lambda: services.sqlite_azure_props(folder, suffix),
    }
    return builders[combination]()


def _suite(combination: str) -> type:
    folder = Path(tempfile.mkdtemp(prefix="dativo-std-"))
    suffix = f"std_{combination.replace('+', '_')}_{uuid.uuid4().hex[:6]}"
    config = {
        "catalog": _props(combination, folder, suffix),
        "namespace": suffix,
        "dead_letter_dir": str(folder / "dead"),
    }
    base = get_target_test_class(target_class=TargetIceberg, config=config)

    class Suite(base):  # type: ignore[misc, valid-type]
        @pytest.fixture(autouse=True)
        def _services_up(self, request: pytest.FixtureRequest) -> None:
            for service in services.REQUIRED_SERVICES[combination]:
                request.getfixturevalue(_FIXTURE_OF_SERVICE[service])
            if combination == "sqlite+s3":
                services.ensure_s3_bucket()
            if combination == "sqlite+azure":
                services.ensure_azure_container(services.AZURE_CONTAINER)

    Suite.__name__ = Suite.__qualname__ = f"TestTargetIceberg_{combination.replace('+', '_')}"
    return Suite


TestTargetIcebergPostgresFile = _suite("postgres+file")
TestTargetIcebergSqliteS3 = _suite("sqlite+s3")
TestTargetIcebergRestS3 = _suite("rest+s3")
TestTargetIcebergSqliteAzure = _suite("sqlite+azure")
