"""Pre-seed ansible-test's pip bootstrap cache so ``ansible-test sanity`` works offline.

When ansible-test builds a sanity venv it runs ``get-pip.py`` for its pinned pip,
downloading it from a CI file host unless ``~/.ansible/test/cache/get_pip_<ver>.py``
exists (see ``ansible_test/_util/target/setup/requirements.py``). That host is not
reachable from our machines, while the package index is. We write, for each pip
version this ansible-test pins, a small stand-in that ansible-test runs exactly as
it would run get-pip.py (``python get_pip_X.py [pip options] pip==X ...``):
ensurepip puts the bundled pip into the new venv, which then installs the
requested packages from the configured package index.

Run it with the Python of the venv holding ansible-core (it imports ansible_test).
"""

from __future__ import annotations

import pathlib
import re
import sys

STANDIN = '''\
"""Stand-in for get-pip.py, written by jumphosts.multihop tests/ci/seed_ansible_test_pip.py."""
import subprocess
import sys

# Options that only get-pip.py understands; pip install would reject them.
GET_PIP_ONLY = {"--no-setuptools", "--no-wheel"}

subprocess.check_call([sys.executable, "-m", "ensurepip", "--default-pip"])
args = [a for a in sys.argv[1:] if a not in GET_PIP_ONLY]
subprocess.check_call([sys.executable, "-m", "pip", "install", *args])
'''

MARKER = "written by jumphosts.multihop"


def pinned_pip_versions() -> set[str]:
    import ansible_test

    source = pathlib.Path(ansible_test.__file__).parent / "_internal" / "python_requirements.py"
    versions = set(re.findall(r"""\bpip\s*=\s*['"]([0-9][0-9.]*)['"]""", source.read_text()))
    if not versions:
        sys.exit(f"seed_ansible_test_pip: no pinned pip version found in {source}; ansible-test changed?")
    return versions


def main() -> None:
    cache = pathlib.Path("~/.ansible/test/cache").expanduser()
    cache.mkdir(parents=True, exist_ok=True)
    for version in sorted(pinned_pip_versions()):
        target = cache / f"get_pip_{version.replace('.', '_')}.py"
        if target.exists() and MARKER not in target.read_text(errors="replace"):
            print(f"seed_ansible_test_pip: keeping existing {target}")
            continue
        target.write_text(STANDIN)
        print(f"seed_ansible_test_pip: pip {version} -> {target}")


if __name__ == "__main__":
    main()
