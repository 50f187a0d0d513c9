// Reading KCL lease items and matching lease tables to streams (console/leases.js).

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { isLease, lease, readersOf } from '../leases.js';

const item = (leaseKey, extra = {}) => ({
  leaseKey: { S: leaseKey },
  checkpoint: { S: '49590338271490256608559692538361571095921575989136588898' },
  leaseCounter: { N: '7' },
  ...extra,
});

test('a lease item, single-stream and multi-stream', () => {
  assert.deepEqual(lease(item('shardId-000000000001', { leaseOwner: { S: 'worker-a' }, checkpointSubSequenceNumber: { N: '2' } })), {
    key: 'shardId-000000000001',
    stream: null,
    shardId: 'shardId-000000000001',
    owner: 'worker-a',
    checkpoint: '49590338271490256608559692538361571095921575989136588898',
    subSequence: 2,
    counter: 7,
  });
  const multi = lease(item('123456789012:orders:1700000000:shardId-000000000000'));
  assert.equal(multi.stream, 'orders');
  assert.equal(multi.shardId, 'shardId-000000000000');
  assert.equal(multi.owner, null);
});

test('only lease entities are leases', () => {
  assert.equal(isLease(item('shardId-000000000000')), true);
  assert.equal(isLease(item('shardId-000000000000', { entityType: { S: 'LEASE' } })), true);
  assert.equal(isLease(item('worker-1', { entityType: { S: 'WORKER_METRICS_STATS' } })), false);
  assert.equal(isLease({ key: { S: 'Leader' }, ownerName: { S: 'w' } }), false);
});

test('which applications read a stream', () => {
  const shards = new Set(['shardId-000000000000', 'shardId-000000000001']);
  const apps = [
    { application: 'single', leases: [lease(item('shardId-000000000000')), lease(item('shardId-000000000001'))] },
    { application: 'other-stream', leases: [lease(item('shardId-000000000007'))] },
    {
      application: 'multi',
      leases: [lease(item('1:orders:1:shardId-000000000000')), lease(item('1:payments:1:shardId-000000000000'))],
    },
  ];
  const readers = readersOf(apps, 'orders', shards);
  assert.deepEqual(readers.map((r) => [r.application, r.leases.length]), [['single', 2], ['multi', 1]]);
});
