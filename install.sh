#!/bin/sh
# Install claude-bottle from a GitHub release, verifying its SHA-256 first.
#
#   sh install.sh [--version X.Y.Z] [--prefix DIR]
#
# Installs DIR/bin/claude-bottle (default DIR: ~/.local, so ~/.local/bin).
# Environment (each overrides the matching default below):
#   CLAUDE_BOTTLE_REPO          GitHub "owner/name" the release lives in
#   CLAUDE_BOTTLE_VERSION       version to install (default: the one this script came with, else latest)
#   CLAUDE_BOTTLE_PREFIX        same as --prefix
#   CLAUDE_BOTTLE_DOWNLOAD_URL  base URL holding the tarballs and SHA256SUMS of that version
#                               (default https://github.com/<repo>/releases/download/v<version>;
#                               a mirror, or a local server in tests)
#
# The release workflow publishes a copy of this file with the two values below
# filled in. The checksum guards against a corrupt or swapped download from a
# mirror or CDN; it comes from the same release as the tarball, so it is not a
# signature.
set -eu

CLAUDE_BOTTLE_REPO="${CLAUDE_BOTTLE_REPO:-@CLAUDE_BOTTLE_REPO@}"
DEFAULT_VERSION="@CLAUDE_BOTTLE_VERSION@"

say() { printf 'claude-bottle install: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

version="${CLAUDE_BOTTLE_VERSION:-}"
prefix="${CLAUDE_BOTTLE_PREFIX:-$HOME/.local}"
while [ $# -gt 0 ]; do
  case "$1" in
    --version) [ $# -ge 2 ] || die "--version needs a value"; version="$2"; shift 2 ;;
    --version=*) version="${1#--version=}"; shift ;;
    --prefix) [ $# -ge 2 ] || die "--prefix needs a directory"; prefix="$2"; shift 2 ;;
    --prefix=*) prefix="${1#--prefix=}"; shift ;;
    -h|--help) sed -n '2,13p' "$0" 2>/dev/null | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
done

# --- platform ---------------------------------------------------------------
case "$(uname -s)" in
  Linux) os=linux ;;
  Darwin) os=darwin ;;
  *) die "unsupported OS '$(uname -s)'; releases exist for Linux and macOS" ;;
esac
case "$(uname -m)" in
  x86_64|amd64) arch=x64 ;;
  arm64|aarch64) arch=arm64 ;;
  *) die "unsupported CPU '$(uname -m)'; releases exist for x86-64 and arm64" ;;
esac
# A shell running under Rosetta reports x86_64 on an Apple silicon Mac; the
# native binary is the better choice there.
if [ "$os" = darwin ] && [ "$arch" = x64 ] && [ "$(sysctl -n sysctl.proc_translated 2>/dev/null || echo 0)" = 1 ]; then
  arch=arm64
fi

# --- tools (checked before any download) -------------------------------------
if command -v sha256sum >/dev/null 2>&1; then
  sha256() { sha256sum "$1" | awk '{print $1}'; }
elif command -v shasum >/dev/null 2>&1; then
  sha256() { shasum -a 256 "$1" | awk '{print $1}'; }
else
  die "neither sha256sum nor shasum is installed, so the download cannot be verified; install one (coreutils or perl) and retry"
fi
if command -v curl >/dev/null 2>&1; then
  fetch() { curl -fsSL --retry 2 -o "$2" "$1"; }
elif command -v wget >/dev/null 2>&1; then
  fetch() { wget -q -O "$2" "$1"; }
else
  die "neither curl nor wget is installed; install one and retry"
fi
command -v tar >/dev/null 2>&1 || die "tar is not installed; install it and retry"

# --- what to download ---------------------------------------------------------
base="${CLAUDE_BOTTLE_DOWNLOAD_URL:-}"
if [ -z "$base" ]; then
  case "$CLAUDE_BOTTLE_REPO" in
    @*|'') die "no repository configured; set CLAUDE_BOTTLE_REPO=owner/name (or use the install.sh attached to a release)" ;;
  esac
fi
if [ -z "$version" ]; then
  case "$DEFAULT_VERSION" in
    @*) version=latest ;;
    *) version="$DEFAULT_VERSION" ;;
  esac
fi
if [ "$version" = latest ]; then
  [ -z "$base" ] || die "CLAUDE_BOTTLE_DOWNLOAD_URL needs an explicit CLAUDE_BOTTLE_VERSION"
  command -v curl >/dev/null 2>&1 || die "finding the latest version needs curl; pass --version X.Y.Z instead"
  # GitHub redirects /releases/latest to /releases/tag/v<version>.
  url=$(curl -fsSLI -o /dev/null -w '%{url_effective}' "https://github.com/$CLAUDE_BOTTLE_REPO/releases/latest") ||
    die "could not look up the latest release of $CLAUDE_BOTTLE_REPO; pass --version X.Y.Z"
  version="${url##*/v}"
fi
version="${version#v}"
case "$version" in
  *[!0-9A-Za-z.+-]*|'') die "version '$version' is not valid (expected e.g. 0.1.0)" ;;
esac
[ -n "$base" ] || base="https://github.com/$CLAUDE_BOTTLE_REPO/releases/download/v$version"
base="${base%/}"
name="claude-bottle-$version-$os-$arch"
tarball="$name.tar.gz"

# --- download and verify -------------------------------------------------------
tmp=$(mktemp -d "${TMPDIR:-/tmp}/claude-bottle-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

say "downloading $tarball ($version for $os-$arch)"
fetch "$base/$tarball" "$tmp/$tarball" || die "download failed: $base/$tarball"
fetch "$base/SHA256SUMS" "$tmp/SHA256SUMS" || die "download failed: $base/SHA256SUMS"

expected=$(awk -v f="$tarball" '($2 == f || $2 == "*" f) {print $1; exit}' "$tmp/SHA256SUMS")
[ -n "$expected" ] || die "SHA256SUMS has no entry for $tarball; refusing to install an unverified file"
actual=$(sha256 "$tmp/$tarball")
if [ "$actual" != "$expected" ]; then
  die "checksum mismatch for $tarball (expected $expected, got $actual); refusing to install. Retry, or report it if it persists"
fi
say "sha256 verified"

# --- unpack and install ----------------------------------------------------------
mkdir "$tmp/x"
tar -xzf "$tmp/$tarball" -C "$tmp/x"
[ -f "$tmp/x/$name/claude-bottle" ] || die "$tarball does not contain $name/claude-bottle"
bindir="$prefix/bin"
mkdir -p "$bindir"
# Copy next to the target, then rename: an upgrade never leaves a half-written
# binary, and a running claude-bottle keeps its old inode.
cp "$tmp/x/$name/claude-bottle" "$bindir/.claude-bottle.new.$$"
chmod 755 "$bindir/.claude-bottle.new.$$"
mv -f "$bindir/.claude-bottle.new.$$" "$bindir/claude-bottle"

"$bindir/claude-bottle" --version >&2 || die "installed $bindir/claude-bottle but it does not run"
say "installed $bindir/claude-bottle"
case ":$PATH:" in
  *":$bindir:"*) ;;
  *) say "note: $bindir is not on your PATH; add it, e.g. export PATH=\"$bindir:\$PATH\"" ;;
esac
