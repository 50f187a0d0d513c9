-- The catalog (docs/cluster.md, "The catalog in PostgreSQL"): every stream's metadata with its
-- version, and small named settings.

-- One row per stream, live or DELETING, until the stream is removed. `id` is the engine's u64
-- stream id stored as the bigint with the same bits; `meta` is the whole StreamMeta as the
-- engine serializes it (serde JSON); the columns beside it are copies that SQL needs.
CREATE TABLE kinesin_streams (
    id bigint PRIMARY KEY,
    account text NOT NULL,
    region text NOT NULL,
    name text NOT NULL,
    version bigint NOT NULL,
    meta jsonb NOT NULL
);

-- Stream names are unique per account and region, whichever node creates the stream.
CREATE UNIQUE INDEX kinesin_streams_name ON kinesin_streams (account, region, name);

CREATE TABLE kinesin_settings (
    key text PRIMARY KEY,
    value bytea NOT NULL
);
