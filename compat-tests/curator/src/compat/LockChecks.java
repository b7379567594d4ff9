package compat;

import static compat.Main.check;
import static compat.Main.eq;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.recipes.locks.InterProcessMutex;
import org.apache.curator.framework.recipes.locks.InterProcessReadWriteLock;
import org.apache.curator.framework.recipes.locks.InterProcessSemaphoreMutex;
import org.apache.curator.framework.recipes.locks.InterProcessSemaphoreV2;
import org.apache.curator.framework.recipes.locks.Lease;

/** Locks and semaphores between separate clients (separate sessions). */
final class LockChecks {
    private LockChecks() {}

    static void register(Main.Registry r) {
        r.add("mutex-exclusive", LockChecks::mutexExclusive);
        r.add("mutex-reentrant", LockChecks::mutexReentrant);
        r.add("mutex-released-on-session-close", LockChecks::mutexReleasedOnClose);
        r.add("mutex-contention", LockChecks::mutexContention);
        r.add("read-write-lock", LockChecks::readWriteLock);
        r.add("semaphore-leases", LockChecks::semaphoreLeases);
        r.add("semaphore-mutex", LockChecks::semaphoreMutex);
    }

    static void mutexExclusive(Main.Env env) throws Exception {
        String p = env.path("lock");
        InterProcessMutex a = new InterProcessMutex(env.client(), p);
        InterProcessMutex b = new InterProcessMutex(env.client(), p);
        check(a.acquire(10, TimeUnit.SECONDS), "first client acquires");
        check(!b.acquire(1, TimeUnit.SECONDS), "second client must not acquire a held lock");
        eq(1, a.getParticipantNodes().size(), "participants while held");
        a.release();
        check(b.acquire(10, TimeUnit.SECONDS), "second client acquires after release");
        b.release();
        eq(0, env.clients.get(0).getChildren().forPath(p).size(), "lock nodes left behind");
    }

    static void mutexReentrant(Main.Env env) throws Exception {
        InterProcessMutex m = new InterProcessMutex(env.client(), env.path("lock"));
        check(m.acquire(10, TimeUnit.SECONDS), "acquire");
        check(m.acquire(10, TimeUnit.SECONDS), "re-acquire by the same thread");
        m.release();
        check(m.isAcquiredInThisProcess(), "still held after one release");
        m.release();
        check(!m.isAcquiredInThisProcess(), "free after the second release");
    }

    static void mutexReleasedOnClose(Main.Env env) throws Exception {
        String p = env.path("lock");
        CuratorFramework holder = env.client();
        InterProcessMutex a = new InterProcessMutex(holder, p);
        InterProcessMutex b = new InterProcessMutex(env.client(), p);
        check(a.acquire(10, TimeUnit.SECONDS), "holder acquires");
        holder.close();
        check(b.acquire(10, TimeUnit.SECONDS), "acquired once the holder's session closed");
        b.release();
    }

    static void mutexContention(Main.Env env) throws Exception {
        String p = env.path("lock");
        int workers = 4;
        int rounds = 5;
        AtomicInteger inside = new AtomicInteger();
        AtomicInteger maxInside = new AtomicInteger();
        AtomicInteger done = new AtomicInteger();
        List<Thread> threads = new ArrayList<>();
        List<Throwable> errors = new ArrayList<>();
        for (int i = 0; i < workers; i++) {
            InterProcessMutex m = new InterProcessMutex(env.client(), p);
            Thread t = new Thread(() -> {
                try {
                    for (int r = 0; r < rounds; r++) {
                        if (!m.acquire(20, TimeUnit.SECONDS)) {
                            throw new IllegalStateException("acquire timed out");
                        }
                        maxInside.accumulateAndGet(inside.incrementAndGet(), Math::max);
                        Thread.sleep(5);
                        inside.decrementAndGet();
                        m.release();
                        done.incrementAndGet();
                    }
                } catch (Exception e) {
                    synchronized (errors) {
                        errors.add(e);
                    }
                }
            });
            threads.add(t);
            t.start();
        }
        for (Thread t : threads) {
            t.join(25000);
        }
        eq(List.of(), errors, "worker errors");
        eq(workers * rounds, done.get(), "critical sections completed");
        eq(1, maxInside.get(), "most holders at once");
    }

    static void readWriteLock(Main.Env env) throws Exception {
        String p = env.path("rw");
        InterProcessReadWriteLock a = new InterProcessReadWriteLock(env.client(), p);
        InterProcessReadWriteLock b = new InterProcessReadWriteLock(env.client(), p);
        check(a.readLock().acquire(10, TimeUnit.SECONDS), "first reader");
        check(b.readLock().acquire(10, TimeUnit.SECONDS), "second reader shares the lock");
        check(!b.writeLock().acquire(1, TimeUnit.SECONDS), "writer waits for the other reader");
        a.readLock().release();
        b.readLock().release();
        check(a.writeLock().acquire(10, TimeUnit.SECONDS), "writer once readers left");
        check(!b.readLock().acquire(1, TimeUnit.SECONDS), "reader waits for the writer");
        a.writeLock().release();
        check(b.readLock().acquire(10, TimeUnit.SECONDS), "reader after the writer left");
        b.readLock().release();
    }

    static void semaphoreLeases(Main.Env env) throws Exception {
        String p = env.path("sem");
        InterProcessSemaphoreV2 a = new InterProcessSemaphoreV2(env.client(), p, 2);
        InterProcessSemaphoreV2 b = new InterProcessSemaphoreV2(env.client(), p, 2);
        Lease l1 = a.acquire(10, TimeUnit.SECONDS);
        Lease l2 = b.acquire(10, TimeUnit.SECONDS);
        check(l1 != null && l2 != null, "two leases of two");
        eq(null, b.acquire(1, TimeUnit.SECONDS), "a third lease while two are out");
        eq(2, a.getParticipantNodes().size(), "lease holders");
        CountDownLatch got = new CountDownLatch(1);
        Thread waiter = new Thread(() -> {
            try {
                Lease l3 = b.acquire(15, TimeUnit.SECONDS);
                if (l3 != null) {
                    got.countDown();
                    b.returnLease(l3);
                }
            } catch (Exception e) {
                // counted as not acquired
            }
        });
        waiter.start();
        Thread.sleep(300);
        a.returnLease(l1);
        check(got.await(10, TimeUnit.SECONDS), "waiter gets the returned lease");
        waiter.join(5000);
        b.returnLease(l2);
    }

    static void semaphoreMutex(Main.Env env) throws Exception {
        String p = env.path("smutex");
        InterProcessSemaphoreMutex a = new InterProcessSemaphoreMutex(env.client(), p);
        InterProcessSemaphoreMutex b = new InterProcessSemaphoreMutex(env.client(), p);
        check(a.acquire(10, TimeUnit.SECONDS), "first acquires");
        check(!b.acquire(1, TimeUnit.SECONDS), "second must not acquire");
        a.release();
        check(b.acquire(10, TimeUnit.SECONDS), "second acquires after release");
        b.release();
    }
}
