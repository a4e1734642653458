#!/usr/bin/env bash
# Benchmark: a whole agent build, end to end, against the original tool.
#
# The same agent (celery, the four base modules, cloudify-agent and one extra
# plugin, management modules off) with the same Python 3.7 (pyenv) from the same
# local wheelhouse, built by
#   * the original `cloudify-agent-packager==5.0.11` (in its own Python 3.7 venv,
#     INI config, run with -n; it installs setuptools==36.8.0 first, so that wheel
#     is in the wheelhouse; pip is pointed at the wheelhouse with PIP_NO_INDEX /
#     PIP_FIND_LINKS), and
#   * cfy-ap with `--installer pip` and with `--installer uv`,
# alternating (orig, pip, uv, uv-cold per round) after one warm-up round, medians
# of RUNS. Bars: pip <= 0.40x the original, uv <= 0.15x. cfy-ap's bytecode cache is
# a private one, warm after the warm-up round for pip and uv; uv-cold gets an empty
# one for each run. Prints the per-step medians of cfy-ap's step lines too.
#
# Set-up (cached in $BENCH_CACHE, default /var/cache/cfy-ap-bench; the only
# network use): the original's venv from PyPI, setuptools==36.8.0 and uv from
# PyPI. The modules are the offline fixtures (fixtures/wheels) plus a tiny
# cloudify-agent stand-in built here with flit_core: the build cost measured is
# the tools' own (venv, installer runs, validation, archive), as in issue 12.
#
#   benches/e2e.sh                 # target/release/cfy-ap (built if missing)
#   RUNS=7 PY37=/path/python3.7 benches/e2e.sh
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}
BIN=${CFY_AP:-$PWD/target/release/cfy-ap}
[ -x "$BIN" ] || cargo build --release --quiet
PY37=${PY37:-/root/.pyenv/versions/3.7.16/bin/python3.7}
CACHE=${BENCH_CACHE:-/var/cache/cfy-ap-bench}
[ -x "$PY37" ] || { echo "need Python 3.7 at $PY37 (pyenv install 3.7.16, or set PY37)" >&2; exit 1; }

# --- set-up, cached -----------------------------------------------------------
mkdir -p "$CACHE"
ORIG=$CACHE/orig
if [ ! -x "$ORIG/bin/cfy-ap" ]; then
    "$PY37" -m venv "$ORIG"
    "$ORIG/bin/pip" install -q 'cloudify-agent-packager==5.0.11'
fi
TOOLS=$CACHE/pytools
if [ ! -x "$TOOLS/bin/uv" ]; then
    /usr/bin/python3 -m venv "$TOOLS"
    "$TOOLS/bin/pip" install -q uv
fi
UV=$TOOLS/bin/uv
WH=$CACHE/wheelhouse
if [ ! -f "$WH/.complete" ]; then
    rm -rf "$WH" && mkdir -p "$WH"
    cp fixtures/wheels/*.whl "$WH/"
    "$TOOLS/bin/pip" download -q --no-deps --only-binary :all: -d "$WH" 'setuptools==36.8.0'
    src=$(mktemp -d)
    mkdir -p "$src/cloudify_agent"
    printf '__version__ = "5.0.11"\ndef main():\n    print("cloudify-agent", __version__)\n' \
        >"$src/cloudify_agent/__init__.py"
    cat >"$src/pyproject.toml" <<'TOML'
[build-system]
requires = ["flit_core >=3.4,<4"]
build-backend = "flit_core.buildapi"
[project]
name = "cloudify-agent"
version = "5.0.11"
description = "stand-in for the benchmark"
requires-python = ">=3.6"
[project.scripts]
cfy-agent = "cloudify_agent:main"
TOML
    "$TOOLS/bin/pip" wheel -q --no-deps --no-index --find-links fixtures/wheels -w "$WH" "$src"
    rm -rf "$src"
    touch "$WH/.complete"
fi

# --- the three builds -----------------------------------------------------------
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
mkdir -p "$W/orig" "$W/pip" "$W/uv" "$W/uvcold"
: >"$W/orig/requirements.txt"
cat >"$W/orig/config.ini" <<INI
[system]
distribution=Ubuntu
release=trusty
[install]
requirements_file=$W/orig/requirements.txt
cloudify_agent_module=cloudify-agent==5.0.11
[additional_modules]
celery
cloudify-rest-client
cloudify-plugins-common
cloudify-script-plugin
cloudify-diamond-plugin
[additional_plugins]
my-plugin=my-plugin==1.0
[output]
tar=$W/orig/agent.tar.gz
keep_virtualenv=false
INI
for i in pip uv uvcold; do
    cat >"$W/$i/config.yaml" <<YAML
distribution: Ubuntu
release: trusty
venv: cloudify/env
python_path: $PY37
base_modules:
  celery: celery==3.1.17
  rest_client: cloudify-rest-client==3.2
  plugins_common: cloudify-plugins-common==3.2
  script_plugin: cloudify-script-plugin==1.2
  diamond_plugin: cloudify-diamond-plugin==1.2
management_modules:
  agent_installer: none
  plugin_installer: none
  windows_agent_installer: none
  windows_plugin_installer: none
additional_modules: [cloudify-agent==5.0.11, my-plugin==1.0]
pip_options: [--no-index, --find-links, $WH]
uv_path: $UV
output_tar: agent.tar.gz
YAML
done
export PIP_NO_INDEX=1 PIP_FIND_LINKS=$WH PIP_DISABLE_PIP_VERSION_CHECK=1
export CFY_AP_PROGRESS=plain SOURCE_DATE_EPOCH=1700000000

now() { date +%s.%N; }
one() { # name → prints seconds; cfy-ap's step lines go to $W/<name>.steps
    local t0 t1
    case $1 in
    orig)
        rm -rf "$W/orig/cloudify" "$W/orig/agent.tar.gz"
        t0=$(now)
        (cd "$W/orig" && "$ORIG/bin/cfy-ap" -c config.ini -n >"$W/orig.log" 2>&1) ||
            { cat "$W/orig.log" >&2; exit 1; }
        t1=$(now) ;;
    pip | uv | uvcold)
        # A new, empty cache for each cold run: deleting one in the loop would
        # slow every file creation after it (see README, Performance).
        local xdg=$W/xdg
        [ "$1" = uvcold ] && xdg=$W/xdg-cold-$(date +%s%N)
        t0=$(now)
        (cd "$W/$1" && XDG_CACHE_HOME=$xdg "$BIN" -f -c config.yaml --installer "${1%cold}" 2>"$W/$1.log") ||
            { cat "$W/$1.log" >&2; exit 1; }
        t1=$(now)
        grep '^==> ' "$W/$1.log" >>"$W/$1.steps" || true ;;
    esac
    echo "$t0 $t1" | awk '{printf "%.3f\n", $2 - $1}'
}

for n in orig pip uv uvcold; do one "$n" >/dev/null; done # warm-up: caches, page cache
rm -f "$W"/*.steps
for _ in $(seq "$RUNS"); do
    for n in orig pip uv uvcold; do one "$n" >>"$W/$n.times"; done
done
[ -s "$W/orig/agent.tar.gz" ] && [ -s "$W/pip/agent.tar.gz" ] && [ -s "$W/uv/agent.tar.gz" ]

python3 - "$W" "$RUNS" <<'PY'
import re, statistics, sys
w, runs = sys.argv[1], int(sys.argv[2])
med = {n: statistics.median(float(x) for x in open(f"{w}/{n}.times")) for n in ("orig", "pip", "uv", "uvcold")}
import os
print(f"agent build, Python 3.7, local wheelhouse: {runs} alternating runs, medians ({os.cpu_count()} CPUs)")
print(f"  original cloudify-agent-packager 5.0.11: {med['orig']:.2f} s")
for n, bar in (("pip", 0.40), ("uv", 0.15), ("uvcold", 0.15)):
    r = med[n] / med["orig"]
    what = "uv, cold bytecode cache" if n == "uvcold" else n
    print(f"  cfy-ap --installer {what:<3}: {med[n]:.2f} s  = {r:.2f}x the original (bar {bar:.2f}x: {'ok' if r <= bar else 'MISSED'})")
LABELS = {"checked": "python probe + installer", "created": "virtualenv",
          "installed": "install pass (all modules)", "compiled": "bytecode",
          "made": "relocation", "wrote": "agent tar.gz"}
for n in ("pip", "uv", "uvcold"):
    steps = {}
    for line in open(f"{w}/{n}.steps"):
        m = re.match(r"==> (.*) \((\d+\.\d+)s\)$", line.strip())
        if not m:
            continue
        key = LABELS.get(m.group(1).split()[0], m.group(1))
        steps.setdefault(key, []).append(float(m.group(2)))
    print(f"  steps with {n} (medians):")
    for k, v in steps.items():
        print(f"    {k:<28} {statistics.median(v):6.2f} s")
PY
