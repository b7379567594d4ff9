#!/usr/bin/env bash
# Run the compatibility judges against one server; see compat-tests/README.md.
#   compat-tests/run.sh --server {ferrokeeper|zookeeper} [--judge NAME]... [--ratchet]
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
exec python3 "$here/harness/run.py" "$@"
