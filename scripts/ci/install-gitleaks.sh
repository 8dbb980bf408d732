#!/usr/bin/env bash
# Install gitleaks for the git gate's real-gitleaks tests, on a Debian
# bookworm machine. gitleaks is not in bookworm, but Debian trixie's
# package (8.16.x, a static-ish Go binary that only needs libc6 >= 2.34)
# runs on bookworm. We fetch that one .deb with a scratch apt configuration
# (its own sources list, lists and cache in a temp dir), so the system's apt
# sources and state are never touched, and unpack it with dpkg-deb -x into a
# prefix instead of installing it (no dpkg database change, no trixie
# dependencies pulled in).
#
#   scripts/ci/install-gitleaks.sh [prefix]   (default /opt/claude-bottle-ci/gitleaks)
set -euo pipefail

prefix=${1:-/opt/claude-bottle-ci/gitleaks}
link=/usr/local/bin/gitleaks
case "$prefix" in
  /?*) ;;
  *) echo "install-gitleaks: the prefix must be an absolute path other than / (got '$prefix')" >&2; exit 2 ;;
esac

if command -v gitleaks >/dev/null 2>&1 && gitleaks version >/dev/null 2>&1; then
  echo "install-gitleaks: already installed ($(command -v gitleaks))"
  exit 0
fi

# Use the same Debian mirror apt is configured with (never hard-coded here),
# found exactly like scripts/ci/build-base-image.sh does: only enabled source
# files, only a Debian archive (URI path ends in /debian), never security.
mirror=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list 2>/dev/null \
  | grep -oE '^(URIs:|deb) +[^ ]+' | awk '{print $2}' | grep -E '/debian/?$' | head -n 1 || true)
if [ -z "$mirror" ]; then
  echo "install-gitleaks: no Debian mirror found in the apt configuration" >&2
  exit 1
fi

# Debian's archive keyring (bookworm's debian-archive-keyring already holds
# the trixie keys) so the trixie Release file is verified as usual.
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
if [ ! -r "$keyring" ]; then
  echo "install-gitleaks: $keyring is missing (install debian-archive-keyring)" >&2
  exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/parts" "$work/state/lists/partial" "$work/cache/archives/partial" "$work/deb"
echo "deb [signed-by=$keyring] $mirror trixie main" >"$work/sources.list"
apt_opts=(
  -o "Dir::Etc::sourcelist=$work/sources.list"
  -o "Dir::Etc::sourceparts=$work/parts"
  -o "Dir::State=$work/state"
  -o "Dir::State::status=/var/lib/dpkg/status"
  -o "Dir::Cache=$work/cache"
  -o "APT::Get::List-Cleanup=0"
)

apt-get "${apt_opts[@]}" update -qq >"$work/update.log" 2>&1 || {
  tail -n 20 "$work/update.log" >&2
  exit 1
}
(cd "$work/deb" && apt-get "${apt_opts[@]}" download -qq gitleaks) >"$work/download.log" 2>&1 || {
  tail -n 20 "$work/download.log" >&2
  exit 1
}
deb=$(ls "$work"/deb/gitleaks_*.deb)

rm -rf "$prefix"
mkdir -p "$prefix"
dpkg-deb -x "$deb" "$prefix"
mkdir -p "$(dirname "$link")"
ln -sfn "$prefix/usr/bin/gitleaks" "$link"

# It must really run: version and the subcommand the hook uses.
"$link" version >/dev/null
"$link" detect --help >/dev/null
echo "install-gitleaks: installed $(basename "$deb") -> $link"
