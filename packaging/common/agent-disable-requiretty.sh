#!/bin/sh
# agent-disable-requiretty.sh - let the Cloudify agent use sudo without a tty.
#
# The agent installer downloads this script from the manager
# (<resources>/packages/scripts/<Distribution>-agent-disable-requiretty.sh)
# and runs it as root ("sudo <script>") on the agent host. With "requiretty"
# set, sudo refuses to run from a session that has no terminal, and the
# installer and the agent both run their sudo commands that way.
#
# What it does, to the sudoers file only (files pulled in with #include or
# #includedir are not read or changed):
#   * a Defaults line whose only setting is requiretty (for example
#     "Defaults requiretty" or "Defaults    requiretty") is commented out;
#   * if requiretty is still switched on by some other Defaults line (say
#     "Defaults env_reset,requiretty" or "Defaults:alice requiretty"), a line
#     "<same Defaults prefix> !requiretty" is appended, once per prefix.
# If nothing needs changing (the usual case on Debian and Ubuntu), the file is
# not touched at all. Otherwise the new content is written to a copy next to
# the file, checked with "visudo -c -f" when visudo is available, and moved
# over the original in one rename. A failed check leaves the original as it
# was. Running the script a second time changes nothing.
#
# Environment:
#   SUDOERS_FILE  the sudoers file to edit (default /etc/sudoers); for tests.
#   VISUDO        path of visudo (default: found in PATH, /usr/sbin or /sbin).
#                 Set it to "none" to skip the check.
#
# Exit status: 0 when requiretty is off (changed or already off, or there is
# no sudoers file at all); 1 on any error, with the sudoers file unchanged.
set -e

prog=agent-disable-requiretty
SUDOERS_FILE=${SUDOERS_FILE:-/etc/sudoers}

log() {
    printf '%s: %s\n' "$prog" "$*"
}

die() {
    printf '%s: error: %s\n' "$prog" "$*" >&2
    exit 1
}

if [ ! -e "$SUDOERS_FILE" ] && [ ! -L "$SUDOERS_FILE" ]; then
    log "$SUDOERS_FILE does not exist (is sudo installed?); nothing to do"
    exit 0
fi

# Edit the real file behind a symlink, so the link itself stays in place.
target=$SUDOERS_FILE
if [ -L "$target" ]; then
    target=$(readlink -f "$target") || die "cannot resolve the symlink $SUDOERS_FILE"
fi
[ -f "$target" ] || die "$target is not a regular file"
[ -r "$target" ] || die "cannot read $target (run this script as root)"

# Find visudo.
if [ -z "${VISUDO:-}" ]; then
    VISUDO=$(command -v visudo 2>/dev/null || true)
    for candidate in /usr/sbin/visudo /sbin/visudo; do
        if [ -z "$VISUDO" ] && [ -x "$candidate" ]; then
            VISUDO=$candidate
        fi
    done
fi
if [ "$VISUDO" = none ]; then
    VISUDO=
fi

# Rewrites a sudoers file (stdin) into the file named by "out" and prints the
# number of changes it made. Plain POSIX awk: no character classes, so that
# old mawk releases work too.
# shellcheck disable=SC2016 # the $0 below is awk's, not the shell's
awk_prog='
function defaults_prefix(line) {
    sub(/^[ \t]+/, "", line)
    if (line !~ /^Defaults([:@>!][^ \t]*)?[ \t]/)
        return ""
    sub(/[ \t].*$/, "", line)
    return line
}
{
    line = $0
    prefix = defaults_prefix(line)
    if (prefix == "") {
        print line > out
        next
    }
    if (line ~ /^[ \t]*Defaults([:@>!][^ \t]*)?[ \t]+requiretty[ \t]*$/) {
        print "#" line > out
        changes++
        next
    }
    print line > out
    # The settings after the prefix, without a trailing comment.
    rest = line
    sub(/^[ \t]*[^ \t]+/, "", rest)
    sub(/#.*$/, "", rest)
    gsub(/![ \t]+/, "!", rest)
    n = split(rest, setting, /[ \t,]+/)
    for (i = 1; i <= n; i++) {
        if (setting[i] == "requiretty") {
            if (!(prefix in state))
                order[++count] = prefix
            state[prefix] = "on"
        } else if (setting[i] == "!requiretty") {
            if (!(prefix in state))
                order[++count] = prefix
            state[prefix] = "off"
        }
    }
}
END {
    header = 0
    for (i = 1; i <= count; i++) {
        if (state[order[i]] != "on")
            continue
        if (!header) {
            print "" > out
            print "# Added by the Cloudify agent-disable-requiretty script:" > out
            header = 1
        }
        print order[i] " !requiretty" > out
        changes++
    }
    print changes + 0
}
'

# First pass: only count what would change.
changes=$(awk -v out=/dev/null "$awk_prog" < "$target") || die "cannot read $target"
case $changes in
    ''|*[!0-9]*) die "unexpected output from awk: $changes" ;;
esac
if [ "$changes" -eq 0 ]; then
    log "requiretty is not enabled in $target; nothing to do"
    exit 0
fi

tmp=
cleanup() {
    if [ -n "$tmp" ]; then
        rm -f "$tmp"
    fi
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

# Second pass: write the new content into a copy that lives next to the
# original, so that the final mv is a rename within one file system. The
# copy's name contains a dot, so sudo would ignore it even in /etc/sudoers.d,
# and cp -p gives it the owner and mode of the original.
dir=$(dirname "$target")
tmp=$(mktemp "$dir/.sudoers-cloudify.XXXXXX") || die "cannot create a temporary file in $dir"
cp -p "$target" "$tmp" || die "cannot copy $target"
awk -v out="$tmp" "$awk_prog" < "$target" >/dev/null || die "cannot write $tmp"

if [ -n "$VISUDO" ]; then
    if ! "$VISUDO" -c -q -f "$tmp" >/dev/null 2>&1; then
        "$VISUDO" -c -f "$tmp" >&2 || true
        die "the edited copy of $target fails 'visudo -c'; $target was left unchanged"
    fi
else
    log "warning: visudo not found; installing the edited file without a syntax check"
fi

mv -f "$tmp" "$target" || die "cannot replace $target; it was left unchanged"
tmp=

# Give the new file the default SELinux label of its path (CentOS/RHEL).
if command -v restorecon >/dev/null 2>&1; then
    restorecon "$target" 2>/dev/null || true
fi

log "disabled requiretty in $target ($changes change(s))"
