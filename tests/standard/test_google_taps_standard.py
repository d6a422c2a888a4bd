"""singer-sdk's standard tap tests for tap-gdrive-csv and tap-google-sheets, against the loopback
Google emulator (started once for this module, on a free port)."""

from __future__ import annotations

from singer_sdk.testing import get_tap_test_class
from tap_gdrive_csv.tap import TapGDriveCSV
from tap_google_sheets.tap import TapGoogleSheets

from tests.emulators.google import GoogleEmulator
from tests.emulators.server import serve
from tests.helpers.google import drive_config, populate, sheets_config

# Kept open for the module's life: the configs below carry its URL.
_SERVER = serve(GoogleEmulator())
DATA = populate(_SERVER.__enter__())

TestTapGDriveCSV = get_tap_test_class(tap_class=TapGDriveCSV, config=drive_config(DATA))
TestTapGoogleSheets = get_tap_test_class(tap_class=TapGoogleSheets, config=sheets_config(DATA))

# Without schemas every header column is a nullable string (read from the first file / header row).
TestTapGDriveCSVInferred = get_tap_test_class(
    tap_class=TapGDriveCSV, config={**drive_config(DATA), "schemas": {}, "key_properties": {}}
)
