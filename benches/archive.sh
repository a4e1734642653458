#!/usr/bin/env bash
# Benchmark: `cfy-ap archive` against GNU `tar czf` and `tar -I pigz` on the same
# real virtualenv, side by side in one run (medians of N runs, interleaved), plus
# output sizes and peak memory (flat in payload size: measured on the venv and on
# a venv twice as large).
#
#   bash benches/archive.sh            # N=5
#   N=9 bash benches/archive.sh
#
# The venv: `python3 -m venv` plus a copy of the Python standard library (real .py,
# .pyc and .so files, ~100-200 MB) so that the payload looks like a large agent.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-5}
command -v pigz >/dev/null || apt-get install -y pigz >/dev/null
command -v /usr/bin/time >/dev/null || apt-get install -y time >/dev/null
cargo build --release --quiet
BIN=$PWD/target/release/cfy-ap
W=$(mktemp -d /tmp/cfy-ap-bench.XXXXXX)
trap 'rm -rf "$W"' EXIT

python3 -m venv "$W/env"
STDLIB=$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["stdlib"])')
cp -a "$STDLIB" "$W/env/lib/stdlib-copy"
# Warm the page cache so every tool reads from memory.
tar cf - -C "$W" env | cat >/dev/null
SIZE=$(du -sm "$W/env" | cut -f1)
FILES=$(find "$W/env" | wc -l)
echo "payload: $W/env, $SIZE MB, $FILES entries; $N runs each; $(nproc) cores"

now() { date +%s%N; }
declare -A T
run() { # name, command...
  local name=$1; shift
  local s e; s=$(now); "$@" >/dev/null 2>&1; e=$(now)
  T[$name]+="$(( (e - s) / 1000000 )) "
}
for _ in $(seq "$N"); do
  run cfy-ap "$BIN" -q archive "$W/env" "$W/ours.tar.gz" --prefix env -f
  run tar-czf tar czf "$W/gnu.tar.gz" -C "$W" env
  run tar-pigz tar -I pigz -cf "$W/pigz.tar.gz" -C "$W" env
done
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
declare -A M
for k in cfy-ap tar-czf tar-pigz; do M[$k]=$(echo "${T[$k]}" | median); done
sz() { stat -c %s "$1"; }
printf '%-10s %10s %12s %10s\n' tool "median ms" "bytes" "vs tar czf"
for k in cfy-ap tar-czf tar-pigz; do
  f=$W/gnu.tar.gz; [ $k = cfy-ap ] && f=$W/ours.tar.gz; [ $k = tar-pigz ] && f=$W/pigz.tar.gz
  printf '%-10s %10s %12s %10s\n' "$k" "${M[$k]}" "$(sz "$f")" \
    "$(awk -v a="${M[$k]}" -v b="${M[tar-czf]}" 'BEGIN {printf "%.2fx", a/b}')"
done
awk -v a="$(sz "$W/ours.tar.gz")" -v b="$(sz "$W/gnu.tar.gz")" \
  'BEGIN {printf "size: cfy-ap output is %+.2f%% vs tar czf (bar: <= +2%%)\n", (a/b-1)*100}'
awk -v a="${M[cfy-ap]}" -v b="${M[tar-czf]}" -v c="${M[tar-pigz]}" \
  'BEGIN {printf "time: cfy-ap / tar czf = %.2f (bar: <= 0.30); cfy-ap / tar -I pigz = %.2f\n", a/b, a/c}'

# Peak memory on the payload and on one twice as large: flat means streaming.
rss() { /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -1; }
R1=$(rss "$BIN" -q archive "$W/env" "$W/m1.tar.gz" --prefix env -f)
cp -a "$STDLIB" "$W/env/lib/stdlib-copy2"
R2=$(rss "$BIN" -q archive "$W/env" "$W/m2.tar.gz" --prefix env -f)
echo "peak RSS: ${R1} KiB for $SIZE MB, ${R2} KiB for $(du -sm "$W/env" | cut -f1) MB"
