"""Soak sources over files: local CSV, local Markdown-KV documents, Google Drive CSV files and a
Google spreadsheet (on the loopback emulator). Between runs rows are appended, edited and removed
inside files, and new files appear; a file source reports a removed row by the edited file, whose
rows replace that file's earlier rows (`replace_changed_files`)."""

from __future__ import annotations

import datetime as dt
import json
import os
import random
from decimal import Decimal
from typing import Any

import yaml

from tests.helpers.google import DEALS_HEADER as DRIVE_HEADER
from tests.helpers.google import FOLDER, GoogleData
from tests.helpers.project import REPO, Project
from tests.helpers.soak import Rows, SoakSource

FAST = {"max_requests_per_second": 0, "backoff_base_seconds": 0.005, "max_backoff_seconds": 0.02}
BASE = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
Files = dict[str, dict[int, dict[str, Any]]]


class FileModel:
    """Files of keyed rows, changed a little before every run: rows appended to a file, a new file
    every third run, a row edited in place, a row removed every fourth run."""

    def __init__(self, make: Any, seed: int, first: int = 4) -> None:
        self.make = make  # (key, version) -> row fields
        self.rng = random.Random(seed)
        self.next_key = 1
        self.files: Files = {"f000": {}}
        for _ in range(first):
            self._add("f000", 0)

    def _add(self, name: str, run: int) -> None:
        self.files[name][self.next_key] = self.make(self.next_key, run)
        self.next_key += 1

    def change(self, run: int) -> set[str]:
        """Apply run ``run``'s changes; the names of the files that changed."""
        name = f"f{run:03d}" if run % 3 == 0 else sorted(self.files)[-1]
        self.files.setdefault(name, {})
        for _ in range(2):
            self._add(name, run)
        edited = self.rng.choice(sorted(n for n in self.files if self.files[n]))
        key = self.rng.choice(sorted(self.files[edited]))
        self.files[edited][key] = self.make(key, run)
        changed = {name, edited}
        if run % 4 == 0:
            removed = self.rng.choice(sorted(n for n in self.files if len(self.files[n]) > 1))
            del self.files[removed][self.rng.choice(sorted(self.files[removed]))]
            changed.add(removed)
        return changed

    def rows(self) -> dict[int, dict[str, Any]]:
        return {k: row for rows in self.files.values() for k, row in rows.items()}


def _touch(path: Any, run: int) -> None:
    stamp = int((BASE + dt.timedelta(hours=run)).timestamp()) * 1_000_000_000
    os.utime(path, ns=(stamp, stamp))


# -- local CSV -----------------------------------------------------------------------------------

def _deal(key: int, run: int) -> dict[str, Any]:
    return {"deal_name": f"Deal {key} v{run}", "stage": ["open", "won", "lost"][(key + run) % 3],
            "amount": Decimal(f"{key * 10 + run}.{run % 100:02d}"),
            "created_at": BASE + dt.timedelta(days=key, minutes=run)}


def csv_source(project: Project) -> SoakSource:
    """`data/deals/*.csv` with the CSV deals job."""
    model = FileModel(_deal, seed=11)

    def write(name: str, run: int) -> None:
        lines = [f"{k},{r['deal_name']},Co,{r['stage']},{r['amount']},USD,0.5,false,o@example.com,"
                 f"{r['created_at'].isoformat().replace('+00:00', 'Z')}," for k, r in model.files[name].items()]
        _touch(project.write_deals(f"{name}.csv", lines), run)

    write("f000", 0)

    def mutate(run: int) -> None:
        for name in model.change(run):
            write(name, run)

    def expected() -> Rows:
        return {k: (r["deal_name"], r["stage"], r["amount"], r["created_at"]) for k, r in model.rows().items()}

    job = project.write_job("soak_csv", project.deals_job())
    return SoakSource("csv", job, "acme.csv_deals", "deal_id",
                      ("deal_name", "stage", "amount", "created_at"), mutate, expected)


# -- local Markdown-KV ---------------------------------------------------------------------------

def _employee(key: int, run: int) -> dict[str, Any]:
    return {"name": f"Person {key} v{run}", "department": ["Eng", "Sales"][(key + run) % 2],
            "salary": Decimal(f"{50000 + key * 100 + run}.50"),
            "start_date": dt.date(2020, 1, 1) + dt.timedelta(days=key + run), "remote": (key + run) % 2 == 0}


def markdown_kv_source(project: Project) -> SoakSource:
    """Markdown-KV documents (document storage: one row per record) in `data/soak_md/`."""
    model = FileModel(_employee, seed=12)

    def write(name: str, run: int) -> None:
        parts = [f"# Employee Database: {name}\n"]
        for key, r in model.files[name].items():
            parts.append(f"## {r['name']}\n\n```\nid: {key}\nname: {r['name']}\ndepartment: {r['department']}\n"
                         f"email: p{key}@example.com\nsalary: {r['salary']}\nstart date: {r['start_date']}\n"
                         f"remote: {str(r['remote']).lower()}\nprofile:\n```\n")
        _touch(project.write(f"data/soak_md/{name}.md", "\n".join(parts)), run)

    write("f000", 0)

    def mutate(run: int) -> None:
        for name in model.change(run):
            write(name, run)

    def expected() -> Rows:
        return {k: (r["name"], r["department"], r["salary"], r["start_date"], r["remote"])
                for k, r in model.rows().items()}

    job = yaml.safe_load((REPO / "jobs/acme/markdown_kv_employees_to_iceberg.yaml").read_text())
    job["source"]["files"] = [{"path": "data/soak_md"}]
    path = project.write_job("soak_markdown_kv", job)
    return SoakSource("markdown_kv", path, "acme.markdown_kv_employees", "id",
                      ("name", "department", "salary", "start_date", "remote"), mutate, expected)


# -- Google Drive CSV and Google Sheets (emulator) -----------------------------------------------

def _google_secrets(project: Project, data: GoogleData) -> str:
    project.write("secrets/acme/google.json", json.dumps({"GOOGLE_SERVICE_ACCOUNT_KEY": data.key,
                                                          "DATIVO_HASH_SALT": "soak-salt"}))
    return str(project.root / "secrets")


def _google_job(project: Project, name: str, source: dict[str, Any]) -> Any:
    job = yaml.safe_load((REPO / "jobs" / "acme" / f"{name}.yaml").read_text())
    job["source"].update(**FAST, **source)
    return project.write_job(f"soak_{name}", job)


def gdrive_source(project: Project, data: GoogleData) -> SoakSource:
    """`deals_*.csv` files in a Drive folder: edited (new modifiedTime), appended, new files."""
    model = FileModel(_deal, seed=13)
    emulator, ids = data.emulator, {}

    def write(name: str, run: int) -> None:
        lines = [DRIVE_HEADER] + [f"{k},{r['deal_name']},{r['stage']},{r['amount']},USD,false,o@example.com,,"
                                  f"{r['created_at'].isoformat().replace('+00:00', 'Z')}"
                                  for k, r in model.files[name].items()]
        content, modified = ("\n".join(lines) + "\n").encode(), BASE + dt.timedelta(hours=run, minutes=1)
        if name in ids:
            emulator.files[ids[name]].content = content
            emulator.files[ids[name]].modified = modified
        else:
            ids[name] = emulator.add_file(f"deals_{name}.csv", content, parents=[FOLDER], modified=modified)

    write("f000", 0)

    def mutate(run: int) -> None:
        for name in model.change(run):
            write(name, run)

    def expected() -> Rows:
        return {k: (r["deal_name"], r["stage"], r["amount"]) for k, r in model.rows().items()}

    job = _google_job(project, "gdrive_deals_to_iceberg", {
        "api_url": emulator.url, "files": [{"folder_id": FOLDER, "name_pattern": "deals_*"}]})
    return SoakSource("gdrive_csv", job, "acme.gdrive_deals_daily", "deal_id", ("deal_name", "stage", "amount"),
                      mutate, expected, secrets_dir=_google_secrets(project, data))


def _vendor(key: int, run: int) -> dict[str, Any]:
    return {"vendor_name": f"Vendor {key} v{run}", "country": ["US", "DE", "FR"][(key + run) % 3],
            "payment_terms_days": 30 + run, "rating": round(1 + (key * 7 + run) % 40 / 10, 1),
            "active": (key + run) % 2 == 0}


VENDOR_COLUMNS = ("vendor_name", "country", "payment_terms_days", "rating", "active")


def sheets_source(project: Project, data: GoogleData) -> SoakSource:
    """A spreadsheet whose tabs (one per model file) gain, change and lose rows between runs."""
    model = FileModel(_vendor, seed=14)
    emulator = data.emulator
    sheet = emulator.add_spreadsheet("Vendors soak", {}, parents=[FOLDER], modified=BASE)

    def write(run: int) -> None:
        rows: list[list[Any]] = [["vendor_id", *VENDOR_COLUMNS]]
        rows += [[k, *(r[c] for c in VENDOR_COLUMNS)] for k, r in sorted(model.rows().items())]
        emulator.files[sheet].tabs = {"Vendors": rows}
        emulator.files[sheet].modified = BASE + dt.timedelta(hours=run, minutes=2)

    write(0)

    def mutate(run: int) -> None:
        model.change(run)
        write(run)

    def expected() -> Rows:
        return {k: tuple(r[c] for c in VENDOR_COLUMNS) for k, r in model.rows().items()}

    job = _google_job(project, "gsheets_vendors_to_iceberg", {
        "api_url": emulator.url, "drive_api_url": emulator.url,
        "sheets": [{"spreadsheet_id": sheet, "range": "Vendors"}]})
    return SoakSource("google_sheets", job, "acme.gsheets_vendors_master", "vendor_id", VENDOR_COLUMNS,
                      mutate, expected, secrets_dir=_google_secrets(project, data))
