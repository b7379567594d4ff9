package compat;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.retry.RetryNTimes;
import org.apache.curator.utils.CloseableUtils;

/**
 * Runs Curator recipes against one server and prints one line per check:
 * {@code PASS group/name} or {@code FAIL group/name: reason}, then a count.
 *
 * <p>Usage: {@code java compat.Main HOST:PORT [group...]}. Every check gets its
 * own clients and its own subtree /curator/RUN/GROUP/NAME, and a time limit.
 */
public final class Main {
    static final int CHECK_SECONDS = 30;
    static final int CONNECT_SECONDS = 8;
    /** Every run works under its own /curator/RUN, so a run never sees an earlier one's nodes. */
    static final String RUN = Long.toString(System.currentTimeMillis(), 36);

    /** One check: throws (usually through {@link #check}) when it fails. */
    @FunctionalInterface
    interface Body {
        void run(Env env) throws Exception;
    }

    record Check(String group, String name, Body body) {}

    /** Where checks are registered, in the order they run. */
    static final class Registry {
        final List<Check> checks = new ArrayList<>();
        private String group = "";

        Registry group(String g) {
            group = g;
            return this;
        }

        Registry add(String name, Body body) {
            checks.add(new Check(group, name, body));
            return this;
        }
    }

    /** What a check gets: its base path and a factory of connected clients. */
    static final class Env {
        final String connect;
        final String base;
        final List<CuratorFramework> clients = new ArrayList<>();

        Env(String connect, String base) {
            this.connect = connect;
            this.base = base;
        }

        String path(String rel) {
            return rel.isEmpty() ? base : base + "/" + rel;
        }

        /** A started client, connected, closed when the check ends. */
        CuratorFramework client() throws Exception {
            CuratorFramework c = CuratorFrameworkFactory.builder()
                    .connectString(connect)
                    .sessionTimeoutMs(15000)
                    .connectionTimeoutMs(CONNECT_SECONDS * 1000)
                    .retryPolicy(new RetryNTimes(3, 200))
                    .build();
            clients.add(c);
            c.start();
            check(c.blockUntilConnected(CONNECT_SECONDS, TimeUnit.SECONDS),
                    "client did not connect within " + CONNECT_SECONDS + "s");
            return c;
        }

        void close() {
            for (int i = clients.size() - 1; i >= 0; i--) {
                CloseableUtils.closeQuietly(clients.get(i));
            }
        }
    }

    static final class CheckFailed extends Exception {
        private static final long serialVersionUID = 1L;

        CheckFailed(String message) {
            super(message);
        }
    }

    static void check(boolean condition, String message) throws CheckFailed {
        if (!condition) {
            throw new CheckFailed(message);
        }
    }

    static void eq(Object expected, Object actual, String what) throws CheckFailed {
        if (!Objects.equals(expected, actual)) {
            throw new CheckFailed(what + ": expected <" + expected + "> but was <" + actual + ">");
        }
    }

    /** Runs body and expects it to throw an exception of type want. */
    static void expectThrows(Class<? extends Throwable> want, Body body, Env env, String what)
            throws Exception {
        try {
            body.run(env);
        } catch (Throwable t) {
            if (want.isInstance(t)) {
                return;
            }
            throw new CheckFailed(what + ": expected " + want.getSimpleName() + " but got " + t);
        }
        throw new CheckFailed(what + ": expected " + want.getSimpleName() + ", nothing thrown");
    }

    static Registry registry() {
        Registry r = new Registry();
        FrameworkChecks.register(r.group("framework"));
        TxnChecks.register(r.group("transaction"));
        LockChecks.register(r.group("lock"));
        LeaderChecks.register(r.group("leader"));
        BarrierChecks.register(r.group("barrier"));
        CacheChecks.register(r.group("cache"));
        NodeChecks.register(r.group("node"));
        QueueChecks.register(r.group("queue"));
        return r;
    }

    public static void main(String[] args) throws Exception {
        if (args.length < 1) {
            System.err.println("usage: compat.Main HOST:PORT [group...]");
            System.exit(2);
        }
        List<String> only = List.of(args).subList(1, args.length);
        int passed = 0;
        int failed = 0;
        ExecutorService pool = Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r);
            t.setDaemon(true);
            return t;
        });
        for (Check c : registry().checks) {
            if (!only.isEmpty() && !only.contains(c.group())) {
                continue;
            }
            String label = c.group() + "/" + c.name();
            String failure = runOne(pool, args[0], c);
            if (failure == null) {
                passed++;
                System.out.println("PASS " + label);
            } else {
                failed++;
                System.out.println("FAIL " + label + ": " + failure);
            }
            System.out.flush();
        }
        System.out.println(passed + " passed, " + failed + " failed");
        System.exit(failed == 0 ? 0 : 1);
    }

    private static String runOne(ExecutorService pool, String connect, Check c) {
        Env env = new Env(connect, "/curator/" + RUN + "/" + c.group() + "/" + c.name());
        Future<?> f = pool.submit(() -> {
            c.body().run(env);
            return null;
        });
        try {
            f.get(CHECK_SECONDS, TimeUnit.SECONDS);
            return null;
        } catch (TimeoutException e) {
            f.cancel(true);
            return "timed out after " + CHECK_SECONDS + "s";
        } catch (java.util.concurrent.ExecutionException e) {
            Throwable cause = e.getCause();
            if (cause instanceof CheckFailed) {
                return cause.getMessage();
            }
            return String.valueOf(cause).replace('\n', ' ');
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "interrupted";
        } finally {
            env.close();
        }
    }
}
