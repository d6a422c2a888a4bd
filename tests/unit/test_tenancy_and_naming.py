"""The name rules on their own: which namespaces and prefixes a tenant may choose, which job
fields are names, and which ``${VAR}`` may be interpolated into them."""

from __future__ import annotations

from pathlib import Path

import pytest

from dativo_runner.home import ProjectHome
from dativo_runner.naming_rules import field_values, is_naming_field, naming_problems
from dativo_runner.secrets import Interpolator, Redactor
from dativo_runner.tenancy import name_problem, prefix_problem


def _home(tmp_path: Path, *tenants: str) -> ProjectHome:
    for tenant in tenants:
        (tmp_path / "jobs" / tenant).mkdir(parents=True)
    return ProjectHome(tmp_path)


@pytest.mark.parametrize(
    ("tenant", "namespace", "refused_with"),
    [
        ("acme", "acme", None),
        ("acme", "acme_sales", None),
        ("acme", "acme_evil", "default namespace of tenant 'acme_evil'"),
        ("acme", "acme_evil_sales", "default namespace of tenant 'acme_evil'"),
        ("acme", "globex", "outside tenant 'acme'"),
        ("acme", "acmeco", "outside tenant 'acme'"),
        ("acme_evil", "acme_evil", None),
        ("acme_evil", "acme", "outside tenant 'acme_evil'"),
    ],
)
def test_namespaces_a_tenant_may_choose(
    tmp_path: Path, tenant: str, namespace: str, refused_with: str | None
) -> None:
    problem = name_problem(namespace, tenant, _home(tmp_path, "acme", "acme_evil"), "default namespace")
    if refused_with is None:
        assert problem is None
    else:
        assert problem is not None and refused_with in problem


def test_a_prefix_through_another_tenants_key_root(tmp_path: Path) -> None:
    home = _home(tmp_path, "acme", "acme_x")
    assert prefix_problem("raw/acme/deals", "acme_x", home) is not None
    assert prefix_problem("raw/acme", "acme", home) is None
    assert prefix_problem("raw/acme_y", "acme_x", home) is None


@pytest.mark.parametrize(
    ("where", "naming"),
    [
        ("source.files[0].path", True),
        ("target.connection.s3.prefix", True),
        ("target.namespace", True),
        ("target.table", True),
        ("asset_path", True),
        ("source.objects[0]", True),
        ("target.connection.s3.access_key_id", False),
        ("target.connection.s3.bucket", False),
        ("source.connection.password", False),
    ],
)
def test_naming_fields(where: str, naming: bool) -> None:
    assert is_naming_field(where) is naming


def test_what_may_be_interpolated_into_a_name() -> None:
    redactor = Redactor()
    interpolator = Interpolator(
        secrets={"TOKEN": "tenant-token-value-1"},
        environ={"REGION": "eu", "DIR": "deals", "OTHER_PASSWORD": "pw-of-globex-123"},
        redactor=redactor,
    )
    raw = {
        "target": {"namespace": "acme_${REGION}", "table": "t_${OTHER_PASSWORD}", "prefix": "x/${TOKEN}"},
        "source": {"files": [{"path": "data/${DIR}/*.csv"}], "secret": "${TOKEN}"},
    }
    data, problems = interpolator.resolve(raw, "job.yaml")
    assert problems == []

    found = naming_problems(
        interpolator.uses,
        (field_values(raw), field_values(data)),
        ["REGION", "OTHER_PASSWORD"],
        "job.yaml",
        redactor,
    )

    lines = sorted(str(p) for p in found)
    assert len(lines) == 3, lines  # REGION is listed; source.secret is not a name
    assert lines[0].startswith("job.yaml: source.files[0].path: 'data/${DIR}/*.csv' would put ${DIR}")
    assert lines[1].startswith("job.yaml: target.prefix: 'x/****' would put ${TOKEN}, a tenant secret")
    assert (
        "target.table: 't_${OTHER_PASSWORD}' would put ${OTHER_PASSWORD}, an environment variable named"
        in lines[2]
    )
    assert not any("pw-of-globex" in line or "tenant-token-value" in line for line in lines)
