import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.recipes.cache.ChildData;
import org.apache.curator.framework.recipes.cache.CuratorCache;
import org.apache.curator.framework.recipes.cache.CuratorCacheListener;
import org.apache.curator.framework.recipes.leader.LeaderLatch;
import org.apache.curator.framework.recipes.leader.LeaderLatchListener;
import org.apache.curator.framework.recipes.locks.InterProcessMutex;
import org.apache.curator.retry.RetryNTimes;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.Op;
import org.apache.zookeeper.WatchedEvent;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.data.ACL;
import org.apache.zookeeper.data.Id;
import org.apache.zookeeper.server.auth.DigestAuthenticationProvider;

/**
 * Curator load and checks for the migration test at scale (tests/migration.rs).
 *
 * <p>{@code java MigrationCurator OUT COUNT HOST...}: builds a tree of about COUNT znodes under /big with multi
 * batches kept in flight (persistent nodes in directories of 1,000, sequential nodes, nodes with a digest ACL,
 * containers with a child, TTL nodes of an hour) and ephemerals of an owner session, which also sets watches
 * (data watches on every node of /big/p/d001, a child watch on it, exists watches on absent nodes). Writes
 * OUT/curator-ready once the load runs, then runs until OUT/stop exists:
 *
 * <ul>
 *   <li>two Curator clients each holding an InterProcessMutex on /cur/mutex in turn, recording every hold and
 *       whether both ever held it at once;
 *   <li>the same two clients in a LeaderLatch on /cur/latch, recording leadership changes and whether both
 *       ever led at once;
 *   <li>a third client with a CuratorCache on /big and a writer recording every acknowledged write (setData on
 *       /big/p/d000 nodes, creates under /big/churn).
 * </ul>
 *
 * <p>After OUT/stop: exactly one latch leads; the owner's watches set before the migration fire for the
 * changes then made; on each member alone, after a sync, the tree under /big (data, ephemeral owner, the ACLs
 * under /big/acl) is the same; every acknowledged write is there; the owner's ephemerals are there, its
 * session never expired; the cache holds what the tree holds. Prints the figures; exits 1 with the reasons
 * when a check fails.
 */
public final class MigrationCurator {
    static final String AUTH = "mig:secret";
    static final int BATCH = 500;
    static final int DIR = 1000;
    static final int WATCHED_ABSENT = 100;
    static final long TTL_MS = 3_600_000L;

    static final List<String> problems = Collections.synchronizedList(new ArrayList<>());
    static volatile boolean stop;

    static void problem(String what) {
        problems.add(what);
        System.out.println("problem: " + what);
    }

    static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    static String text(byte[] b) {
        return b == null ? "<null>" : new String(b, StandardCharsets.ISO_8859_1);
    }

    static List<ACL> digestAcl() throws Exception {
        return List.of(new ACL(ZooDefs.Perms.ALL, new Id("digest", DigestAuthenticationProvider.generateDigest(AUTH))));
    }

    static ZooKeeper connect(String hosts, Watcher watcher) throws Exception {
        java.util.concurrent.CountDownLatch up = new java.util.concurrent.CountDownLatch(1);
        ZooKeeper zk = new ZooKeeper(hosts, 30_000, e -> {
            if (e.getState() == Watcher.Event.KeeperState.SyncConnected) {
                up.countDown();
            }
            if (watcher != null) {
                watcher.process(e);
            }
        });
        if (!up.await(60, TimeUnit.SECONDS)) {
            throw new IllegalStateException("no connection to " + hosts);
        }
        zk.addAuthInfo("digest", bytes(AUTH));
        return zk;
    }

    static CuratorFramework curator(String hosts) throws Exception {
        CuratorFramework c = CuratorFrameworkFactory.builder()
                .connectString(hosts)
                .sessionTimeoutMs(30_000)
                .connectionTimeoutMs(15_000)
                .retryPolicy(new RetryNTimes(120, 500))
                .authorization("digest", bytes(AUTH))
                .build();
        c.start();
        if (!c.blockUntilConnected(60, TimeUnit.SECONDS)) {
            throw new IllegalStateException("curator: no connection to " + hosts);
        }
        return c;
    }

    /**
     * Multi batches, at most 8 in flight. A batch whose answer is lost (the connection dropped) is looked at again
     * once the others are done: a multi is all or nothing, so its first node with a known name tells whether
     * it was applied; one that was not is sent again.
     */
    static final class Batcher {
        final ZooKeeper zk;
        final Semaphore inFlight = new Semaphore(8);
        final List<List<Op>> lost = Collections.synchronizedList(new ArrayList<>());
        int resent;
        List<Op> ops = new ArrayList<>();
        long created;

        Batcher(ZooKeeper zk) {
            this.zk = zk;
        }

        void add(Op op) throws InterruptedException {
            ops.add(op);
            if (ops.size() == BATCH) {
                flush();
            }
        }

        void flush() throws InterruptedException {
            if (ops.isEmpty()) {
                return;
            }
            List<Op> send = ops;
            ops = new ArrayList<>();
            created += send.size();
            inFlight.acquire();
            zk.multi(send, (rc, path, ctx, results) -> {
                if (rc == KeeperException.Code.CONNECTIONLOSS.intValue()) {
                    lost.add(send);
                } else if (rc != 0) {
                    problem("populate: a multi of " + send.size() + " failed: " + KeeperException.Code.get(rc));
                }
                inFlight.release();
            }, null);
        }

        /** Waits for every batch sent, sending again those lost and not applied. */
        void drain() throws Exception {
            flush();
            inFlight.acquire(8);
            inFlight.release(8);
            List<List<Op>> again;
            synchronized (lost) {
                again = new ArrayList<>(lost);
                lost.clear();
            }
            for (List<Op> batch : again) {
                String named = batch.stream().map(Op::getPath).filter(p -> !p.endsWith("-")).findFirst()
                        .orElseThrow();
                while (true) {
                    try {
                        if (zk.exists(named, false) == null) {
                            zk.multi(batch);
                            resent++;
                        }
                        break;
                    } catch (KeeperException.NodeExistsException e) {
                        // Applied after all (the member read from had not seen it yet).
                        break;
                    } catch (KeeperException.ConnectionLossException e) {
                        sleep(500);
                    }
                }
            }
        }
    }

    static String dir(int d) {
        return String.format("/big/p/d%03d", d);
    }

    /** Builds /big; returns the number of znodes created. */
    static long populate(ZooKeeper zk, int count) throws Exception {
        List<ACL> open = ZooDefs.Ids.OPEN_ACL_UNSAFE;
        for (String p : new String[] {"/big", "/big/p", "/big/seq", "/big/acl", "/big/ttl", "/big/containers",
                "/big/churn", "/big/eph", "/big/watch"}) {
            zk.create(p, bytes("dir"), open, CreateMode.PERSISTENT);
        }
        int special = count / 50;
        int containers = count / 200;
        int persistent = Math.max(2 * DIR, count - 3 * special - 2 * containers - ephemerals(count));
        Batcher b = new Batcher(zk);
        int dirs = (persistent + DIR - 1) / DIR;
        for (int d = 0; d < dirs; d++) {
            b.add(Op.create(dir(d), bytes("dir-" + d), open, CreateMode.PERSISTENT));
        }
        b.drain();
        for (int n = 0; n < persistent; n++) {
            b.add(Op.create(String.format("%s/n%04d", dir(n / DIR), n % DIR), bytes("value-" + n), open,
                    CreateMode.PERSISTENT));
        }
        for (int n = 0; n < special; n++) {
            b.add(Op.create("/big/seq/s-", bytes("seq-" + n), open, CreateMode.PERSISTENT_SEQUENTIAL));
            b.add(Op.create(String.format("/big/acl/a%05d", n), bytes("secret-" + n), digestAcl(),
                    CreateMode.PERSISTENT));
            b.add(Op.create(String.format("/big/ttl/t%05d", n), bytes("ttl-" + n), open,
                    CreateMode.PERSISTENT_WITH_TTL, TTL_MS));
        }
        b.drain();
        for (int n = 0; n < containers; n++) {
            String c = String.format("/big/containers/c%04d", n);
            b.add(Op.create(c, bytes("container"), open, CreateMode.CONTAINER));
            b.add(Op.create(c + "/child", bytes("keeps the container"), open, CreateMode.PERSISTENT));
        }
        b.drain();
        if (b.resent > 0) {
            System.out.printf("curator: %d multi batches sent again after a lost connection%n", b.resent);
        }
        return dirs + b.created + 9;
    }

    // The owner session: ephemerals and watches, which must outlive the migration.
    static final AtomicLong ownerExpired = new AtomicLong();
    static final AtomicInteger ownerDisconnects = new AtomicInteger();
    static final Map<String, AtomicInteger> watchEvents = new ConcurrentHashMap<>();

    static void ownerEvent(WatchedEvent e) {
        if (e.getType() == Watcher.Event.EventType.None) {
            if (e.getState() == Watcher.Event.KeeperState.Expired) {
                ownerExpired.compareAndSet(0, System.currentTimeMillis());
            } else if (e.getState() == Watcher.Event.KeeperState.Disconnected) {
                ownerDisconnects.incrementAndGet();
            }
            return;
        }
        watchEvents.computeIfAbsent(e.getType().toString(), k -> new AtomicInteger()).incrementAndGet();
    }

    static int ephemerals(int count) {
        return Math.min(1000, Math.max(10, count / 100));
    }

    // The lock and the latch.
    static final AtomicInteger holding = new AtomicInteger();
    static final AtomicInteger holds = new AtomicInteger();
    static final AtomicInteger heldTwice = new AtomicInteger();
    static final AtomicInteger leading = new AtomicInteger();
    static final AtomicInteger leadershipChanges = new AtomicInteger();
    static final AtomicInteger ledTwice = new AtomicInteger();

    static Thread mutexHolder(CuratorFramework c, String name) {
        InterProcessMutex m = new InterProcessMutex(c, "/cur/mutex");
        Thread t = new Thread(() -> {
            while (!stop) {
                try {
                    if (!m.acquire(5, TimeUnit.SECONDS)) {
                        continue;
                    }
                } catch (Exception e) {
                    sleep(100);
                    continue;
                }
                if (holding.incrementAndGet() > 1) {
                    heldTwice.incrementAndGet();
                    problem("the mutex was held by two clients at once (" + name + " at "
                            + System.currentTimeMillis() + ")");
                }
                holds.incrementAndGet();
                sleep(50);
                holding.decrementAndGet();
                while (true) {
                    try {
                        m.release();
                        break;
                    } catch (Exception e) {
                        if (stop) {
                            break;
                        }
                        sleep(100);
                    }
                }
            }
        }, "mutex-" + name);
        t.start();
        return t;
    }

    static LeaderLatch latch(CuratorFramework c, String name) throws Exception {
        LeaderLatch l = new LeaderLatch(c, "/cur/latch", name);
        l.addListener(new LeaderLatchListener() {
            @Override
            public void isLeader() {
                leadershipChanges.incrementAndGet();
                if (leading.incrementAndGet() > 1) {
                    ledTwice.incrementAndGet();
                    problem("two latch members led at once (" + name + " at " + System.currentTimeMillis() + ")");
                }
            }

            @Override
            public void notLeader() {
                leading.decrementAndGet();
            }
        });
        l.start();
        return l;
    }

    // The writer.
    static final Map<String, Long> lastAcked = new ConcurrentHashMap<>();
    static final List<String> created = Collections.synchronizedList(new ArrayList<>());
    static final AtomicInteger acked = new AtomicInteger();
    static final Map<String, Integer> setsAcked = new ConcurrentHashMap<>();
    static final AtomicInteger notAcked = new AtomicInteger();

    static Thread writer(CuratorFramework c) {
        Thread t = new Thread(() -> {
            long n = 0;
            while (!stop) {
                n++;
                String set = String.format("%s/n%04d", dir(0), n % 200);
                try {
                    c.setData().forPath(set, bytes(Long.toString(n)));
                    lastAcked.put(set, n);
                    acked.incrementAndGet();
                    setsAcked.merge(set, 1, Integer::sum);
                } catch (Exception e) {
                    notAcked.incrementAndGet();
                }
                String made = "/big/churn/k" + n;
                try {
                    c.create().forPath(made, bytes(Long.toString(n)));
                    created.add(made);
                    acked.incrementAndGet();
                } catch (KeeperException.NodeExistsException e) {
                    // A retry of a create that was applied before the connection dropped.
                    created.add(made);
                    acked.incrementAndGet();
                } catch (Exception e) {
                    notAcked.incrementAndGet();
                }
                sleep(20);
            }
        }, "writer");
        t.start();
        return t;
    }

    static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Every znode under `root` as one member has it: path -> "data|ephemeralOwner|acl". */
    static Map<String, String> walk(ZooKeeper zk, String root) throws Exception {
        Map<String, String> out = new ConcurrentHashMap<>();
        Map<String, String> acls = new ConcurrentHashMap<>();
        LinkedBlockingQueue<String> todo = new LinkedBlockingQueue<>();
        Semaphore inFlight = new Semaphore(1000);
        AtomicInteger pending = new AtomicInteger(1);
        todo.add(root);
        while (pending.get() > 0) {
            String p = todo.poll(100, TimeUnit.MILLISECONDS);
            if (p == null) {
                continue;
            }
            boolean withAcl = p.startsWith("/big/acl/");
            pending.addAndGet(withAcl ? 2 : 1);
            inFlight.acquire(withAcl ? 3 : 2);
            zk.getData(p, false, (rc, path, ctx, data, stat) -> {
                if (rc == 0) {
                    out.put(path, text(data) + "|" + stat.getEphemeralOwner());
                } else {
                    problem("walk: getData " + path + ": " + KeeperException.Code.get(rc));
                }
                inFlight.release();
                pending.decrementAndGet();
            }, null);
            zk.getChildren(p, false, (rc, path, ctx, children) -> {
                if (rc == 0) {
                    for (String c : children) {
                        pending.incrementAndGet();
                        todo.add(path.equals("/") ? "/" + c : path + "/" + c);
                    }
                } else {
                    problem("walk: getChildren " + path + ": " + KeeperException.Code.get(rc));
                }
                inFlight.release();
                pending.decrementAndGet();
            }, null);
            if (withAcl) {
                zk.getACL(p, null, (rc, path, ctx, acl, stat) -> {
                    acls.put(path, rc == 0 ? acl.toString().replaceAll("\\s+", " ") : "error " + rc);
                    inFlight.release();
                    pending.decrementAndGet();
                }, null);
            }
        }
        Map<String, String> tree = new TreeMap<>();
        for (Map.Entry<String, String> e : out.entrySet()) {
            tree.put(e.getKey(), e.getValue() + "|" + acls.getOrDefault(e.getKey(), ""));
        }
        return tree;
    }

    static String firstDifferences(Map<String, String> a, Map<String, String> b) {
        List<String> diff = new ArrayList<>();
        for (String k : a.keySet()) {
            if (!b.containsKey(k)) {
                diff.add("only first " + k);
            } else if (!a.get(k).equals(b.get(k))) {
                diff.add(k + ": " + a.get(k) + " / " + b.get(k));
            }
            if (diff.size() >= 10) {
                return diff.toString();
            }
        }
        for (String k : b.keySet()) {
            if (!a.containsKey(k)) {
                diff.add("only second " + k);
            }
            if (diff.size() >= 10) {
                break;
            }
        }
        return diff.toString();
    }

    public static void main(String[] args) throws Exception {
        Path out = Paths.get(args[0]);
        int count = Integer.parseInt(args[1]);
        List<String> hostList = new ArrayList<>();
        for (int i = 2; i < args.length; i++) {
            hostList.add(args[i]);
        }
        String hosts = String.join(",", hostList);

        long t0 = System.nanoTime();
        ZooKeeper owner = connect(hosts, MigrationCurator::ownerEvent);
        long ownerSession = owner.getSessionId();
        long nodes = populate(owner, count);
        int eph = ephemerals(count);
        for (int n = 0; n < eph; n++) {
            owner.create(String.format("/big/eph/e%04d", n), bytes("owned"), ZooDefs.Ids.OPEN_ACL_UNSAFE,
                    CreateMode.EPHEMERAL);
        }
        nodes += eph;
        double built = (System.nanoTime() - t0) / 1e9;
        List<String> watched = owner.getChildren(dir(1), true);
        for (String c : watched) {
            owner.getData(dir(1) + "/" + c, true, null);
        }
        for (int n = 0; n < WATCHED_ABSENT; n++) {
            if (owner.exists("/big/watch/m" + n, true) != null) {
                problem("/big/watch/m" + n + " exists");
            }
        }
        System.out.printf("curator: built %d znodes under /big in %.1f s; %d data watches, 1 child watch, %d exists "
                + "watches set%n", nodes, built, watched.size(), WATCHED_ABSENT);

        CuratorFramework a = curator(hosts);
        CuratorFramework b = curator(hosts);
        CuratorFramework c = curator(hosts);
        java.util.concurrent.CountDownLatch cacheReady = new java.util.concurrent.CountDownLatch(1);
        CuratorCache cache = CuratorCache.build(c, "/big");
        cache.listenable().addListener(CuratorCacheListener.builder().forInitialized(cacheReady::countDown).build());
        cache.start();
        if (!cacheReady.await(300, TimeUnit.SECONDS)) {
            problem("the cache did not initialize");
        }
        List<Thread> threads = new ArrayList<>();
        threads.add(mutexHolder(a, "a"));
        threads.add(mutexHolder(b, "b"));
        LeaderLatch la = latch(a, "a");
        LeaderLatch lb = latch(b, "b");
        threads.add(writer(c));
        Files.write(out.resolve("curator-ready"), new byte[0]);
        System.out.printf("curator: load running %.1f s after the start%n", (System.nanoTime() - t0) / 1e9);
        System.out.flush();

        while (!Files.exists(out.resolve("stop"))) {
            Path tmp = out.resolve("curator-progress.tmp");
            Files.write(tmp, bytes(acked.get() + " " + holds.get() + " " + leadershipChanges.get()));
            Files.move(tmp, out.resolve("curator-progress"), StandardCopyOption.REPLACE_EXISTING,
                    StandardCopyOption.ATOMIC_MOVE);
            sleep(200);
        }
        stop = true;
        for (Thread t : threads) {
            t.join(60_000);
            if (t.isAlive()) {
                problem(t.getName() + " did not stop");
            }
        }

        // One leader once the ensemble is whole.
        long deadline = System.currentTimeMillis() + 60_000;
        while ((la.hasLeadership() ? 1 : 0) + (lb.hasLeadership() ? 1 : 0) != 1
                && System.currentTimeMillis() < deadline) {
            sleep(100);
        }
        int leaders = (la.hasLeadership() ? 1 : 0) + (lb.hasLeadership() ? 1 : 0);
        if (leaders != 1) {
            problem(leaders + " latch members lead at the end");
        }

        // The owner's watches, set before the migration, fire for changes made now.
        for (String w : watched) {
            c.setData().forPath(dir(1) + "/" + w, bytes("changed"));
        }
        for (int n = 0; n < WATCHED_ABSENT; n++) {
            c.create().forPath("/big/watch/m" + n, bytes("now"));
        }
        c.create().forPath(dir(1) + "/new-child", bytes("new"));
        int wantData = watched.size();
        deadline = System.currentTimeMillis() + 60_000;
        while (System.currentTimeMillis() < deadline && (count(Watcher.Event.EventType.NodeDataChanged) < wantData
                || count(Watcher.Event.EventType.NodeCreated) < WATCHED_ABSENT
                || count(Watcher.Event.EventType.NodeChildrenChanged) < 1)) {
            sleep(100);
        }
        String events = new TreeMap<>(watchEvents).toString();
        if (count(Watcher.Event.EventType.NodeDataChanged) != wantData
                || count(Watcher.Event.EventType.NodeCreated) != WATCHED_ABSENT
                || count(Watcher.Event.EventType.NodeChildrenChanged) != 1 || watchEvents.size() != 3) {
            problem("owner watch events " + events + ", wanted " + wantData + " NodeDataChanged, " + WATCHED_ABSENT
                    + " NodeCreated, 1 NodeChildrenChanged");
        }

        // Each member alone, after a sync.
        List<Map<String, String>> trees = new ArrayList<>();
        for (String h : hostList) {
            ZooKeeper zk = connect(h, null);
            java.util.concurrent.CountDownLatch synced = new java.util.concurrent.CountDownLatch(1);
            zk.sync("/big", (rc, path, ctx) -> synced.countDown(), null);
            synced.await(60, TimeUnit.SECONDS);
            long w0 = System.nanoTime();
            trees.add(walk(zk, "/big"));
            System.out.printf("curator: %s holds %d znodes under /big (read in %.1f s)%n", h,
                    trees.get(trees.size() - 1).size(), (System.nanoTime() - w0) / 1e9);
            zk.close();
        }
        Map<String, String> first = trees.get(0);
        for (int i = 1; i < trees.size(); i++) {
            if (!trees.get(i).equals(first)) {
                problem("members " + hostList.get(0) + " and " + hostList.get(i) + " differ under /big: "
                        + firstDifferences(first, trees.get(i)));
            }
        }
        // A node's acknowledged setData writes are found when it holds the last one's value or a later one's.
        int found = 0;
        for (Map.Entry<String, Long> e : lastAcked.entrySet()) {
            String v = first.getOrDefault(e.getKey(), "<none>|");
            long now = -1;
            try {
                now = Long.parseLong(v.substring(0, v.indexOf('|')));
            } catch (NumberFormatException ignored) {
                // reported below
            }
            if (now >= e.getValue()) {
                found += setsAcked.get(e.getKey());
            } else {
                problem("acknowledged setData " + e.getKey() + "=" + e.getValue() + " is " + v);
            }
        }
        for (String p : created) {
            if (first.containsKey(p)) {
                found++;
            } else {
                problem("acknowledged create " + p + " is missing");
            }
        }
        for (int n = 0; n < eph; n++) {
            String v = first.get(String.format("/big/eph/e%04d", n));
            if (v == null || !v.startsWith("owned|" + ownerSession + "|")) {
                problem(String.format("ephemeral /big/eph/e%04d of 0x%x is %s", n, ownerSession, v));
            }
        }
        long ttl = first.keySet().stream().filter(p -> p.startsWith("/big/ttl/")).count();
        long containers = first.keySet().stream().filter(p -> p.matches("/big/containers/c\\d+")).count();
        if (ttl != count / 50 || containers != count / 200) {
            problem("TTL nodes " + ttl + " and containers " + containers + ", wanted " + (count / 50) + " and "
                    + (count / 200));
        }
        if (ownerExpired.get() != 0) {
            problem("the owner session expired at " + ownerExpired.get());
        }
        if (owner.getState() != ZooKeeper.States.CONNECTED) {
            problem("the owner session is " + owner.getState() + " at the end");
        }
        if (holds.get() == 0) {
            problem("the mutex was never held");
        }
        if (leadershipChanges.get() == 0) {
            problem("no latch member ever led");
        }

        // The cache holds what the tree holds (it catches up with the last changes).
        Map<String, String> want = new TreeMap<>();
        for (Map.Entry<String, String> e : first.entrySet()) {
            want.put(e.getKey(), e.getValue().substring(0, e.getValue().indexOf('|')));
        }
        Map<String, String> seen = new TreeMap<>();
        deadline = System.currentTimeMillis() + 60_000;
        while (true) {
            seen.clear();
            for (ChildData d : (Iterable<ChildData>) cache.stream()::iterator) {
                seen.put(d.getPath(), text(d.getData()));
            }
            if (seen.equals(want) || System.currentTimeMillis() > deadline) {
                break;
            }
            sleep(200);
        }
        if (!seen.equals(want)) {
            problem("the CuratorCache differs from the tree: " + firstDifferences(want, seen));
        }

        System.out.printf("curator: %d znodes under /big on the first of %d members; %d writes acknowledged, "
                + "%d found (setData: the node holds the last acknowledged value or a later one), %d attempts not "
                + "acknowledged; mutex held %d times, %d times by two at once; latch leadership changed %d times, "
                + "two leaders %d times, %d leader at the end; owner session 0x%x, %d ephemerals, %d "
                + "disconnections; watch events %s; the cache holds %d znodes%n",
                first.size(), trees.size(), acked.get(), found, notAcked.get(), holds.get(), heldTwice.get(),
                leadershipChanges.get(), ledTwice.get(), leaders, ownerSession, eph, ownerDisconnects.get(), events,
                seen.size());
        cache.close();
        la.close();
        lb.close();
        a.close();
        b.close();
        c.close();
        owner.close();
        if (!problems.isEmpty()) {
            System.out.println("FAILED:");
            synchronized (problems) {
                problems.stream().limit(30).forEach(System.out::println);
            }
            System.out.flush();
            System.exit(1);
        }
        System.out.flush();
        System.exit(0);
    }

    static int count(Watcher.Event.EventType t) {
        AtomicInteger n = watchEvents.get(t.toString());
        return n == null ? 0 : n.get();
    }
}
