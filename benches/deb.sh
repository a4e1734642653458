#!/usr/bin/env bash
# Benchmark: the manager .deb built from an existing ~20 MB agent tar.gz
# (`cfy-ap --format deb --from-tar`) against dpkg-deb on the same staged tree:
# its default (xz), -Zgzip, and md5sum of the files + -Znone (the same work as
# ours without any compression). Medians of 5 runs after one warm-up.
# Bar: ours <= 1.5x (md5sum + dpkg-deb -Znone).
#
#   benches/deb.sh            # uses target/release/cfy-ap (built if missing)
#   RUNS=9 PYLIB=/usr/lib/python3.11 benches/deb.sh
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}
BIN=${CFY_AP:-$PWD/target/release/cfy-ap}
[ -x "$BIN" ] || cargo build --release --quiet
PYLIB=${PYLIB:-/root/.pyenv/versions/3.11.7/lib/python3.11}
[ -d "$PYLIB" ] || PYLIB=$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["stdlib"])')
for t in dpkg-deb md5sum python3; do
    command -v "$t" >/dev/null || { echo "need $t" >&2; exit 1; }
done

W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
export SOURCE_DATE_EPOCH=1700000000

# The agent: a copy of a Python standard library (no tests, no site-packages).
mkdir "$W/env"
(cd "$PYLIB" && tar --exclude=./site-packages --exclude=./test --exclude=__pycache__ -cf - .) |
    tar -xf - -C "$W/env"
"$BIN" -q archive "$W/env" "$W/agent.tar.gz" --prefix cloudify/Ubuntu-trusty-agent/env
rm -rf "$W/env"
mkdir "$W/out"
cat >"$W/c.yaml" <<YAML
distribution: Ubuntu
release: trusty
output_tar: $W/Ubuntu-trusty-agent.tar.gz
package:
  version: '3.2'
  config_files: $PWD/packaging/ubuntu
  output_dir: $W/out
YAML
ours="$BIN -q -f -c $W/c.yaml --format deb --from-tar $W/agent.tar.gz"
$ours
deb=$(ls "$W"/out/*.deb)
# The same tree, staged the way dpkg-deb -b wants it (DEBIAN/ with control, md5sums).
dpkg-deb -R "$deb" "$W/stage"
md5="cd $W/stage && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z | xargs -0 md5sum >$W/md5sums"
dpkg="dpkg-deb --root-owner-group"

echo "agent tar: $(stat -c %s "$W/agent.tar.gz") bytes; deb: $(stat -c %s "$deb") bytes" \
    "($(nproc) CPUs, $RUNS runs, medians)"
names=(ours dpkg-deb-xz dpkg-deb-gzip md5sum+dpkg-deb-none)
cmds=("$ours" "$dpkg -b $W/stage $W/xz.deb" "$dpkg -Zgzip -b $W/stage $W/gz.deb"
    "$md5 && $dpkg -Znone -b $W/stage $W/none.deb")

if command -v hyperfine >/dev/null; then
    args=()
    for i in "${!names[@]}"; do args+=(-n "${names[$i]}" "${cmds[$i]}"); done
    hyperfine --style none --warmup 1 --runs "$RUNS" --export-json "$W/h.json" "${args[@]}" >/dev/null
    python3 - "$W/h.json" >"$W/medians" <<'PY'
import json, sys
for r in json.load(open(sys.argv[1]))["results"]:
    print(r["command"], r["median"])
PY
else
    for i in "${!names[@]}"; do
        bash -c "${cmds[$i]}" >/dev/null
        times=()
        for _ in $(seq "$RUNS"); do
            s=$(date +%s%N); bash -c "${cmds[$i]}" >/dev/null; e=$(date +%s%N)
            times+=("$(( e - s ))")
        done
        med=$(printf '%s\n' "${times[@]}" | sort -n | sed -n "$(( (RUNS + 1) / 2 ))p")
        echo "${names[$i]} $(python3 -c "print($med / 1e9)")"
    done >"$W/medians"
fi

python3 - "$W/medians" <<'PY'
import sys
t = dict(l.split() for l in open(sys.argv[1]))
t = {k: float(v) for k, v in t.items()}
base = t["md5sum+dpkg-deb-none"]
print(f"{'':24}{'median s':>10}{'time / ours':>13}")
for k, v in t.items():
    print(f"{k:24}{v:10.3f}{v / t['ours']:12.1f}x")
ratio = t["ours"] / base
print(f"ours / (md5sum + dpkg-deb -Znone) = {ratio:.2f} (bar: <= 1.5): {'PASS' if ratio <= 1.5 else 'FAIL'}")
sys.exit(0 if ratio <= 1.5 else 1)
PY
