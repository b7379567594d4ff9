#!/usr/bin/env bash
# Install what the compatibility judges need on a Debian 12 machine; safe to run again.
#   - Debian packages: Apache ZooKeeper 3.8 (server, C CLI, Java client), Curator, a JDK, node, zktop,
#     podman and iproute2 (the container image tests), PyYAML (reading docker/'s compose files), prometheus
#     (tests/prometheus_scrape.rs runs its binary), systemd (systemd-analyze checks the unit in packaging/; no
#     service is started), strace (the unit's system-call filter against the calls the server makes)
#   - cargo-deb from crates.io: tests/packaging.rs builds the .deb with it
#   - compat-tests/.venv: Python packages for kazoo's test suite (kazoo/requirements.txt)
#   - compat-tests/.cache/kazoo-2.11.0: kazoo's sdist from PyPI, which carries its tests
#   - compat-tests/node/node_modules: `npm ci` from the committed package-lock.json
#   - compat-tests/.maven: the reference releases Apache ZooKeeper 3.9.5 and 3.8.6 and Curator 5.9.0 with
#     what they need, copied from Maven Central by `mvn dependency:copy-dependencies` (reference/*.xml)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
KAZOO_VERSION=2.11.0
KAZOO_SHA256=57e7e6f69295c8f922511488eeb79680729e14bb8eb382d5cad83aa11345c36c

log() { echo "install.sh: $*"; }

apt_missing=()
need_pkg() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed" ||
        apt_missing+=("$1")
}
# zookeeper: the server jars, zkCli.sh; zookeeper-bin: cli_mt. The others are jars the harness
# names on its class paths (most come with libzookeeper-java anyway).
# zktop: the ops judge runs it against the server.
for pkg in zookeeper zookeeper-bin libzookeeper-java libcurator-framework-java \
    libcurator-recipes-java libslf4j-java liblog4j1.2-java libnetty-java libservlet-api-java zktop; do
    need_pkg "$pkg"
done
# podman and iproute2: tests/docker_image.rs and tests/docker_ensemble.rs build the container image and run
# it in network namespaces; PyYAML: tests/docker_ensemble.rs reads docker/'s compose files with it.
need_pkg podman
need_pkg iproute2
python3 -c 'import yaml' 2>/dev/null || apt_missing+=(python3-yaml)
# prometheus: tests/prometheus_scrape.rs runs the binary itself on loopback (the package's service is not used).
need_pkg prometheus
# systemd: systemd-analyze verify and security for packaging/ferrokeeper.service (tests/packaging.rs).
need_pkg systemd
# strace: tests/packaging_syscalls.rs traces the server to check the unit's SystemCallFilter.
need_pkg strace
command -v javac >/dev/null || apt_missing+=(openjdk-17-jdk-headless)
command -v mvn >/dev/null || apt_missing+=(maven)
command -v node >/dev/null || apt_missing+=(nodejs)
command -v npm >/dev/null || apt_missing+=(npm)
python3 -c 'import ensurepip, venv' 2>/dev/null || apt_missing+=(python3-venv)
if ((${#apt_missing[@]})); then
    log "apt-get install ${apt_missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${apt_missing[@]}"
fi
# (Debian's `zookeeper` package starts no service; the judges start their own servers.)

# cargo-deb builds the .deb of tests/packaging.rs (`cargo deb --no-build`); installed once into ~/.cargo/bin.
CARGO_DEB_VERSION=3.8.0
if [[ $(cargo deb --version 2>/dev/null) != *"$CARGO_DEB_VERSION"* ]]; then
    log "cargo-deb $CARGO_DEB_VERSION from crates.io"
    cargo install --locked --quiet cargo-deb --version "$CARGO_DEB_VERSION"
fi

venv=$here/.venv
req=$here/kazoo/requirements.txt
stamp=$venv/.requirements.sha256
want=$(sha256sum "$req" | cut -d' ' -f1)
if [[ ! -x $venv/bin/python || ! -f $stamp || $(cat "$stamp") != "$want" ]]; then
    log "python packages into $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check -r "$req"
    echo "$want" >"$stamp"
fi

cache=$here/.cache
sdist_dir=$cache/kazoo-$KAZOO_VERSION
if [[ ! -f $sdist_dir/.unpacked ]]; then
    log "kazoo $KAZOO_VERSION sdist"
    mkdir -p "$cache"
    tarball=$cache/kazoo-$KAZOO_VERSION.tar.gz
    if [[ ! -f $tarball ]] || ! echo "$KAZOO_SHA256  $tarball" | sha256sum -c --quiet; then
        rm -f "$tarball"
        "$venv/bin/pip" download -q --disable-pip-version-check --no-deps \
            --no-binary :all: "kazoo==$KAZOO_VERSION" -d "$cache"
    fi
    echo "$KAZOO_SHA256  $tarball" | sha256sum -c --quiet
    rm -rf "$sdist_dir"
    tar -xzf "$tarball" -C "$cache"
    touch "$sdist_dir/.unpacked"
fi

node_dir=$here/node
lock_sum=$(sha256sum "$node_dir/package-lock.json" | cut -d' ' -f1)
if [[ ! -f $node_dir/node_modules/.lock.sha256 ||
    $(cat "$node_dir/node_modules/.lock.sha256") != "$lock_sum" ]]; then
    log "npm ci in $node_dir"
    (cd "$node_dir" && npm ci --no-audit --no-fund --loglevel=error)
    echo "$lock_sum" >"$node_dir/node_modules/.lock.sha256"
fi
# The reference releases from Maven Central. Each goes into its own directory, refilled only when the pom that
# names it changed (the stamp holds the pom's checksum), so a second run asks no registry.
maven=$here/.maven
maven_copy() { # DIR POM [-Dproperty=value]...
    local dir=$1 pom=$2
    shift 2
    local sum
    sum=$( (sha256sum "$pom" | cut -d' ' -f1; echo "$*") | sha256sum | cut -d' ' -f1)
    if [[ -f $dir/.pom.sha256 && $(cat "$dir/.pom.sha256") == "$sum" ]]; then
        return
    fi
    log "$(basename "$dir") from Maven Central"
    rm -rf "$dir"
    mvn -q -B -Dstyle.color=never -f "$pom" "$@" dependency:copy-dependencies -DoutputDirectory="$dir"
    echo "$sum" >"$dir/.pom.sha256"
}
# 3.9.5 with ZooKeeper's Prometheus metrics provider of 3.9.4, the newest 3.9 release of it the registry serves
# (the ops judge scrapes its /metrics); no 3.8 release of the provider is served, so 3.8.6 runs without it.
prometheus_provider=3.9.4
maven_copy "$maven/zookeeper-3.9.5" "$here/reference/pom.xml" "-Dzookeeper.version=3.9.5" \
    "-Dprometheus.provider.version=$prometheus_provider"
maven_copy "$maven/zookeeper-3.8.6" "$here/reference/pom.xml" "-Dzookeeper.version=3.8.6"
maven_copy "$maven/curator-5.9.0" "$here/reference/curator-pom.xml" "-Dcurator.version=5.9.0"
log "ready"
