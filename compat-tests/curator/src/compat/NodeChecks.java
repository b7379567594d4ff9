package compat;

import static compat.FrameworkChecks.b;
import static compat.FrameworkChecks.s;
import static compat.Main.check;
import static compat.Main.eq;

import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.recipes.atomic.AtomicValue;
import org.apache.curator.framework.recipes.atomic.DistributedAtomicLong;
import org.apache.curator.framework.recipes.nodes.PersistentNode;
import org.apache.curator.framework.recipes.shared.SharedCount;
import org.apache.curator.framework.recipes.shared.SharedCountListener;
import org.apache.curator.framework.recipes.shared.SharedCountReader;
import org.apache.curator.framework.recipes.shared.VersionedValue;
import org.apache.curator.framework.state.ConnectionState;
import org.apache.curator.retry.RetryNTimes;
import org.apache.zookeeper.CreateMode;

/** PersistentNode, SharedCount and DistributedAtomicLong. */
final class NodeChecks {
    private NodeChecks() {}

    static void register(Main.Registry r) {
        r.add("persistent-node-recreated", NodeChecks::persistentNodeRecreated);
        r.add("persistent-node-set-data", NodeChecks::persistentNodeSetData);
        r.add("shared-count", NodeChecks::sharedCount);
        r.add("atomic-long", NodeChecks::atomicLong);
    }

    static void persistentNodeRecreated(Main.Env env) throws Exception {
        CuratorFramework c = env.client();
        CuratorFramework other = env.client();
        String p = env.path("eph");
        PersistentNode node = new PersistentNode(c, CreateMode.EPHEMERAL, false, p, b("here"));
        node.start();
        try {
            check(node.waitForInitialCreate(10, TimeUnit.SECONDS), "initial create");
            eq(p, node.getActualPath(), "actual path");
            long session = c.getZookeeperClient().getZooKeeper().getSessionId();
            eq(session, other.checkExists().forPath(p).getEphemeralOwner(), "owner");
            other.delete().forPath(p);
            long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (other.checkExists().forPath(p) == null && System.nanoTime() < end) {
                Thread.sleep(50);
            }
            check(other.checkExists().forPath(p) != null, "recreated after a delete");
            eq("here", s(other.getData().forPath(p)), "data of the recreated node");
        } finally {
            node.close();
        }
        eq(null, other.checkExists().forPath(p), "removed by close()");
    }

    static void persistentNodeSetData(Main.Env env) throws Exception {
        CuratorFramework c = env.client();
        String p = env.path("node");
        PersistentNode node = new PersistentNode(c, CreateMode.PERSISTENT, false, p, b("v1"));
        node.start();
        try {
            check(node.waitForInitialCreate(10, TimeUnit.SECONDS), "initial create");
            node.setData(b("v2"));
            long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (!"v2".equals(s(c.getData().forPath(p))) && System.nanoTime() < end) {
                Thread.sleep(50);
            }
            eq("v2", s(c.getData().forPath(p)), "data after setData");
        } finally {
            node.close();
        }
    }

    static void sharedCount(Main.Env env) throws Exception {
        String p = env.path("count");
        SharedCount a = new SharedCount(env.client(), p, 7);
        SharedCount b = new SharedCount(env.client(), p, 100);
        BlockingQueue<Integer> seenByB = new LinkedBlockingQueue<>();
        b.addListener(new SharedCountListener() {
            @Override
            public void countHasChanged(SharedCountReader reader, int newCount) {
                seenByB.add(newCount);
            }

            @Override
            public void stateChanged(CuratorFramework client, ConnectionState state) {}
        });
        a.start();
        b.start();
        try {
            eq(7, a.getCount(), "seed of the first to start");
            eq(7, b.getCount(), "second sees the existing value, not its seed");
            a.setCount(11);
            eq(11, seenByB.poll(10, TimeUnit.SECONDS), "listener of the other client");
            VersionedValue<Integer> stale = b.getVersionedValue();
            check(b.trySetCount(stale, 12), "trySetCount with the current version");
            check(!a.trySetCount(stale, 13), "trySetCount with a stale version must fail");
            long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (a.getCount() != 12 && System.nanoTime() < end) {
                Thread.sleep(50);
            }
            eq(12, a.getCount(), "value after the race");
        } finally {
            a.close();
            b.close();
        }
    }

    static void atomicLong(Main.Env env) throws Exception {
        String p = env.path("long");
        DistributedAtomicLong a = new DistributedAtomicLong(env.client(), p, new RetryNTimes(10, 10));
        DistributedAtomicLong b = new DistributedAtomicLong(env.client(), p, new RetryNTimes(10, 10));
        check(a.initialize(5L), "initialize a new counter");
        check(!b.initialize(9L), "initialize an existing counter must not overwrite it");
        AtomicValue<Long> inc = b.increment();
        check(inc.succeeded(), "increment succeeded");
        eq(5L, inc.preValue(), "value before increment");
        eq(6L, inc.postValue(), "value after increment");
        AtomicValue<Long> cas = a.compareAndSet(5L, 50L);
        check(!cas.succeeded(), "compareAndSet with a stale expected value");
        check(a.compareAndSet(6L, 60L).succeeded(), "compareAndSet with the right value");
        eq(60L, b.get().postValue(), "value seen by the other client");
    }
}
