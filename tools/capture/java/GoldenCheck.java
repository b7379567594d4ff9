import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.InputStream;
import java.lang.reflect.Method;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

import org.apache.jute.BinaryInputArchive;
import org.apache.jute.BinaryOutputArchive;
import org.apache.jute.Record;
import org.apache.zookeeper.MultiOperationRecord;
import org.apache.zookeeper.MultiResponse;
import org.apache.zookeeper.data.Stat;
import org.apache.zookeeper.data.StatPersisted;
import org.apache.zookeeper.proto.*;
import org.apache.zookeeper.server.DataNode;
import org.apache.zookeeper.server.DataTree;
import org.apache.zookeeper.server.persistence.FileHeader;
import org.apache.zookeeper.server.persistence.FileTxnLog;
import org.apache.zookeeper.server.persistence.TxnLog;
import org.apache.zookeeper.server.util.SerializeUtils;
import org.apache.zookeeper.txn.TxnDigest;
import org.apache.zookeeper.txn.TxnHeader;

/**
 * Reads the golden fixtures with ZooKeeper's own record classes, so the
 * capture script can compare them with its independent decoder. Input lines:
 * "kind TAB file TAB opcode"; output lines: "file TAB key=value;...".
 * A frame must be consumed exactly and re-serialize to the same bytes.
 */
public final class GoldenCheck {
    private GoldenCheck() {
    }

    public static void main(String[] args) throws Exception {
        List<String> lines = Files.readAllLines(new File(args[0]).toPath());
        for (String line : lines) {
            String[] p = line.split("\t");
            try {
                switch (p[0]) {
                    case "log": log(new File(p[1])); break;
                    case "snap": snap(new File(p[1])); break;
                    default: frame(p[0], new File(p[1]), Integer.parseInt(p[2])); break;
                }
            } catch (Exception e) {
                System.out.println(p[1] + "\tERROR " + e);
            }
        }
    }

    private static Record request(int op) {
        switch (op) {
            case 1: case 15: case 19: return new CreateRequest();
            case 21: return new CreateTTLRequest();
            case 2: return new DeleteRequest();
            case 3: return new ExistsRequest();
            case 4: return new GetDataRequest();
            case 5: return new SetDataRequest();
            case 6: return new GetACLRequest();
            case 7: return new SetACLRequest();
            case 8: return new GetChildrenRequest();
            case 9: return new SyncRequest();
            case 12: return new GetChildren2Request();
            case 14: case 22: return new MultiOperationRecord();
            case 16: return new ReconfigRequest();
            case 17: return new CheckWatchesRequest();
            case 18: return new RemoveWatchesRequest();
            case 100: return new AuthPacket();
            case 101: return new SetWatches();
            case 102: return new GetSASLRequest();
            case 103: return new GetEphemeralsRequest();
            case 104: return new GetAllChildrenNumberRequest();
            case 105: return new SetWatches2();
            case 106: return new AddWatchRequest();
            default: return null;
        }
    }

    private static Record response(int op) {
        switch (op) {
            case 1: return new CreateResponse();
            case 15: case 19: case 21: return new Create2Response();
            case 3: return new ExistsResponse();
            case 4: case 16: return new GetDataResponse();
            case 5: return new SetDataResponse();
            case 6: return new GetACLResponse();
            case 7: return new SetACLResponse();
            case 8: return new GetChildrenResponse();
            case 9: return new SyncResponse();
            case 12: return new GetChildren2Response();
            case 14: case 22: return new MultiResponse();
            case 102: return new SetSASLResponse();
            case 103: return new GetEphemeralsResponse();
            case 104: return new GetAllChildrenNumberResponse();
            case 106: return new ErrorResponse();
            case 107: return new WhoAmIResponse();
            default: return null;
        }
    }

    private static void frame(String kind, File f, int op) throws Exception {
        byte[] all = Files.readAllBytes(f.toPath());
        int len = ByteBuffer.wrap(all).getInt();
        if (len != all.length - 4) {
            throw new IllegalStateException("length prefix " + len);
        }
        ByteArrayInputStream in = new ByteArrayInputStream(all, 4, len);
        BinaryInputArchive ia = BinaryInputArchive.getArchive(in);
        List<Record> records = new ArrayList<>();
        Boolean readOnly = null;
        switch (kind) {
            case "creq":
                records.add(read(new ConnectRequest(), ia));
                break;
            case "cresp":
                records.add(read(new ConnectResponse(), ia));
                break;
            case "req":
                records.add(read(new RequestHeader(), ia));
                Record body = request(op);
                if (body != null) {
                    records.add(read(body, ia));
                }
                break;
            case "resp":
            case "event":
                ReplyHeader h = (ReplyHeader) read(new ReplyHeader(), ia);
                records.add(h);
                Record r = kind.equals("event") ? new WatcherEvent() : response(op);
                if (r != null && h.getErr() == 0 && in.available() > 0) {
                    records.add(read(r, ia));
                }
                break;
            default:
                throw new IllegalArgumentException(kind);
        }
        if ((kind.equals("creq") || kind.equals("cresp")) && in.available() == 1) {
            readOnly = ia.readBool("readOnly");
        }
        if (in.available() != 0) {
            throw new IllegalStateException(in.available() + " bytes left");
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        BinaryOutputArchive oa = BinaryOutputArchive.getArchive(out);
        for (Record rec : records) {
            rec.serialize(oa, "r");
        }
        if (readOnly != null) {
            oa.writeBool(readOnly, "readOnly");
        }
        byte[] again = out.toByteArray();
        byte[] payload = java.util.Arrays.copyOfRange(all, 4, all.length);
        if (!java.util.Arrays.equals(again, payload)) {
            throw new IllegalStateException("re-serialized bytes differ");
        }
        Record last = records.get(records.size() - 1);
        System.out.println(f.getName() + "\tOK;" + describe(last) + describeFirst(records.get(0)));
    }

    private static Record read(Record r, BinaryInputArchive ia) throws Exception {
        r.deserialize(ia, "r");
        return r;
    }

    private static String describeFirst(Record r) {
        if (r instanceof ReplyHeader) {
            ReplyHeader h = (ReplyHeader) r;
            return "hdr=" + h.getXid() + "," + h.getZxid() + "," + h.getErr() + ";";
        }
        if (r instanceof RequestHeader) {
            RequestHeader h = (RequestHeader) r;
            return "hdr=" + h.getXid() + "," + h.getType() + ";";
        }
        return "";
    }

    private static String describe(Record r) throws Exception {
        StringBuilder sb = new StringBuilder();
        for (String name : new String[] {"getPath", "getStat", "getData", "getSessionId", "getTimeOut"}) {
            Method m;
            try {
                m = r.getClass().getMethod(name);
            } catch (NoSuchMethodException e) {
                continue;
            }
            Object v = m.invoke(r);
            sb.append(name.substring(3).toLowerCase()).append('=').append(value(v)).append(';');
        }
        return sb.toString();
    }

    private static String value(Object v) {
        if (v == null) {
            return "null";
        }
        if (v instanceof byte[]) {
            StringBuilder sb = new StringBuilder();
            for (byte x : (byte[]) v) {
                sb.append(String.format("%02x", x));
            }
            return sb.toString();
        }
        if (v instanceof Stat) {
            Stat s = (Stat) v;
            return s.getCzxid() + "," + s.getMzxid() + "," + s.getCtime() + "," + s.getMtime() + ","
                + s.getVersion() + "," + s.getCversion() + "," + s.getAversion() + ","
                + s.getEphemeralOwner() + "," + s.getDataLength() + "," + s.getNumChildren() + ","
                + s.getPzxid();
        }
        return v.toString();
    }

    private static void log(File f) throws Exception {
        // Reads every log in the directory from the file's first zxid on.
        String name = f.getName();
        long first = Long.parseLong(name.substring(name.indexOf('.') + 1), 16);
        TxnLog.TxnIterator it = new FileTxnLog(f.getParentFile()).read(first);
        int n = 0;
        while (it.getHeader() != null) {
            TxnHeader h = it.getHeader();
            TxnDigest d = it.getDigest();
            Record txn = it.getTxn();
            System.out.println(name + "#" + h.getZxid() + "\tOK;hdr=" + h.getClientId() + "," + h.getCxid()
                + "," + h.getZxid() + "," + h.getTime() + "," + h.getType() + ";record="
                + (txn == null ? "null" : txn.getClass().getSimpleName()) + ";digest="
                + (d == null ? "null" : d.getVersion() + "," + d.getTreeDigest()) + ";");
            n++;
            if (!it.next()) {
                break;
            }
        }
        it.close();
    }

    private static void snap(File f) throws Exception {
        InputStream in = new java.io.FileInputStream(f);
        BinaryInputArchive ia = BinaryInputArchive.getArchive(in);
        FileHeader header = new FileHeader();
        header.deserialize(ia, "fileheader");
        Map<Long, Integer> sessions = new HashMap<>();
        DataTree dt = new DataTree();
        SerializeUtils.deserializeSnapshot(dt, ia, sessions);
        in.close();
        StringBuilder sb = new StringBuilder();
        sb.append("sessions=").append(new java.util.TreeMap<>(sessions)).append(';');
        walk(dt, "/", sb);
        System.out.println(f.getName() + "\tOK;" + sb);
    }

    private static void walk(DataTree dt, String path, StringBuilder sb) {
        DataNode n = dt.getNode(path);
        StatPersisted s = n.stat;
        sb.append("node=").append(path).append(',').append(s.getCzxid()).append(',').append(s.getMzxid())
            .append(',').append(s.getCtime()).append(',').append(s.getMtime()).append(',')
            .append(s.getVersion()).append(',').append(s.getCversion()).append(',')
            .append(s.getAversion()).append(',').append(s.getEphemeralOwner()).append(',')
            .append(s.getPzxid()).append(';');
        for (String child : new TreeSet<>(n.getChildren())) {
            walk(dt, path.equals("/") ? "/" + child : path + "/" + child, sb);
        }
    }
}
