#!/usr/bin/env bash
# Builds a portable cfy-ap: OUTDIR/cfy-ap, x86_64 Linux, needing glibc 2.17 or
# later (CentOS 7, Ubuntu 14.04 and newer), with every feature of the normal build.
#
#   bash packaging/portable.sh OUTDIR
#
# Uses cargo-zigbuild (zig as the C compiler and linker against glibc 2.17
# symbols). It is installed from PyPI (it brings zig as the `ziglang` wheel) into a
# virtualenv cached outside the checkout: $CFY_AP_ZIGBUILD_VENV, default
# ~/.cache/cfy-ap/zigbuild. Needs python3 with venv, cargo, objdump (binutils).
#
# $CFY_AP_PORTABLE_PROFILE picks the cargo profile: `release` (the default: what
# you ship) or another, e.g. `portable-check` (Cargo.toml: a dev build without
# debug info; 186 s of CPU from clean here instead of 462), which tests/run.sh
# uses. The symbol check is the same for every profile: optimisation only drops
# references (the release build's 161 glibc symbols are among portable-check's 162).
set -euo pipefail
out=${1:?usage: bash packaging/portable.sh OUTDIR}
here=$(cd "$(dirname "$0")/.." && pwd)
venv=${CFY_AP_ZIGBUILD_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/cfy-ap/zigbuild}
target=x86_64-unknown-linux-gnu
glibc=2.17
profile=${CFY_AP_PORTABLE_PROFILE:-release}
case $profile in
  dev) dir=debug ;;
  *) dir=$profile ;;
esac
for tool in python3 cargo objdump; do
  command -v "$tool" >/dev/null || { echo "portable.sh: $tool is needed" >&2; exit 2; }
done
if [ ! -x "$venv/bin/cargo-zigbuild" ]; then
  echo "portable.sh: installing cargo-zigbuild into $venv"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check 'cargo-zigbuild==0.24.1' 'ziglang==0.17.1'
fi
# Its own target directory: no rebuild of, and no lock on, the normal one.
tdir=${CFY_AP_PORTABLE_TARGET:-$here/target/portable}
cd "$here"
PATH="$venv/bin:$PATH" cargo-zigbuild zigbuild --locked --profile "$profile" --target "$target.$glibc" --target-dir "$tdir"
bin="$tdir/$target/$dir/cfy-ap"
# The highest GLIBC_ symbol version the binary needs must not pass 2.17.
max=$(objdump -T "$bin" | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -t. -k1,1n -k2,2n -k3,3n | tail -n1)
if [ -z "$max" ] || [ "$(printf '%s\n%s\n' "$max" "$glibc" | sort -t. -k1,1n -k2,2n | tail -n1)" != "$glibc" ]; then
  echo "portable.sh: $bin needs GLIBC_$max, more than $glibc" >&2
  exit 1
fi
mkdir -p "$out"
tmp=$(mktemp "$out/.cfy-ap.XXXXXX")
cp "$bin" "$tmp"
chmod 755 "$tmp"
mv -f "$tmp" "$out/cfy-ap"
echo "wrote $out/cfy-ap (x86_64, glibc >= $glibc; highest symbol version GLIBC_$max; profile $profile)"
