"""Shared fixtures for the integration tests: the multi-hop SSH lab.

Env: MULTIHOP_LAB_TARGETS (default 3) targets; MULTIHOP_LAB_KEEP=1 reuses a
running lab and leaves it up afterwards; MULTIHOP_LAB_DIR moves its state.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

LAB_SCRIPT = Path(__file__).resolve().parents[1] / "lab" / "lab.py"


def lab_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(LAB_SCRIPT), *args],
                          capture_output=True, text=True, timeout=600, check=False)


def lab_is_up(n_targets: str) -> bool:
    status = lab_cli("status")
    return status.returncode == 0 and str(json.loads(status.stdout)["n_targets"]) == n_targets


@pytest.fixture(scope="session")
def lab():
    """The parsed STATE/lab.json of a running lab (see tests/lab/README.md)."""
    if os.geteuid() != 0:
        pytest.fail("the multihop lab needs root (network namespaces, /etc/netns); run pytest as root")
    keep = os.environ.get("MULTIHOP_LAB_KEEP") == "1"
    n_targets = os.environ.get("MULTIHOP_LAB_TARGETS", "3")
    if not (keep and lab_is_up(n_targets)):
        result = lab_cli("up", "--targets", n_targets)
        if result.returncode != 0:
            pytest.fail(f"lab.py up failed:\n{result.stdout}\n{result.stderr}")
    status = json.loads(lab_cli("status").stdout)
    data = json.loads(Path(status["lab_json"]).read_text())
    yield data
    if not keep:
        lab_cli("down")
