"""Every benchmark, experiment and tool still starts: its --help runs from the repository root."""

import subprocess
import sys

import pytest

from captioner.data import REPO_ROOT

SCRIPTS = sorted(f"{p.parent.name}.{p.stem}" for folder in ("benchmarks", "experiments", "tools")
                 for p in (REPO_ROOT / folder).glob("*.py") if p.stem != "__init__")


def test_every_folder_has_its_scripts_and_a_readme_naming_each():
    for folder in ("benchmarks", "experiments", "tools"):
        readme = (REPO_ROOT / folder / "README.md").read_text()
        names = [s.split(".")[1] for s in SCRIPTS if s.startswith(folder + ".")]
        assert names and all(f"{name}.py" in readme or f".{name}" in readme for name in names), folder


@pytest.mark.parametrize("module", SCRIPTS)
def test_the_script_s_help_runs(module):
    done = subprocess.run([sys.executable, "-m", module, "--help"], cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0 and "usage:" in done.stdout, done.stderr[-2000:]
