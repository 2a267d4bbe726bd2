#!/bin/sh
# fetch.sh DEST: put pip 26.x (Debian sid's python3-pip-whl) into DEST.
#
# It uses a private apt configuration (its own sources list, lists and
# cache under DEST/apt), so the system's apt state is never changed, and
# needs only Debian's archive (deb.debian.org) to be reachable. apt checks
# the archive signature with the system's debian-archive-keyring.
#
# On success DEST/pip.whl is the wheel and DEST/venv a venv with it
# installed (DEST/venv/bin/python -c 'import pip._vendor.packaging.pylock').
# The installer/pylock tests look for it in $PIPGUARD_PIP26 (the venv's
# python) or, by default, internal/tools/pip26/.cache/venv/bin/python.
set -eu
DEST=${1:-$(dirname "$0")/.cache}
SUITE=${PIP26_SUITE:-sid}
MIRROR=${PIP26_MIRROR:-http://deb.debian.org/debian}
PYTHON=${PYTHON:-python3}
mkdir -p "$DEST"
DEST=$(cd "$DEST" && pwd)
A="$DEST/apt"
mkdir -p "$A/lists/partial" "$A/archives/partial" "$A/etc/sources.list.d" "$A/etc/preferences.d" "$A/etc/apt.conf.d"
echo "deb $MIRROR $SUITE main" > "$A/etc/sources.list"
set -- -o Dir::Etc="$A/etc" -o Dir::Etc::sourcelist="$A/etc/sources.list" \
	-o Dir::Etc::sourceparts="$A/etc/sources.list.d" \
	-o Dir::Etc::trusted=/etc/apt/trusted.gpg -o Dir::Etc::trustedparts=/etc/apt/trusted.gpg.d \
	-o Dir::State::Lists="$A/lists" -o Dir::State::status=/dev/null \
	-o Dir::Cache="$A/cache" -o Dir::Cache::archives="$A/archives" \
	-o APT::Architecture=amd64 -o Acquire::Languages=none
mkdir -p "$A/cache"
apt-get "$@" update >&2
cd "$A/archives"
rm -f python3-pip-whl_*.deb
apt-get "$@" download python3-pip-whl >&2
DEB=$(ls python3-pip-whl_*.deb | head -n1)
rm -rf "$A/x"
dpkg-deb -x "$DEB" "$A/x"
WHL=$(ls "$A"/x/usr/share/python-wheels/pip-*.whl | head -n1)
cp "$WHL" "$DEST/pip.whl"
cp "$WHL" "$DEST/"
rm -rf "$DEST/venv"
"$PYTHON" -m venv --without-pip "$DEST/venv"
# A wheel is a zip that python can run from: use it to install itself.
"$DEST/venv/bin/python" "$WHL/pip" install --no-index --quiet "$WHL" >&2
"$DEST/venv/bin/python" -c 'import pip, pip._vendor.packaging.pylock as p; print(pip.__version__)'
