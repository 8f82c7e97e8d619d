#!/bin/sh
# Installs the Debian (or Ubuntu) packages named on the command line that
# are not installed yet: `make deps`, and first thing in `make check` and
# `make demo` (pipeline/setup.mk).  When all are there it costs one
# dpkg-query and prints one line, so it can run before every test run.
#
# The missing names are kept as separate arguments all the way to apt-get
# (never one string with newlines in it, which a shell would run as
# commands).  apt-get runs as root, or through sudo when not root; with
# neither, the script names the packages and stops.  The package lists are
# updated once; a failed install is tried once more after a second update
# (a mirror that dropped a connection or moved a file).
#
#   pipeline/deps.sh [-n] PACKAGE...
#     -n   only print what would be installed (exit 0)
# Environment: DEPS=0 skips everything (machines set up by other means);
# DEPS_MARK=FILE: create FILE when something was installed (make then
# reads its makefiles again, pipeline/setup.mk); DEPS_PAUSE: seconds
# before a retry (5).
set -u

prog=deps
if [ "${DEPS:-1}" = 0 ]; then
	echo "$prog: DEPS=0: package step skipped"
	exit 0
fi
dry=0
if [ "${1:-}" = -n ]; then
	dry=1
	shift
fi
if [ $# -eq 0 ]; then
	echo "usage: pipeline/deps.sh [-n] PACKAGE..." >&2
	exit 2
fi

if ! command -v dpkg-query > /dev/null 2>&1; then
	echo "$prog: dpkg-query not found: this is not a Debian or Ubuntu system;" \
		"install by hand the equivalents of: $*" >&2
	echo "$prog: (DEPS=0 skips this step)" >&2
	exit 1
fi

# One query for all of them; a package dpkg has never heard of prints
# nothing (and an error we do not need), so it counts as missing.
installed=$(dpkg-query -W -f='${Package} ${Status}\n' "$@" 2> /dev/null |
	awk '$NF == "installed" { print $1 }')
have=" $(printf '%s' "$installed" | tr '\n' ' ') "
missing=
nmissing=0
for p in "$@"; do
	case "$have" in
	*" $p "*) ;;
	*)
		missing="$missing $p"
		nmissing=$((nmissing + 1))
		;;
	esac
done
if [ "$nmissing" -eq 0 ]; then
	echo "$prog: all $# Debian packages present"
	exit 0
fi
# From here on the missing names are the positional parameters: one
# argument each (package names have no blanks, so splitting on them is
# exact).
# shellcheck disable=SC2086
set -- $missing
echo "$prog: installing $#:" "$@"
if [ "$dry" = 1 ]; then
	exit 0
fi

if [ "$(id -u)" = 0 ]; then
	as_root=
elif command -v sudo > /dev/null 2>&1; then
	as_root=sudo
	echo "$prog: not root: using sudo"
else
	echo "$prog: missing packages:" "$@" >&2
	echo "$prog: not root and no sudo: install them as root" \
		"(apt-get install $*), or run make as root;" \
		"DEPS=0 skips this step" >&2
	exit 1
fi

apt() {
	$as_root env DEBIAN_FRONTEND=noninteractive apt-get "$@"
}

if ! apt update -qq; then
	echo "$prog: apt-get update failed; trying once more" >&2
	sleep "${DEPS_PAUSE:-5}"
	apt update -qq || { echo "$prog: apt-get update failed" >&2; exit 1; }
fi
if ! apt install -y -qq --no-install-recommends "$@"; then
	echo "$prog: apt-get install failed; updating the lists and trying once more" >&2
	sleep "${DEPS_PAUSE:-5}"
	apt update -qq
	if ! apt install -y -qq --no-install-recommends --fix-missing "$@"; then
		echo "$prog: apt-get install failed for:" "$@" >&2
		exit 1
	fi
fi
echo "$prog: installed $#:" "$@"
if [ -n "${DEPS_MARK:-}" ]; then
	: > "$DEPS_MARK"
fi
