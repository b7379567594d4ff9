package compat;

import static compat.Main.check;
import static compat.Main.eq;
import static compat.Main.expectThrows;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.api.CuratorEventType;
import org.apache.zookeeper.AddWatchMode;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.WatchedEvent;
import org.apache.zookeeper.Watcher.Event.EventType;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.data.ACL;
import org.apache.zookeeper.data.Id;
import org.apache.zookeeper.data.Stat;
import org.apache.zookeeper.server.auth.DigestAuthenticationProvider;

/** The CuratorFramework API itself: CRUD, create modes, errors, watches, ACLs, sync. */
final class FrameworkChecks {
    private FrameworkChecks() {}

    static byte[] b(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    static String s(byte[] b) {
        return new String(b, StandardCharsets.UTF_8);
    }

    static void register(Main.Registry r) {
        r.add("crud", FrameworkChecks::crud);
        r.add("create-modes", FrameworkChecks::createModes);
        r.add("errors", FrameworkChecks::errors);
        r.add("protected-create", FrameworkChecks::protectedCreate);
        r.add("stat-fields", FrameworkChecks::statFields);
        r.add("one-shot-watches", FrameworkChecks::oneShotWatches);
        r.add("persistent-recursive-watch", FrameworkChecks::persistentRecursiveWatch);
        r.add("acl-digest", FrameworkChecks::aclDigest);
        r.add("sync", FrameworkChecks::sync);
        r.add("ephemeral-gone-after-close", FrameworkChecks::ephemeralGoneAfterClose);
    }

    static void crud(Main.Env env) throws Exception {
        CuratorFramework c = env.client();
        String p = env.path("node");
        c.create().creatingParentsIfNeeded().forPath(p, b("one"));
        eq("one", s(c.getData().forPath(p)), "data after create");
        Stat st = c.setData().withVersion(0).forPath(p, b("two"));
        eq(1, st.getVersion(), "version after setData");
        eq("two", s(c.getData().forPath(p)), "data after setData");
        expectThrows(KeeperException.BadVersionException.class,
                e -> c.setData().withVersion(0).forPath(p, b("three")), env, "stale setData");
        expectThrows(KeeperException.BadVersionException.class,
                e -> c.delete().withVersion(5).forPath(p), env, "delete with wrong version");
        c.delete().withVersion(1).forPath(p);
        eq(null, c.checkExists().forPath(p), "stat after delete");
    }

    static void createModes(Main.Env env) throws Exception {
        CuratorFramework c = env.client();
        long session = c.getZookeeperClient().getZooKeeper().getSessionId();
        String base = env.path("");
        c.create().creatingParentsIfNeeded().forPath(base);
        String eph = c.create().withMode(CreateMode.EPHEMERAL).forPath(base + "/eph");
        eq(session, c.checkExists().forPath(eph).getEphemeralOwner(), "ephemeralOwner");
        String s1 = c.create().withMode(CreateMode.PERSISTENT_SEQUENTIAL).forPath(base + "/seq-");
        String s2 = c.create().withMode(CreateMode.EPHEMERAL_SEQUENTIAL).forPath(base + "/seq-");
        eq(base + "/seq-0000000001", s1, "first sequential name");
        eq(base + "/seq-0000000002", s2, "second sequential name (counter shared by modes)");
        eq(session, c.checkExists().forPath(s2).getEphemeralOwner(), "ephemeral sequential owner");
        eq(0L, c.checkExists().forPath(s1).getEphemeralOwner(), "persistent owner");
        String cont = c.create().withMode(CreateMode.CONTAINER).forPath(base + "/cont");
        c.create().forPath(cont + "/child");
        eq(List.of("child"), c.getChildren().forPath(cont), "container children");
        c.createContainers(base + "/made/by/createContainers");
        check(c.checkExists().forPath(base + "/made/by/createContainers") != null,
                "createContainers made the path");
    }

    static void errors(Main.Env env) throws Exception {
        CuratorFramework c = env.client();
        String p = env.path("e");
        c.create().creatingParentsIfNeeded().forPath(p);
        expectThrows(KeeperException.NoNodeException.class,
                e -> c.getData().forPath(p + "/missing"), env, "getData of a missing node");
        expectThrows(KeeperException.NodeExistsException.class,
                e -> c.create().forPath(p), env, "create of an existing node");
        expectThrows(KeeperException.NoNodeException.class,
                e -> c.create().forPath(p + "/no/parent"), env, "create without parent");
        c.create().forPath(p + "/child");
        expectThrows(KeeperException.NotEmptyException.class,
                e -> c.delete().forPath(p), env, "delete of a node with children");
        c.create().withMode(CreateMode.EPHEMERAL).forPath(p + "/eph");
        expectThrows(KeeperException.NoChildrenForEphemeralsException.class,
                e -> c.create().forPath(p + "/eph/child"), env, "child of an ephemeral");
        c.delete().deletingChildrenIfNeeded().forPath(p);
        eq(null, c.checkExists().forPath(p), "stat after recursive delete");
    }

    static void protectedCreate(Main.Env env) throws Exception {
        CuratorFramework c = env.client();
        String base = env.path("");
        String made = c.create().creatingParentsIfNeeded().withProtection()
                .withMode(CreateMode.EPHEMERAL_SEQUENTIAL).forPath(base + "/lock-");
        String name = made.substring(base.length() + 1);
        check(name.startsWith("_c_") && name.matches("_c_[0-9a-f-]{36}-lock-\\d{10}"),
                "protected name has the _c_GUID- prefix and a sequence: " + name);
        eq(List.of(name), c.getChildren().forPath(base), "children");
    }

    static void statFields(Main.Env env) throws Exception {
        CuratorFramework c = env.client();
        String p = env.path("s");
        c.create().creatingParentsIfNeeded().forPath(p, b("12345"));
        Stat before = c.checkExists().forPath(p);
        eq(5, before.getDataLength(), "dataLength");
        eq(before.getCzxid(), before.getMzxid(), "mzxid == czxid on a new node");
        eq(before.getCzxid(), before.getPzxid(), "pzxid == czxid on a new node");
        eq(before.getCtime(), before.getMtime(), "mtime == ctime on a new node");
        c.create().forPath(p + "/a");
        c.create().forPath(p + "/b");
        c.delete().forPath(p + "/a");
        Stat after = c.checkExists().forPath(p);
        eq(1, after.getNumChildren(), "numChildren");
        eq(3, after.getCversion(), "cversion counts creates and deletes");
        check(after.getPzxid() > before.getPzxid(), "pzxid moves with the children");
        eq(before.getMzxid(), after.getMzxid(), "mzxid unchanged by child changes");
        eq(0, after.getVersion(), "version unchanged by child changes");
    }

    static void oneShotWatches(Main.Env env) throws Exception {
        CuratorFramework c = env.client();
        CuratorFramework other = env.client();
        String p = env.path("w");
        c.create().creatingParentsIfNeeded().forPath(p, b("x"));
        BlockingQueue<WatchedEvent> events = new LinkedBlockingQueue<>();
        c.getData().usingWatcher((org.apache.curator.framework.api.CuratorWatcher) events::add)
                .forPath(p);
        c.getChildren().usingWatcher((org.apache.curator.framework.api.CuratorWatcher) events::add)
                .forPath(p);
        c.checkExists().usingWatcher((org.apache.curator.framework.api.CuratorWatcher) events::add)
                .forPath(p + "/later");
        other.setData().forPath(p, b("y"));
        other.setData().forPath(p, b("z"));
        other.create().forPath(p + "/later");
        List<String> got = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            WatchedEvent ev = events.poll(10, TimeUnit.SECONDS);
            check(ev != null, "only " + i + " of 3 watch events arrived: " + got);
            got.add(ev.getType() + " " + ev.getPath());
        }
        Collections.sort(got);
        eq(List.of("NodeChildrenChanged " + p, "NodeCreated " + p + "/later",
                "NodeDataChanged " + p), got, "events");
        WatchedEvent extra = events.poll(1, TimeUnit.SECONDS);
        eq(null, extra, "a one-shot watch fired twice");
    }

    static void persistentRecursiveWatch(Main.Env env) throws Exception {
        CuratorFramework c = env.client();
        CuratorFramework other = env.client();
        String p = env.path("tree");
        c.create().creatingParentsIfNeeded().forPath(p);
        BlockingQueue<WatchedEvent> events = new LinkedBlockingQueue<>();
        c.watchers().add().withMode(AddWatchMode.PERSISTENT_RECURSIVE)
                .usingWatcher((org.apache.zookeeper.Watcher) events::add).forPath(p);
        other.create().forPath(p + "/a");
        other.create().forPath(p + "/a/b");
        other.setData().forPath(p + "/a/b", b("1"));
        other.setData().forPath(p + "/a/b", b("2"));
        other.delete().forPath(p + "/a/b");
        List<String> want = List.of("NodeCreated " + p + "/a", "NodeCreated " + p + "/a/b",
                "NodeDataChanged " + p + "/a/b", "NodeDataChanged " + p + "/a/b",
                "NodeDeleted " + p + "/a/b");
        List<String> got = new ArrayList<>();
        for (int i = 0; i < want.size(); i++) {
            WatchedEvent ev = events.poll(10, TimeUnit.SECONDS);
            check(ev != null, "events so far " + got);
            got.add(ev.getType() + " " + ev.getPath());
        }
        eq(want, got, "recursive watch events in order");
    }

    static void aclDigest(Main.Env env) throws Exception {
        CuratorFramework open = env.client();
        String p = env.path("secret");
        open.create().creatingParentsIfNeeded().forPath(env.path(""));
        String digest = DigestAuthenticationProvider.generateDigest("user:pw");
        List<ACL> acl = List.of(new ACL(ZooDefs.Perms.ALL, new Id("digest", digest)));
        open.create().withACL(acl).forPath(p, b("hidden"));
        expectThrows(KeeperException.NoAuthException.class,
                e -> open.getData().forPath(p), env, "read without auth");
        expectThrows(KeeperException.NoAuthException.class,
                e -> open.getACL().forPath(p), env, "getACL without READ or ADMIN");
        CuratorFramework authed = org.apache.curator.framework.CuratorFrameworkFactory.builder()
                .connectString(env.connect).retryPolicy(new org.apache.curator.retry.RetryOneTime(100))
                .authorization("digest", b("user:pw")).build();
        env.clients.add(authed);
        authed.start();
        check(authed.blockUntilConnected(Main.CONNECT_SECONDS, TimeUnit.SECONDS), "connect");
        eq("hidden", s(authed.getData().forPath(p)), "read with auth");
        eq(acl, authed.getACL().forPath(p), "getACL with auth");
        authed.setACL().withACL(ZooDefs.Ids.READ_ACL_UNSAFE).forPath(p);
        eq("hidden", s(open.getData().forPath(p)), "read after opening the ACL");
        expectThrows(KeeperException.NoAuthException.class,
                e -> open.setData().forPath(p, b("no")), env, "write to read-only ACL");
        eq(1, open.checkExists().forPath(p).getAversion(), "aversion after setACL");
        expectThrows(KeeperException.InvalidACLException.class,
                e -> open.create().withACL(ZooDefs.Ids.CREATOR_ALL_ACL).forPath(p + "2"),
                env, "CREATOR_ALL_ACL without auth");
    }

    static void sync(Main.Env env) throws Exception {
        CuratorFramework c = env.client();
        String p = env.path("");
        c.create().creatingParentsIfNeeded().forPath(p);
        CountDownLatch done = new CountDownLatch(1);
        int[] rc = {-1};
        CuratorEventType[] type = {null};
        c.sync().inBackground((client, event) -> {
            rc[0] = event.getResultCode();
            type[0] = event.getType();
            done.countDown();
        }).forPath(p);
        check(done.await(10, TimeUnit.SECONDS), "sync callback");
        eq(0, rc[0], "sync result code");
        eq(CuratorEventType.SYNC, type[0], "event type");
    }

    static void ephemeralGoneAfterClose(Main.Env env) throws Exception {
        CuratorFramework owner = env.client();
        CuratorFramework watcher = env.client();
        String p = env.path("eph");
        owner.create().creatingParentsIfNeeded().withMode(CreateMode.EPHEMERAL).forPath(p);
        CountDownLatch deleted = new CountDownLatch(1);
        watcher.checkExists().usingWatcher((org.apache.zookeeper.Watcher) ev -> {
            if (ev.getType() == EventType.NodeDeleted) {
                deleted.countDown();
            }
        }).forPath(p);
        owner.close();
        check(deleted.await(10, TimeUnit.SECONDS), "NodeDeleted after the owner closed");
        eq(null, watcher.checkExists().forPath(p), "ephemeral after its session closed");
    }
}
