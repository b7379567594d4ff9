import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import java.io.BufferedReader;
import java.io.InputStreamReader;

import org.apache.zookeeper.AddWatchMode;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.Op;
import org.apache.zookeeper.OpResult;
import org.apache.zookeeper.WatchedEvent;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.admin.ZooKeeperAdmin;
import org.apache.zookeeper.data.ACL;
import org.apache.zookeeper.data.Id;
import org.apache.zookeeper.data.Stat;
import org.apache.zookeeper.server.auth.DigestAuthenticationProvider;

/**
 * Drives the real Java client through every request it can produce, for the
 * golden-fixture capture. Talks to the capture script on stdout ("@drop",
 * "@offline ...") and waits for "ok" on stdin before going on.
 */
public final class GoldenDriver {
    private static final List<ACL> OPEN = ZooDefs.Ids.OPEN_ACL_UNSAFE;
    private static final BlockingQueue<WatchedEvent> EVENTS = new LinkedBlockingQueue<>();
    private static final BufferedReader IN =
        new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    private static CountDownLatch connected = new CountDownLatch(1);

    private static final Watcher WATCHER = event -> {
        System.out.println("event " + event);
        if (event.getType() == Watcher.Event.EventType.None) {
            if (event.getState() == Watcher.Event.KeeperState.SyncConnected) {
                connected.countDown();
            }
        } else {
            EVENTS.add(event);
        }
    };

    private GoldenDriver() {
    }

    public static void main(String[] args) throws Exception {
        String cs = args[0];
        String scenario = args[1];
        switch (scenario) {
            case "main": mainScenario(cs); break;
            case "authfail": authFail(cs); break;
            case "sasl": sasl(cs); break;
            case "ttl": ttl(cs); break;
            default: throw new IllegalArgumentException(scenario);
        }
        System.out.println("done");
        System.out.flush();
        System.exit(0);
    }

    private static byte[] b(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static ZooKeeper connect(String cs) throws Exception {
        connected = new CountDownLatch(1);
        ZooKeeper zk = new ZooKeeper(cs, 4000, WATCHER);
        await(connected);
        return zk;
    }

    private static void await(CountDownLatch latch) throws Exception {
        if (!latch.await(20, TimeUnit.SECONDS)) {
            throw new IllegalStateException("timed out waiting for connection");
        }
    }

    private static void command(String line) throws Exception {
        connected = new CountDownLatch(1);
        System.out.println(line);
        System.out.flush();
        String reply = IN.readLine();
        if (!"ok".equals(reply)) {
            throw new IllegalStateException("capture script said " + reply);
        }
    }

    private static void expectEvent(Watcher.Event.EventType type, String path) throws Exception {
        WatchedEvent e = EVENTS.poll(10, TimeUnit.SECONDS);
        if (e == null || e.getType() != type || !path.equals(e.getPath())) {
            throw new IllegalStateException("expected " + type + " " + path + ", got " + e);
        }
    }

    private static void expectError(KeeperException.Code code, ThrowingRunnable r) throws Exception {
        try {
            r.run();
        } catch (KeeperException e) {
            if (e.code() == code) {
                return;
            }
            throw e;
        }
        throw new IllegalStateException("expected " + code);
    }

    private interface ThrowingRunnable {
        void run() throws Exception;
    }

    private static void mainScenario(String cs) throws Exception {
        ZooKeeper zk = connect(cs);
        creates(zk);
        watchesAndReads(zk);
        acls(zk);
        multis(zk);
        reconnects(zk);
        newerOps(zk, cs);
        errors(zk);
        zk.close();
    }

    private static void creates(ZooKeeper zk) throws Exception {
        zk.create("/j", b("java"), OPEN, CreateMode.PERSISTENT);
        zk.create("/j/eph", b("e"), OPEN, CreateMode.EPHEMERAL);
        zk.create("/j/seq-", b("s"), OPEN, CreateMode.PERSISTENT_SEQUENTIAL);
        zk.create("/j/eseq-", null, OPEN, CreateMode.EPHEMERAL_SEQUENTIAL);
        zk.create("/j/c2", b("create2"), OPEN, CreateMode.PERSISTENT, new Stat());
        zk.create("/j/cont", new byte[0], OPEN, CreateMode.CONTAINER);
        expectError(KeeperException.Code.UNIMPLEMENTED, () ->
            zk.create("/j/ttl", b("t"), OPEN, CreateMode.PERSISTENT_WITH_TTL, new Stat(), 60000));
        expectError(KeeperException.Code.NODEEXISTS, () ->
            zk.create("/j", b("again"), OPEN, CreateMode.PERSISTENT));
        expectError(KeeperException.Code.NOCHILDRENFOREPHEMERALS, () ->
            zk.create("/j/eph/kid", null, OPEN, CreateMode.PERSISTENT));
    }

    private static void watchesAndReads(ZooKeeper zk) throws Exception {
        zk.exists("/j/c2", true);
        if (zk.exists("/j/later", true) != null) {
            throw new IllegalStateException("/j/later exists");
        }
        zk.create("/j/later", b("l"), OPEN, CreateMode.PERSISTENT);
        expectEvent(Watcher.Event.EventType.NodeCreated, "/j/later");

        zk.getData("/j", true, new Stat());
        zk.setData("/j", b("java2"), -1);
        expectEvent(Watcher.Event.EventType.NodeDataChanged, "/j");

        zk.getChildren("/j/c2", true);
        zk.create("/j/c2/kid", b("k"), OPEN, CreateMode.PERSISTENT);
        expectEvent(Watcher.Event.EventType.NodeChildrenChanged, "/j/c2");

        zk.getChildren("/j", false, new Stat());
        zk.exists("/j/c2/kid", true);
        zk.delete("/j/c2/kid", -1);
        expectEvent(Watcher.Event.EventType.NodeDeleted, "/j/c2/kid");
        // the exists watch on /j/c2 set above fires on this data change
        zk.setData("/j/c2", b("changed"), 0);
        expectEvent(Watcher.Event.EventType.NodeDataChanged, "/j/c2");

        CountDownLatch synced = new CountDownLatch(1);
        zk.sync("/j", (rc, path, ctx) -> synced.countDown(), null);
        await(synced);
        zk.getConfig(false, new Stat());
    }

    private static void acls(ZooKeeper zk) throws Exception {
        String digest = DigestAuthenticationProvider.generateDigest("bob:secret");
        zk.create("/j/acl", b("acl"), OPEN, CreateMode.PERSISTENT);
        zk.getACL("/j/acl", new Stat());
        zk.setACL("/j/acl", Arrays.asList(
            new ACL(ZooDefs.Perms.ALL, new Id("ip", "127.0.0.1")),
            new ACL(ZooDefs.Perms.READ, new Id("ip", "10.0.0.0/8"))), 0);
        zk.create("/j/secret", b("s3cr3t"), Arrays.asList(
            new ACL(ZooDefs.Perms.ALL, new Id("digest", digest))), CreateMode.PERSISTENT);
        expectError(KeeperException.Code.NOAUTH, () -> zk.getData("/j/secret", false, null));
        expectError(KeeperException.Code.INVALIDACL, () -> zk.setACL("/j/acl", Arrays.asList(
            new ACL(ZooDefs.Perms.ALL, new Id("world", "somebody"))), -1));
        expectError(KeeperException.Code.BADVERSION, () -> zk.setACL("/j/acl", OPEN, 7));
        zk.setACL("/j/acl", Arrays.asList(
            new ACL(ZooDefs.Perms.READ | ZooDefs.Perms.WRITE, new Id("world", "anyone"))), 1);
        zk.addAuthInfo("digest", b("bob:secret"));
        zk.getData("/j/secret", false, null);
        zk.getACL("/j/secret", new Stat());
        zk.setACL("/j/secret", Arrays.asList(
            new ACL(ZooDefs.Perms.ALL, new Id("digest", digest)),
            new ACL(ZooDefs.Perms.READ, new Id("world", "anyone"))), 0);
        zk.create("/j/mine", null, ZooDefs.Ids.CREATOR_ALL_ACL, CreateMode.PERSISTENT);
    }

    private static void multis(ZooKeeper zk) throws Exception {
        zk.multi(Arrays.asList(
            Op.create("/j/m1", b("m"), OPEN, CreateMode.PERSISTENT),
            Op.setData("/j/m1", b("m2"), 0),
            Op.check("/j/m1", 1),
            Op.create("/j/m1/k", null, OPEN, CreateMode.EPHEMERAL),
            Op.delete("/j/m1/k", -1)));
        try {
            zk.multi(Arrays.asList(
                Op.create("/j/m2", b("m"), OPEN, CreateMode.PERSISTENT),
                Op.delete("/j/nope", -1),
                Op.setData("/j/m1", b("x"), -1)));
            throw new IllegalStateException("failing multi succeeded");
        } catch (KeeperException e) {
            System.out.println("multi failed as planned: " + e.code());
        }
        List<OpResult> reads = zk.multi(Arrays.asList(
            Op.getData("/j/m1"), Op.getChildren("/j/c2"), Op.getData("/j/nope")));
        System.out.println("multiRead " + reads.size());
    }

    private static void reconnects(ZooKeeper zk) throws Exception {
        zk.create("/j/w1", b("w1"), OPEN, CreateMode.PERSISTENT);
        zk.getData("/j/w1", true, null);
        zk.exists("/j/w2", true);
        zk.getChildren("/j/c2", true);
        // the script changes /j/w1 and creates /j/w2 while this client is cut off
        command("@offline set /j/w1 offline; create /j/w2 w2");
        await(connected);
        expectEvent(Watcher.Event.EventType.NodeDataChanged, "/j/w1");
        expectEvent(Watcher.Event.EventType.NodeCreated, "/j/w2");

        zk.addWatch("/j/pw", AddWatchMode.PERSISTENT);
        zk.addWatch("/j/w2", AddWatchMode.PERSISTENT_RECURSIVE);
        zk.getData("/j/w1", true, null);
        command("@drop");
        await(connected);
        zk.create("/j/pw", b("p"), OPEN, CreateMode.PERSISTENT);
        expectEvent(Watcher.Event.EventType.NodeCreated, "/j/pw");
        zk.create("/j/w2/deep", b("d"), OPEN, CreateMode.PERSISTENT);
        expectEvent(Watcher.Event.EventType.NodeCreated, "/j/w2/deep");
        zk.removeAllWatches("/j/pw", Watcher.WatcherType.Any, false);
    }

    private static void newerOps(ZooKeeper zk, String cs) throws Exception {
        Watcher mine = event -> System.out.println("own watcher " + event);
        zk.getData("/j/w1", mine, null);
        zk.removeWatches("/j/w1", mine, Watcher.WatcherType.Data, false);
        zk.getChildren("/j/c2", true);
        zk.removeAllWatches("/j/c2", Watcher.WatcherType.Children, false);
        System.out.println("ephemerals " + zk.getEphemerals("/j"));
        System.out.println("all ephemerals " + zk.getEphemerals());
        System.out.println("children number " + zk.getAllChildrenNumber("/j"));
        System.out.println("whoami " + zk.whoAmI());
        ZooKeeperAdmin admin = new ZooKeeperAdmin(cs, 4000, WATCHER);
        try {
            admin.reconfigure("server.5=127.0.0.1:24901:24902;24903", null, null, -1, new Stat());
        } catch (KeeperException e) {
            System.out.println("reconfig: " + e.code());
        }
        admin.close();
    }

    private static void errors(ZooKeeper zk) throws Exception {
        expectError(KeeperException.Code.NONODE, () -> zk.getData("/j/nope", false, null));
        expectError(KeeperException.Code.NONODE, () -> zk.delete("/j/nope", -1));
        expectError(KeeperException.Code.BADVERSION, () -> zk.setData("/j", b("v"), 42));
        expectError(KeeperException.Code.BADVERSION, () -> zk.delete("/j/later", 3));
        expectError(KeeperException.Code.NOTEMPTY, () -> zk.delete("/j", -1));
        expectError(KeeperException.Code.BADARGUMENTS, () -> zk.delete("/zookeeper", -1));
        expectError(KeeperException.Code.NOAUTH, () -> zk.setData("/zookeeper/config", b("x"), -1));
    }

    private static void authFail(String cs) throws Exception {
        ZooKeeper zk = connect(cs);
        zk.addAuthInfo("nosuchscheme", b("whatever"));
        Thread.sleep(1500);
        zk.close();
    }

    private static void sasl(String cs) throws Exception {
        ZooKeeper zk = connect(cs);
        Thread.sleep(1000);
        System.out.println("whoami " + zk.whoAmI());
        zk.exists("/", false);
        zk.close();
    }

    private static void ttl(String cs) throws Exception {
        ZooKeeper zk = connect(cs);
        String digest = DigestAuthenticationProvider.generateDigest("bob:secret");
        zk.create("/t", b("ttl-run"), OPEN, CreateMode.PERSISTENT);
        zk.create("/t/ttl", b("t"), OPEN, CreateMode.PERSISTENT_WITH_TTL, new Stat(), 60000);
        zk.create("/t/sttl-", b("t"), OPEN, CreateMode.PERSISTENT_SEQUENTIAL_WITH_TTL, new Stat(), 1234567);
        zk.create("/t/cont", null, OPEN, CreateMode.CONTAINER);
        zk.create("/t/cont/kid", b("k"), OPEN, CreateMode.PERSISTENT);
        zk.create("/t/eph", b("e"), OPEN, CreateMode.EPHEMERAL);
        String seq = zk.create("/t/seq-", b("s"), OPEN, CreateMode.PERSISTENT_SEQUENTIAL);
        zk.create("/t/eseq-", b("es"), OPEN, CreateMode.EPHEMERAL_SEQUENTIAL);
        zk.create("/t/c2", b("c2"), OPEN, CreateMode.PERSISTENT, new Stat());
        zk.setData("/t/c2", b("c2-v1"), 0);
        zk.setACL("/t/c2", Arrays.asList(
            new ACL(ZooDefs.Perms.ALL, new Id("digest", digest)),
            new ACL(ZooDefs.Perms.READ, new Id("ip", "127.0.0.1"))), 0);
        zk.delete(seq, -1);
        expectError(KeeperException.Code.NODEEXISTS, () ->
            zk.create("/t", null, OPEN, CreateMode.PERSISTENT));
        zk.multi(Arrays.asList(
            Op.create("/t/m", b("m"), OPEN, CreateMode.PERSISTENT),
            Op.create("/t/mttl", b("mt"), OPEN, CreateMode.PERSISTENT_WITH_TTL, 5000),
            Op.create("/t/mcont", null, OPEN, CreateMode.CONTAINER),
            Op.setData("/t/m", b("m1"), 0),
            Op.check("/t/m", 1),
            Op.delete("/t/mcont", -1)));
        try {
            zk.multi(Arrays.asList(
                Op.create("/t/m-fail", b("m"), OPEN, CreateMode.PERSISTENT),
                Op.setData("/t/m", b("x"), 99),
                Op.delete("/t/m", -1)));
        } catch (KeeperException e) {
            System.out.println("multi failed as planned: " + e.code());
        }
        // once emptied, the container (and later the expired TTL node) is
        // removed by the server's own ContainerManager: deleteContainer txns
        zk.delete("/t/cont/kid", -1);
        Thread.sleep(7000);
        for (int i = 0; i < 8; i++) {
            zk.setData("/t", b("tick-" + i), -1);
        }
        zk.close();
    }
}
