#!/usr/bin/env bash
# Build the local base image the tests use, offline from image registries:
# debootstrap a minimal Debian from the machine's own apt mirror and
# `docker import` it. Images cannot be pulled on the project machines.
#
# The image carries what the agent image needs (node, npm, pip, git, curl,
# socat, dig, ca-certificates, ssh client), so building the agent image from
# it needs no package downloads at all.
set -euo pipefail

tag=${1:-claude-bottle-test/base:bookworm}
# Every tool the image must carry, as commands; an image from an older
# version of this script that lacks one is rebuilt.
tools="node npm git curl socat dig pip3 python3 ssh update-ca-certificates"
if docker image inspect "$tag" >/dev/null 2>&1; then
  if docker run --rm --network none "$tag" sh -c "for t in $tools; do command -v \$t >/dev/null || exit 1; done"; then
    echo "build-base-image: $tag already present"
    exit 0
  fi
  echo "build-base-image: $tag lacks a tool ($tools); rebuilding"
fi

if ! command -v debootstrap >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq debootstrap >/dev/null
fi

# Use the same Debian mirror apt is configured with (never hard-coded here).
# Only enabled source files (*.sources / *.list), only a Debian archive
# (its URI path ends in /debian), never the security archive.
mirror=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list 2>/dev/null \
  | grep -oE '^(URIs:|deb) +[^ ]+' | awk '{print $2}' | grep -E '/debian/?$' | head -n 1 || true)
if [ -z "$mirror" ]; then
  echo "build-base-image: no Debian mirror found in the apt configuration" >&2
  exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
debootstrap --variant=minbase \
  --include=ca-certificates,curl,git,socat,dnsutils,nodejs,openssh-client,procps,iproute2 \
  bookworm "$work/rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 || {
  tail -n 30 "$work/debootstrap.log" >&2
  exit 1
}
# npm and pip by apt inside the new root: debootstrap's --include does not
# resolve virtual packages ("Provides"), which npm's dependencies need.
chroot "$work/rootfs" sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends npm python3-pip' \
  >"$work/apt.log" 2>&1 || {
  tail -n 30 "$work/apt.log" >&2
  exit 1
}
# apt lists and caches are not needed in the image.
rm -rf "$work/rootfs/var/cache/apt/archives/"*.deb "$work/rootfs/var/lib/apt/lists/"*
tar -C "$work/rootfs" -c . | docker import - "$tag" >/dev/null
echo "build-base-image: built $tag"
