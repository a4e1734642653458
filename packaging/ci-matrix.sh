#!/usr/bin/env bash
# The CI matrix of README "Building for many distributions", as plain shell: one
# job per build root, run in parallel, each writing its debs into its own
# directory (in CI: a job's artifacts), then ONE publish job adds all of them to
# the apt repository (cfy-ap publish: one writer at a time under its lock, files
# renamed into place in an order that readers never see half-written).
#
#   bash packaging/ci-matrix.sh CFY_AP CONFIG OUT REPO ROOT...
#
# CFY_AP: the cfy-ap binary (the portable one in CI); CONFIG: the agent config
# (its paths absolute); OUT: job directories OUT/job-<n>/; REPO: the repository.
# In CI each job runs `cfy-ap -c CONFIG --format deb` inside its distribution's
# container; here each job builds in its root with --root.
set -euo pipefail
[ $# -ge 5 ] || { echo "usage: $0 CFY_AP CONFIG OUT REPO ROOT..." >&2; exit 2; }
cfy_ap=$(realpath "$1") config=$(realpath "$2") out=$3 repo=$4
shift 4
mkdir -p "$out"
pids=() n=0
for root in "$@"; do
  n=$((n + 1))
  job="$out/job-$n"
  mkdir -p "$job"
  ( cd "$job" && "$cfy_ap" -q -c "$config" --root "$root" --format deb ) > "$job/log" 2>&1 &
  pids+=("$!")
done
failed=0 n=0
for pid in "${pids[@]}"; do
  n=$((n + 1))
  if ! wait "$pid"; then
    echo "job-$n failed:" >&2; cat "$out/job-$n/log" >&2; failed=1
  fi
done
[ "$failed" = 0 ] || exit 1
# The publish job: every job's debs, one publish.
"$cfy_ap" -q publish --repo "$repo" "$out"/job-*/*.deb
