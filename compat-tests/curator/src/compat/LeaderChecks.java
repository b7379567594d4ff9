package compat;

import static compat.Main.check;
import static compat.Main.eq;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.recipes.leader.LeaderLatch;
import org.apache.curator.framework.recipes.leader.LeaderSelector;
import org.apache.curator.framework.recipes.leader.LeaderSelectorListenerAdapter;
import org.apache.curator.framework.recipes.leader.Participant;

/** Leader election: LeaderLatch and LeaderSelector across separate sessions. */
final class LeaderChecks {
    private LeaderChecks() {}

    static void register(Main.Registry r) {
        r.add("latch-one-leader", LeaderChecks::latchOneLeader);
        r.add("latch-failover", LeaderChecks::latchFailover);
        r.add("selector-takes-turns", LeaderChecks::selectorTakesTurns);
    }

    static void latchOneLeader(Main.Env env) throws Exception {
        String p = env.path("latch");
        List<LeaderLatch> latches = new ArrayList<>();
        for (String id : List.of("a", "b", "c")) {
            LeaderLatch l = new LeaderLatch(env.client(), p, id);
            latches.add(l);
            l.start();
        }
        String leader = null;
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (leader == null && System.nanoTime() < end) {
            for (LeaderLatch l : latches) {
                leader = l.hasLeadership() ? l.getId() : leader;
            }
            Thread.sleep(50);
        }
        check(leader != null, "no latch got leadership");
        Thread.sleep(500);
        int leaders = 0;
        for (LeaderLatch l : latches) {
            leaders += l.hasLeadership() ? 1 : 0;
        }
        eq(1, leaders, "latches with leadership");
        List<String> ids = new ArrayList<>();
        for (Participant part : latches.get(1).getParticipants()) {
            ids.add(part.getId());
        }
        Collections.sort(ids);
        eq(List.of("a", "b", "c"), ids, "participants");
        for (LeaderLatch l : latches) {
            eq(leader, l.getLeader().getId(), "leader as seen by latch " + l.getId());
        }
        for (LeaderLatch l : latches) {
            l.close();
        }
    }

    static void latchFailover(Main.Env env) throws Exception {
        String p = env.path("latch");
        CuratorFramework first = env.client();
        LeaderLatch a = new LeaderLatch(first, p, "a");
        LeaderLatch b = new LeaderLatch(env.client(), p, "b");
        a.start();
        check(a.await(10, TimeUnit.SECONDS), "a leads");
        b.start();
        check(!b.await(1, TimeUnit.SECONDS), "b waits while a leads");
        first.close(); // the session ends: a's node goes, b must take over
        check(b.await(10, TimeUnit.SECONDS), "b leads once a's session closed");
        b.close();
    }

    static void selectorTakesTurns(Main.Env env) throws Exception {
        String p = env.path("selector");
        BlockingQueue<String> turns = new LinkedBlockingQueue<>();
        List<LeaderSelector> selectors = new ArrayList<>();
        for (String id : List.of("x", "y", "z")) {
            LeaderSelector s = new LeaderSelector(env.client(), p, new LeaderSelectorListenerAdapter() {
                @Override
                public void takeLeadership(CuratorFramework client) throws Exception {
                    turns.add(id);
                    Thread.sleep(100);
                }
            });
            s.setId(id);
            s.autoRequeue();
            selectors.add(s);
            s.start();
        }
        List<String> seen = new ArrayList<>();
        for (int i = 0; i < 6; i++) {
            String id = turns.poll(10, TimeUnit.SECONDS);
            check(id != null, "leadership turns so far " + seen);
            seen.add(id);
        }
        for (String id : List.of("x", "y", "z")) {
            check(seen.contains(id), id + " never led; turns: " + seen);
        }
        for (LeaderSelector s : selectors) {
            s.close();
        }
    }
}
