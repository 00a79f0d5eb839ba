#!/usr/bin/env bash
# Run a command (make test), then take the lab down whatever happened, and exit
# with the command's status. Usage: with-lab-teardown.sh PYTHON COMMAND...
set -uo pipefail

python=${1:?usage: with-lab-teardown.sh PYTHON COMMAND...}
shift
root=$(cd "$(dirname "$0")/../.." && pwd)

teardown() {
  status=$?
  trap - EXIT INT TERM
  if [ -f "$root/tests/lab/lab.py" ]; then
    echo "with-lab-teardown: taking the lab down"
    if [ -x "$python" ]; then lab_python=$python; else lab_python=python3; fi
    "$lab_python" "$root/tests/lab/lab.py" down || echo "with-lab-teardown: lab.py down failed" >&2
  fi
  exit "$status"
}
trap teardown EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

"$@"
