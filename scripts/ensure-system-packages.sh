#!/usr/bin/env bash
# Makes sure the Debian packages in scripts/system-packages.txt are installed before any test
# runs. As root on Debian it installs the missing ones with apt-get; anywhere else it stops with
# one line per missing package and the command that installs them all.
set -euo pipefail
# SYSTEM_PACKAGES_LIST points at another list (the script's own test uses it).
list="${SYSTEM_PACKAGES_LIST:-$(dirname "$0")/system-packages.txt}"
mapfile -t wanted < <(grep -v '^\s*#' "$list" | awk 'NF {print $1}')

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

if ! command -v dpkg-query >/dev/null 2>&1; then
  echo "system packages: not a Debian system; the tests need: ${wanted[*]} (or their equivalents)" >&2
  exit 1
fi
missing=()
for p in "${wanted[@]}"; do installed "$p" || missing+=("$p"); done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "system packages: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >&2
  apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
  exit 0
fi
for p in "${missing[@]}"; do
  why=$(grep -E "^$p\s" "$list" | sed -E "s/^$p\s+//")
  echo "missing system package: $p ($why)" >&2
done
echo "install them with: sudo apt-get update && sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
exit 1
