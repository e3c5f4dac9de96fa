"""uv.lock is the one source of dependency versions; the Lambda layer's requirements are exported
from it. `make` installs with ``uv sync --locked``, which refuses a lock that disagrees with
pyproject.toml; this test refuses a layer requirements file that disagrees with the lock."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REQUIREMENTS = ROOT / "layers" / "core" / "requirements.txt"


def uv() -> str:
    found = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    assert found, "uv is in the dev group: `make` installs it"
    return found


def pins(text: str) -> set[str]:
    """The requirement lines, without comments and blank lines."""
    return {
        line.strip()
        for line in text.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    }


def test_the_layer_requirements_are_exported_from_the_lock() -> None:
    exported = subprocess.run(
        [
            uv(),
            "export",
            "--quiet",
            "--frozen",
            "--offline",
            "--only-group",
            "runtime",
            "--no-hashes",
            "--no-emit-project",
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert pins(exported), "the runtime group exports nothing"
    assert pins(REQUIREMENTS.read_text()) == pins(exported), (
        "layers/core/requirements.txt disagrees with uv.lock: run `make lock`"
    )


def test_every_layer_requirement_is_pinned_exactly() -> None:
    for line in pins(REQUIREMENTS.read_text()):
        requirement = line.split(";")[0].strip()
        assert "==" in requirement, f"{requirement} is not pinned"


def test_make_installs_the_uv_that_pyproject_pins() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    dev = [item for item in pyproject["dependency-groups"]["dev"] if isinstance(item, str)]
    pinned = [item for item in dev if item.startswith("uv==")]
    assert len(pinned) == 1
    version = subprocess.run(
        [uv(), "--version"], check=True, capture_output=True, text=True
    ).stdout.split()[1]
    assert pinned[0] == f"uv=={version}"
