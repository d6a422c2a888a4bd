#!/usr/bin/env bash
# The project's virtualenv with the project installed (editable): `make install`, `make demo`,
# `.ci/run`. With uv when it can be had (the venv's own, one on PATH, else fetched from PyPI with
# pip into a temporary folder): about 35 s from an empty cache on 2 cores, against 2 min or more
# with pip. Without uv (DATIVO_INSTALLER=pip, or uv cannot be fetched or fails): pip, as before.
#
#   scripts/install_venv.sh [SPEC]     SPEC defaults to '.[dev]'; PYTHON and VENV from the environment
#
# The Singer core and each tap and target are distributions of their own (a pyproject.toml in
# dativo_singer/, taps/*/, targets/*/; docs/PACKAGING.md): they are installed editable beside SPEC,
# so the platform's dependencies on them resolve to this checkout, never to a package index.
#   scripts/install_venv.sh --compile  write the bytecode of every installed module (pip does at install)
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
VENV="${VENV:-.venv}"
SPEC="${1:-.[dev]}"
if [[ "$SPEC" == --compile ]]; then
    site="$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
    # A module that does not compile (a package's Python 2 test data) is skipped, as pip skips it.
    "$VENV/bin/python" -m compileall -q -j 0 "$site" >/dev/null 2>&1 || true
    exit 0
fi
export UV_PYTHON_DOWNLOADS=never  # the venv uses $PYTHON, never a Python uv would download

say() { echo "install: $*" >&2; }

# -e <folder> for every distribution of this checkout besides the root one.
LOCAL=()
for project in dativo_singer/pyproject.toml taps/*/pyproject.toml targets/*/pyproject.toml; do
    LOCAL+=(-e "${project%/pyproject.toml}")
done

boot="$(mktemp -d)"  # where uv is fetched to, when it must be
trap 'rm -rf "$boot"' EXIT

find_uv() {
    if [[ -x "$VENV/bin/uv" ]]; then
        echo "$VENV/bin/uv"
    elif command -v uv >/dev/null 2>&1; then
        command -v uv
    else
        # pip --target: no venv needed, and allowed on an externally managed system Python.
        if "$PYTHON" -m pip install -q --disable-pip-version-check --target "$boot" uv >/dev/null 2>&1 \
            && [[ -x "$boot/bin/uv" ]]; then
            echo "$boot/bin/uv"
        fi
    fi
}

with_uv() {
    local uv="$1"
    if [[ ! -x "$VENV/bin/python" ]]; then
        "$uv" venv -q --seed --python "$PYTHON" "$VENV" || return 1  # --seed: pip in the venv too
    fi
    # uv itself too, so the next install finds it in the venv.
    "$uv" pip install -q --python "$VENV/bin/python" "${LOCAL[@]}" -e "$SPEC" uv
}

with_pip() {
    [[ -x "$VENV/bin/python" ]] || "$PYTHON" -m venv "$VENV"
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check "${LOCAL[@]}" -e "$SPEC"
}

if [[ "${DATIVO_INSTALLER:-uv}" != pip ]]; then
    uv="$(find_uv)"
    if [[ -n "$uv" ]]; then
        with_uv "$uv" && exit 0
        say "uv could not install $SPEC; installing with pip"
    else
        say "uv not found and not installable from PyPI; installing with pip"
    fi
fi
with_pip
