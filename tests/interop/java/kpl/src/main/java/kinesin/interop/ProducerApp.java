package kinesin.interop;

import com.amazonaws.auth.AWSStaticCredentialsProvider;
import com.amazonaws.auth.BasicAWSCredentials;
import com.amazonaws.services.kinesis.producer.Attempt;
import com.amazonaws.services.kinesis.producer.KinesisProducer;
import com.amazonaws.services.kinesis.producer.KinesisProducerConfiguration;
import com.amazonaws.services.kinesis.producer.UserRecordFailedException;
import com.amazonaws.services.kinesis.producer.UserRecordResult;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;

/**
 * Puts {@code --count} user records with the real KPL (its Java wrapper and native daemon)
 * through kinesin's TLS port, with aggregation on, and prints one summary line:
 * {@code KPL put N user records in M Kinesis records, F failed} (docs/interop.md).
 *
 * <p>Arguments, all {@code --name value}: host (a bare host), port (the TLS port), stream, count,
 * keys (how many partition keys), prefix (of each record's data), metrics (none | summary |
 * detailed; when on, the daemon's CloudWatch endpoint is the same host and port).
 */
public final class ProducerApp {
    public static void main(String[] args) throws Exception {
        Map<String, String> opts = new HashMap<>();
        for (int i = 0; i + 1 < args.length; i += 2) {
            opts.put(args[i].replaceFirst("^--", ""), args[i + 1]);
        }
        String host = opts.get("host");
        long port = Long.parseLong(opts.get("port"));
        String metrics = opts.getOrDefault("metrics", "none");

        // What an application changes to reach kinesin: the endpoint as a bare host and port
        // (for Kinesis and for STS, which the 0.15 line asks for the account of the stream's
        // ARN), certificate verification off for the self-signed certificate, and a region.
        KinesisProducerConfiguration config = new KinesisProducerConfiguration()
                .setKinesisEndpoint(host)
                .setKinesisPort(port)
                .setStsEndpoint(host)
                .setStsPort(Long.parseLong(opts.getOrDefault("sts-port", String.valueOf(port))))
                .setVerifyCertificate(false)
                .setRegion("us-east-1")
                .setCredentialsProvider(new AWSStaticCredentialsProvider(
                        new BasicAWSCredentials("interop", "interop")))
                .setAggregationEnabled(true)
                .setRecordMaxBufferedTime(200)
                .setMetricsLevel(metrics);
        if (!metrics.equals("none")) {
            config.setCloudwatchEndpoint(host).setCloudwatchPort(port);
        }

        KinesisProducer producer = new KinesisProducer(config);
        String stream = opts.get("stream");
        int count = Integer.parseInt(opts.get("count"));
        int keys = Integer.parseInt(opts.getOrDefault("keys", "16"));
        String prefix = opts.getOrDefault("prefix", "kpl");
        List<Future<UserRecordResult>> puts = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            String data = String.format("%s:%06d", prefix, i);
            puts.add(producer.addUserRecord(stream, "key-" + (i % keys),
                    ByteBuffer.wrap(data.getBytes(StandardCharsets.UTF_8))));
            if (i == 0) {
                // The KPL aggregates only once it knows the stream's shards (its first
                // ListShards); the first record waits for that, the rest are aggregated.
                waitQuietly(puts.get(0));
            }
        }
        producer.flushSync();

        Set<String> kinesisRecords = new HashSet<>();
        int failed = 0;
        for (Future<UserRecordResult> put : puts) {
            try {
                UserRecordResult result = put.get();
                kinesisRecords.add(result.getShardId() + "/" + result.getSequenceNumber());
            } catch (ExecutionException e) {
                failed++;
                if (failed <= 5) {
                    System.err.println("put failed: " + describe(e.getCause()));
                }
            }
        }
        producer.destroy();
        System.out.printf("KPL put %d user records in %d Kinesis records, %d failed%n",
                count - failed, kinesisRecords.size(), failed);
        System.exit(failed == 0 ? 0 : 1);
    }

    private static void waitQuietly(Future<UserRecordResult> put) throws InterruptedException {
        try {
            put.get();
        } catch (ExecutionException e) {
            // Counted with the others below.
        }
    }

    private static String describe(Throwable cause) {
        if (!(cause instanceof UserRecordFailedException)) {
            return String.valueOf(cause);
        }
        StringBuilder s = new StringBuilder();
        for (Attempt attempt : ((UserRecordFailedException) cause).getResult().getAttempts()) {
            s.append(attempt.getErrorCode()).append(": ").append(attempt.getErrorMessage()).append("; ");
        }
        return s.toString();
    }
}
