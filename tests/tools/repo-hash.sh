#!/bin/sh
# repo-hash.sh BIN — publish fixed inputs with the cfy-ap binary BIN into
# (a) a signed apt repository (by-hash, SHA256+SHA512, two codenames, a suite
# symlink, two architectures) through add, a second add, -f replace, --copy,
# --remove and --keep, and (b) a signed yum repository (gzip) and an unsigned
# one (zstd) through add, a second add and -f replace; then print one sha256
# over every file of the repositories (type, path and content or link target),
# plus the --list output. Two binaries that print the same hash wrote the same
# bytes.
#
# The inputs (a gpg key, debs by dpkg-deb, rpms by rpmbuild, all with
# SOURCE_DATE_EPOCH) are made once and kept in $REPO_HASH_INPUTS (default
# ${TMPDIR:-/tmp}/cfy-ap-repo-hash-inputs), since a new key signs differently:
# compare hashes made with the same inputs (their hash is printed too).
#
# Needs: dpkg-deb, rpmbuild, gpg, sha256sum.
set -eu

BIN=${1:?usage: repo-hash.sh PATH/TO/cfy-ap}
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")
INPUTS=${REPO_HASH_INPUTS:-${TMPDIR:-/tmp}/cfy-ap-repo-hash-inputs}
export SOURCE_DATE_EPOCH=1700000000
unset CFY_AP_SIGN_PASSPHRASE || true

make_deb() { # name version arch
    d=$INPUTS/src/$1-$2-$3
    mkdir -p "$d/DEBIAN" "$d/opt/$1"
    printf 'Package: %s\nVersion: %s\nArchitecture: %s\nMaintainer: Tests <t@example.invalid>\nDescription: %s test package\n' \
        "$1" "$2" "$3" "$1" >"$d/DEBIAN/control"
    printf '%s %s %s\n' "$1" "$2" "$3" >"$d/opt/$1/file"
    dpkg-deb --root-owner-group -Zgzip --build "$d" "$INPUTS/$1_$2_$3.deb" >/dev/null
}

make_rpm() { # name version content out
    top=$INPUTS/rpmbuild-$1-$2-$3
    mkdir -p "$top/SPECS"
    printf 'Name: %s\nVersion: %s\nRelease: 1\nSummary: tiny\nLicense: MIT\nBuildArch: noarch\nAutoReqProv: no\n%%description\ntiny\n%%install\nmkdir -p %%{buildroot}/opt/%s\necho %s > %%{buildroot}/opt/%s/file\n%%files\n/opt/%s\n' \
        "$1" "$2" "$1" "$3" "$1" "$1" >"$top/SPECS/t.spec"
    rpmbuild -bb --quiet --define "_topdir $top" --define '__os_install_post %{nil}' \
        --define 'debug_package %{nil}' "$top/SPECS/t.spec" >/dev/null 2>&1
    cp "$top/RPMS/noarch/$1-$2-1.noarch.rpm" "$INPUTS/$4"
}

if [ ! -f "$INPUTS/done" ]; then
    rm -rf "$INPUTS"
    mkdir -p "$INPUTS/gnupg"
    chmod 700 "$INPUTS/gnupg"
    g() { gpg --homedir "$INPUTS/gnupg" --batch --pinentry-mode loopback --passphrase '' "$@"; }
    g --quick-gen-key 'Repo Hash <hash@example.invalid>' rsa3072 sign never 2>/dev/null
    g --armor --export-secret-keys hash@example.invalid >"$INPUTS/key.sec.asc"
    for v in 1.0 1.1 2.0; do make_deb hash-agent "$v" amd64; done
    make_deb hash-agent 1.1 arm64
    make_deb hash-common 1.0 all
    make_deb other-agent 0.5 amd64
    # The same name, version and architecture with other bytes (for -f).
    mkdir -p "$INPUTS/alt"
    d=$INPUTS/src/other-agent-alt
    mkdir -p "$d/DEBIAN" "$d/opt"
    printf 'Package: other-agent\nVersion: 0.5\nArchitecture: amd64\nMaintainer: Tests <t@example.invalid>\nDescription: replaced\n' >"$d/DEBIAN/control"
    dpkg-deb --root-owner-group -Zgzip --build "$d" "$INPUTS/alt/other-agent_0.5_amd64.deb" >/dev/null
    make_rpm hash-agent 1.0 one hash-agent-1.0.rpm
    make_rpm hash-agent 2.0 two hash-agent-2.0.rpm
    make_rpm tiny-agent 1.0 first tiny-1.rpm
    make_rpm tiny-agent 1.0 second tiny-1-alt.rpm
    touch "$INPUTS/done"
fi

OUT=$(mktemp -d "${TMPDIR:-/tmp}/cfy-ap-repo-hash.XXXXXX")
trap 'rm -rf "$OUT"' EXIT
I=$INPUTS
K=$I/key.sec.asc
pub() { "$BIN" -q publish "$@"; }

# (a) apt
A=$OUT/apt
S="--repo $A --sign-key $K --release-hashes SHA256,SHA512"
pub $S --codename bookworm --suite stable "$I/hash-agent_1.0_amd64.deb" "$I/hash-common_1.0_all.deb"
pub $S --codename bookworm --suite stable "$I/hash-agent_1.1_amd64.deb" "$I/hash-agent_1.1_arm64.deb" "$I/other-agent_0.5_amd64.deb"
pub $S --codename bookworm --suite stable -f "$I/alt/other-agent_0.5_amd64.deb"
pub $S --codename trixie --copy bookworm --all
pub $S --codename bookworm --suite stable --remove hash-common
pub $S --codename bookworm --suite stable --keep 1 "$I/hash-agent_2.0_amd64.deb"
pub $S --codename trixie --remove 'hash-agent=1.0/amd64'
"$BIN" publish --repo "$A" --codename bookworm --list >"$OUT/list-bookworm"
"$BIN" publish --repo "$A" --codename trixie --list --json >"$OUT/list-trixie"

# (b) yum, signed (gzip) and unsigned (zstd)
for y in signed zstd; do
    case $y in
    signed) Y="--repo $OUT/yum-$y --sign-key $K" ;;
    zstd) Y="--repo $OUT/yum-$y --compression zstd" ;;
    esac
    pub $Y "$I/hash-agent-1.0.rpm" "$I/tiny-1.rpm"
    pub $Y "$I/hash-agent-2.0.rpm"
    pub $Y -f "$I/tiny-1-alt.rpm"
done

tree() { # every entry under $1: type, path, content or target
    (cd "$1" && find . -mindepth 1 | LC_ALL=C sort | while read -r p; do
        if [ -L "$p" ]; then printf 'L %s -> %s\n' "$p" "$(readlink "$p")"
        elif [ -d "$p" ]; then printf 'D %s\n' "$p"
        else printf 'F %s %s\n' "$p" "$(sha256sum <"$p" | cut -d' ' -f1)"; fi
    done)
}
echo "inputs: $(tree "$INPUTS" | grep -v ' ./gnupg\| ./src/\| ./rpmbuild-' | sha256sum | cut -d' ' -f1)"
echo "repos:  $(tree "$OUT" | sha256sum | cut -d' ' -f1)"
