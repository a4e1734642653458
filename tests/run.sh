#!/usr/bin/env bash
# The test suite, in two tiers:
#
#   bash tests/run.sh          everything (what .ci/run runs)
#   bash tests/run.sh --fast   the unit tests and the integration targets that need
#                              no Debian root, chroot, dnf, portable build or
#                              whole agent builds (pip, uv, pyenv's Pythons)
#
# Installs the system tools the tests drive (real dpkg-deb, lintian, rpm,
# rpmbuild, rpmlint, gpg/gpgv, apt, dnf, createrepo_c, python3 venv) when they are
# missing, builds every test target once, then runs the unit tests and each
# integration target in turn, and prints how long each took. A failing target
# does not stop the others; the exit status is 1 when any failed.
#
# Integration targets are the cargo convention's: tests/<area>/main.rs (cli,
# package, apt, build, yum, roots: one binary per area, its files modules of it)
# and any tests/<name>.rs. A target is in the fast tier unless its main file has
# the line
#   //! Tier: full
# (tests/build: whole agent builds, up to 30 s of CPU each; tests/yum: dnf;
# tests/roots: Debian roots, chroots, qemu, the portable build). Inside the fast
# targets, a test that builds a whole fixture agent sits in a module named
# `builds` (e.g. cli's `ux::builds::progress_on_a_terminal`): --fast skips them.
# Arguments after the tier option go to every test binary (a name filter,
# --test-threads=N, --nocapture...).
set -euo pipefail
cd "$(dirname "$0")/.."
tier=full
if [ "${1:-}" = --fast ]; then
  tier=fast
  shift
fi
start=$(date +%s)
need=()
have() { command -v "$1" >/dev/null 2>&1; }
have tar || need+=(tar)
have gzip || need+=(gzip)
have dpkg-deb || need+=(dpkg)
have lintian || need+=(lintian)
have rpm || need+=(rpm)
have rpmlint || need+=(rpmlint)
have rpmbuild || need+=(rpm)
have dnf || need+=(dnf)
have createrepo_c || need+=(createrepo-c)
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
# --root and portable-binary tests (tests/roots: roots.rs, portable.rs).
have mmdebstrap || need+=(mmdebstrap)
have objdump || need+=(binutils)
have unshare || need+=(util-linux)
have chroot || need+=(coreutils)
# The arm64 root (tests/roots/arch.rs) runs through qemu-user; arch-test tells whether
# an architecture runs here (tests/tools/roots.sh).
[ -e /usr/lib/binfmt.d/qemu-aarch64.conf ] || need+=(qemu-user-static)
have arch-test || need+=(arch-test)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing test tools: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
# Python tools for the installer tests, outside the checkout and never installed
# into an interpreter this script did not create: uv, pip-installed into a cached
# venv of its own (its path goes to the tests as $CFY_AP_TEST_UV); and
# virtualenv<20.22 for pyenv's Python 2.7 (20.22 dropped creating Python 2
# environments), installed by that Python's pip with --target into a cached
# directory of its own, which the tests give cfy-ap as `virtualenv_path`
# ($CFY_AP_TEST_VIRTUALENV). -B and --no-cache-dir: nothing is written into the
# interpreter's site-packages or pip's cache. Each is made in a temporary
# directory and renamed into place, so a cache entry is whole.
tools=${CFY_AP_TEST_TOOLS:-/var/cache/cfy-ap-test/pytools}
if [ ! -x "$tools/bin/uv" ]; then
  echo "installing uv into $tools"
  rm -rf "$tools"
  /usr/bin/python3 -m venv "$tools"
  "$tools/bin/pip" install -q --no-cache-dir --disable-pip-version-check uv
fi
export CFY_AP_TEST_UV="$tools/bin/uv"
py27=${PYENV_ROOT:-/root/.pyenv}/versions/2.7.18/bin/python2.7
virtualenv=${CFY_AP_TEST_VIRTUALENV:-/var/cache/cfy-ap-test/py27-virtualenv}
if [ -x "$py27" ] && [ ! -f "$virtualenv/virtualenv/__main__.py" ]; then
  echo "installing virtualenv<20.22 for $py27 into $virtualenv"
  mkdir -p "$(dirname "$virtualenv")"
  tmp=$(mktemp -d "$(dirname "$virtualenv")/.py27-virtualenv.XXXXXX")
  PYTHONNOUSERSITE=1 "$py27" -B -m pip install -q --no-cache-dir \
    --disable-pip-version-check --target "$tmp" 'virtualenv<20.22'
  chmod 755 "$tmp"
  rm -rf "$virtualenv"
  mv -T "$tmp" "$virtualenv"
fi
export CFY_AP_TEST_VIRTUALENV="$virtualenv"
# moto's S3 server, the endpoint of the S3 publishing tests (tests/common/s3.rs):
# moto[server] at a pinned version, pip-installed into a cached venv of its own
# outside the checkout, made in a temporary directory and renamed into place
# (the tests run its `bin/python -m moto.server`, so the venv's scripts are never
# needed). Its python goes to the tests as $CFY_AP_TEST_MOTO. Reinstalled only
# when missing or of another version.
moto_version=5.2.1
moto=${CFY_AP_TEST_MOTO_VENV:-/var/cache/cfy-ap-test/moto}
if [ "$(cat "$moto/.cfy-ap-moto-version" 2>/dev/null)" != "$moto_version" ]; then
  echo "installing moto[server]==$moto_version into $moto"
  mkdir -p "$(dirname "$moto")"
  tmp=$(mktemp -d "$(dirname "$moto")/.moto.XXXXXX")
  /usr/bin/python3 -m venv "$tmp"
  "$tmp/bin/pip" install -q --no-cache-dir --disable-pip-version-check \
    "moto[server]==$moto_version"
  echo "$moto_version" >"$tmp/.cfy-ap-moto-version"
  chmod 755 "$tmp"
  rm -rf "$moto"
  mv -T "$tmp" "$moto"
fi
export CFY_AP_TEST_MOTO="$moto/bin/python"
# Debian 11 and 13 roots and a Debian 12 arm64 one (qemu's aarch64 binfmt_misc
# handler registered first) for the --root tests (cached in
# /var/cache/cfy-ap-test/roots), and the portable binary (its own target dir;
# tests/roots/portable.rs reuses it). Full tier only. The portable build uses
# Cargo.toml's `portable-check` profile (a dev build without debug info; what the
# test checks, the glibc symbol versions and an agent built in a Debian 11 root,
# does not depend on optimisation), not the release profile with LTO: 186 s of
# CPU from clean instead of 462; CFY_AP_PORTABLE_PROFILE=release tests the binary
# you ship.
# It runs in the background at a low priority, on the CPU the tests leave idle,
# while the other steps run; the `roots` target, which uses it, runs last and
# waits for it.
portable_pid=
export CFY_AP_PORTABLE_PROFILE=${CFY_AP_PORTABLE_PROFILE:-portable-check}
if [ "$tier" = full ]; then
  bash tests/tools/roots.sh bullseye trixie bookworm:arm64
  portable_log=$(mktemp)
  (
    s=$(date +%s) rc=0
    nice -n 10 bash packaging/portable.sh target/portable/dist || rc=$?
    echo "$rc $(($(date +%s) - s))" >"$portable_log.done"
  ) >"$portable_log" 2>&1 &
  portable_pid=$!
fi

# Each row of the table: step, tier, seconds, result. `unit` is the library's and
# the binary's unit tests, `doc` the documentation examples.
rows=()
failed=0
step() { # step NAME TIER COMMAND...
  local name=$1 t=$2 s e rc=0
  shift 2
  echo "=== $name"
  s=$(date +%s)
  "$@" || rc=$?
  e=$(date +%s)
  if [ "$rc" = 0 ]; then
    rows+=("$name $t $((e - s)) ok")
  else
    rows+=("$name $t $((e - s)) FAILED")
    failed=1
  fi
}
rows+=("set-up - $(($(date +%s) - start)) ok")
step compile - cargo test --locked --no-run
step unit fast cargo test --locked --lib --bins -- "$@"
step doc fast cargo test --locked --doc -- "$@"
# `roots` last: it waits for the portable build.
mains=()
for main in tests/*/main.rs tests/*.rs; do
  [ "$main" = tests/roots/main.rs ] || mains+=("$main")
done
[ -e tests/roots/main.rs ] && mains+=(tests/roots/main.rs)
for main in "${mains[@]}"; do
  [ -e "$main" ] || continue
  case $main in
    tests/common/*) continue ;;
    */main.rs) name=$(basename "$(dirname "$main")") ;;
    *) name=$(basename "$main" .rs) ;;
  esac
  t=fast
  grep -qx '//! Tier: full' "$main" && t=full
  if [ "$tier" = fast ] && [ "$t" = full ]; then
    continue
  fi
  if [ "$name" = roots ] && [ -n "$portable_pid" ]; then
    echo "=== waiting for the portable build"
    wait "$portable_pid" || true
    portable_pid=
    read -r rc secs <"$portable_log.done" || rc=1 secs=0
    cat "$portable_log"
    if [ "$rc" = 0 ]; then
      rows+=("portable(bg) - $secs ok")
    else
      rows+=("portable(bg) - $secs FAILED")
      failed=1
    fi
    rm -f "$portable_log" "$portable_log.done"
  fi
  if [ "$tier" = fast ]; then
    # Tests that build a whole fixture agent live in `builds` modules.
    step "$name" "$t" cargo test --locked --test "$name" -- --skip 'builds::' "$@"
  else
    step "$name" "$t" cargo test --locked --test "$name" -- "$@"
  fi
done
# (Only when there was no `roots` target to wait for it.)
[ -z "$portable_pid" ] || wait "$portable_pid" || true

echo
echo "tests/run.sh ($tier tier): seconds per step"
printf '%-18s %-5s %7s  %s\n' step tier seconds result
for r in "${rows[@]}"; do
  read -r name t secs result <<<"$r"
  printf '%-18s %-5s %7s  %s\n' "$name" "$t" "$secs" "$result"
done
printf '%-18s %-5s %7s\n' total "" "$(($(date +%s) - start))"
exit "$failed"
