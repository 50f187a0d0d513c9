package kinesin.interop;

import java.io.FileOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * One JSON object per line, each written with its own write(2), so that the lines a worker
 * logged before a kill -9 are on disk for the harness to read (docs/interop.md).
 */
final class EventLog implements AutoCloseable {
    private final FileOutputStream out;
    private final String worker;

    EventLog(String path, String worker) throws IOException {
        this.out = new FileOutputStream(path, true);
        this.worker = worker;
    }

    /** Logs event {@code kind} with the given fields, in order; values are strings or numbers. */
    synchronized void log(String kind, Object... keyValues) {
        Map<String, Object> fields = new LinkedHashMap<>();
        fields.put("t", ChronoUnit.MICROS.between(Instant.EPOCH, Instant.now()));
        fields.put("worker", worker);
        fields.put("ev", kind);
        for (int i = 0; i + 1 < keyValues.length; i += 2) {
            fields.put((String) keyValues[i], keyValues[i + 1]);
        }
        StringBuilder line = new StringBuilder("{");
        for (Map.Entry<String, Object> field : fields.entrySet()) {
            if (line.length() > 1) {
                line.append(',');
            }
            appendString(line, field.getKey());
            line.append(':');
            Object value = field.getValue();
            if (value instanceof Number || value instanceof Boolean) {
                line.append(value);
            } else {
                appendString(line, String.valueOf(value));
            }
        }
        line.append("}\n");
        try {
            out.write(line.toString().getBytes(StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new IllegalStateException("cannot write the event log", e);
        }
    }

    private static void appendString(StringBuilder line, String s) {
        line.append('"');
        for (char c : s.toCharArray()) {
            if (c == '"' || c == '\\') {
                line.append('\\').append(c);
            } else if (c < 0x20) {
                line.append(String.format("\\u%04x", (int) c));
            } else {
                line.append(c);
            }
        }
        line.append('"');
    }

    @Override
    public synchronized void close() throws IOException {
        out.close();
    }
}
