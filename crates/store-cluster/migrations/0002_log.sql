-- The shard logs (docs/cluster.md, "The log in PostgreSQL"): one row per shard holding the
-- counter that orders its records, and an index of the frames that hold them in the bucket.
-- Stream ids are the engine's u64 ids stored as the bigint with the same bits; shard indices
-- (u32) are bigint too.

-- A shard's log. The commit of a flush locks the rows of the shards it writes to (in key
-- order), takes each frame's sequence numbers from `next_seq_ix` and keeps arrival times from
-- decreasing with `last_arrival_ms`. `sealed_at`, once set, refuses every later frame.
CREATE TABLE kinesin_shards (
    stream_id bigint NOT NULL,
    shard_index bigint NOT NULL,
    next_seq_ix bigint NOT NULL DEFAULT 0,
    last_arrival_ms bigint,
    sealed_at bigint,
    PRIMARY KEY (stream_id, shard_index)
);

-- Streams whose logs were deleted: a late creation of one of their shards (a node that
-- created them just before) must not bring it back. Stream ids are never reused.
CREATE TABLE kinesin_deleted_streams (
    stream_id bigint PRIMARY KEY
);

-- Every committed object; objects in the bucket without a row here are uploads whose commit
-- never happened, collected after a grace period.
CREATE TABLE kinesin_objects (
    key text PRIMARY KEY,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- The index: where each committed frame lies, and which records it holds. Frames of a shard
-- are disjoint and gap-free in sequence numbers, and arrival times grow with them.
CREATE TABLE kinesin_frames (
    stream_id bigint NOT NULL,
    shard_index bigint NOT NULL,
    first_seq_ix bigint NOT NULL,
    last_seq_ix bigint NOT NULL,
    min_arrival_ms bigint NOT NULL,
    max_arrival_ms bigint NOT NULL,
    object_key text NOT NULL,
    byte_offset bigint NOT NULL,
    byte_len bigint NOT NULL,
    PRIMARY KEY (stream_id, shard_index, last_seq_ix)
);

-- Seeking by time (AT_TIMESTAMP, TRIM_HORIZON) and trimming by retention.
CREATE INDEX kinesin_frames_arrival ON kinesin_frames (stream_id, shard_index, max_arrival_ms);
