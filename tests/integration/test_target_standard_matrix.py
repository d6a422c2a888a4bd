"""singer-sdk's standard target suite on every catalog x store combination, and the tables read
back and compared value by value."""

from __future__ import annotations

import tempfile
import uuid
from pathlib import Path

import pytest
from singer_sdk.testing import get_target_test_class
from target_iceberg.target import TargetIceberg

from tests import services
from tests.helpers.read_back import READ_BACK_MATRIX_FILES, assert_tables_hold_what_was_sent

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


# Removed when the interpreter exits (each suite's config must exist when its class is built).
_FOLDERS: list[tempfile.TemporaryDirectory[str]] = []


def _suite(combination: str) -> type:
    _FOLDERS.append(tempfile.TemporaryDirectory(prefix="dativo-std-"))
    folder = Path(_FOLDERS[-1].name)
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

        @pytest.mark.parametrize("name", READ_BACK_MATRIX_FILES)
        def test_tables_hold_what_was_sent(self, name: str, tmp_path: Path) -> None:
            assert_tables_hold_what_was_sent({**config, "namespace": f"{suffix}_{name}"}, name, tmp_path)

    Suite.__name__ = Suite.__qualname__ = f"TestTargetIceberg_{combination.replace('+', '_')}"
    return Suite


TestTargetIcebergPostgresFile = _suite("postgres+file")
TestTargetIcebergSqliteS3 = _suite("sqlite+s3")
TestTargetIcebergRestS3 = _suite("rest+s3")
TestTargetIcebergSqliteAzure = _suite("sqlite+azure")
