"""Which names a tenant may choose: its own id, or ``<tenant>_<suffix>`` unless that is another
known tenant's space; ownership recorded with the data is checked by the targets (see
docs/CONFIGURATION.md, "Tenants and ownership")."""

from __future__ import annotations

from dativo_runner.home import ProjectHome


def known_tenants(home: ProjectHome) -> set[str]:
    """Tenants the home knows: the folders of ``jobs/`` and ``state/``."""
    found: set[str] = set()
    for folder in (home.root / "jobs", home.state_dir):
        if folder.is_dir():
            found.update(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    return found


def in_space(name: str, tenant: str) -> bool:
    """True when ``name`` is ``tenant`` or starts with ``<tenant>_``."""
    return name == tenant or name.startswith(f"{tenant}_")


def name_problem(name: str, tenant: str, home: ProjectHome, what: str) -> str | None:
    """Why ``tenant`` may not use ``name`` (a namespace): outside its space, or inside the space
    of another known tenant whose id is longer (``acme`` may not name ``acme_evil`` or
    ``acme_evil_x`` when ``acme_evil`` is a tenant of this home)."""
    if not in_space(name, tenant):
        return f"{name!r} is outside tenant {tenant!r}: use {tenant!r} or a name starting with '{tenant}_'"
    for other in sorted(known_tenants(home), key=len, reverse=True):
        if other != tenant and len(other) > len(tenant) and in_space(name, other):
            return f"{name!r} is the {what} of tenant {other!r}: tenant {tenant!r} cannot use it"
    return None


def recorded_owner_problem(owner: object, tenant: str, location: str, field: str) -> str | None:
    """Why data at ``location`` recorded as owned by ``owner`` cannot be resumed or written by
    ``tenant`` (None when ``owner`` is ``tenant`` or nothing is recorded)."""
    if not owner or owner == tenant:
        return None
    return f"{location} belongs to another tenant: {field} cannot name it (tenant {tenant!r})"


def prefix_problem(prefix: str, tenant: str, home: ProjectHome) -> str | None:
    """Why ``tenant`` may not use the object key ``prefix``: one of its segments is another
    tenant of this home, so the prefix would run through that tenant's key root
    (``<prefix>/<tenant>/...``) and nest this tenant's files among its files."""
    others = known_tenants(home) - {tenant}
    for segment in (s for s in prefix.split("/") if s):
        if segment in others:
            return (
                f"{prefix!r} runs through the key root of tenant {segment!r}: "
                f"tenant {tenant!r} cannot write below it"
            )
    return None
