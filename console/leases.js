// KCL applications, found through the DynamoDB API on the same endpoint: a lease table is one
// whose items carry `leaseKey` and `checkpoint` (KCL 1.x to 3.x; 3.5 keeps other entities in
// the same table, told apart by `entityType`). Its name is the application's name.

import { dynamodb } from './api.js';

// Pages read from one table at most: the console shows leases, not a data dump.
const MAX_PAGES = 10;

async function tableNames() {
  const names = [];
  let start;
  do {
    const answer = await dynamodb('ListTables', start ? { ExclusiveStartTableName: start } : {});
    names.push(...answer.TableNames);
    start = answer.LastEvaluatedTableName;
  } while (start);
  return names;
}

async function scan(table) {
  const items = [];
  let start;
  for (let page = 0; page < MAX_PAGES; page++) {
    const answer = await dynamodb('Scan', start ? { TableName: table, ExclusiveStartKey: start } : { TableName: table });
    items.push(...answer.Items);
    start = answer.LastEvaluatedKey;
    if (!start) break;
  }
  return items;
}

// A DynamoDB attribute value as plain text (S and N are all leases use).
const plain = (value) => value?.S ?? value?.N ?? null;

function lease(item) {
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

const isLease = (item) => item.leaseKey && item.checkpoint && (!item.entityType || plain(item.entityType) === 'LEASE');

// [{ application, leases }] for every lease table.
export async function applications() {
  const found = [];
  for (const table of await tableNames()) {
    const leases = (await scan(table)).filter(isLease).map(lease);
    if (leases.length) found.push({ application: table, leases });
  }
  return found;
}

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
