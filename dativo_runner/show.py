"""Reading a job's table back (for `dativo show` and the demo)."""

from __future__ import annotations

from dativo_runner.job_config import Job
from dativo_runner.planners import plan_target_config


def show_table(job: Job, limit: int) -> str:
    """Row count and the first ``limit`` rows of the job's Iceberg table, as text."""
    from pyiceberg.exceptions import NoSuchTableError
    from target_iceberg.catalog import open_catalog

    config = plan_target_config(job)
    table_name = config["table_names"][job.asset.object]
    identifier = f"{config['namespace']}.{table_name}"
    try:
        table = open_catalog(config).load_table(identifier)
    except NoSuchTableError:
        return f"{identifier}: no such table yet (run the job first)"
    data = table.scan(limit=limit).to_arrow()
    total = (
        sum(int(task.file.record_count) for task in table.scan().plan_files())
        if table.current_snapshot()
        else 0
    )
    lines = [f"{identifier}: {total:,} rows; first {data.num_rows}:"]
    for row in data.to_pylist():
        lines.append("  " + ", ".join(f"{k}={v}" for k, v in row.items()))
    return "\n".join(lines)
