#!/usr/bin/env bash
# Makes the Debian roots the --root tests build in (cached outside the checkout):
#   $CFY_AP_TEST_ROOTS/<suite>         (default /var/cache/cfy-ap-test/roots/<suite>)
#   $CFY_AP_TEST_ROOTS/<suite>-<arch>  for an argument <suite>:<arch> (a Debian
#                                      architecture name, e.g. bookworm:arm64)
# with mmdebstrap --variant=minbase --include=python3,python3-venv. Each root is
# made in a temporary directory and renamed into place, so a cache entry is whole.
# A root of a foreign architecture runs through qemu-user: this registers qemu's
# binfmt_misc handler for it first when arch-test says its binaries do not run
# here (idempotent; checked every time, since the kernel forgets registrations
# at boot).
set -euo pipefail
cache=${CFY_AP_TEST_ROOTS:-/var/cache/cfy-ap-test/roots}
mkdir -p "$cache"
# Registers qemu-user's handler for a Debian architecture name (qemu-user-static
# ships one binfmt.d file per qemu name; the F flag makes it work in chroots).
register() {
  local qemu
  case $1 in
    arm64) qemu=aarch64 ;;
    armhf | armel) qemu=arm ;;
    ppc64el) qemu=ppc64le ;;
    *) qemu=$1 ;;
  esac
  local bin=/proc/sys/fs/binfmt_misc
  mountpoint -q "$bin" || mount -t binfmt_misc binfmt_misc "$bin"
  [ -e "$bin/qemu-$qemu" ] && return
  echo "registering qemu-$qemu with binfmt_misc"
  cat "/usr/lib/binfmt.d/qemu-$qemu.conf" >"$bin/register"
}
for spec in "$@"; do
  suite=${spec%%:*}
  arch=$(dpkg --print-architecture) name=$suite
  if [ "$spec" != "$suite" ]; then
    arch=${spec#*:} name=$suite-$arch
    arch-test "$arch" >/dev/null 2>&1 || register "$arch"
  fi
  [ -d "$cache/$name" ] && continue
  tmp=$(mktemp -d "$cache/.$name.XXXXXX")
  echo "making the $name root in $cache/$name"
  mmdebstrap --quiet --arch="$arch" --variant=minbase --include=python3,python3-venv \
    "$suite" "$tmp"
  chmod 755 "$tmp"
  mv -T "$tmp" "$cache/$name"
done
