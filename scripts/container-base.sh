#!/usr/bin/env bash
# Builds a local stand-in for the Node 20 slim base image (node:20-bookworm-slim), for machines that
# reach Debian's packages and the npm registry but no container registry. The Dockerfile's default
# base stays the registry image; build on this one with
#   podman build --build-arg BASE_IMAGE=localhost/node:20-bookworm-slim .
#
# What it is: a Debian bookworm minbase root made by debootstrap, plus this machine's own Node.js 20
# binary, npm and Node's C headers (so node-gyp compiles native addons without downloading them),
# laid out as the official image lays them out (/usr/local/bin/node, /usr/local/lib/node_modules/npm).
# When this machine's npm trusts an extra CA bundle (`npm config get cafile`), the bundle goes into
# the image too, so npm inside a build trusts what npm here trusts.
#
# Idempotent: does nothing when the image exists (FORCE=1 rebuilds it). Debian's packages are kept in
# a cache folder between runs. Needs root, debootstrap and podman.
#
# Environment: BASE_IMAGE (localhost/node:20-bookworm-slim), DEBIAN_MIRROR (default: the first
# Debian archive in this machine's apt sources), DEBOOTSTRAP_CACHE (/var/cache/fingerprint-auth/
# debootstrap), PODMAN (podman; e.g. "podman --storage-driver vfs"), FORCE.
set -euo pipefail

IMAGE="${BASE_IMAGE:-localhost/node:20-bookworm-slim}"
read -r -a PODMAN <<<"${PODMAN:-podman}"
CACHE="${DEBOOTSTRAP_CACHE:-/var/cache/fingerprint-auth/debootstrap}"
SUITE=bookworm

log() { echo "container-base: $*" >&2; }
die() { log "$*"; exit 1; }

if [ "${FORCE:-}" != 1 ] && "${PODMAN[@]}" image exists "$IMAGE"; then
  log "$IMAGE exists (FORCE=1 rebuilds it)"
  exit 0
fi

[ "$(id -u)" -eq 0 ] || die "run as root (debootstrap and podman import need it)"
command -v debootstrap >/dev/null || die "debootstrap is not installed (apt-get install debootstrap)"

# This machine's Node.js 20, npm and headers.
node_bin="$(readlink -f "$(command -v node)")" || die "node is not installed"
node_version="$("$node_bin" -p process.versions.node)"
[ "${node_version%%.*}" = 20 ] || die "node is $node_version here; the image is Node 20"
npm_dir="$(dirname "$(readlink -f "$(command -v npm)")")/.."
npm_dir="$(readlink -f "$npm_dir")"
[ -f "$npm_dir/package.json" ] || die "npm's folder not found (looked at $npm_dir)"
node_headers="$(readlink -f "$(dirname "$node_bin")/../include/node")"
[ -f "$node_headers/node_api.h" ] || die "Node's headers not found (looked at $node_headers)"
cafile="$(npm config get cafile 2>/dev/null || true)"
case "$cafile" in null | undefined | "") cafile="" ;; esac

# The Debian archive this machine's apt already uses, unless DEBIAN_MIRROR says otherwise.
mirror="${DEBIAN_MIRROR:-}"
if [ -z "$mirror" ]; then
  mirror="$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i ~ /\/debian\/?$/) { print $i; exit } }')"
fi
if [ -z "$mirror" ]; then
  mirror="$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /\/debian\/?$/) { print $i; exit } }')"
fi
[ -n "$mirror" ] || die "no Debian archive in /etc/apt sources: set DEBIAN_MIRROR"

rootfs="$(mktemp -d /var/tmp/fingerprint-auth-base.XXXXXX)"
trap 'rm -rf "$rootfs"' EXIT
mkdir -p "$CACHE"

log "debootstrap --variant=minbase $SUITE from $mirror (packages cached in $CACHE)"
started=$SECONDS
debootstrap --variant=minbase --cache-dir="$CACHE" "$SUITE" "$rootfs" "$mirror" >"$rootfs.log" 2>&1 \
  || { tail -n 30 "$rootfs.log" >&2; rm -f "$rootfs.log"; die "debootstrap failed"; }
rm -f "$rootfs.log"
log "debootstrap took $((SECONDS - started)) s"

# Slim it the way the slim images are: no package lists, no downloaded packages, no docs.
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb \
  "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* "$rootfs"/var/log/*.log

# Node.js, npm and the headers, where the official image has them.
install -D -m 0755 "$node_bin" "$rootfs/usr/local/bin/node"
mkdir -p "$rootfs/usr/local/lib/node_modules" "$rootfs/usr/local/include"
cp -a "$npm_dir" "$rootfs/usr/local/lib/node_modules/npm"
cp -a "$node_headers" "$rootfs/usr/local/include/node"
ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"

# npm's global config in the image: build native addons against the headers above, and trust the
# CA bundle npm trusts here.
{
  echo "nodedir=/usr/local"
  echo "update-notifier=false"
  echo "fund=false"
  if [ -n "$cafile" ] && [ -f "$cafile" ]; then
    install -D -m 0644 "$cafile" "$rootfs/usr/local/etc/npm-ca.pem"
    echo "cafile=/usr/local/etc/npm-ca.pem"
  fi
} >"$rootfs/usr/local/etc/npmrc"

"$rootfs/usr/local/bin/node" --version >/dev/null
log "importing $IMAGE (Node $node_version)"
tar -C "$rootfs" --numeric-owner -c . | "${PODMAN[@]}" import --quiet \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change "ENV NODE_VERSION=$node_version" \
  --change 'CMD ["node"]' \
  --message "Debian $SUITE minbase + Node.js $node_version (local stand-in for node:20-bookworm-slim)" \
  - "$IMAGE" >/dev/null
log "$IMAGE ready ($((SECONDS - started)) s)"
