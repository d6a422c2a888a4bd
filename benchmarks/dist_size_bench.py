#!/usr/bin/env python3
"""Install size of tap-stripe alone: ours (dativo_singer/ + taps/tap_stripe/ of this checkout) beside
a peer singer-sdk Stripe tap installed from a local checkout, each into a clean virtualenv with pip
(dependencies from the package index as pip is configured). Prints, for each: MB on disk of the
venv's site-packages (pip and setuptools included, as `python -m venv` puts them in both), the
number of distributions (pip and setuptools left out), the install time, and whether `tap-stripe
--about` runs. Figures in benchmarks/README.md.

    python benchmarks/dist_size_bench.py --peer-src DIR [--peer-ignore-python] [--keep DIR]

DIR is a checkout of the peer (its pyproject.toml at the top); --peer-ignore-python installs a peer
whose requires-python excludes this interpreter anyway.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.helpers.distributions import (  # noqa: E402
    PLATFORM_HEAVY,
    installed,
    make_venv,
    site_packages_mb,
    venv_env,
)


def measure(folder: Path, requirements: list[str], pip_args: tuple[str, ...] = ()) -> dict[str, object]:
    """Build one venv and measure it."""
    start = time.monotonic()
    python = make_venv(folder, *requirements, pip_args=pip_args)
    seconds = time.monotonic() - start
    names = installed(python)
    tap = str(python.parent / "tap-stripe")
    about = subprocess.run([tap, "--about"], capture_output=True, timeout=120, env=venv_env())
    return {
        "MB": site_packages_mb(python),
        "distributions": len(names),
        "seconds": seconds,
        "about": about.returncode == 0,
        "heavy": sorted(n for n in names if n.startswith(PLATFORM_HEAVY)),
        "names": sorted(names),
    }


def main() -> None:
    """Build both venvs and print the figures side by side."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--peer-src", type=Path, required=True, help="checkout of the peer tap")
    parser.add_argument("--peer-ignore-python", action="store_true", help="pip --ignore-requires-python")
    parser.add_argument("--keep", type=Path, help="build the venvs here and keep them")
    args = parser.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="dist-size-"))
    ours = measure(root / "ours", [str(REPO / "dativo_singer"), str(REPO / "taps" / "tap_stripe")])
    peer_args = ("--ignore-requires-python",) if args.peer_ignore_python else ()
    peer = measure(root / "peer", [str(args.peer_src)], peer_args)
    print(f"{'':28}{'ours (dativo-tap-stripe)':>26}{'peer':>14}")
    print(f"{'site-packages, MB':28}{ours['MB']:>26.1f}{peer['MB']:>14.1f}")
    print(f"{'distributions':28}{ours['distributions']:>26}{peer['distributions']:>14}")
    print(f"{'install, s':28}{ours['seconds']:>26.1f}{peer['seconds']:>14.1f}")
    print(f"{'tap-stripe --about runs':28}{ours['about']!s:>26}{peer['about']!s:>14}")
    heavy = [",".join(found["heavy"]) or "none" for found in (ours, peer)]  # type: ignore[arg-type]
    print(f"{'platform libraries':28}{heavy[0]:>26}{heavy[1]:>14}")
    print("ours:", " ".join(ours["names"]))
    print("peer:", " ".join(peer["names"]))
    if not args.keep:
        subprocess.run(["rm", "-rf", str(root)], check=False)


if __name__ == "__main__":
    main()
