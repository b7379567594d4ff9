package compat;

import static compat.FrameworkChecks.b;
import static compat.FrameworkChecks.s;
import static compat.Main.check;
import static compat.Main.eq;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.recipes.queue.DistributedQueue;
import org.apache.curator.framework.recipes.queue.QueueBuilder;
import org.apache.curator.framework.recipes.queue.QueueConsumer;
import org.apache.curator.framework.recipes.queue.QueueSerializer;
import org.apache.curator.framework.recipes.queue.SimpleDistributedQueue;
import org.apache.curator.framework.state.ConnectionState;

/** DistributedQueue (producer and consumer in separate sessions) and SimpleDistributedQueue. */
final class QueueChecks {
    private QueueChecks() {}

    static void register(Main.Registry r) {
        r.add("distributed-queue-fifo", QueueChecks::distributedQueue);
        r.add("simple-queue", QueueChecks::simpleQueue);
    }

    static final QueueSerializer<String> STRINGS = new QueueSerializer<>() {
        @Override
        public byte[] serialize(String item) {
            return item.getBytes(StandardCharsets.UTF_8);
        }

        @Override
        public String deserialize(byte[] bytes) {
            return new String(bytes, StandardCharsets.UTF_8);
        }
    };

    static void distributedQueue(Main.Env env) throws Exception {
        String p = env.path("queue");
        BlockingQueue<String> consumed = new LinkedBlockingQueue<>();
        QueueConsumer<String> consumer = new QueueConsumer<>() {
            @Override
            public void consumeMessage(String message) {
                consumed.add(message);
            }

            @Override
            public void stateChanged(CuratorFramework client, ConnectionState state) {}
        };
        DistributedQueue<String> producer =
                QueueBuilder.builder(env.client(), null, STRINGS, p).buildQueue();
        DistributedQueue<String> reader =
                QueueBuilder.builder(env.client(), consumer, STRINGS, p).buildQueue();
        producer.start();
        reader.start();
        try {
            List<String> sent = List.of("one", "two", "three", "four", "five");
            for (String m : sent) {
                producer.put(m);
            }
            List<String> got = new ArrayList<>();
            for (int i = 0; i < sent.size(); i++) {
                String m = consumed.poll(10, TimeUnit.SECONDS);
                check(m != null, "consumed so far " + got);
                got.add(m);
            }
            eq(sent, got, "messages in order");
        } finally {
            producer.close();
            reader.close();
        }
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        CuratorFramework c = env.clients.get(0);
        while (!c.getChildren().forPath(p).isEmpty() && System.nanoTime() < end) {
            Thread.sleep(50);
        }
        eq(List.of(), c.getChildren().forPath(p), "queue nodes left after consumption");
    }

    static void simpleQueue(Main.Env env) throws Exception {
        String p = env.path("simple");
        SimpleDistributedQueue q1 = new SimpleDistributedQueue(env.client(), p);
        SimpleDistributedQueue q2 = new SimpleDistributedQueue(env.client(), p);
        eq(null, q2.poll(), "poll of an empty queue");
        check(q1.offer(b("a")), "offer a");
        check(q1.offer(b("b")), "offer b");
        eq("a", s(q2.peek()), "peek");
        eq("a", s(q2.take()), "take the head");
        eq("b", s(q2.poll(5, TimeUnit.SECONDS)), "poll the next");
        eq(null, q2.poll(500, TimeUnit.MILLISECONDS), "poll with timeout on an empty queue");
        Thread late = new Thread(() -> {
            try {
                Thread.sleep(300);
                q1.offer(b("late"));
            } catch (Exception e) {
                // take() below then times out
            }
        });
        late.start();
        eq("late", s(q2.poll(10, TimeUnit.SECONDS)), "poll waits for an offer");
        late.join(5000);
    }
}
