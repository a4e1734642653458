#!/usr/bin/env bash
# Benchmark `cfy-ap publish` of rpms (a yum repository) against createrepo_c.
#
#   benches/yum.sh                # 200 rpms, median of 9 runs, release build
#   N=500 RUNS=5 benches/yum.sh
#   CFY_AP=/path/to/cfy-ap benches/yum.sh   # skip the cargo build
#
# Generates N small rpms with cfy-ap (`--format rpm --from-tar`), then times,
# alternating the tools in each run (median of RUNS):
#   full     cfy-ap publish of all N into an empty repository: copy each rpm into
#            Packages/<letter>/ (reading, checking, checksumming it on the way),
#            primary/filelists/other .xml.gz, repomd.xml
#   cr_full  createrepo_c --no-database over a directory already holding the N
#            rpms (the same documents; no sqlite, which dnf does not need; the
#            copy into place is timed apart, for context)
#   add1     cfy-ap publish of 1 more rpm into the N-rpm repository
#   cr_add1  createrepo_c --update --no-database after copying that rpm in
# Bars (issue 13): full / cr_full <= 1.0, add1 / cr_add1 <= 0.5. Exits 1 when a
# bar is missed. Run it on a settled filesystem: right after mass deletions (other
# builds, or this script's own clean-up when run twice in a row) creating files is
# slow on a journal-less ext4, which the full publish does once per package and
# createrepo_c not at all; the printed `cp -a` time shows that state.
# Needs: createrepo_c (apt-get install createrepo-c).
set -euo pipefail

N=${N:-200}
RUNS=${RUNS:-9}
here=$(cd "$(dirname "$0")/.." && pwd)
if [[ -z "${CFY_AP:-}" ]]; then
    cargo build --release --quiet --manifest-path "$here/Cargo.toml"
    CFY_AP="$here/target/release/cfy-ap"
fi
command -v createrepo_c >/dev/null || { echo "missing createrepo_c (apt-get install createrepo-c)" >&2; exit 2; }

# Work under target/ unless BENCH_DIR says otherwise: on this machine /tmp is
# shared by every test run, and on its journal-less ext4 creating a file there
# costs up to ~0.5 ms (the allocator reads every recently freed inode), which
# measures the machine's churn rather than the tools (`cp` of the 200 rpms:
# ~95 ms in /tmp, ~20 ms under target/). Both tools run in the same place.
mkdir -p "${BENCH_DIR:-$here/target}"
W=$(mktemp -d -p "${BENCH_DIR:-$here/target}" bench-yum.XXXXXX)
trap 'rm -rf "$W"' EXIT

# A tiny agent tar, then one rpm per name, several at a time.
mkdir -p "$W/env/bin" "$W/rpms" "$W/extra"
printf '#!/bin/sh\necho bench\n' >"$W/env/bin/agent"
"$CFY_AP" archive -q "$W/env" "$W/agent.tar.gz" --prefix cloudify/centos-Core-agent/env
make_rpm() { # name out-dir
    local cfg
    cfg=$(mktemp -p "$W" cfg.XXXXXX)
    cat >"$cfg" <<EOF
distribution: centos
release: Core
output_tar: centos-Core-agent.tar.gz
package:
  name: $1
  version: '1.0'
  output_dir: $2
  config_files: $here/packaging/centos
EOF
    # The config is kept: deleting files right before the timed runs makes
    # ext4 slow to allocate inodes (it skips recently freed ones).
    (cd "$W" && SOURCE_DATE_EPOCH=1700000000 "$CFY_AP" -q -c "$cfg" --format rpm --from-tar agent.tar.gz)
}
export -f make_rpm
export W here CFY_AP
echo "generating $N rpms with cfy-ap ..." >&2
seq 1 "$N" | xargs -P "$(nproc)" -I{} bash -c 'make_rpm bench-pkg-{} "$W/rpms"'
make_rpm bench-extra "$W/extra"
extra=$(echo "$W"/extra/*.rpm)

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ms() { awk -v us="$1" 'BEGIN {printf "%.1f", us/1e3}'; }

# Each run writes new directories, all removed at the end (see benches/publish.sh).
full=() cr_full=() add1=() cr_add1=() cp_in=()
for run in $(seq 1 "$RUNS"); do
    ours="$W/ours-$run" theirs="$W/theirs-$run"
    mkdir -p "$theirs"
    sync
    t0=${EPOCHREALTIME/./}
    cp -a "$W/rpms" "$theirs/Packages"
    t1=${EPOCHREALTIME/./}
    cp_in+=($((t1 - t0)))
    sync
    for tool in ours theirs; do
        t0=${EPOCHREALTIME/./}
        if [[ $tool == ours ]]; then
            "$CFY_AP" publish -q --repo "$ours" "$W"/rpms/*.rpm
        else
            createrepo_c -q --no-database "$theirs"
        fi
        t1=${EPOCHREALTIME/./}
        if [[ $tool == ours ]]; then full+=($((t1 - t0))); else cr_full+=($((t1 - t0))); fi
    done

    cp -a "$ours" "$ours-add" && cp -a "$theirs" "$theirs-add" && cp -a "$extra" "$theirs-add/Packages/"
    sync
    for tool in theirs ours; do
        t0=${EPOCHREALTIME/./}
        if [[ $tool == ours ]]; then
            "$CFY_AP" publish -q --repo "$ours-add" "$extra"
        else
            createrepo_c -q --no-database --update "$theirs-add"
        fi
        t1=${EPOCHREALTIME/./}
        if [[ $tool == ours ]]; then add1+=($((t1 - t0))); else cr_add1+=($((t1 - t0))); fi
    done
done

# Sanity: both indexed all N packages, and N + 1 after adding one.
latest() { # the primary repomd.xml names
    local href
    href=$(grep -o 'repodata/[0-9a-f]*-primary.xml.gz' "$1/repodata/repomd.xml")
    zcat "$1/$href" | grep -o 'packages="[0-9]*"'
}
[[ $(latest "$W/ours-1") == "packages=\"$N\"" && $(latest "$W/theirs-1") == "packages=\"$N\"" ]]
[[ $(latest "$W/ours-1-add") == "packages=\"$((N + 1))\"" ]]
[[ $(latest "$W/theirs-1-add") == "packages=\"$((N + 1))\"" ]]

m_full=$(printf '%s\n' "${full[@]}" | median)
m_cr_full=$(printf '%s\n' "${cr_full[@]}" | median)
m_add1=$(printf '%s\n' "${add1[@]}" | median)
m_cr_add1=$(printf '%s\n' "${cr_add1[@]}" | median)
m_cp=$(printf '%s\n' "${cp_in[@]}" | median)
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.3f", a/b}'; }

echo "rpms: $N, runs: $RUNS (medians, tools alternating)"
printf '  %-50s %9s ms\n' "cfy-ap publish, full repository" "$(ms "$m_full")"
printf '  %-50s %9s ms\n' "createrepo_c --no-database" "$(ms "$m_cr_full")"
printf '  %-50s %9s ms\n' "(cp -a of the N rpms, createrepo_c's set-up)" "$(ms "$m_cp")"
printf '  %-50s %9s ms\n' "cfy-ap publish, +1 rpm" "$(ms "$m_add1")"
printf '  %-50s %9s ms\n' "createrepo_c --update --no-database, +1 rpm" "$(ms "$m_cr_add1")"
r_full=$(ratio "$m_full" "$m_cr_full")
r_add=$(ratio "$m_add1" "$m_cr_add1")
echo "  cfy-ap full / createrepo_c        = ${r_full}x  (bar: <= 1.0)"
echo "  cfy-ap +1 / createrepo_c --update = ${r_add}x  (bar: <= 0.5)"
echo "  cfy-ap full / (cp + createrepo_c) = $(ratio "$m_full" "$((m_cp + m_cr_full))")x  (for context: the same input, the same result)"
awk -v f="$r_full" -v a="$r_add" 'BEGIN {exit !(f <= 1.0 && a <= 0.5)}' || {
    echo "FAIL: a bar was missed" >&2
    exit 1
}
echo "PASS"
