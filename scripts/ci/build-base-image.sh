#!/usr/bin/env bash
# Build the local base image the tests use, offline from image registries:
# debootstrap a minimal Debian from the machine's own apt mirror and
# `docker import` it. Images cannot be pulled on the project machines.
#
# The image carries what the agent image needs (node, git, curl, socat,
# dig, ca-certificates, ssh client), so building the agent image from it
# needs no package downloads at all.
set -euo pipefail

tag=${1:-claude-bottle-test/base:bookworm}
if docker image inspect "$tag" >/dev/null 2>&1; then
  echo "build-base-image: $tag already present"
  exit 0
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
# apt lists and caches are not needed in the image.
rm -rf "$work/rootfs/var/cache/apt/archives/"*.deb "$work/rootfs/var/lib/apt/lists/"*
tar -C "$work/rootfs" -c . | docker import - "$tag" >/dev/null
echo "build-base-image: built $tag"
