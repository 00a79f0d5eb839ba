#!/usr/bin/env bash
# Copy the collection's files into DEST (…/ansible_collections/jumphosts/multihop),
# the layout ansible-test and ansible-galaxy expect. In a git checkout only the files
# git would commit are copied (tracked + untracked-but-not-ignored), so .venv*, .build
# and other local leftovers never reach sanity or the tarball.
set -euo pipefail

dest=${1:?usage: stage-collection.sh DEST}
root=$(cd "$(dirname "$0")/../.." && pwd)

case "$dest" in
  */ansible_collections/jumphosts/multihop) ;;
  *) echo "stage-collection.sh: DEST must end in ansible_collections/jumphosts/multihop" >&2; exit 2 ;;
esac

rm -rf "$dest"
mkdir -p "$dest"
cd "$root"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  # Files deleted in the work tree but still in the index are skipped.
  git ls-files -z --cached --others --exclude-standard \
    | while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done \
    | tar --null --files-from=- -cf - \
    | tar -xf - -C "$dest"
else
  tar --exclude=./.build --exclude='./.venv*' --exclude=./tests/output --exclude='*/__pycache__' -cf - . \
    | tar -xf - -C "$dest"
fi

# ansible-test lists content with git when it finds a .git directory in DEST or above it.
# Above DEST is our own checkout, which ignores .build/, so ansible-test would see no
# files at all ("All targets skipped"). An empty repository of its own in DEST makes it
# list DEST's files (git ls-files --cached --others --exclude-standard).
if command -v git >/dev/null 2>&1; then
  git -C "$dest" init -q
fi
