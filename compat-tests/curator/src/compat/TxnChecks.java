package compat;

import static compat.FrameworkChecks.b;
import static compat.FrameworkChecks.s;
import static compat.Main.check;
import static compat.Main.eq;

import java.util.List;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.api.transaction.CuratorOp;
import org.apache.curator.framework.api.transaction.CuratorTransactionResult;
import org.apache.curator.framework.api.transaction.OperationType;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;

/** Multi-op transactions (ZooKeeper's multi) through Curator's transaction API. */
final class TxnChecks {
    private TxnChecks() {}

    static void register(Main.Registry r) {
        r.add("commit-all-kinds", TxnChecks::commitAllKinds);
        r.add("failed-op-rolls-back", TxnChecks::failedOpRollsBack);
        r.add("check-version", TxnChecks::checkVersion);
        r.add("sequential-in-transaction", TxnChecks::sequentialInTransaction);
    }

    static void commitAllKinds(Main.Env env) throws Exception {
        CuratorFramework c = env.client();
        String p = env.path("");
        c.create().creatingParentsIfNeeded().forPath(p + "/old", b("old"));
        List<CuratorOp> ops = List.of(
                c.transactionOp().create().forPath(p + "/a", b("a")),
                c.transactionOp().create().forPath(p + "/a/b", b("b")),
                c.transactionOp().setData().forPath(p + "/a", b("a2")),
                c.transactionOp().check().withVersion(1).forPath(p + "/a"),
                c.transactionOp().delete().forPath(p + "/old"));
        List<CuratorTransactionResult> res = c.transaction().forOperations(ops);
        eq(5, res.size(), "result count");
        eq(OperationType.CREATE, res.get(0).getType(), "result 0 type");
        eq(p + "/a", res.get(0).getResultPath(), "result 0 path");
        eq(OperationType.SET_DATA, res.get(2).getType(), "result 2 type");
        eq(1, res.get(2).getResultStat().getVersion(), "result 2 stat version");
        eq(OperationType.CHECK, res.get(3).getType(), "result 3 type");
        eq(OperationType.DELETE, res.get(4).getType(), "result 4 type");
        eq("a2", s(c.getData().forPath(p + "/a")), "data set in the transaction");
        eq("b", s(c.getData().forPath(p + "/a/b")), "child created in the transaction");
        eq(null, c.checkExists().forPath(p + "/old"), "node deleted in the transaction");
        long z1 = c.checkExists().forPath(p + "/a").getCzxid();
        long z2 = c.checkExists().forPath(p + "/a/b").getCzxid();
        eq(z1, z2, "one zxid for the whole transaction");
    }

    static void failedOpRollsBack(Main.Env env) throws Exception {
        CuratorFramework c = env.client();
        String p = env.path("");
        c.create().creatingParentsIfNeeded().forPath(p + "/keep", b("keep"));
        List<CuratorOp> ops = List.of(
                c.transactionOp().create().forPath(p + "/new"),
                c.transactionOp().setData().forPath(p + "/keep", b("changed")),
                c.transactionOp().delete().forPath(p + "/missing"));
        try {
            c.transaction().forOperations(ops);
            throw new Main.CheckFailed("a transaction with a failing delete committed");
        } catch (KeeperException.NoNodeException expected) {
            List<org.apache.zookeeper.OpResult> results = expected.getResults();
            check(results != null && results.size() == 3, "per-op results: " + results);
            eq(KeeperException.Code.OK.intValue(),
                    ((org.apache.zookeeper.OpResult.ErrorResult) results.get(0)).getErr(),
                    "error code of the op before the failure");
            eq(KeeperException.Code.NONODE.intValue(),
                    ((org.apache.zookeeper.OpResult.ErrorResult) results.get(2)).getErr(),
                    "error code of the failing op");
        }
        eq(null, c.checkExists().forPath(p + "/new"), "create rolled back");
        eq("keep", s(c.getData().forPath(p + "/keep")), "setData rolled back");
    }

    static void checkVersion(Main.Env env) throws Exception {
        CuratorFramework c = env.client();
        String p = env.path("v");
        c.create().creatingParentsIfNeeded().forPath(p, b("1"));
        try {
            c.transaction().forOperations(List.of(
                    c.transactionOp().check().withVersion(3).forPath(p),
                    c.transactionOp().setData().forPath(p, b("2"))));
            throw new Main.CheckFailed("a failing check did not stop the transaction");
        } catch (KeeperException.BadVersionException expected) {
            // the check failed as it should
        }
        eq("1", s(c.getData().forPath(p)), "data after the failed check");
    }

    static void sequentialInTransaction(Main.Env env) throws Exception {
        CuratorFramework c = env.client();
        String p = env.path("");
        c.create().creatingParentsIfNeeded().forPath(p);
        List<CuratorTransactionResult> res = c.transaction().forOperations(List.of(
                c.transactionOp().create().withMode(CreateMode.PERSISTENT_SEQUENTIAL)
                        .forPath(p + "/s-"),
                c.transactionOp().create().withMode(CreateMode.EPHEMERAL_SEQUENTIAL)
                        .forPath(p + "/s-")));
        eq(p + "/s-0000000000", res.get(0).getResultPath(), "first sequential path");
        eq(p + "/s-0000000001", res.get(1).getResultPath(), "second sequential path");
        long session = c.getZookeeperClient().getZooKeeper().getSessionId();
        eq(session, c.checkExists().forPath(res.get(1).getResultPath()).getEphemeralOwner(),
                "ephemeral owner of a node made in a transaction");
    }
}
