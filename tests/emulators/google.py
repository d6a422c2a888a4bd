"""A loopback Google emulator: OAuth2 token endpoint, Drive v3 and Sheets v4, on one port.

It follows Google's documented wire protocol closely enough for the taps to be tested for real:
- ``POST /token``: the JWT-bearer grant (the assertion's RS256 signature is verified with the
  registered service account's public key; ``iss``, ``scope``, ``aud`` (Google's token URL, as documented), ``iat`` and
  ``exp`` are checked) and the refresh-token grant; OAuth error bodies (``invalid_grant``...).
- Drive: ``files.list`` (``q``, ``orderBy``, ``pageSize``/``pageToken``), ``files.get`` (metadata
  or ``alt=media``), ``files.export`` (native spreadsheets as CSV of the first sheet).
- Sheets: ``spreadsheets.get``, ``values.get``, ``values:batchGet`` with ``valueRenderOption``
  and ``dateTimeRenderOption``; trailing empty cells and rows are left out, as Google does.
- Google's error envelopes (401, 403, 404, 429 ``RESOURCE_EXHAUSTED``, 5xx); targeted faults
  (`GoogleEmulator.fail`) and the shared random ones (``faults``, tests/emulators/server.py).
Serve it with ``tests.emulators.server.serve``.
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import io
import json
import re
import secrets
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tests.emulators.google_cells import a1_cell, formatted, render, split_range
from tests.emulators.google_query import QueryError, compile_query
from tests.emulators.server import Emulator, Request, Response

GOOGLE_AUDIENCE = "https://oauth2.googleapis.com/token"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
SPREADSHEET = "application/vnd.google-apps.spreadsheet"
FOLDER = "application/vnd.google-apps.folder"
SCOPE = "https://www.googleapis.com/auth/"
DRIVE_SCOPES = {SCOPE + "drive", SCOPE + "drive.readonly"}
DRIVE_META_SCOPES = DRIVE_SCOPES | {SCOPE + "drive.metadata.readonly", SCOPE + "drive.metadata"}
SHEETS_SCOPES = DRIVE_SCOPES | {SCOPE + "spreadsheets", SCOPE + "spreadsheets.readonly"}
KNOWN_SCOPES = DRIVE_META_SCOPES | SHEETS_SCOPES


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def rfc3339(moment: dt.datetime) -> str:
    """Drive's timestamp form: ``2026-11-28T04:00:00.000Z``."""
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class GoogleError(Exception):
    """An error answer: HTTP status and Google's JSON body."""

    def __init__(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        super().__init__(status)
        self.status, self.body, self.headers = status, body, headers or {}


_STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
           429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 502: "UNAVAILABLE", 503: "UNAVAILABLE"}


def api_error(status: int, message: str, reason: str | None = None) -> GoogleError:
    """Google's JSON error envelope: ``{"error": {"code", "message", "errors", "status"}}``."""
    error: dict[str, Any] = {"code": status, "message": message, "status": _STATUS.get(status, "UNKNOWN")}
    if reason:
        error["errors"] = [{"domain": "global", "reason": reason, "message": message}]
    return GoogleError(status, {"error": error})


@dataclass
class Fault:
    """An injected answer for requests whose path matches ``pattern``, ``times`` times."""

    pattern: str
    status: int
    times: int = 1
    retry_after: str | None = None
    reason: str | None = None


@dataclass
class DriveFile:
    id: str
    name: str
    mime_type: str
    parents: list[str]
    modified: dt.datetime
    content: bytes = b""
    tabs: dict[str, list[list[Any]]] = field(default_factory=dict)
    readers: set[str] | None = None  # None: every principal may read it
    trashed: bool = False

    def resource(self) -> dict[str, Any]:
        return {
            "kind": "drive#file",
            "id": self.id,
            "name": self.name,
            "mimeType": self.mime_type,
            "parents": list(self.parents),
            "modifiedTime": rfc3339(self.modified),
            "trashed": self.trashed,
            **({"size": str(len(self.content))} if self.mime_type != SPREADSHEET else {}),
        }


@dataclass
class ServiceAccount:
    email: str
    key_id: str
    public_key: rsa.RSAPublicKey
    allowed_scopes: set[str] | None = None  # like a domain-wide delegation allow-list


class GoogleEmulator(Emulator):
    """The emulator's data and behaviour (serve it with `tests.emulators.server.serve`)."""

    def __init__(self) -> None:
        super().__init__()
        self.files: dict[str, DriveFile] = {}
        self.accounts: dict[str, ServiceAccount] = {}
        self.oauth_clients: dict[str, tuple[str, str]] = {}  # client_id -> (secret, refresh token)
        self.tokens: dict[str, tuple[str, set[str], float]] = {}  # token -> (principal, scopes, expiry)
        self.targeted: list[Fault] = []
        self.token_requests: list[dict[str, Any]] = []  # verified JWT claims or refresh grants
        self.token_lifetime = 3600
        self.page_size_cap = 1000
        self.clock_skew = 0.0
        self._data_lock = threading.Lock()

    # -- setup -------------------------------------------------------------------------------
    def service_account_key(self, email: str = "loader@acme-data.iam.gserviceaccount.com",
                            allowed_scopes: set[str] | None = None) -> dict[str, Any]:
        """A fresh RSA key registered for ``email``, as the JSON key file Google hands out."""
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        key_id = secrets.token_hex(20)
        self.accounts[email] = ServiceAccount(email, key_id, private.public_key(), allowed_scopes)
        pem = private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        return {
            "type": "service_account",
            "project_id": "acme-data",
            "private_key_id": key_id,
            "private_key": pem,
            "client_email": email,
            "client_id": str(secrets.randbelow(10**20)),
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": f"{self.url}/token",
        }

    def oauth_client(self, client_id: str, client_secret: str, refresh_token: str) -> None:
        """Register user credentials for the refresh-token grant."""
        self.oauth_clients[client_id] = (client_secret, refresh_token)

    def add_file(self, name: str, content: str | bytes, *, parents: list[str], modified: dt.datetime,
                 mime_type: str = "text/csv", file_id: str | None = None,
                 readers: set[str] | None = None) -> str:
        """A binary file (CSV by default) in the given folders; returns its id."""
        data = content.encode() if isinstance(content, str) else content
        fid = file_id or "1" + secrets.token_hex(16)
        self.files[fid] = DriveFile(fid, name, mime_type, parents, modified, data, readers=readers)
        return fid

    def add_spreadsheet(self, name: str, tabs: dict[str, list[list[Any]]], *, parents: list[str],
                        modified: dt.datetime, file_id: str | None = None,
                        readers: set[str] | None = None) -> str:
        """A native Google spreadsheet with its tabs' cells (row lists; None is an empty cell)."""
        fid = file_id or "1" + secrets.token_hex(16)
        self.files[fid] = DriveFile(fid, name, SPREADSHEET, parents, modified, tabs=tabs, readers=readers)
        return fid

    def fail(self, pattern: str, status: int, times: int = 1, *, retry_after: str | None = None,
             reason: str | None = None) -> None:
        """Answer the next ``times`` requests whose path matches ``pattern`` with ``status``."""
        self.targeted.append(Fault(pattern, status, times, retry_after, reason))

    def count(self, pattern: str) -> int:
        """Requests so far whose path (with query) matches ``pattern``."""
        return sum(1 for r in list(self.requests) if re.search(pattern, _full_path(r)))

    # -- requests ----------------------------------------------------------------------------
    def handle(self, request: Request) -> Response:
        """Route one request; Google's error envelopes for what fails."""
        query: dict[str, list[str]] = {}
        for name, value in request.query:
            query.setdefault(name, []).append(value)
        try:
            self._inject(_full_path(request))
            result = self._route(request, urllib.parse.unquote(request.path), query)
        except GoogleError as exc:
            return Response(exc.status, exc.body, exc.headers)
        if isinstance(result, bytes):
            return Response(200, result, {"Content-Type": "text/csv"})
        return Response(200, result)

    def fault_response(self, kind: str, request: Request) -> Response:
        """A random fault of the shared server (``faults``): Google's 429 or 500 envelope."""
        error = self._fault_error(Fault(request.path, int(kind), retry_after=self.faults.retry_after))
        return Response(error.status, error.body, error.headers)

    def _inject(self, path: str) -> None:
        with self._data_lock:
            for fault in self.targeted:
                if fault.times > 0 and re.search(fault.pattern, path):
                    fault.times -= 1
                    break
            else:
                return
        raise self._fault_error(fault)

    def _fault_error(self, fault: Fault) -> GoogleError:
        if fault.status == 429:
            error = api_error(429, "Quota exceeded for quota metric 'Read requests' and limit "
                              "'Read requests per minute per user'.", fault.reason or "rateLimitExceeded")
        elif fault.status == 403 and fault.reason:
            error = api_error(403, "User rate limit exceeded.", fault.reason)
        elif fault.status >= 500:
            error = api_error(fault.status, "Internal error encountered." if fault.status == 500
                              else "The service is currently unavailable.", "backendError")
        else:
            error = api_error(fault.status, "Injected failure.", fault.reason)
        if fault.retry_after:
            error.headers["Retry-After"] = fault.retry_after
        return error

    def _route(self, request: Request, path: str, query: dict[str, list[str]]) -> Any:
        if request.method == "POST" and path == "/token":
            body = request.body if isinstance(request.body, str) else ""
            return self._token(urllib.parse.parse_qs(body))
        if request.method != "GET":
            raise api_error(405, "Method not allowed.")
        one = {k: v[-1] for k, v in query.items()}
        if path == "/drive/v3/files":
            return self._files_list(self._caller(request, DRIVE_META_SCOPES), one)
        match = re.fullmatch(r"/drive/v3/files/([^/]+)(/export)?", path)
        if match:
            media = one.get("alt") == "media" or bool(match.group(2))
            caller = self._caller(request, DRIVE_SCOPES if media else DRIVE_META_SCOPES)
            return self._file(caller, match.group(1), one, export=bool(match.group(2)))
        match = re.fullmatch(r"/v4/spreadsheets/([^/]+?)(?:/values/(.+)|/values:batchGet)?", path)
        if match:
            caller = self._caller(request, SHEETS_SCOPES)
            sheet = self._spreadsheet(caller, match.group(1))
            if path.endswith("/values:batchGet"):
                ranges = query.get("ranges") or []
                return {"spreadsheetId": sheet.id,
                        "valueRanges": [self._values(sheet, r, one) for r in ranges]}
            if match.group(2):
                return self._values(sheet, match.group(2), one)
            return self._sheet_resource(sheet)
        raise api_error(404, f"Not found: {path}", "notFound")

    # -- OAuth 2.0 ---------------------------------------------------------------------------
    def _token(self, form: dict[str, list[str]]) -> dict[str, Any]:
        grant = (form.get("grant_type") or [""])[0]
        if grant == JWT_BEARER:
            principal, scopes = self._verify_assertion((form.get("assertion") or [""])[0])
        elif grant == "refresh_token":
            principal, scopes = self._verify_refresh(form)
        else:
            raise GoogleError(400, {"error": "unsupported_grant_type", "error_description": "Invalid grant_type: " + grant})
        token = "ya29." + secrets.token_urlsafe(32)
        with self._data_lock:
            self.tokens[token] = (principal, scopes, time.time() + self.token_lifetime)
        return {"access_token": token, "expires_in": self.token_lifetime, "token_type": "Bearer"}

    def _verify_assertion(self, assertion: str) -> tuple[str, set[str]]:
        def refuse(description: str, error: str = "invalid_grant", status: int = 400) -> GoogleError:
            return GoogleError(status, {"error": error, "error_description": description})

        parts = assertion.split(".")
        if len(parts) != 3:
            raise refuse("Invalid JWT: not a compact JWS")
        try:
            header, claims = (json.loads(_unb64(p)) for p in parts[:2])
        except ValueError:
            raise refuse("Invalid JWT: undecodable header or claims") from None
        if header.get("alg") != "RS256":
            raise refuse(f"Invalid JWT: alg {header.get('alg')!r} is not RS256")
        account = self.accounts.get(claims.get("iss", ""))
        if account is None:
            raise refuse("Invalid issuer: No service account found for the issuer.", "invalid_client", 401)
        try:
            account.public_key.verify(_unb64(parts[2]), f"{parts[0]}.{parts[1]}".encode(),
                                      padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            raise refuse("Invalid JWT Signature.") from None
        now = time.time() + self.clock_skew
        if claims.get("aud") != GOOGLE_AUDIENCE:  # Google's documented value, whatever URL it is posted to
            raise refuse(f"Invalid JWT: the audience must be {GOOGLE_AUDIENCE}")
        iat, exp = claims.get("iat"), claims.get("exp")
        if not isinstance(iat, int) or not isinstance(exp, int) or exp - iat > 3600 or iat > now + 300 or exp < now:
            raise refuse("Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. "
                         "Check your iat and exp values in the JWT claim.")
        scopes = set(str(claims.get("scope", "")).split())
        if not scopes or not scopes <= KNOWN_SCOPES:
            raise refuse("Invalid OAuth scope or ID token audience provided.", "invalid_scope")
        if account.allowed_scopes is not None and not scopes <= account.allowed_scopes:
            raise refuse("Client is unauthorized to retrieve access tokens using this method, or client "
                         "not authorized for any of the scopes requested.", "unauthorized_client", 401)
        with self._data_lock:
            self.token_requests.append(claims)
        return account.email, scopes

    def _verify_refresh(self, form: dict[str, list[str]]) -> tuple[str, set[str]]:
        one = {k: v[0] for k, v in form.items()}
        client = self.oauth_clients.get(one.get("client_id", ""))
        if client is None or client[0] != one.get("client_secret"):
            raise GoogleError(401, {"error": "invalid_client", "error_description": "Unauthorized"})
        if client[1] != one.get("refresh_token"):
            raise GoogleError(400, {"error": "invalid_grant", "error_description": "Token has been expired or revoked."})
        scopes = set(one.get("scope", "").split()) or set(KNOWN_SCOPES)
        with self._data_lock:
            self.token_requests.append({"client_id": one["client_id"], "scope": " ".join(sorted(scopes))})
        return "user:" + one["client_id"], scopes

    def _caller(self, request: Request, needed: set[str]) -> str:
        auth = request.headers.get("authorization") or ""
        entry = self.tokens.get(auth.removeprefix("Bearer ")) if auth.startswith("Bearer ") else None
        if entry is None or entry[2] < time.time():
            raise GoogleError(401, {"error": {
                "code": 401, "status": "UNAUTHENTICATED",
                "message": "Request had invalid authentication credentials. Expected OAuth 2 access token.",
                "errors": [{"domain": "global", "reason": "authError", "message": "Invalid Credentials",
                            "locationType": "header", "location": "Authorization"}]}},
                {"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/", error="invalid_token"'})
        if not entry[1] & needed:
            raise GoogleError(403, {"error": {
                "code": 403, "status": "PERMISSION_DENIED",
                "message": "Request had insufficient authentication scopes.",
                "errors": [{"domain": "global", "reason": "insufficientPermissions", "message": "Insufficient Permission"}],
                "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                             "reason": "ACCESS_TOKEN_SCOPE_INSUFFICIENT", "domain": "googleapis.com"}]}})
        return entry[0]

    # -- Drive -------------------------------------------------------------------------------
    def _visible(self, caller: str, item: DriveFile) -> bool:
        return item.readers is None or caller in item.readers

    def _files_list(self, caller: str, query: dict[str, str]) -> dict[str, Any]:
        try:
            predicate = compile_query(query.get("q", ""))
        except QueryError as exc:
            raise api_error(400, f"Invalid Value: {exc}", "invalid") from None
        found = [f.resource() for f in self.files.values() if self._visible(caller, f)]
        found = [r for r in found if predicate(r)]
        for key in reversed([k.strip() for k in query.get("orderBy", "").split(",") if k.strip()]):
            name, _, direction = key.partition(" ")
            found.sort(key=lambda r, n=name: r.get(n) or "", reverse=direction == "desc")
        size = min(int(query.get("pageSize") or 100), 1000, self.page_size_cap)
        start = int(_unb64(query["pageToken"]).decode()) if query.get("pageToken") else 0
        page: dict[str, Any] = {"kind": "drive#fileList", "incompleteSearch": False,
                                "files": found[start:start + size]}
        if start + size < len(found):
            page["nextPageToken"] = _b64(str(start + size).encode())
        return page

    def _get(self, caller: str, file_id: str) -> DriveFile:
        item = self.files.get(file_id)
        if item is None or not self._visible(caller, item):
            raise GoogleError(404, {"error": {
                "code": 404, "message": f"File not found: {file_id}.",
                "errors": [{"domain": "global", "reason": "notFound", "message": f"File not found: {file_id}.",
                            "locationType": "parameter", "location": "fileId"}]}})
        return item

    def _file(self, caller: str, file_id: str, query: dict[str, str], *, export: bool) -> Any:
        item = self._get(caller, file_id)
        if export:
            if item.mime_type != SPREADSHEET or query.get("mimeType") != "text/csv":
                raise api_error(400, "Export only supports Docs Editors files.", "fileNotExportable")
            out = io.StringIO()
            first = next(iter(item.tabs.values()), [])
            csv.writer(out, lineterminator="\r\n").writerows(
                [["" if c is None else formatted(c) for c in row] for row in first])
            return out.getvalue().encode()
        if query.get("alt") == "media":
            if item.mime_type == SPREADSHEET:
                raise api_error(403, "Only files with binary content can be downloaded. Use Export with "
                                "Docs Editors files.", "fileNotDownloadable")
            return item.content
        return item.resource()

    # -- Sheets ------------------------------------------------------------------------------
    def _spreadsheet(self, caller: str, sheet_id: str) -> DriveFile:
        item = self.files.get(sheet_id)
        if item is None or item.mime_type != SPREADSHEET:
            raise api_error(404, "Requested entity was not found.")
        if not self._visible(caller, item):
            raise api_error(403, "The caller does not have permission")
        return item

    def _sheet_resource(self, sheet: DriveFile) -> dict[str, Any]:
        return {"spreadsheetId": sheet.id, "properties": {"title": sheet.name, "locale": "en_US"},
                "sheets": [{"properties": {"sheetId": i, "title": title, "index": i, "sheetType": "GRID",
                                           "gridProperties": {"rowCount": max(len(rows), 1000),
                                                              "columnCount": 26}}}
                           for i, (title, rows) in enumerate(sheet.tabs.items())],
                "spreadsheetUrl": f"{self.url}/spreadsheets/d/{sheet.id}/edit"}

    def _values(self, sheet: DriveFile, a1: str, query: dict[str, str]) -> dict[str, Any]:
        title, cells = _checked_range(a1, sheet)
        rows = sheet.tabs[title]
        (r0, c0), (r1, c1) = cells
        window = [list(row[c0:c1]) for row in rows[r0:r1]]
        value_option = query.get("valueRenderOption", "FORMATTED_VALUE")
        date_option = query.get("dateTimeRenderOption", "SERIAL_NUMBER")
        rendered = []
        for row in window:
            out = [render(c, value_option, date_option) for c in row]
            while out and out[-1] in (None, ""):
                out.pop()
            rendered.append(out)
        while rendered and not rendered[-1]:
            rendered.pop()
        quoted = f"'{title}'" if re.search(r"\W", title) else title
        width = max((len(r) for r in rendered), default=0)
        result: dict[str, Any] = {"range": f"{quoted}!{a1_cell(c0, r0)}:{a1_cell(c0 + max(width, 1) - 1, r0 + max(len(rendered), 1) - 1)}",
                                  "majorDimension": "ROWS"}
        if rendered:
            result["values"] = rendered
        return result


def _full_path(request: Request) -> str:
    """The request's path with its query string, as faults and counts match it."""
    return request.path + ("?" + urllib.parse.urlencode(request.query) if request.query else "")


def _checked_range(a1: str, sheet: DriveFile) -> tuple[str, tuple[tuple[int, int], tuple[int, int]]]:
    try:
        return split_range(a1, sheet.tabs)
    except ValueError as exc:
        raise api_error(400, str(exc)) from None
