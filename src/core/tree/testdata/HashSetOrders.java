// Prints the iteration order of a java.util.HashSet<String> made as ZooKeeper's DataNode makes a child set
// (new HashSet<>(8)) at checkpoints of fixed histories; hashset_orders.txt is its output (OpenJDK 17):
//   javac HashSetOrders.java && java HashSetOrders > hashset_orders.txt
import java.util.*;

public class HashSetOrders {
    static String colliding(int i) {
        StringBuilder b = new StringBuilder();
        for (int bit = 0; bit < 8; bit++) b.append(((i >> bit) & 1) == 1 ? "Aa" : "BB");
        return b.toString();
    }

    static int spread(String s) { int h = s.hashCode(); return h ^ (h >>> 16); }

    static void print(String label, Set<String> s) { System.out.println(label + " " + String.join(",", s)); }

    public static void main(String[] args) {
        // Names sharing one hash: a tree bin, grown, shrunk and undone.
        HashSet<String> a = new HashSet<>(8);
        for (int i = 0; i < 60; i++) a.add("p" + i);
        for (int i = 0; i < 40; i++) a.add(colliding(i));
        print("collide-40", a);
        for (int i = 0; i < 40; i += 3) a.remove(colliding(i));
        print("collide-removed", a);
        for (int i = 0; i < 40; i++) if (i % 8 != 1) a.remove(colliding(i));
        print("collide-few", a);
        // Names sharing their low 6 bits: tree bins split as the table doubles.
        List<String> k = new ArrayList<>();
        for (int i = 0; k.size() < 30; i++) if ((spread("k" + i) & 63) == 5) k.add("k" + i);
        HashSet<String> b = new HashSet<>(8);
        for (int i = 0; i < 50; i++) b.add("q" + i);
        for (String s : k) b.add(s);
        print("split-before", b);
        for (int i = 50; i < 200; i++) b.add("q" + i);
        print("split-after", b);
        for (int i = 0; i < 30; i += 2) b.remove(k.get(i));
        print("split-removed", b);
    }
}
