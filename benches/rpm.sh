#!/usr/bin/env bash
# Benchmark: the manager .rpm built from an existing ~20 MB agent tar.gz
# (`cfy-ap --format rpm --from-tar`) against `rpmbuild -bb` of an equivalent spec
# (the same four files, modes, owners; the same payload compression, gzip level 0
# = `_binary_payload w0.gzdio`; rpmbuild's post-install scripts, debuginfo and
# build-id links switched off so it does only the packaging work). Interleaved
# runs, medians after one warm-up, plus both tools with zstd level 3.
# Bar: ours <= 0.3x rpmbuild.
#
#   benches/rpm.sh            # uses target/release/cfy-ap (built if missing)
#   RUNS=9 PYLIB=/usr/lib/python3.11 benches/rpm.sh
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}
BIN=${CFY_AP:-$PWD/target/release/cfy-ap}
[ -x "$BIN" ] || cargo build --release --quiet
PYLIB=${PYLIB:-/root/.pyenv/versions/3.11.7/lib/python3.11}
[ -d "$PYLIB" ] || PYLIB=$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["stdlib"])')
command -v rpmbuild >/dev/null || apt-get install -y rpm >/dev/null
command -v /usr/bin/time >/dev/null || apt-get install -y time >/dev/null

W=$(mktemp -d /tmp/cfy-ap-rpm-bench.XXXXXX)
trap 'rm -rf "$W"' EXIT
export SOURCE_DATE_EPOCH=1700000000

# The agent: a copy of a Python standard library (no tests, no site-packages).
mkdir "$W/env"
(cd "$PYLIB" && tar --exclude=./site-packages --exclude=./test --exclude=__pycache__ -cf - .) |
    tar -xf - -C "$W/env"
"$BIN" -q archive "$W/env" "$W/agent.tar.gz" --prefix cloudify/centos-Core-agent/env
rm -rf "$W/env"

config() { # compression level
    cat >"$W/c-$1.yaml" <<YAML
distribution: centos
release: Core
output_tar: $W/centos-Core-agent.tar.gz
package:
  version: '3.2'
  config_files: $PWD/packaging/centos
  output_dir: $W/out-$1
  compression: $1
  compression_level: $2
YAML
    mkdir -p "$W/out-$1"
}
config gzip 0
config zstd 3

# The equivalent spec: %install copies the same files with the same modes.
mkdir -p "$W/rb/SOURCES"
cp "$W/agent.tar.gz" "$PWD"/packaging/centos/* "$W/rb/SOURCES/"
R=/opt/manager/resources/packages
cat >"$W/agent.spec" <<SPEC
Name: cloudify-centos-core-agent
Version: 3.2
Release: 1
Summary: Cloudify agent for centos Core
License: Apache-2.0
Group: Applications/System
%description
The Cloudify agent for centos Core.
%install
install -D -m 0644 %{_sourcedir}/agent.tar.gz %{buildroot}$R/agents/centos-Core-agent.tar.gz
install -D -m 0755 %{_sourcedir}/agent-disable-requiretty.sh %{buildroot}$R/scripts/centos-agent-disable-requiretty.sh
install -D -m 0644 %{_sourcedir}/celeryd-cloudify.conf.template %{buildroot}$R/templates/centos-celeryd-cloudify.conf.template
install -D -m 0644 %{_sourcedir}/celeryd-cloudify.init.template %{buildroot}$R/templates/centos-celeryd-cloudify.init.template
%files
%defattr(-,root,root)
$R/agents/centos-Core-agent.tar.gz
$R/scripts/centos-agent-disable-requiretty.sh
$R/templates/centos-celeryd-cloudify.conf.template
$R/templates/centos-celeryd-cloudify.init.template
SPEC
rpmbuild_cmd() { # payload macro
    rpmbuild -bb --quiet --define "_topdir $W/rb" --define "_binary_payload $1" \
        --define "__os_install_post %{nil}" --define "debug_package %{nil}" \
        --define "_build_id_links none" "$W/agent.spec"
}

now() { date +%s%N; }
declare -A T
run() { # name, command...
    local name=$1 s e
    shift
    s=$(now)
    "$@" >/dev/null 2>&1
    e=$(now)
    T[$name]+="$(((e - s) / 1000000)) "
}
ours() { "$BIN" -q -f -c "$W/c-$1.yaml" --format rpm --from-tar "$W/agent.tar.gz"; }
# Warm-up (page cache, rpm's own caches), then interleaved runs.
ours gzip && ours zstd && rpmbuild_cmd w0.gzdio && rpmbuild_cmd w3.zstdio
for _ in $(seq "$RUNS"); do
    run cfy-ap-gzip0 ours gzip
    run rpmbuild-gzip0 rpmbuild_cmd w0.gzdio
    run cfy-ap-zstd3 ours zstd
    run rpmbuild-zstd3 rpmbuild_cmd w3.zstdio
done
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
declare -A M
for k in cfy-ap-gzip0 rpmbuild-gzip0 cfy-ap-zstd3 rpmbuild-zstd3; do M[$k]=$(echo "${T[$k]}" | median); done

ours_rpm=$(ls "$W"/out-gzip/*.rpm)
theirs_rpm=$(ls "$W"/rb/RPMS/*/*.rpm)
rpm -K "$ours_rpm" >/dev/null && rpm -K "$theirs_rpm" >/dev/null
echo "agent tar: $(stat -c %s "$W/agent.tar.gz") bytes; $(nproc) CPUs, $RUNS runs, medians"
printf '%-16s %10s %12s\n' build "median ms" "rpm bytes"
for k in cfy-ap-gzip0 rpmbuild-gzip0 cfy-ap-zstd3 rpmbuild-zstd3; do
    case $k in
        cfy-ap-gzip0) f=$ours_rpm ;;
        cfy-ap-zstd3) f=$(ls "$W"/out-zstd/*.rpm) ;;
        *) f=- ;;
    esac
    printf '%-16s %10s %12s\n' "$k" "${M[$k]}" "$([ "$f" = - ] && echo - || stat -c %s "$f")"
done
awk -v a="${M[cfy-ap-gzip0]}" -v b="${M[rpmbuild-gzip0]}" -v c="${M[cfy-ap-zstd3]}" \
    -v d="${M[rpmbuild-zstd3]}" \
    'BEGIN {printf "ratio cfy-ap / rpmbuild: gzip -0 %.2f, zstd -3 %.2f (bar: <= 0.30)\n", a/b, c/d}'
rss=$(/usr/bin/time -f %M "$BIN" -q -f -c "$W/c-gzip.yaml" --format rpm --from-tar "$W/agent.tar.gz" 2>&1 >/dev/null | tail -1)
echo "cfy-ap peak RSS: $rss KiB for a $(($(stat -c %s "$W/agent.tar.gz") / 1024)) KiB agent tar (payload streamed)"
