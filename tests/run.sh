#!/usr/bin/env bash
# The whole test suite. Installs the system tools the tests drive (real dpkg-deb,
# lintian, rpm, rpmlint, gpg/gpgv, apt, python3 venv) when they are missing, then
# runs every unit and integration test.
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
have() { command -v "$1" >/dev/null 2>&1; }
have tar || need+=(tar)
have gzip || need+=(gzip)
have dpkg-deb || need+=(dpkg)
have lintian || need+=(lintian)
have rpm || need+=(rpm)
have rpmlint || need+=(rpmlint)
have gpg || need+=(gnupg)
have gpgv || need+=(gpgv)
have cpio || need+=(cpio)
have rpm2cpio || need+=(rpm2cpio)
have apt-get || need+=(apt)
have apt-ftparchive || need+=(apt-utils)
have zsh || need+=(zsh)
have fish || need+=(fish)
have tcsh || need+=(tcsh)
have dash || need+=(dash)
have groff || need+=(groff-base)
have man || need+=(man-db)
have script || need+=(bsdutils)
have sha256sum || need+=(coreutils)
/usr/bin/python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || need+=(python3-venv)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing test tools: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
cargo test --locked
