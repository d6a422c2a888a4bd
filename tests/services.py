"""Connection info for the local test services started by ``scripts/services.sh``.

Importable without pytest. Ports and credentials follow the same environment overrides and
defaults as the script (see docs/SERVICES.md). Everything listens on 127.0.0.1 only.

The ``*_props`` helpers return pyiceberg catalog property dicts for each catalog x store
combination the tests use; pass them as ``load_catalog(name, **props)``.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SERVICES_SCRIPT = REPO / "scripts" / "services.sh"
HOST = "127.0.0.1"
SERVICE_NAMES = ("postgres", "seaweedfs", "azurite", "mariadb")


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


def _env_str(name: str, default: str) -> str:
    return os.environ.get(name, "").strip() or default


@dataclass(frozen=True)
class PostgresService:
    host: str
    port: int
    user: str
    db: str

    @property
    def dsn(self) -> str:
        """libpq URI (psycopg2.connect, psql)."""
        return f"postgresql://{self.user}@{self.host}:{self.port}/{self.db}"

    @property
    def sqlalchemy_uri(self) -> str:
        """SQLAlchemy URI, as pyiceberg's SQL catalog wants it."""
        return f"postgresql+psycopg2://{self.user}@{self.host}:{self.port}/{self.db}"


@dataclass(frozen=True)
class MariaDBService:
    host: str
    port: int
    user: str
    db: str

    @property
    def sqlalchemy_uri(self) -> str:
        """SQLAlchemy URI (PyMySQL driver)."""
        return f"mysql+pymysql://{self.user}@{self.host}:{self.port}/{self.db}"

    def connect(self, database: str | None = None):
        """A PyMySQL connection (autocommit) as root over TCP."""
        import pymysql

        return pymysql.connect(
            host=self.host, port=self.port, user=self.user, database=database or self.db, autocommit=True
        )


@dataclass(frozen=True)
class SeaweedFSService:
    host: str
    s3_port: int
    rest_port: int
    access_key: str
    secret_key: str
    region: str
    bucket: str
    table_bucket: str

    @property
    def s3_endpoint(self) -> str:
        return f"http://{self.host}:{self.s3_port}"

    @property
    def rest_uri(self) -> str:
        return f"http://{self.host}:{self.rest_port}"

    @property
    def rest_warehouse(self) -> str:
        return f"s3://{self.table_bucket}/"

    @property
    def rest_credential(self) -> str:
        return f"{self.access_key}:{self.secret_key}"

    def s3_props(self) -> dict[str, str]:
        """pyiceberg FileIO properties for this S3 endpoint (path-style addressing)."""
        return {
            "s3.endpoint": self.s3_endpoint,
            "s3.access-key-id": self.access_key,
            "s3.secret-access-key": self.secret_key,
            "s3.region": self.region,
            "s3.force-virtual-addressing": "false",
        }


# Azurite's well-known development account and its published key (not a secret).
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


@dataclass(frozen=True)
class AzuriteService:
    host: str
    port: int
    account: str = AZURITE_ACCOUNT
    key: str = AZURITE_KEY

    @property
    def blob_endpoint(self) -> str:
        return f"http://{self.host}:{self.port}/{self.account}"

    @property
    def connection_string(self) -> str:
        return (
            f"DefaultEndpointsProtocol=http;AccountName={self.account};AccountKey={self.key};"
            f"BlobEndpoint={self.blob_endpoint};"
        )

    def abfs_url(self, container: str, path: str = "") -> str:
        url = f"abfs://{container}@{self.account}.dfs.core.windows.net"
        return f"{url}/{path.strip('/')}" if path else url


def postgres() -> PostgresService:
    return PostgresService(
        host=HOST,
        port=_env_int("DATIVO_PG_PORT", 55432),
        user="postgres",
        db=_env_str("DATIVO_PG_DB", "dativo"),
    )


def mariadb() -> MariaDBService:
    return MariaDBService(
        host=HOST,
        port=_env_int("DATIVO_MYSQL_PORT", 53306),
        user="root",
        db=_env_str("DATIVO_MYSQL_DB", "dativo"),
    )


def seaweedfs() -> SeaweedFSService:
    return SeaweedFSService(
        host=HOST,
        s3_port=_env_int("DATIVO_S3_PORT", 58333),
        rest_port=_env_int("DATIVO_ICEBERG_REST_PORT", 58181),
        access_key=_env_str("DATIVO_S3_ACCESS_KEY", "dativo"),
        secret_key=_env_str("DATIVO_S3_SECRET_KEY", "dativo-secret-key"),
        region=_env_str("DATIVO_S3_REGION", "us-east-1"),
        bucket=_env_str("DATIVO_S3_BUCKET", "lake"),
        table_bucket=_env_str("DATIVO_ICEBERG_TABLE_BUCKET", "warehouse"),
    )


def azurite() -> AzuriteService:
    return AzuriteService(host=HOST, port=_env_int("DATIVO_AZURITE_BLOB_PORT", 51000))


def service_info(name: str) -> PostgresService | SeaweedFSService | AzuriteService | MariaDBService:
    if name == "postgres":
        return postgres()
    if name == "mariadb":
        return mariadb()
    if name == "seaweedfs":
        return seaweedfs()
    if name == "azurite":
        return azurite()
    raise ValueError(f"unknown service {name!r} (known: {', '.join(SERVICE_NAMES)})")


# --- liveness --------------------------------------------------------------------------------


def _port_open(port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=timeout):
            return True
    except OSError:
        return False


def _http_answers(url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout):
            return True
    except urllib.error.HTTPError:
        return True  # it answered HTTP, with an error status (e.g. 401 without a token)
    except (OSError, ValueError):
        return False


def _pg_accepts(info: PostgresService) -> bool:
    """The server accepts connections to the catalog database (not merely its TCP port)."""
    try:
        import psycopg2
    except ImportError:
        return True
    try:
        psycopg2.connect(info.dsn, connect_timeout=2).close()
        return True
    except psycopg2.Error:
        return False


def _mariadb_accepts(info: MariaDBService) -> bool:
    try:
        import pymysql
    except ImportError:
        return True
    try:
        info.connect().close()
        return True
    except pymysql.Error:
        return False


def is_up(name: str) -> bool:
    """True when the service answers on its loopback port(s)."""
    info = service_info(name)
    if isinstance(info, PostgresService):
        return _port_open(info.port) and _pg_accepts(info)
    if isinstance(info, MariaDBService):
        return _port_open(info.port) and _mariadb_accepts(info)
    if isinstance(info, SeaweedFSService):
        return _port_open(info.s3_port) and _http_answers(f"{info.rest_uri}/v1/config")
    return _port_open(info.port)


def start(*names: str, timeout: float = 180.0) -> None:
    """Run ``scripts/services.sh start NAMES`` (idempotent); raise RuntimeError on failure."""
    proc = subprocess.run(
        ["bash", str(SERVICES_SCRIPT), "start", *names],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(
            f"scripts/services.sh start {' '.join(names)} failed (exit {proc.returncode}):\n"
            f"{proc.stderr[-4000:]}"
        )


def ensure_up(name: str) -> None:
    if not is_up(name):
        start(name)
    if not is_up(name):
        raise RuntimeError(f"service {name} is still not answering after start")


# --- buckets and containers ------------------------------------------------------------------


def ensure_s3_bucket(bucket: str | None = None) -> str:
    """Create the S3 bucket on SeaweedFS if it does not exist; returns its name."""
    import boto3
    from botocore.config import Config

    sw = seaweedfs()
    bucket = bucket or sw.bucket
    client = boto3.client(
        "s3",
        endpoint_url=sw.s3_endpoint,
        aws_access_key_id=sw.access_key,
        aws_secret_access_key=sw.secret_key,
        region_name=sw.region,
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 3}),
    )
    existing = {b["Name"] for b in client.list_buckets().get("Buckets", [])}
    if bucket not in existing:
        with contextlib.suppress(client.exceptions.BucketAlreadyOwnedByYou):
            client.create_bucket(Bucket=bucket)
    return bucket


def ensure_azure_container(container: str) -> str:
    """Create the blob container on Azurite if it does not exist; returns its name."""
    from azure.core.exceptions import ResourceExistsError
    from azure.storage.blob import BlobServiceClient

    service = BlobServiceClient.from_connection_string(azurite().connection_string)
    with contextlib.suppress(ResourceExistsError):
        service.create_container(container)
    return container


# --- catalog property dicts --------------------------------------------------------------------

COMBINATIONS = ("sqlite+file", "postgres+file", "sqlite+s3", "rest+s3", "sqlite+azure")

# which services each combination needs
REQUIRED_SERVICES: dict[str, tuple[str, ...]] = {
    "sqlite+file": (),
    "postgres+file": ("postgres",),
    "sqlite+s3": ("seaweedfs",),
    "rest+s3": ("seaweedfs",),
    "sqlite+azure": ("azurite",),
}

AZURE_CONTAINER = "lake"


def _clean_suffix(suffix: str) -> str:
    cleaned = re.sub(r"[^a-z0-9_]+", "_", suffix.lower()).strip("_")
    if not cleaned:
        raise ValueError(f"suffix {suffix!r} has no usable characters")
    return cleaned


def _sqlite_uri(tmp_dir: Path, suffix: str) -> str:
    return f"sqlite:///{Path(tmp_dir).resolve() / f'catalog_{suffix}.db'}"


def _file_warehouse(tmp_dir: Path, suffix: str) -> str:
    wh = Path(tmp_dir).resolve() / f"warehouse_{suffix}"
    wh.mkdir(parents=True, exist_ok=True)
    return wh.as_uri()


def sqlite_file_props(tmp_dir: Path, suffix: str) -> dict[str, str]:
    """SQL catalog on SQLite in tmp_dir, file:// warehouse in tmp_dir."""
    suffix = _clean_suffix(suffix)
    return {
        "type": "sql",
        "uri": _sqlite_uri(tmp_dir, suffix),
        "warehouse": _file_warehouse(tmp_dir, suffix),
    }


def postgres_file_props(tmp_dir: Path, suffix: str) -> dict[str, str]:
    """SQL catalog on the PostgreSQL service, file:// warehouse in tmp_dir.

    The catalog tables are shared by all tests: use a namespace that contains the suffix.
    """
    suffix = _clean_suffix(suffix)
    return {
        "type": "sql",
        "uri": postgres().sqlalchemy_uri,
        "warehouse": _file_warehouse(tmp_dir, suffix),
    }


def sqlite_s3_props(tmp_dir: Path, suffix: str) -> dict[str, str]:
    """SQL catalog on SQLite, warehouse s3://<bucket>/<suffix> on SeaweedFS (pyarrow FileIO)."""
    suffix = _clean_suffix(suffix)
    sw = seaweedfs()
    return {
        "type": "sql",
        "uri": _sqlite_uri(tmp_dir, suffix),
        "warehouse": f"s3://{sw.bucket}/{suffix}",
        "py-io-impl": "pyiceberg.io.pyarrow.PyArrowFileIO",
        **sw.s3_props(),
    }


def rest_s3_props(suffix: str) -> dict[str, str]:
    """REST catalog served by SeaweedFS (OAuth2 client credentials = the S3 key pair).

    The warehouse is SeaweedFS's table bucket and is shared: use a namespace with the suffix.
    """
    _clean_suffix(suffix)
    sw = seaweedfs()
    return {
        "type": "rest",
        "uri": sw.rest_uri,
        "credential": sw.rest_credential,
        "warehouse": sw.rest_warehouse,
        "py-io-impl": "pyiceberg.io.pyarrow.PyArrowFileIO",
        **sw.s3_props(),
    }


def sqlite_azure_props(tmp_dir: Path, suffix: str) -> dict[str, str]:
    """SQL catalog on SQLite, warehouse abfs://<container>@devstoreaccount1.../wh/<suffix>."""
    suffix = _clean_suffix(suffix)
    az = azurite()
    return {
        "type": "sql",
        "uri": _sqlite_uri(tmp_dir, suffix),
        "warehouse": az.abfs_url(AZURE_CONTAINER, f"wh/{suffix}"),
        "adls.connection-string": az.connection_string,
        "py-io-impl": "pyiceberg.io.fsspec.FsspecFileIO",
    }


def catalog_props(combination: str, tmp_dir: Path, suffix: str) -> dict[str, str]:
    """Property dict for one combination; creates the bucket/container it needs.

    The services it needs must be up (see REQUIRED_SERVICES and ensure_up).
    """
    if combination == "sqlite+file":
        return sqlite_file_props(tmp_dir, suffix)
    if combination == "postgres+file":
        return postgres_file_props(tmp_dir, suffix)
    if combination == "sqlite+s3":
        ensure_s3_bucket()
        return sqlite_s3_props(tmp_dir, suffix)
    if combination == "rest+s3":
        return rest_s3_props(suffix)
    if combination == "sqlite+azure":
        ensure_azure_container(AZURE_CONTAINER)
        return sqlite_azure_props(tmp_dir, suffix)
    raise ValueError(f"unknown combination {combination!r} (known: {', '.join(COMBINATIONS)})")
