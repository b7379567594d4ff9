#!/usr/bin/env bash
# Installs everything the tests need on a fresh Debian 12 machine, then runs every test:
# formatting and lints, the Rust test suites, and the compatibility judges against ferrokeeper.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -x compat-tests/install.sh ]; then
  compat-tests/install.sh
fi

cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
cargo build --release
cargo test --workspace

if [ -x compat-tests/run.sh ]; then
  compat-tests/run.sh --server ferrokeeper --ratchet
  # The judges that talk to one server, again with that server a follower of a 3-member ensemble (the differential
  # judge: the leaders of two ensembles), after that ensemble's leader is killed, and in ensembles mixing
  # ferrokeeper and Apache ZooKeeper members (by id: f ferrokeeper, z Apache ZooKeeper; member 1 is the follower
  # judged, the last one usually leads; the differential judge there goes through followers, so what one member
  # forwards to a leader of the other kind is compared too). About 10 minutes in all on a shared 2-core machine.
  compat-tests/run.sh --server ferrokeeper --no-build --ratchet --ensemble 3 --judge curator --judge cli --judge node --judge differential
  compat-tests/run.sh --server ferrokeeper --no-build --ratchet --ensemble 3 --kill-leader --judge curator --judge cli --judge node
  compat-tests/run.sh --server ferrokeeper --no-build --ratchet --mix fzz --differential-member follower \
    --judge curator --judge cli --judge node --judge differential
  compat-tests/run.sh --server ferrokeeper --no-build --ratchet --mix zzf --differential-member follower \
    --judge curator --judge cli --judge node --judge differential
fi
