// A stream's consumers: its registered enhanced fan-out consumers (ListStreamConsumers), and
// the KCL applications whose lease tables read it, with leases per worker and, per shard, the
// checkpoint and how far it is behind the newest record.

import { everyPage, kinesis } from './api.js';
import { h, show } from './dom.js';
import { formatDuration, formatTimestamp } from './format.js';
import { applications } from './lease-tables.js';
import { readersOf } from './leases.js';
import { streamHeader } from './stream.js';

const REFRESH_MS = 5000;

export function consumersPage(main, report, name) {
  const fanOut = h('div');
  const kcl = h('div');
  show(main, streamHeader(name, 'Consumers'),
    h('h2', {}, 'Enhanced fan-out consumers'), fanOut,
    h('h2', {}, 'KCL applications'), kcl);

  async function refresh() {
    const { StreamDescriptionSummary: summary } = await kinesis('DescribeStreamSummary', { StreamName: name });
    const shards = await everyPage('ListShards', { StreamName: name }, 'Shards');
    show(fanOut, consumerTable(await everyPage('ListStreamConsumers', { StreamARN: summary.StreamARN }, 'Consumers')));
    show(kcl, await kclApplications(name, shards));
  }
  const refreshNow = () => refresh().catch(report);
  refreshNow();
  const timer = setInterval(refreshNow, REFRESH_MS);
  return () => clearInterval(timer);
}

function consumerTable(consumers) {
  if (!consumers.length) return h('p', { class: 'empty' }, 'No consumers registered (RegisterStreamConsumer).');
  return h('table', {},
    h('thead', {}, h('tr', {}, ['Consumer', 'Status', 'Registered', 'ARN'].map((t) => h('th', {}, t)))),
    h('tbody', {}, consumers.map((c) => h('tr', {},
      h('td', {}, c.ConsumerName),
      h('td', {}, h('span', { class: `status ${c.ConsumerStatus.toLowerCase()}` }, c.ConsumerStatus)),
      h('td', {}, formatTimestamp(c.ConsumerCreationTimestamp)),
      h('td', {}, h('code', {}, c.ConsumerARN))))));
}

async function kclApplications(stream, shards) {
  const apps = await applications();
  const readers = readersOf(apps, stream, new Set(shards.map((s) => s.ShardId)));
  if (!readers.length) return h('p', { class: 'empty' }, 'No lease table reads this stream.');
  return Promise.all(readers.map(async ({ application, leases }) => h('section', { class: 'application' },
    h('h3', {}, application),
    workerTable(leases),
    await leaseTable(stream, leases))));
}

function workerTable(leases) {
  const byOwner = Map.groupBy(leases, (l) => l.owner ?? '(unowned)');
  return h('table', { class: 'workers' },
    h('thead', {}, h('tr', {}, ['Worker', 'Leases', 'Shards'].map((t) => h('th', {}, t)))),
    h('tbody', {}, [...byOwner].map(([owner, owned]) => h('tr', {},
      h('td', {}, owner), h('td', { class: 'number' }, owned.length), h('td', {}, owned.map((l) => l.shardId).join(', '))))));
}

async function leaseTable(stream, leases) {
  const lags = await Promise.all(leases.map((l) => lag(stream, l).catch((e) => `? (${e.type ?? e.message})`)));
  return h('table', { class: 'leases' },
    h('thead', {}, h('tr', {}, ['Shard', 'Worker', 'Checkpoint', 'Behind latest'].map((t) => h('th', {}, t)))),
    h('tbody', {}, leases.map((l, i) => h('tr', {},
      h('td', {}, l.shardId),
      h('td', {}, l.owner ?? '(unowned)'),
      h('td', {}, h('code', {}, l.checkpoint), l.subSequence ? ` / ${l.subSequence}` : ''),
      h('td', { class: 'number' }, lags[i])))));
}

// How far a checkpoint is behind the shard's newest record: MillisBehindLatest of a one-record
// GetRecords from just after it.
async function lag(stream, lease) {
  if (lease.checkpoint === 'SHARD_END') return 'finished';
  if (lease.checkpoint === 'LATEST') return formatDuration(0);
  const request = { StreamName: stream, ShardId: lease.shardId };
  if (/^\d+$/.test(lease.checkpoint)) Object.assign(request, { ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', StartingSequenceNumber: lease.checkpoint });
  else request.ShardIteratorType = 'TRIM_HORIZON';
  const { ShardIterator } = await kinesis('GetShardIterator', request);
  const { MillisBehindLatest } = await kinesis('GetRecords', { ShardIterator, Limit: 1 });
  return formatDuration(MillisBehindLatest ?? 0);
}
