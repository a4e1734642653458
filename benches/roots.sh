#!/usr/bin/env bash
# Benchmark: building the offline fixture agent for Debian 11 (and 13) roots,
# `cfy-ap --root` (from the host, private mount namespace + overlay per command)
# side by side with the standard way (`chroot ROOT cfy-ap ...`: the binary and the
# fixtures copied into the root), and two roots in one `--root` run against one.
# Medians of N interleaved runs; all with the portable release binary.
#
#   bash benches/roots.sh          # N=3
#   N=5 bash benches/roots.sh
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-3}
bash tests/tools/roots.sh bullseye trixie >/dev/null
bash packaging/portable.sh target/portable/dist >/dev/null
BIN=$PWD/target/portable/dist/cfy-ap
CACHE=${CFY_AP_TEST_ROOTS:-/var/cache/cfy-ap-test/roots}
W=$(mktemp -d /tmp/cfy-ap-bench.XXXXXX)
trap 'rm -rf "$W"' EXIT
F=$PWD/fixtures

config() { # fixtures dir
  cat <<YAML
python_path: /usr/bin/python3
base_modules:
  celery: celery==3.1.17
  rest_client: $1/modules/cloudify-rest-client
  plugins_common: cloudify-plugins-common==3.2
  script_plugin: $1/modules/cloudify-script-plugin
  diamond_plugin: $1/modules/cloudify-diamond-plugin
management_modules_source: $1/cloudify-manager-master.tar.gz
additional_modules: [$1/modules/my-plugin]
pip_options: [--no-index, --find-links, $1/wheels]
YAML
}
for s in bullseye trixie; do
  cp -a "$CACHE/$s" "$W/$s"            # for --root (never written)
  cp -a "$CACHE/$s" "$W/chroot-$s"     # for chroot: binary and fixtures inside
  cp "$BIN" "$W/chroot-$s/usr/local/bin/cfy-ap"
  cp -a "$F" "$W/chroot-$s/fixtures"
  mkdir -p "$W/chroot-$s/work"
  config /fixtures > "$W/chroot-$s/work/c.yaml"
done
mkdir -p "$W/host"
config "$F" > "$W/host/c.yaml"
echo "fixture agent (10 modules, offline); $N runs each, interleaved; $(nproc) cores"

now() { date +%s%N; }
declare -A T
run() { # name, command...
  local name=$1; shift
  local s e; s=$(now)
  "$@" >/dev/null 2>&1 || { echo "$name failed" >&2; exit 1; }
  e=$(now)
  T[$name]+="$(( (e - s) / 1000000 )) "
}
inroot() { chroot "$W/chroot-$1" /bin/sh -c 'cd /work && cfy-ap -q -f -c c.yaml'; }
cd "$W/host"
for _ in $(seq "$N"); do
  run chroot-deb11 inroot bullseye
  run root-deb11 "$BIN" -q -f -c c.yaml --root "$W/bullseye"
  run chroot-deb13 inroot trixie
  run root-deb11+13 "$BIN" -q -f -c c.yaml --root "$W/bullseye" --root "$W/trixie"
done
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
declare -A M
for k in chroot-deb11 root-deb11 chroot-deb13 root-deb11+13; do M[$k]=$(echo "${T[$k]}" | median); done
printf '%-22s %10s\n' "build" "median ms"
for k in chroot-deb11 root-deb11 chroot-deb13 root-deb11+13; do printf '%-22s %10s\n' "$k" "${M[$k]}"; done
awk -v a="${M[root-deb11]}" -v b="${M[chroot-deb11]}" \
  'BEGIN {printf "--root / chroot (Debian 11): %.2f\n", a/b}'
awk -v a="${M[root-deb11+13]}" -v b="${M[root-deb11]}" -v c="${M[chroot-deb11]}" -v d="${M[chroot-deb13]}" \
  'BEGIN {printf "two roots / one root: %.2f; two roots / (chroot 11 + chroot 13): %.2f\n", a/b, a/(c+d)}'
