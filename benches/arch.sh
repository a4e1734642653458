#!/usr/bin/env bash
# Benchmark: an agent for another architecture through qemu-user (issue 30).
#  1. `cfy-ap --root` building the offline fixture agent in a Debian 12 amd64 root
#     (native) and in a Debian 12 arm64 root (emulated): medians, the ratio, and
#     the step times of `-v` (median per step) to show which steps dominate.
#  2. The installer alone, pip against uv, native and emulated: through chroot,
#     `python3 -m venv` + pip install against `uv venv` + `uv pip install`, the
#     ten fixture wheels offline (a --root build uses the root's own pip; uv is
#     not run inside roots, so this measures what it would give). The arm64 uv
#     is the same version as the host's, from its PyPI wheel (downloaded once
#     with pip into $CFY_AP_TEST_TOOLS-aarch64-uv).
# Medians of N interleaved runs; the release binary (or $BIN).
#
#   bash benches/arch.sh          # N=3
#   N=5 bash benches/arch.sh
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-3}
bash tests/tools/roots.sh bookworm bookworm:arm64 >/dev/null
if [ -z "${BIN:-}" ]; then
  cargo build --release --locked --quiet
  BIN=${CARGO_TARGET_DIR:-$PWD/target}/release/cfy-ap
fi
CACHE=${CFY_AP_TEST_ROOTS:-/var/cache/cfy-ap-test/roots}
TOOLS=${CFY_AP_TEST_TOOLS:-/var/cache/cfy-ap-test/pytools}
UV=$TOOLS/bin/uv
UV_ARM=$TOOLS-aarch64-uv/uv
if [ ! -x "$UV_ARM" ]; then
  version=$("$UV" --version | cut -d' ' -f2)
  tmp=$(mktemp -d)
  "$TOOLS/bin/pip" download -q --no-deps --only-binary=:all: --disable-pip-version-check \
    --platform manylinux2014_aarch64 -d "$tmp" "uv==$version"
  mkdir -p "$TOOLS-aarch64-uv"
  (cd "$tmp" && python3 -m zipfile -e uv-*.whl x)
  install -m 755 "$tmp"/x/uv-*.data/scripts/uv "$UV_ARM"
  rm -rf "$tmp"
fi
W=$(mktemp -d /tmp/cfy-ap-bench.XXXXXX)
trap 'rm -rf "$W"' EXIT
F=$PWD/fixtures
cat >"$W/c.yaml" <<YAML
python_path: /usr/bin/python3
base_modules:
  celery: celery==3.1.17
  rest_client: $F/modules/cloudify-rest-client
  plugins_common: cloudify-plugins-common==3.2
  script_plugin: $F/modules/cloudify-script-plugin
  diamond_plugin: $F/modules/cloudify-diamond-plugin
management_modules_source: $F/cloudify-manager-master.tar.gz
additional_modules: [$F/modules/my-plugin]
pip_options: [--no-index, --find-links, $F/wheels]
YAML
# The roots: one for --root (never written), one per architecture for chroot
# with the wheels and that architecture's uv inside.
reqs="celery==3.1.17 cloudify-rest-client cloudify-plugins-common cloudify-script-plugin"
reqs+=" cloudify-diamond-plugin cloudify-agent-installer-plugin cloudify-plugin-installer-plugin"
reqs+=" cloudify-windows-agent-installer-plugin cloudify-windows-plugin-installer-plugin my-plugin"
for a in amd64 arm64; do
  src=$CACHE/bookworm-$a
  [ $a = amd64 ] && src=$CACHE/bookworm
  cp -a "$src" "$W/root-$a"
  cp -a "$src" "$W/chroot-$a"
  cp -a "$F/wheels" "$W/chroot-$a/wheels"
done
cp "$UV" "$W/chroot-amd64/usr/local/bin/uv"
cp "$UV_ARM" "$W/chroot-arm64/usr/local/bin/uv"
echo "fixture agent (10 modules, offline); $N runs each, interleaved; $(nproc) cores"
echo "arm64 through $(ls /proc/sys/fs/binfmt_misc | grep aarch64) ($(qemu-aarch64-static --version | head -1))"

# A clean environment (no PIP_*/UV_* settings of the caller).
clean=(env -i PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin HOME=/root)
now() { date +%s%N; }
declare -A T
run() { # name, command... (stdout+stderr kept in $W/<name>.log)
  local name=$1; shift
  local s e; s=$(now)
  "$@" >"$W/$name.log" 2>&1 || { echo "$name failed:" >&2; tail "$W/$name.log" >&2; exit 1; }
  e=$(now)
  T[$name]+="$(( (e - s) / 1000000 )) "
  # Step times of cfy-ap -v, "==> <step> <details> (1.23s)": the step's words
  # before any path, ':' or '(' (details name paths and modules).
  sed -n 's/^==> \(.*\) (\([0-9.]*\)s)$/\1\t\2/p' "$W/$name.log" |
    sed 's/\( \/\|:\| (\)[^\t]*\t/\t/' >>"$W/$name.steps"
}
pip_in() { "${clean[@]}" chroot "$W/chroot-$1" /bin/sh -c \
  "rm -rf /v && python3 -m venv /v && /v/bin/pip install -q --no-index --find-links /wheels $reqs"; }
uv_in() { "${clean[@]}" chroot "$W/chroot-$1" /bin/sh -c \
  "rm -rf /v && uv venv -q --python /usr/bin/python3 /v && VIRTUAL_ENV=/v uv pip install -q --no-cache --no-index --find-links /wheels $reqs"; }
cd "$W"
for _ in $(seq "$N"); do
  run cfy-ap-amd64 "${clean[@]}" "$BIN" -v -f -c c.yaml --root "$W/root-amd64"
  run cfy-ap-arm64 "${clean[@]}" "$BIN" -v -f -c c.yaml --root "$W/root-arm64"
  run pip-amd64 pip_in amd64
  run pip-arm64 pip_in arm64
  run uv-amd64 uv_in amd64
  run uv-arm64 uv_in arm64
done
median() { tr ' ' '\n' | grep -v '^$' | sort -n |
  awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : int((a[NR/2] + a[NR/2+1]) / 2)}'; }
declare -A M
keys="cfy-ap-amd64 cfy-ap-arm64 pip-amd64 pip-arm64 uv-amd64 uv-arm64"
for k in $keys; do M[$k]=$(echo "${T[$k]}" | median); done
printf '%-16s %10s\n' "build" "median ms"
for k in $keys; do printf '%-16s %10s   (runs: %s)\n' "$k" "${M[$k]}" "${T[$k]}"; done
ratio() { awk -v a="$2" -v b="$3" -v t="$1" 'BEGIN {printf "%s: %.1f\n", t, a/b}'; }
ratio "cfy-ap --root, emulated arm64 / native amd64" "${M[cfy-ap-arm64]}" "${M[cfy-ap-amd64]}"
ratio "pip install, emulated / native" "${M[pip-arm64]}" "${M[pip-amd64]}"
ratio "uv install, emulated / native" "${M[uv-arm64]}" "${M[uv-amd64]}"
ratio "emulated: pip / uv" "${M[pip-arm64]}" "${M[uv-arm64]}"
ratio "native: pip / uv" "${M[pip-amd64]}" "${M[uv-amd64]}"
echo "cfy-ap -v steps, median seconds (amd64 | arm64):"
# Median per step (mawk has no asort: sorted by step and time, then grouped).
step_medians() {
  sort -t$'\t' -k1,1 -k2,2g "$1" | awk -F'\t' '
    function out() { if (n) printf "%s\t%s\n", key, (n % 2) ? v[(n+1)/2] : (v[n/2] + v[n/2+1]) / 2 }
    $1 != key { out(); key = $1; n = 0 }
    { v[++n] = $2 }
    END { out() }'
}
for a in amd64 arm64; do step_medians "$W/cfy-ap-$a.steps" >"$W/$a.median"; done
join -t$'\t' "$W/amd64.median" "$W/arm64.median" | sort -t$'\t' -k3 -gr |
  awk -F'\t' '{printf "  %-32s %7.2f | %7.2f\n", $1, $2, $3}'
