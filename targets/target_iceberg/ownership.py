"""Which tenant owns a table: the ``dativo.tenant`` property, checked before every write.

A config that sets ``table_properties: {dativo.tenant: T}`` (the runner always does) writes only
tables and namespaces whose ``dativo.tenant`` is ``T``. A table or namespace without the property
(made before ownership was recorded, or by a standalone run) is claimed by ``T`` only when the
namespace is exactly ``T`` (a tenant's default namespace); otherwise it is refused. A config
without the property (standalone use) checks nothing.
"""

from __future__ import annotations

from collections.abc import Mapping

from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import NoSuchNamespaceError
from pyiceberg.table import Table

from dativo_singer.errors import FatalError

OWNER_PROPERTY = "dativo.tenant"


def owner_problem(owner: str | None, tenant: str, namespace: str, what: str) -> str | None:
    """Why ``tenant`` may not write ``what`` (owned by ``owner``, None when unrecorded), or None."""
    if owner == tenant:
        return None
    if owner:
        return f"{what} belongs to another tenant: tenant {tenant!r} cannot write, replace or resume it"
    if namespace == tenant:
        return None  # unrecorded, in the tenant's own default namespace: claimed
    return (
        f"{what} records no owning tenant and namespace {namespace!r} is not tenant {tenant!r}'s "
        f"default: set its property {OWNER_PROPERTY}={tenant} to adopt it"
    )


def ensure_namespace(catalog: Catalog, namespace: str, properties: Mapping[str, str]) -> None:
    """Create ``namespace`` unless it exists, also when another process creates it at the same
    moment (a SQL catalog then reports a unique-constraint error rather than "already exists")."""
    try:
        catalog.create_namespace_if_not_exists(namespace, dict(properties))
    except Exception as create_error:
        try:
            catalog.load_namespace_properties(namespace)
        except Exception:
            raise create_error from None  # it does not exist after all: the creation error counts
        # created by the concurrent writer: carry on with its namespace


def claim_namespace(catalog: Catalog, namespace: str, tenant: str) -> None:
    """Create ``namespace`` owned by ``tenant``, or check (and claim when allowed) the existing one."""
    ensure_namespace(catalog, namespace, {OWNER_PROPERTY: tenant})
    try:
        owner = catalog.load_namespace_properties(namespace).get(OWNER_PROPERTY)
    except NoSuchNamespaceError:  # dropped meanwhile: the table create fails on its own
        return
    except NotImplementedError:  # a catalog without namespace properties: tables are checked
        return
    if owner == tenant:
        return
    problem = owner_problem(owner, tenant, namespace, f"namespace {namespace}")
    if problem and owner:
        raise FatalError(problem)
    if not owner and namespace == tenant:
        catalog.update_namespace_properties(namespace, updates={OWNER_PROPERTY: tenant})
    # An unowned namespace of another name holds tables made before ownership: each table is
    # checked on its own (claim_table), so a namespace of legacy tables stays usable.


def claim_table(table: Table, identifier: str, namespace: str, tenant: str) -> Table:
    """``table`` if ``tenant`` owns it (recording the claim of an unowned one), else FatalError."""
    owner = table.properties.get(OWNER_PROPERTY)
    problem = owner_problem(owner, tenant, namespace, f"table {identifier}")
    if problem:
        raise FatalError(problem)
    if owner != tenant:
        with table.transaction() as tx:
            tx.set_properties({OWNER_PROPERTY: tenant})
        return table.refresh()
    return table


def tenant_of(table_properties: Mapping[str, str]) -> str | None:
    """The owning tenant a config asks for (its ``table_properties``), None for standalone use."""
    tenant = table_properties.get(OWNER_PROPERTY)
    return str(tenant) if tenant else None
