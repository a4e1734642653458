#!/usr/bin/env bash
# Makes the Debian roots the --root tests build in (cached outside the checkout):
#   $CFY_AP_TEST_ROOTS/<suite>  (default /var/cache/cfy-ap-test/roots/<suite>)
# with mmdebstrap --variant=minbase --include=python3,python3-venv. Each root is
# made in a temporary directory and renamed into place, so a cache entry is whole.
set -euo pipefail
cache=${CFY_AP_TEST_ROOTS:-/var/cache/cfy-ap-test/roots}
mkdir -p "$cache"
for suite in "$@"; do
  [ -d "$cache/$suite" ] && continue
  tmp=$(mktemp -d "$cache/.$suite.XXXXXX")
  echo "making the $suite root in $cache/$suite"
  mmdebstrap --quiet --variant=minbase --include=python3,python3-venv "$suite" "$tmp"
  chmod 755 "$tmp"
  mv -T "$tmp" "$cache/$suite"
done
