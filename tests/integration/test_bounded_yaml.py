"""Bounded YAML: an alias bomb (nine levels of nine aliases), a self-referencing alias, nesting
past the depth limit and an oversized document are exit 2 with one line, quickly, for `dativo
validate` and `dativo run`, in a job and in the asset it names."""

from __future__ import annotations

import resource

import pytest

from tests.helpers.project import Project

pytestmark = pytest.mark.integration

BOMB = "\n".join(
    ["lol0: &lol0 [x, x, x, x, x, x, x, x, x]"]
    + [f"lol{i}: &lol{i} [" + ", ".join([f"*lol{i - 1}"] * 9) + "]" for i in range(1, 10)]
)
# The CLI's own start-up (Python, imports) is most of the time; the refusal itself is milliseconds.
SECONDS = 1.0


def _errors(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("dativo: error:")]


def _job_text(project: Project) -> str:
    import yaml

    return yaml.safe_dump(project.deals_job(), sort_keys=False)


CASES = {
    "alias_bomb": (lambda base: base + BOMB + "\n", "values once aliases are expanded"),
    "recursive_alias": (lambda base: base + "loop: &loop [*loop]\n", "values once aliases are expanded"),
    "deep_nesting": (lambda base: base + "deep: " + "[" * 200 + "]" * 200 + "\n", "nested deeper than 64"),
    "oversized": (lambda base: base + "# " + "x" * (1024 * 1024) + "\n", "over the 1,024 KiB a config file"),
}


@pytest.mark.parametrize("command", ["validate", "run"])
@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("where", ["job", "asset"])
def test_a_hostile_yaml_document_is_refused_with_one_line_within_a_second(
    project: Project, command: str, case: str, where: str
) -> None:
    build, expected = CASES[case]
    project.write_deals("a.csv", ["1,A,A,proposal,10.00,USD,0.5,false,a@example.com,2024-01-01T00:00:00Z,"])
    if where == "job":
        path = project.write("jobs/acme/deals.yaml", build(_job_text(project)))
        shown = "jobs/acme/deals.yaml"
    else:
        asset = project.root / "assets/csv/v1.0/deals.yaml"
        asset.write_text(build(asset.read_text()))
        path = project.write_job("deals", project.deals_job())
        shown = "assets/csv/v1.0/deals.yaml"

    started = _children_cpu()
    result = project.dativo(command, "--config", str(path))
    elapsed = _children_cpu() - started  # CPU seconds: what the document costs, whatever the load

    assert result.returncode == 2
    errors = _errors(result.stderr)
    assert len(errors) == 1, result.stderr
    assert shown in errors[0] and expected in errors[0], errors[0]
    # The start-up is measured once; twice it leaves room for a machine shared with other work.
    assert elapsed < SECONDS + 2 * _startup_seconds(project), elapsed
    assert project.files_under("warehouse") == []


_STARTUP: list[float] = []


def _children_cpu() -> float:
    """CPU seconds (user + system) of every finished child process of this test process."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _startup_seconds(project: Project) -> float:
    """The CPU seconds `dativo --version` takes here: the CLI's fixed cost, not the document's."""
    if not _STARTUP:
        started = _children_cpu()
        project.dativo("--version")
        _STARTUP.append(_children_cpu() - started)
    return _STARTUP[0]
