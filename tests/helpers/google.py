"""A Google emulator with a small Drive folder and a spreadsheet, and tap configs pointing at it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from tests.emulators.google import GoogleEmulator
from tests.emulators.google_cells import SheetDate
from tests.helpers.saas import FAST_RETRIES

UTC = dt.timezone.utc
FOLDER = "1DeAlSfOlDeR"
OTHER_FOLDER = "1OtHeRfOlDeR"
DEALS_HEADER = "deal_id,deal_name,stage,amount,currency,is_won,owner_email,close_date,updated_at"

DEALS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "deal_id": {"type": "integer"},
        "deal_name": {"type": "string"},
        "stage": {"type": ["string", "null"]},
        "amount": {"type": ["number", "null"]},
        "is_won": {"type": ["boolean", "null"]},
        "close_date": {"type": ["string", "null"], "format": "date"},
    },
    "required": ["deal_id", "deal_name"],
}
VENDORS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "vendor_id": {"type": "integer"},
        "vendor_name": {"type": "string"},
        "country": {"type": ["string", "null"]},
        "payment_terms_days": {"type": ["integer", "null"]},
        "rating": {"type": ["number", "null"]},
        "active": {"type": ["boolean", "null"]},
        "onboarded_on": {"type": ["string", "null"], "format": "date"},
    },
    "required": ["vendor_id", "vendor_name"],
}


def day(n: int, hour: int = 0) -> dt.datetime:
    """A fixed modifiedTime: 2026-01-<n>."""
    return dt.datetime(2026, 1, n, hour, tzinfo=UTC)


def deals_csv(*rows: str) -> str:
    return "\n".join([DEALS_HEADER, *rows]) + "\n"


@dataclass
class GoogleData:
    """What was put in the emulator: file and spreadsheet ids."""

    emulator: GoogleEmulator
    key: dict[str, Any]
    files: dict[str, str] = field(default_factory=dict)  # name -> id
    spreadsheet: str = ""


def populate(emulator: GoogleEmulator) -> GoogleData:
    """Five deals CSV files (one trashed, one in another folder, one not matching ``deals_*``), a
    native spreadsheet of deals (exported as CSV) and a vendors spreadsheet with two tabs."""
    data = GoogleData(emulator, emulator.service_account_key())
    add = emulator.add_file
    data.files["deals_2026-01-01.csv"] = add("deals_2026-01-01.csv", deals_csv(
        "1,Acme renewal,won,1200.50,USD,true,ann@example.com,2026-01-01,2026-01-01T09:00:00Z",
        "2,Beta pilot,open,300,EUR,false,bob@example.com,,2026-01-01T10:00:00Z",
    ), parents=[FOLDER], modified=day(1))
    data.files["deals_2026-01-02.csv"] = add("deals_2026-01-02.csv", deals_csv(
        '3,"Gamma, Inc. expansion",lost,,USD,false,cy@example.com,2026-01-02,2026-01-02T08:00:00Z',
    ), parents=[FOLDER], modified=day(2))
    data.files["deals_2026-01-03.csv"] = add("deals_2026-01-03.csv", deals_csv(
        "4,Delta upsell,open,99.99,USD,,dee@example.com,2026-01-03,2026-01-03T08:00:00Z",
        "5,Epsilon trial,open,0,GBP,false,eve@example.com,2026-01-04,2026-01-03T09:00:00Z",
    ), parents=[FOLDER], modified=day(3))
    data.files["notes.csv"] = add("notes.csv", "a,b\n1,2\n", parents=[FOLDER], modified=day(3, 5))
    trashed = add("deals_old.csv", deals_csv("9,Old,won,1,USD,true,x@example.com,,"), parents=[FOLDER], modified=day(1))
    emulator.files[trashed].trashed = True
    add("deals_elsewhere.csv", deals_csv("8,Elsewhere,won,1,USD,true,x@example.com,,"), parents=[OTHER_FOLDER],
        modified=day(1))
    data.files["deals_sheet"] = emulator.add_spreadsheet("deals_2026-01-04 (sheet)", {"Deals": [
        DEALS_HEADER.split(","), [6, "Zeta native", "won", 5000, "USD", True, "zed@example.com",
                                  SheetDate(dt.date(2026, 1, 4)), "2026-01-04T08:00:00Z"]]},
        parents=[FOLDER], modified=day(4))
    emulator.files[data.files["deals_sheet"]].name = "deals_2026-01-04"
    data.spreadsheet = emulator.add_spreadsheet("Vendors master", {
        "Vendors": [
            ["vendor_id", "vendor_name", "country", "payment_terms_days", "rating", "active", "onboarded_on"],
            [101, "Acme Supplies", "US", 30, 4.5, True, SheetDate(dt.date(2024, 3, 1))],
            [102, "Beta Parts", "DE", 45.0, None, False],  # trailing cells empty: nulls
            [103, "Gamma Logistics", "", "60", 3, "TRUE", "2025-02-10"],  # text cells typed too
        ],
        "New vendors": [
            ["vendor_id", "vendor_name", "country"],
            [201, "Delta Freight", "FR"],
            [],
            [202, "Epsilon Metals"],
        ],
        "Notes": [["not", "vendors"]],
    }, parents=[OTHER_FOLDER], modified=day(5))
    return data


def drive_config(data: GoogleData, **extra: Any) -> dict[str, Any]:
    """tap-gdrive-csv config: the deals folder, ``deals_*``, typed by DEALS_SCHEMA."""
    return {
        "credentials_json": data.key,
        "api_url": data.emulator.url,
        "files": [{"object": "deals", "folder_id": FOLDER, "name_pattern": "deals_*"}],
        "schemas": {"deals": DEALS_SCHEMA},
        "key_properties": {"deals": ["deal_id"]},
        **FAST_RETRIES,
        **extra,
    }


def sheets_config(data: GoogleData, **extra: Any) -> dict[str, Any]:
    """tap-google-sheets config: two tabs of the vendors spreadsheet as one object."""
    return {
        "credentials_json": data.key,
        "api_url": data.emulator.url,
        "drive_api_url": data.emulator.url,
        "sheets": [
            {"object": "vendors", "spreadsheet_id": data.spreadsheet, "range": "Vendors"},
            {"object": "vendors", "spreadsheet_id": data.spreadsheet, "range": "'New vendors'!A1:C"},
        ],
        "schemas": {"vendors": VENDORS_SCHEMA},
        "key_properties": {"vendors": ["vendor_id"]},
        **FAST_RETRIES,
        **extra,
    }
