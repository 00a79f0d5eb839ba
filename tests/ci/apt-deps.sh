#!/usr/bin/env bash
# Install the Debian packages the tests and the lab need, only those missing.
set -euo pipefail

missing=()
for pkg in "$@"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$pkg")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "apt-deps: all present ($*)"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "apt-deps: missing ${missing[*]}; run as root (or install them yourself)" >&2
  exit 1
fi
echo "apt-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
