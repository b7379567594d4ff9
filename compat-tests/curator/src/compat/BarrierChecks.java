package compat;

import static compat.Main.check;
import static compat.Main.eq;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.curator.framework.recipes.barriers.DistributedBarrier;
import org.apache.curator.framework.recipes.barriers.DistributedDoubleBarrier;

/** DistributedBarrier and DistributedDoubleBarrier across separate sessions. */
final class BarrierChecks {
    private BarrierChecks() {}

    static void register(Main.Registry r) {
        r.add("barrier-blocks-until-removed", BarrierChecks::barrier);
        r.add("double-barrier-enter-leave", BarrierChecks::doubleBarrier);
    }

    static void barrier(Main.Env env) throws Exception {
        String p = env.path("barrier");
        DistributedBarrier owner = new DistributedBarrier(env.client(), p);
        DistributedBarrier waiter = new DistributedBarrier(env.client(), p);
        owner.setBarrier();
        check(!waiter.waitOnBarrier(500, TimeUnit.MILLISECONDS), "passes a set barrier");
        CountDownLatch passed = new CountDownLatch(1);
        Thread t = new Thread(() -> {
            try {
                if (waiter.waitOnBarrier(15, TimeUnit.SECONDS)) {
                    passed.countDown();
                }
            } catch (Exception e) {
                // not passed
            }
        });
        t.start();
        Thread.sleep(300);
        owner.removeBarrier();
        check(passed.await(10, TimeUnit.SECONDS), "waiter released when the barrier goes");
        t.join(5000);
        check(waiter.waitOnBarrier(1, TimeUnit.SECONDS), "no barrier: passes at once");
    }

    static void doubleBarrier(Main.Env env) throws Exception {
        String p = env.path("double");
        int members = 3;
        AtomicInteger entered = new AtomicInteger();
        AtomicInteger left = new AtomicInteger();
        List<Thread> threads = new ArrayList<>();
        List<String> problems = new ArrayList<>();
        for (int i = 0; i < members; i++) {
            DistributedDoubleBarrier b = new DistributedDoubleBarrier(env.client(), p, members);
            Thread t = new Thread(() -> {
                try {
                    if (!b.enter(15, TimeUnit.SECONDS)) {
                        throw new IllegalStateException("enter timed out");
                    }
                    entered.incrementAndGet();
                    if (!b.leave(15, TimeUnit.SECONDS)) {
                        throw new IllegalStateException("leave timed out");
                    }
                    left.incrementAndGet();
                } catch (Exception e) {
                    synchronized (problems) {
                        problems.add(String.valueOf(e));
                    }
                }
            });
            threads.add(t);
            t.start();
            if (i == 0) {
                Thread.sleep(500);
                eq(0, entered.get(), "members past enter() before all arrived");
            }
        }
        for (Thread t : threads) {
            t.join(25000);
        }
        eq(List.of(), problems, "member errors");
        eq(members, entered.get(), "members that entered");
        eq(members, left.get(), "members that left");
    }
}
