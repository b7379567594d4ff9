package compat;

import static compat.FrameworkChecks.b;
import static compat.FrameworkChecks.s;
import static compat.Main.check;
import static compat.Main.eq;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.recipes.cache.ChildData;
import org.apache.curator.framework.recipes.cache.CuratorCache;
import org.apache.curator.framework.recipes.cache.CuratorCacheListener;
import org.apache.curator.framework.recipes.cache.TreeCache;
import org.apache.curator.framework.recipes.cache.TreeCacheEvent;

/** CuratorCache (persistent recursive watches) and TreeCache (one-shot watches). */
final class CacheChecks {
    private CacheChecks() {}

    static void register(Main.Registry r) {
        r.add("curator-cache-initial-and-events", CacheChecks::curatorCache);
        r.add("tree-cache-events", CacheChecks::treeCache);
    }

    static void curatorCache(Main.Env env) throws Exception {
        CuratorFramework c = env.client();
        CuratorFramework writer = env.client();
        String p = env.path("root");
        c.create().creatingParentsIfNeeded().forPath(p + "/pre", b("0"));
        BlockingQueue<String> events = new LinkedBlockingQueue<>();
        CountDownLatch initialized = new CountDownLatch(1);
        CuratorCache cache = CuratorCache.build(c, p);
        cache.listenable().addListener(CuratorCacheListener.builder()
                .forCreates(n -> events.add("create " + n.getPath()))
                .forChanges((old, n) -> events.add("change " + n.getPath() + " " + s(n.getData())))
                .forDeletes(n -> events.add("delete " + n.getPath()))
                .forInitialized(initialized::countDown)
                .build());
        cache.start();
        try {
            check(initialized.await(10, TimeUnit.SECONDS), "cache initialized");
            Optional<ChildData> pre = cache.get(p + "/pre");
            check(pre.isPresent(), "existing node in the cache");
            eq("0", s(pre.get().getData()), "cached data");
            List<String> initial = drain(events, 2, 2);
            eq(List.of("create " + p, "create " + p + "/pre"), sorted(initial), "initial creates");
            // One write at a time: the cache reads each changed node back, so a node
            // created and deleted in quick succession may legitimately never show.
            writer.create().forPath(p + "/new", b("1"));
            eq(List.of("create " + p + "/new"), drain(events, 1, 10), "create event");
            writer.create().forPath(p + "/new/deep", b("2"));
            eq(List.of("create " + p + "/new/deep"), drain(events, 1, 10), "deep create event");
            writer.setData().forPath(p + "/pre", b("3"));
            eq(List.of("change " + p + "/pre 3"), drain(events, 1, 10), "change event");
            writer.delete().forPath(p + "/new/deep");
            eq(List.of("delete " + p + "/new/deep"), drain(events, 1, 10), "delete event");
            eq(3, cache.size(), "nodes in the cache");
        } finally {
            cache.close();
        }
    }

    static void treeCache(Main.Env env) throws Exception {
        CuratorFramework c = env.client();
        CuratorFramework writer = env.client();
        String p = env.path("tree");
        c.create().creatingParentsIfNeeded().forPath(p + "/a", b("a"));
        BlockingQueue<String> events = new LinkedBlockingQueue<>();
        TreeCache cache = TreeCache.newBuilder(c, p).build();
        cache.getListenable().addListener((client, ev) -> {
            if (ev.getType() == TreeCacheEvent.Type.INITIALIZED) {
                events.add("INITIALIZED");
            } else if (ev.getData() != null) {
                events.add(ev.getType() + " " + ev.getData().getPath());
            }
        });
        cache.start();
        try {
            List<String> initial = drain(events, 3, 10);
            eq("INITIALIZED", initial.isEmpty() ? null : initial.get(initial.size() - 1),
                    "INITIALIZED after the initial nodes");
            eq(List.of("INITIALIZED", "NODE_ADDED " + p, "NODE_ADDED " + p + "/a"),
                    sorted(initial), "initial events");
            writer.create().forPath(p + "/a/b", b("b"));
            eq(List.of("NODE_ADDED " + p + "/a/b"), drain(events, 1, 10), "add event");
            writer.setData().forPath(p + "/a", b("a2"));
            eq(List.of("NODE_UPDATED " + p + "/a"), drain(events, 1, 10), "update event");
            eq("a2", s(cache.getCurrentData(p + "/a").getData()), "cached data after update");
            writer.delete().forPath(p + "/a/b");
            eq(List.of("NODE_REMOVED " + p + "/a/b"), drain(events, 1, 10), "remove event");
            eq(0, cache.getCurrentChildren(p + "/a").size(), "children after remove");
        } finally {
            cache.close();
        }
    }

    static List<String> drain(BlockingQueue<String> q, int count, int seconds)
            throws InterruptedException {
        List<String> got = new ArrayList<>();
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        while (got.size() < count) {
            String e = q.poll(Math.max(1, end - System.nanoTime()), TimeUnit.NANOSECONDS);
            if (e == null) {
                break;
            }
            got.add(e);
        }
        return got;
    }

    static List<String> sorted(List<String> in) {
        List<String> out = new ArrayList<>(in);
        java.util.Collections.sort(out);
        return out;
    }
}
