"""kazoo-ensemble judge: kazoo's own test suite against a three-member ensemble started by kazoo's own harness
(ZOOKEEPER_CLUSTER_SIZE=3), every member the server under test (see kazoo/shim/java): clients are given all three
members, and the tests that stop a member or need more than one (kazoo/skiplist-ensemble.txt lists the few still
skipped, with why) run against the ensemble.
"""

from judges import kazoo

NAME = "kazoo-ensemble"
NEEDS_SERVER = False
PORT_OFFSET = 22600  # three members, ten ports apart: 22600 .. 22624


def run(ctx):
    env = kazoo._env(ctx, cluster_size="3", port_offset=PORT_OFFSET, skiplist="skiplist-ensemble.txt")
    return kazoo.judge(ctx, NAME, env)
