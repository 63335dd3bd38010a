#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Install everything the tests need on a Debian machine, then run them: bash tests/run.sh [pytest args]
# Debian packages are installed when run as root; otherwise the exact apt-get line is printed and we fail.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES="slapd ldap-utils openssl dovecot-sieve dovecot-managesieved sieve-connect litmus vdirsyncer python3-venv swaks dovecot-lmtpd postfix nginx systemd"
need() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]; }
missing=""
for package in $PACKAGES; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing="$missing $package"
done
if [ -n "$missing" ]; then
    if [ "$(id -u)" = "0" ]; then
        echo "installing Debian packages for:$missing" >&2
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends $PACKAGES >/dev/null
    else
        echo "missing:$missing" >&2
        echo "run: sudo apt-get install -y $PACKAGES" >&2
        exit 1
    fi
fi
for binary in slapd slapadd ldapsearch openssl sieve-test sievec sieve-connect litmus vdirsyncer swaks postfix postconf nginx systemd-analyze; do
    need "$binary" || { echo "still missing after install: $binary" >&2; exit 1; }
done

VENV="${GROUPWARE_VENV:-.venv}"
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip "setuptools>=77" wheel
"$VENV/bin/python" -m pip install -q -e ".[test]"
bash tests/checks.sh "$VENV"
exec "$VENV/bin/python" -m pytest "$@"
