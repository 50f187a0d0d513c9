package kinesin.interop;

import java.nio.charset.StandardCharsets;
import software.amazon.kinesis.exceptions.KinesisClientLibException;
import software.amazon.kinesis.lifecycle.events.InitializationInput;
import software.amazon.kinesis.lifecycle.events.LeaseLostInput;
import software.amazon.kinesis.lifecycle.events.ProcessRecordsInput;
import software.amazon.kinesis.lifecycle.events.ShardEndedInput;
import software.amazon.kinesis.lifecycle.events.ShutdownRequestedInput;
import software.amazon.kinesis.processor.ShardRecordProcessor;
import software.amazon.kinesis.retrieval.KinesisClientRecord;

/**
 * A record processor that logs every lifecycle call and record to the event log and checkpoints
 * after a batch once {@code checkpointIntervalMillis} have passed since its last checkpoint (0:
 * after every batch), so the harness can check delivery, fail-over and shard-end ordering.
 */
final class LoggingProcessor implements ShardRecordProcessor {
    private final EventLog log;
    private final long checkpointIntervalMillis;
    private String shardId;
    private long lastCheckpointMillis;

    LoggingProcessor(EventLog log, long checkpointIntervalMillis) {
        this.log = log;
        this.checkpointIntervalMillis = checkpointIntervalMillis;
    }

    @Override
    public void initialize(InitializationInput input) {
        shardId = input.shardId();
        lastCheckpointMillis = System.currentTimeMillis();
        log.log("init", "shard", shardId,
                "from", String.valueOf(input.extendedSequenceNumber()));
    }

    @Override
    public void processRecords(ProcessRecordsInput input) {
        KinesisClientRecord last = null;
        for (KinesisClientRecord record : input.records()) {
            byte[] data = new byte[record.data().remaining()];
            record.data().get(data);
            log.log("rec", "shard", shardId,
                    "seq", record.sequenceNumber(),
                    "sub", record.subSequenceNumber(),
                    "aggregated", record.aggregated(),
                    "pk", record.partitionKey(),
                    "data", new String(data, StandardCharsets.UTF_8));
            last = record;
        }
        long now = System.currentTimeMillis();
        if (last == null || now - lastCheckpointMillis < checkpointIntervalMillis) {
            return;
        }
        lastCheckpointMillis = now;
        try {
            input.checkpointer().checkpoint(last.sequenceNumber(), last.subSequenceNumber());
            log.log("ckpt", "shard", shardId,
                    "seq", last.sequenceNumber(), "sub", last.subSequenceNumber());
        } catch (KinesisClientLibException e) {
            log.log("ckpt_failed", "shard", shardId, "error", e.toString());
        }
    }

    @Override
    public void leaseLost(LeaseLostInput input) {
        log.log("lease_lost", "shard", shardId);
    }

    @Override
    public void shardEnded(ShardEndedInput input) {
        try {
            input.checkpointer().checkpoint();
            log.log("shard_end", "shard", shardId);
        } catch (KinesisClientLibException e) {
            log.log("ckpt_failed", "shard", shardId, "error", e.toString());
        }
    }

    @Override
    public void shutdownRequested(ShutdownRequestedInput input) {
        try {
            input.checkpointer().checkpoint();
            log.log("shutdown", "shard", shardId);
        } catch (KinesisClientLibException e) {
            log.log("ckpt_failed", "shard", shardId, "error", e.toString());
        }
    }
}
