#!/usr/bin/env bash
# Installs the Debian packages of a list that are missing: the runner's (debian-packages.txt
# beside this script) by default, or the list given as the first argument (tests/debian-packages.txt).
# As root it runs apt-get; otherwise it names what to install and fails.
set -euo pipefail
list="${1:-$(dirname "$0")/debian-packages.txt}"
mapfile -t packages < <(grep -v -E '^\s*(#|$)' "$list")
missing=()
for package in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$package")
done
if [[ ${#missing[@]} -eq 0 ]]; then
  echo "Debian packages: all ${#packages[@]} present (${packages[*]})"
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "Missing packages ${missing[*]} and no apt-get: install their equivalents, or set BENCHRUN_XHPL" >&2
  exit 1
fi
if [[ $(id -u) -ne 0 ]]; then
  echo "Missing Debian packages: ${missing[*]}" >&2
  echo "Install them as root:  sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "Installing Debian packages: ${missing[*]}"
apt-get update -q
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
