// KCL lease items (KCL 1.x to 3.x; 3.5 keeps other entities in the same table, told apart by
// `entityType`): which items are leases, what they say, and which applications read a stream.

// A DynamoDB attribute value as plain text (S and N are all leases use).
const plain = (value) => value?.S ?? value?.N ?? null;

export function lease(item) {
  const key = plain(item.leaseKey);
  // Multi-stream mode: `account:stream:creationEpoch:shardId`.
  const parts = key.split(':');
  return {
    key,
    stream: parts.length === 4 ? parts[1] : null,
    shardId: parts.at(-1),
    owner: plain(item.leaseOwner),
    checkpoint: plain(item.checkpoint),
    subSequence: Number(plain(item.checkpointSubSequenceNumber) ?? 0),
    counter: Number(plain(item.leaseCounter) ?? 0),
  };
}

export const isLease = (item) => Boolean(item.leaseKey && item.checkpoint) && (!item.entityType || plain(item.entityType) === 'LEASE');

// The applications reading `stream`: leases naming it (multi-stream mode), or, in single-stream
// mode where leases name only shards, tables whose every lease is one of the stream's shards.
export function readersOf(apps, stream, shardIds) {
  return apps
    .map(({ application, leases }) => {
      const named = leases.filter((l) => l.stream === stream);
      if (named.length) return { application, leases: named };
      const single = leases.every((l) => l.stream === null && shardIds.has(l.shardId));
      return single ? { application, leases } : null;
    })
    .filter(Boolean);
}
