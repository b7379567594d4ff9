#!/usr/bin/env bash
# Build the image from the release binary with podman (or docker): stage the binary, the shared libraries
# it links and the image's directories into a build context, then build docker/Dockerfile from it.
#   docker/build.sh [TAG]          (default tag: ferrokeeper:latest; BUILDER=docker to use docker)
# The binary must exist: cargo build --release.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
tag=${1:-ferrokeeper:latest}
builder=${BUILDER:-podman}
bin=${FERROKEEPER_BIN:-$root/target/release/ferrokeeper}
[[ -x $bin ]] || { echo "build.sh: no binary at $bin (cargo build --release)" >&2; exit 1; }

ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
mkdir -p "$ctx/rootfs/usr/bin" "$ctx/rootfs/etc" "$ctx/rootfs/tmp" \
    "$ctx/dirs/conf" "$ctx/dirs/data" "$ctx/dirs/datalog" "$ctx/dirs/logs"
chmod 1777 "$ctx/rootfs/tmp"
# Debug info stays out of the image.
objcopy --strip-debug "$bin" "$ctx/rootfs/usr/bin/ferrokeeper"
# Every shared library the dynamic loader resolves for the binary, at the path it resolves it from, and the
# loader itself at the path the binary names.
ldd "$bin" | awk '/=> \//{print $3} /^[ \t]*\/[^ ]*ld-linux/{print $1}' | sort -u | while read -r lib; do
    mkdir -p "$ctx/rootfs$(dirname "$lib")"
    cp -L "$lib" "$ctx/rootfs$lib"
done
printf 'root:x:0:0:root:/:/sbin/nologin\nzookeeper:x:1000:1000:zookeeper:/data:/sbin/nologin\n' \
    >"$ctx/rootfs/etc/passwd"
printf 'root:x:0:\nzookeeper:x:1000:\n' >"$ctx/rootfs/etc/group"
printf 'hosts: files dns\n' >"$ctx/rootfs/etc/nsswitch.conf"
printf '127.0.0.1 localhost\n::1 localhost\n' >"$ctx/rootfs/etc/hosts"
cp "$here/Dockerfile" "$ctx/Dockerfile"
format=()
[[ $builder == podman ]] && format=(--format docker)
"$builder" build "${format[@]}" -t "$tag" "$ctx"
