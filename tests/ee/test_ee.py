"""The collection's execution-environment metadata works with ansible-builder.

``ansible-builder create`` writes a build context without needing a container
engine. We build an EE definition that installs this collection from its tarball,
then replay in a temporary directory what the image build would do with that
context: the galaxy stage's ``ansible-galaxy collection install -r requirements.yml``
and the builder stage's ``introspect.py``, and check that our Python and system
requirements come out of it.

Runs on the main venv only (make ee): ansible-builder is not in tests/requirements-2.19.txt.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _run(*args: object, cwd: Path | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 0, f"{args} failed:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def collection_tarball(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tarball ``make install`` built, or a fresh build of the work tree."""
    built = os.environ.get("MULTIHOP_COLLECTION_TARBALL")
    if built:
        return Path(built)
    out = tmp_path_factory.mktemp("dist")
    _run(BIN / "ansible-galaxy", "collection", "build", "--output-path", out, REPO_ROOT)
    (tarball,) = out.glob("jumphosts-multihop-*.tar.gz")
    return tarball


@pytest.fixture(scope="module")
def build_context(tmp_path_factory: pytest.TempPathFactory, collection_tarball: Path) -> Path:
    work = tmp_path_factory.mktemp("ee")
    definition = {
        "version": 3,
        "images": {"base_image": {"name": "quay.io/fedora/fedora:latest"}},
        "dependencies": {
            "ansible_core": {"package_pip": "ansible-core"},
            "ansible_runner": {"package_pip": "ansible-runner"},
            "galaxy": {"collections": [{"name": f"collections/{collection_tarball.name}", "type": "file"}]},
        },
        "additional_build_files": [{"src": str(collection_tarball), "dest": "collections"}],
    }
    (work / "execution-environment.yml").write_text(yaml.safe_dump(definition))
    _run(
        BIN / "ansible-builder", "create",
        "--file", "execution-environment.yml",
        "--context", "context",
        "--output-filename", "Containerfile",
        cwd=work,
    )
    return work / "context"


def test_create_writes_containerfile_and_galaxy_requirements(build_context: Path, collection_tarball: Path) -> None:
    containerfile = (build_context / "Containerfile").read_text()
    assert "ansible-galaxy collection install" in containerfile
    assert "introspect" in containerfile

    requirements = yaml.safe_load((build_context / "_build" / "requirements.yml").read_text())
    assert requirements["collections"] == [{"name": f"collections/{collection_tarball.name}", "type": "file"}]
    assert (build_context / "_build" / "collections" / collection_tarball.name).is_file()


def test_introspection_finds_our_requirements(build_context: Path, tmp_path: Path) -> None:
    build = build_context / "_build"
    installed = tmp_path / "usr-share-ansible-collections"
    # Galaxy stage of the Containerfile (run from /build, a copy of _build/). Like the image, it
    # sees no other collections: with ours already installed on ANSIBLE_COLLECTIONS_PATH (as under
    # make), ansible-galaxy would otherwise report "already installed" and install nothing.
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(installed))
    _run(BIN / "ansible-galaxy", "collection", "install", "-r", "requirements.yml", "-p", installed, cwd=build, env=env)
    assert (installed / "ansible_collections" / "jumphosts" / "multihop" / "MANIFEST.json").is_file()
    # Builder stage: the introspection script ansible-builder put into the context.
    pip_out, bindep_out = tmp_path / "requirements.txt", tmp_path / "bindep.txt"
    _run(
        sys.executable, build / "scripts" / "introspect.py", "introspect", installed,
        "--write-pip", pip_out, "--write-bindep", bindep_out,
    )

    pip_lines = pip_out.read_text().splitlines()
    bindep_lines = bindep_out.read_text().splitlines()
    assert any(line.startswith("paramiko>=3.4") and "jumphosts.multihop" in line for line in pip_lines), pip_lines
    assert any(line.startswith("openssh-client [platform:dpkg]") for line in bindep_lines), bindep_lines
    assert any(line.startswith("openssh-clients [platform:rpm]") for line in bindep_lines), bindep_lines
