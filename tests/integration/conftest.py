"""Shared fixtures for the integration tests: the multi-hop SSH lab.

Env: MULTIHOP_LAB_TARGETS targets (default: the running lab's, else 3); MULTIHOP_LAB_KEEP=1
leaves the lab up afterwards; MULTIHOP_LAB_DIR moves its state.
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


@pytest.fixture(scope="session")
def lab():
    """The parsed STATE/lab.json of a running lab (see tests/lab/README.md)."""
    if os.geteuid() != 0:
        pytest.fail("the multihop lab needs root (network namespaces, /etc/netns); run pytest as root")
    keep = os.environ.get("MULTIHOP_LAB_KEEP") == "1"
    n_targets = os.environ.get("MULTIHOP_LAB_TARGETS")
    # Idempotent and quick when the lab is already up; without a size it keeps the running lab's.
    result = lab_cli("up", *(["--targets", n_targets] if n_targets else []))
    if result.returncode != 0:
        pytest.fail(f"lab.py up failed:\n{result.stdout}\n{result.stderr}")
    status = json.loads(lab_cli("status").stdout)
    data = json.loads(Path(status["lab_json"]).read_text())
    yield data
    if not keep:
        lab_cli("down")
