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

import importlib.metadata
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement

REPO_ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def runtime_requirement(name: str) -> Requirement:
    """The requirement on ``name`` in a pip requirements file (the collection's requirements.txt by default)."""
    return requirement_in(REPO_ROOT / "requirements.txt", name)


def requirement_in(path: Path, name: str) -> Requirement:
    found = [Requirement(line.split("#", 1)[0].strip()) for line in path.read_text().splitlines()
             if line.split("#", 1)[0].strip()]
    (match,) = [r for r in found if r.name == name]
    return match


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
    ours = [Requirement(line.split("#", 1)[0].strip()) for line in pip_lines if "jumphosts.multihop" in line]
    assert runtime_requirement("paramiko") in ours, pip_lines
    assert any(line.startswith("openssh-client [platform:dpkg]") for line in bindep_lines), bindep_lines
    assert any(line.startswith("openssh-clients [platform:rpm]") for line in bindep_lines), bindep_lines


def test_runtime_and_test_requirements_name_the_tested_paramiko() -> None:
    """requirements.txt (what an execution environment installs) allows exactly the paramiko range both test
    venvs are built from, and the paramiko these tests run on is inside it."""
    runtime = runtime_requirement("paramiko")
    for name in ("requirements.txt", "requirements-2.19.txt"):
        assert requirement_in(REPO_ROOT / "tests" / name, "paramiko").specifier == runtime.specifier, name
    assert runtime.specifier.contains(importlib.metadata.version("paramiko"))
