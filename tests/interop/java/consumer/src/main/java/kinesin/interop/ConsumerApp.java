package kinesin.interop;

import java.net.URI;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.cloudwatch.CloudWatchAsyncClient;
import software.amazon.awssdk.services.dynamodb.DynamoDbAsyncClient;
import software.amazon.awssdk.services.kinesis.KinesisAsyncClient;
import software.amazon.kinesis.common.ConfigsBuilder;
import software.amazon.kinesis.common.InitialPositionInStream;
import software.amazon.kinesis.common.InitialPositionInStreamExtended;
import software.amazon.kinesis.common.KinesisClientUtil;
import software.amazon.kinesis.coordinator.Scheduler;
import software.amazon.kinesis.metrics.MetricsLevel;
import software.amazon.kinesis.retrieval.RetrievalConfig;
import software.amazon.kinesis.retrieval.fanout.FanOutConfig;
import software.amazon.kinesis.retrieval.polling.PollingConfig;

/**
 * An unmodified-style KCL application whose only change is the three endpoints, all pointed at
 * one kinesin (docs/interop.md). It runs until SIGTERM (graceful shutdown) or SIGKILL.
 *
 * <p>Arguments, all {@code --name value}: endpoint (http://host:port), stream, app, worker,
 * events (the event log file), retrieval (polling | fanout), metrics (NONE | SUMMARY | DETAILED),
 * failover-ms (the lease fail-over time), checkpoint-interval-ms (0: after every batch).
 */
public final class ConsumerApp {
    public static void main(String[] args) throws Exception {
        Map<String, String> opts = parse(args);
        String streamName = opts.get("stream");
        String appName = opts.get("app");
        String worker = opts.get("worker");
        URI endpoint = URI.create(opts.get("endpoint"));
        Region region = Region.US_EAST_1;
        StaticCredentialsProvider credentials =
                StaticCredentialsProvider.create(AwsBasicCredentials.create("interop", "interop"));

        // The only lines that differ from an application run against AWS: endpointOverride.
        // The KCL's helper makes the Kinesis client HTTP/2; over http:// that is h2c.
        KinesisAsyncClient kinesis = KinesisClientUtil.createKinesisAsyncClient(
                KinesisAsyncClient.builder().endpointOverride(endpoint).region(region)
                        .credentialsProvider(credentials));
        DynamoDbAsyncClient dynamo = DynamoDbAsyncClient.builder().endpointOverride(endpoint)
                .region(region).credentialsProvider(credentials).build();
        CloudWatchAsyncClient cloudWatch = CloudWatchAsyncClient.builder().endpointOverride(endpoint)
                .region(region).credentialsProvider(credentials).build();

        EventLog log = new EventLog(opts.get("events"), worker);
        ConfigsBuilder configs = new ConfigsBuilder(streamName, appName, kinesis, dynamo, cloudWatch,
                worker, () -> new LoggingProcessor(log,
                        Long.parseLong(opts.getOrDefault("checkpoint-interval-ms", "0"))));

        RetrievalConfig retrieval = configs.retrievalConfig().initialPositionInStreamExtended(
                InitialPositionInStreamExtended.newInitialPosition(InitialPositionInStream.TRIM_HORIZON));
        String mode = opts.getOrDefault("retrieval", "polling");
        if (mode.equals("polling")) {
            retrieval.retrievalSpecificConfig(
                    new PollingConfig(streamName, kinesis).idleTimeBetweenReadsInMillis(250));
        } else if (mode.equals("fanout")) {
            retrieval.retrievalSpecificConfig(
                    new FanOutConfig(kinesis).streamName(streamName).applicationName(appName));
        } else {
            throw new IllegalArgumentException("--retrieval is polling or fanout, not " + mode);
        }

        Scheduler scheduler = new Scheduler(
                configs.checkpointConfig(),
                configs.coordinatorConfig(),
                // Test timing only: the KCL sleeps shardSyncIntervalMillis (default 60 s) after
                // its first shard sync, before it starts processing.
                configs.leaseManagementConfig()
                        .failoverTimeMillis(Long.parseLong(opts.getOrDefault("failover-ms", "10000")))
                        .shardSyncIntervalMillis(5000),
                configs.lifecycleConfig(),
                configs.metricsConfig().metricsLevel(
                        MetricsLevel.valueOf(opts.getOrDefault("metrics", "DETAILED"))),
                configs.processorConfig(),
                retrieval);

        log.log("start", "kcl", RetrievalConfig.KINESIS_CLIENT_LIB_USER_AGENT_VERSION,
                "retrieval", mode, "pid", ProcessHandle.current().pid());
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                scheduler.startGracefulShutdown().get(30, TimeUnit.SECONDS);
                log.log("stopped");
            } catch (Exception e) {
                log.log("stop_failed", "error", e.toString());
            }
        }));
        scheduler.run();
    }

    private static Map<String, String> parse(String[] args) {
        Map<String, String> opts = new HashMap<>();
        for (int i = 0; i < args.length; i += 2) {
            if (!args[i].startsWith("--") || i + 1 >= args.length) {
                throw new IllegalArgumentException("expected --name value pairs, got " + args[i]);
            }
            opts.put(args[i].substring(2), args[i + 1]);
        }
        for (String required : new String[] {"endpoint", "stream", "app", "worker", "events"}) {
            if (!opts.containsKey(required)) {
                throw new IllegalArgumentException("missing --" + required);
            }
        }
        return opts;
    }
}
