#!/usr/bin/env bash
# Benchmark `cfy-ap publish --repo s3://...` side by side with aptly 1.5's S3
# publishing (apt) and with createrepo_c plus an upload of what it changed (yum),
# all against one S3 endpoint: moto's server on 127.0.0.1, behind a counting
# proxy (benches/s3proxy.py) so every tool's requests are counted by kind.
#
#   benches/s3.sh                              # N = 500 and 5000, 3 runs, 3 adds each
#   SIZES="200 1000" RUNS=5 benches/s3.sh
#   RUNS_LARGEST=1 benches/s3.sh               # one full run per tool at the largest N
#   TOOLS="aptly ycr" benches/s3.sh            # only some tools (cfy ycfy aptly ycr)
#   SIGNED=1 benches/s3.sh                     # and signed apt rows (cfys aptlys)
#   CFY_AP=/path/to/cfy-ap benches/s3.sh       # skip the cargo build
#   DELAY_MS=10 benches/s3.sh                  # each request 10 ms later, as across a
#                                              # network (the proxy sleeps; default 0)
#
# For each N, one moto server and proxy (fresh), and in each run every tool in
# turn (the first one rotating), each into a bucket of its own:
#   cfy    cfy-ap publish --repo s3://B/repo of N debs (unsigned), then ADDS times
#          one more deb (+1)
#   aptly  aptly repo create + repo add (N debs) + publish repo -skip-signing to
#          its S3 endpoint (the same proxy), then ADDS times repo add of one deb +
#          publish update; its rootDir (database and local pool) is in the scratch
#          directory, as cfy-ap's inputs are
#   cfys, aptlys  (SIGNED=1) the same, signed with one ed25519 key (cfy-ap
#          --sign-key, aptly -gpg-key with a private GNUPGHOME): InRelease and
#          Release.gpg
#   ycfy   cfy-ap publish --repo s3://B/repo of N rpms, then ADDS times one more
#   ycr    the rpms copied into a local mirror, createrepo_c --no-database,
#          and every file uploaded (s3util.py upload: packages, metadata,
#          repomd.xml last, 8 at a time); +1: the rpm copied in, createrepo_c
#          --update --no-database, and only the files that changed uploaded
# Each op is timed (wall) and the proxy's count of its requests taken after it,
# and moto's CPU time over the op (from /proc): moto serves a request in Python,
# under one interpreter lock, so the CPU it spent on a tool's requests is a
# floor of that tool's wall time, whatever the tool does. The report prints,
# beside each full ratio, its ceiling: the peer's time over moto's CPU for
# cfy-ap's requests, the ratio a client taking no time at all would reach.
# Printed per N: medians of the times (full: RUNS samples, RUNS_LARGEST at the
# largest N; +1: RUNS x ADDS samples), of the request counts by kind and of the
# bytes up/down; the ratios peer / cfy-ap. Then whether cfy-ap's +1 makes the
# same requests at every N, and where they differ, which objects.
# Bars (issue 28, apt against aptly): full >= 1.5x faster, +1 >= 3x faster, and
# the requests of a +1 independent of N. Exits 1 when a bar is missed.
# Generated inputs are cached in CACHE (default /var/cache/cfy-ap-bench): debs by
# benches/s3gen.py (one process, ~1 ms a deb), rpms by cfy-ap (--from-tar).
# moto comes from a private venv: /var/cache/cfy-ap-test/moto when the tests made
# it, else CACHE/moto (made here with pip on the first run). The scratch
# directory (aptly's roots, createrepo_c's mirrors, cfy-ap's TMPDIR) is in
# /dev/shm when it is there. LOGS (default CACHE/logs, emptied at the start) keeps each tool's output
# per bucket, and each op's requests as one line each (see s3proxy.py: kind,
# status, path, bytes up and down, when it came and how long it took).
# Needs: aptly (apt-get install aptly), createrepo_c (createrepo-c), python3-venv,
# curl, jq.
set -euo pipefail
shopt -s inherit_errexit

SIZES=${SIZES:-"500 5000"}
RUNS=${RUNS:-3}
RUNS_LARGEST=${RUNS_LARGEST:-$RUNS}
ADDS=${ADDS:-3}
TOOLS=${TOOLS:-"cfy aptly ycfy ycr"}
[[ ${SIGNED:-0} == 0 ]] || TOOLS="$TOOLS cfys aptlys"
CACHE=${CACHE:-/var/cache/cfy-ap-bench}
here=$(cd "$(dirname "$0")/.." && pwd)
for tool in aptly createrepo_c curl jq; do
    command -v "$tool" >/dev/null || {
        echo "missing $tool (apt-get install aptly createrepo-c curl jq)" >&2
        exit 2
    }
done
if [[ -z "${CFY_AP:-}" ]]; then
    cargo build --release --quiet --manifest-path "$here/Cargo.toml"
    CFY_AP="${CARGO_TARGET_DIR:-$here/target}/release/cfy-ap"
fi

# moto and boto3 from a private venv, never the system's interpreter.
PY=""
for venv in /var/cache/cfy-ap-test/moto "$CACHE/moto"; do
    if "$venv/bin/python" -c 'import moto.server, boto3' 2>/dev/null; then
        PY=$venv/bin/python
        break
    fi
done
if [[ -z $PY ]]; then
    echo "making a venv with moto in $CACHE/moto ..." >&2
    mkdir -p "$CACHE"
    /usr/bin/python3 -m venv "$CACHE/moto"
    "$CACHE/moto/bin/pip" install -q 'moto[server]' boto3
    PY=$CACHE/moto/bin/python
fi

W=$(mktemp -d -p "${TMPDIR:-/var/tmp}")
SCRATCH=$W
[[ -d /dev/shm && -w /dev/shm ]] && SCRATCH=$(mktemp -d -p /dev/shm)
LOGS=${LOGS:-$CACHE/logs}
rm -rf "$LOGS"
mkdir -p "$LOGS" "$SCRATCH/stats"
PIDS=()
stop_endpoint() {
    local pid
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    PIDS=()
}
trap 'stop_endpoint; rm -rf "$W" "$SCRATCH"' EXIT

# No profile or ~/.aws file of the user's may change what the tools do.
export AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench \
    AWS_CONFIG_FILE=$W/no-aws-config AWS_SHARED_CREDENTIALS_FILE=$W/no-aws-credentials
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_DEFAULT_REGION

free_port() { "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
start_endpoint() { # log-name
    local moto_port proxy_port i
    moto_port=$(free_port)
    "$PY" -m moto.server -H 127.0.0.1 -p "$moto_port" >"$LOGS/moto-$1.log" 2>&1 &
    MOTO_PID=$!
    PIDS+=("$MOTO_PID")
    proxy_port=$(free_port)
    "$PY" "$here/benches/s3proxy.py" "$proxy_port" "$moto_port" "${DELAY_MS:-0}" >"$LOGS/proxy-$1.log" 2>&1 &
    PIDS+=($!)
    MOTO=http://127.0.0.1:$moto_port PROXY=http://127.0.0.1:$proxy_port
    for i in $(seq 1 100); do
        curl -sf -o /dev/null "$MOTO/" && curl -sf -o /dev/null "$PROXY/__proxy/take" && break
        [[ $i != 100 ]] || { echo "moto or the proxy did not start (see $LOGS)" >&2; exit 1; }
        sleep 0.1
    done
    export AWS_ENDPOINT_URL=$PROXY
}
# Chores go straight to moto, so the proxy counts only the tools.
s3util() { AWS_ENDPOINT_URL=$MOTO "$PY" "$here/benches/s3util.py" "$@"; }

# --- inputs, generated once into CACHE.
debs() { # N -> the directory of N debs
    local dir=$CACHE/debs-$1
    if [[ ! -f $dir/.complete ]]; then
        echo "generating $1 debs ..." >&2
        rm -rf "$dir"
        /usr/bin/python3 "$here/benches/s3gen.py" "$dir" 1 "$1"
        touch "$dir/.complete"
    fi
    echo "$dir"
}
extra_debs() {
    local dir=$CACHE/extra-debs k
    if [[ ! -f $dir/.complete-$ADDS ]]; then
        for k in $(seq 1 "$ADDS"); do
            /usr/bin/python3 "$here/benches/s3gen.py" "$dir" 0 0 "bench-extra-$k"
        done
        touch "$dir/.complete-$ADDS"
    fi
    echo "$dir"
}
make_rpm() { # name out-dir: out-dir/name-1.0-1.noarch.rpm (cfy-ap's common
    # package, made beside it, is dropped)
    local cfg out
    cfg=$(mktemp -p "$W" cfg.XXXXXX)
    out=$(mktemp -d -p "$W" rpm.XXXXXX)
    cat >"$cfg" <<EOF
distribution: centos
release: Core
output_tar: centos-Core-agent.tar.gz
package:
  name: $1
  version: '1.0'
  output_dir: $out
  config_files: $here/packaging/centos
EOF
    (cd "$W" && SOURCE_DATE_EPOCH=1700000000 "$CFY_AP" -q -c "$cfg" --format rpm --from-tar agent.tar.gz)
    mv "$out/$1"-1.0-*.rpm "$2/"
}
export -f make_rpm
export W here CFY_AP
rpm_tar() {
    [[ -f $W/agent.tar.gz ]] && return
    mkdir -p "$W/env/bin"
    printf '#!/bin/sh\necho bench\n' >"$W/env/bin/agent"
    "$CFY_AP" archive -q "$W/env" "$W/agent.tar.gz" --prefix cloudify/centos-Core-agent/env
}
rpms() { # N -> the directory of N rpms
    local dir=$CACHE/rpms-$1
    if [[ ! -f $dir/.complete ]]; then
        echo "generating $1 rpms with cfy-ap ..." >&2
        rpm_tar
        rm -rf "$dir" && mkdir -p "$dir"
        seq 1 "$1" | xargs -P "$(nproc)" -I{} bash -c "make_rpm bench-pkg-{} $dir"
        [[ $(find "$dir" -name 'bench-pkg-*.rpm' | wc -l) == "$1" ]]
        touch "$dir/.complete"
    fi
    echo "$dir"
}
extra_rpms() {
    local dir=$CACHE/extra-rpms k
    if [[ ! -f $dir/.complete-$ADDS ]]; then
        rpm_tar
        mkdir -p "$dir"
        for k in $(seq 1 "$ADDS"); do
            ls "$dir"/bench-extra-"$k"-*.rpm >/dev/null 2>&1 || make_rpm "bench-extra-$k" "$dir"
        done
        touch "$dir/.complete-$ADDS"
    fi
    echo "$dir"
}

# --- the tools. Each op gets its bucket (and the add number); timing is outside.
cfy_() { # bucket args...: cfy-ap's -v report (its own request count) is kept
    local b=$1
    shift
    "$CFY_AP" publish -v --repo "s3://$b/repo" "$@" >>"$LOGS/$b.log" 2>&1
}
cfy_full() { cfy_ "$1" "$DEBS"/*.deb; }
cfy_add() { cfy_ "$1" "$EXTRA_DEBS"/bench-extra-"$2"_*.deb; }
cfys_full() { cfy_ "$1" --sign-key "$SIGN_KEY" "$DEBS"/*.deb; }
cfys_add() { cfy_ "$1" --sign-key "$SIGN_KEY" "$EXTRA_DEBS"/bench-extra-"$2"_*.deb; }
ycfy_full() { cfy_ "$1" "$RPMS"/*.rpm; }
ycfy_add() { cfy_ "$1" "$EXTRA_RPMS"/bench-extra-"$2"-*.rpm; }

aptly_() { local b=$1; shift; aptly -config="$SCRATCH/$b.conf" "$@" >>"$LOGS/$b.log" 2>&1; }
aptly_publish_full() { # bucket signing-option
    cat >"$SCRATCH/$1.conf" <<EOF
{"rootDir": "$SCRATCH/$1", "architectures": ["amd64"],
 "S3PublishEndpoints": {"bench": {"region": "us-east-1", "bucket": "$1",
   "endpoint": "$PROXY", "awsAccessKeyID": "bench",
   "awsSecretAccessKey": "bench", "forcePathStyle": true, "prefix": "repo"}}}
EOF
    aptly_ "$1" repo create -distribution=stable -component=main bench
    aptly_ "$1" repo add bench "$DEBS"
    aptly_ "$1" publish repo "$2" bench s3:bench:
}
aptly_publish_add() { # bucket k signing-option
    aptly_ "$1" repo add bench "$EXTRA_DEBS"/bench-extra-"$2"_*.deb
    aptly_ "$1" publish update "$3" stable s3:bench:
}
aptly_full() { aptly_publish_full "$1" -skip-signing; }
aptly_add() { aptly_publish_add "$1" "$2" -skip-signing; }
aptlys_full() { aptly_publish_full "$1" -gpg-key="$SIGN_FPR"; }
aptlys_add() { aptly_publish_add "$1" "$2" -gpg-key="$SIGN_FPR"; }

ycr_full() {
    mkdir -p "$SCRATCH/$1/Packages"
    cp "$RPMS"/*.rpm "$SCRATCH/$1/Packages/"
    createrepo_c -q --no-database "$SCRATCH/$1"
    s3util_proxy upload "$SCRATCH/$1" "s3://$1/repo" >>"$LOGS/$1.log"
}
ycr_add() {
    touch "$SCRATCH/$1.stamp"
    cp "$EXTRA_RPMS"/bench-extra-"$2"-*.rpm "$SCRATCH/$1/Packages/"
    createrepo_c -q --no-database --update "$SCRATCH/$1"
    s3util_proxy upload "$SCRATCH/$1" "s3://$1/repo" "$SCRATCH/$1.stamp" >>"$LOGS/$1.log"
}
s3util_proxy() { "$PY" "$here/benches/s3util.py" "$@"; }

now() { echo "${EPOCHREALTIME/./}"; }
# moto's CPU time so far, in microseconds (utime + stime, in clock ticks).
moto_cpu() { awk -v hz="$(getconf CLK_TCK)" '{printf "%.0f", ($14 + $15) * 1e6 / hz}' "/proc/$MOTO_PID/stat"; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ms() { awk -v us="$1" 'BEGIN {printf "%.0f", us/1e3}'; }
kib() { awk -v b="$1" 'BEGIN {printf "%.0f", b/1024}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a/b}'; }

# run_op TOOL OP BUCKET [K]: times it, then takes the proxy's count of its
# requests into stats/N.TOOL.OP.SAMPLE.json (the time in "us").
run_op() {
    local tool=$1 op=$2 b=$3 k=${4:-} t0 t1 c0 c1 label
    label=$b${k:+-$k}
    sync
    c0=$(moto_cpu)
    t0=$(now)
    "${tool}_$op" "$b" "$k" # on failure set -e stops here: see LOGS
    t1=$(now)
    c1=$(moto_cpu)
    curl -sf "$PROXY/__proxy/take?log=$LOGS/requests-$tool-$op-$label.txt" |
        jq -c --argjson us $((t1 - t0)) --argjson moto $((c1 - c0)) '. + {us: $us, moto: $moto}' \
            >"$SCRATCH/stats/$N.$tool.$op.$label.json"
}
# med N TOOL OP FIELD -> the median of FIELD (a jq path) over that op's samples
med() {
    cat "$SCRATCH"/stats/"$1.$2.$3".*.json | jq -r "($4) // 0" | median
}

# Sanity: every repository has N + ADDS packages.
apt_count() { s3util cat "$1" repo/dists/stable/main/binary-amd64/Packages | grep -c '^Package:'; }
yum_count() {
    local href
    href=$(s3util cat "$1" repo/repodata/repomd.xml | grep -o 'repodata/[0-9a-f]*-primary.xml.gz')
    s3util cat "$1" "repo/$href" | zcat | grep -o 'packages="[0-9]*"' | grep -o '[0-9]*'
}

has() { [[ " $TOOLS " == *" $1 "* ]]; }
if has cfy || has cfys || has ycfy; then
    "$CFY_AP" publish --help | grep -q -- '--grace' || {
        echo "$CFY_AP publishes to no S3 (no --grace): set TOOLS to the peers only" >&2
        exit 2
    }
fi
# The tools run in a directory of their own (a cfy-ap that took s3://... for a
# local path would write there), and keep their local state in the scratch
# directory alike: aptly its rootDir, createrepo_c its mirror, cfy-ap its
# working copy (TMPDIR). On this machine's disk, /tmp would cost cfy-ap's full
# publish of 500 ~2.6 s more, deleting the working copy's pool (see RESULTS.md).
mkdir "$SCRATCH/cwd" "$SCRATCH/tmp"
cd "$SCRATCH/cwd"
export TMPDIR=$SCRATCH/tmp
if has cfys || has aptlys; then
    export GNUPGHOME=$W/gnupg
    mkdir -m 700 "$GNUPGHOME"
    gpg --batch -q --passphrase '' --quick-gen-key 'Bench <bench@example.invalid>' ed25519 sign never 2>/dev/null
    SIGN_FPR=$(gpg --with-colons --list-secret-keys 2>/dev/null | awk -F: '/^fpr/ {print $10; exit}')
    SIGN_KEY=$W/sign-key.asc
    gpg --batch --armor --export-secret-keys "$SIGN_FPR" >"$SIGN_KEY"
fi
fail=0
largest=$(tr ' ' '\n' <<<"$SIZES" | sort -n | tail -1)
declare -A add_requests=()
for N in $SIZES; do
    runs=$RUNS
    [[ $N != "$largest" ]] || runs=$RUNS_LARGEST
    tools=()
    for tool in cfy aptly cfys aptlys ycfy ycr; do if has $tool; then tools+=("$tool"); fi; done
    if has cfy || has aptly || has cfys || has aptlys; then DEBS=$(debs "$N") EXTRA_DEBS=$(extra_debs); fi
    if has ycfy || has ycr; then RPMS=$(rpms "$N") EXTRA_RPMS=$(extra_rpms); fi
    start_endpoint "$N"
    for run in $(seq 1 "$runs"); do
        for i in "${!tools[@]}"; do
            tool=${tools[$(((i + run - 1) % ${#tools[@]}))]}
            b=$tool-$N-$run
            s3util mkbucket "$b"
            echo "N=$N run $run: $tool ..." >&2
            run_op "$tool" full "$b"
            for k in $(seq 1 "$ADDS"); do run_op "$tool" add "$b" "$k"; done
            case $tool in
            cfy | aptly | cfys | aptlys) got=$(apt_count "$b") ;;
            *) got=$(yum_count "$b") ;;
            esac
            [[ $got == $((N + ADDS)) ]] || { echo "$b: $got packages, not $((N + ADDS))" >&2; exit 1; }
        done
    done
    stop_endpoint

    echo
    echo "N = $N: medians of $runs full publishes and $((runs * ADDS)) +1s per tool${DELAY_MS:+ ($DELAY_MS ms a request)}"
    printf '  %-5s %-26s %9s %8s %6s %5s %5s %5s %5s %5s %5s %9s %9s\n' \
        op tool ms "moto ms" reqs GET HEAD PUT DEL LIST POST "KiB up" "KiB down"
    for op in full add; do
        for tool in "${tools[@]}"; do
            case $tool in
            cfy) name="cfy-ap (apt)" ;;
            aptly) name="aptly" ;;
            cfys) name="cfy-ap (apt, signed)" ;;
            aptlys) name="aptly (signed)" ;;
            ycfy) name="cfy-ap (yum)" ;;
            ycr) name="createrepo_c + upload" ;;
            esac
            printf '  %-5s %-26s %9s %8s %6s %5s %5s %5s %5s %5s %5s %9s %9s\n' "${op/add/+1}" "$name" \
                "$(ms "$(med "$N" "$tool" "$op" .us)")" "$(ms "$(med "$N" "$tool" "$op" .moto)")" \
                "$(med "$N" "$tool" "$op" .n)" \
                "$(med "$N" "$tool" "$op" .ops.GET)" "$(med "$N" "$tool" "$op" .ops.HEAD)" \
                "$(med "$N" "$tool" "$op" .ops.PUT)" "$(med "$N" "$tool" "$op" .ops.DELETE)" \
                "$(med "$N" "$tool" "$op" .ops.LIST)" "$(med "$N" "$tool" "$op" .ops.POST)" \
                "$(kib "$(med "$N" "$tool" "$op" .up)")" "$(kib "$(med "$N" "$tool" "$op" .down)")"
            if [[ $op == add ]]; then add_requests[$tool.$N]=$(med "$N" "$tool" add .n); fi
        done
    done
    # cfy-ap's own count (-v) of run 1's full publish and last +1, beside the proxy's.
    for tool in cfy cfys ycfy; do
        if has $tool; then
            { grep -ho 's3: [0-9]* requests.*' "$LOGS/$tool-$N-1.log" || true; } |
                sed -n "1s/^/  $tool full, -v: /p; \$s/^/  $tool +1,   -v: /p"
        fi
    done
    for pair in "cfy aptly apt" "cfys aptlys apt-signed" "ycfy ycr yum"; do
        read -r ours theirs kind <<<"$pair"
        has "$ours" && has "$theirs" || continue
        for op in full add; do
            r=$(ratio "$(med "$N" "$theirs" "$op" .us)" "$(med "$N" "$ours" "$op" .us)")
            # The ceiling: the peer's time over moto's CPU for cfy-ap's requests.
            ceiling=$(ratio "$(med "$N" "$theirs" "$op" .us)" "$(med "$N" "$ours" "$op" .moto)")
            ceiling=" (ceiling against this moto: ${ceiling}x)"
            if [[ $kind == apt ]]; then
                bar=$([[ $op == full ]] && echo 1.5 || echo 3)
                verdict=$(awk -v r="$r" -v b="$bar" 'BEGIN {print (r >= b) ? "ok" : "MISSED"}')
                [[ $verdict == ok ]] || fail=1
                echo "  $kind ${op/add/+1}: aptly / cfy-ap = ${r}x (bar: >= ${bar}x) $verdict$ceiling"
            elif [[ $kind == apt-signed ]]; then
                echo "  $kind ${op/add/+1}: aptly / cfy-ap = ${r}x$ceiling"
            else
                echo "  $kind ${op/add/+1}: (createrepo_c + upload) / cfy-ap = ${r}x$ceiling"
            fi
        done
    done
done

# A +1's requests, across N: the same count at every N, or where they differ.
smallest=$(tr ' ' '\n' <<<"$SIZES" | sort -n | head -1)
if [[ $smallest != "$largest" ]]; then
    echo
    for tool in cfy cfys ycfy aptly aptlys ycr; do
        has $tool || continue
        a=${add_requests[$tool.$smallest]} b=${add_requests[$tool.$largest]}
        verdict=""
        if [[ $tool == cfy* || $tool == ycfy ]]; then
            verdict=$([[ $a == "$b" ]] && echo ok || echo MISSED)
            [[ $verdict == ok ]] || fail=1
        fi
        echo "+1 requests, $tool: $a at N=$smallest, $b at N=$largest $verdict"
        if [[ $a != "$b" ]]; then
            # Which objects: the groups of one +1 at each N, side by side.
            diff <(jq -r '.groups | to_entries[] | "\(.value) \(.key)"' \
                "$(ls "$SCRATCH"/stats/"$smallest.$tool".add.*.json | head -1)" | sort -k2) \
                <(jq -r '.groups | to_entries[] | "\(.value) \(.key)"' \
                    "$(ls "$SCRATCH"/stats/"$largest.$tool".add.*.json | head -1)" | sort -k2) |
                grep '^[<>]' | sed "s/^</  N=$smallest:/; s/^>/  N=$largest:/" || true
        fi
    done
fi
[[ $fail == 0 ]] && echo PASS || { echo "FAIL: a bar was missed" >&2; exit 1; }
