// The record browser: pick a shard and a starting position, read a page of records with
// GetShardIterator and GetRecords, page on with the next iterator, and show each record's data
// as text, pretty JSON or hex — KPL aggregates split into their user records.

import { everyPage, kinesis } from './api.js';
import { h, show } from './dom.js';
import { base64ToBytes, formatBytes, formatDuration, formatTimestamp, hexDump, prettyJson, utf8 } from './format.js';
import { deaggregate } from './kpl.js';
import { streamHeader } from './stream.js';

const PAGE = 25;

const POSITIONS = {
  TRIM_HORIZON: 'trim horizon (oldest)',
  LATEST: 'latest (only new records)',
  AT_TIMESTAMP: 'at a timestamp',
  AT_SEQUENCE_NUMBER: 'at a sequence number',
  AFTER_SEQUENCE_NUMBER: 'after a sequence number',
};

export function recordsPage(main, report, name) {
  const shard = h('select', { name: 'shard' });
  const position = h('select', { name: 'position', onchange: showPositionInput },
    Object.entries(POSITIONS).map(([value, label]) => h('option', { value }, label)));
  const timestamp = h('input', { name: 'timestamp', type: 'datetime-local', step: 1, hidden: true });
  const sequence = h('input', { name: 'sequence', placeholder: 'sequence number', size: 40, hidden: true });
  const view = h('select', { name: 'view', onchange: redraw },
    h('option', { value: 'text' }, 'text'), h('option', { value: 'json' }, 'JSON'), h('option', { value: 'hex' }, 'hex'));
  const split = h('input', { type: 'checkbox', name: 'deaggregate', checked: true, onchange: redraw });
  const read = h('button', { onclick: () => start().catch(report) }, 'Read');
  const next = h('button', { class: 'secondary', disabled: true, onclick: () => readPage().catch(report) }, 'Next page');
  const status = h('p', { class: 'status-line' });
  const list = h('div', { class: 'records' });
  show(main, streamHeader(name, 'Records'),
    h('div', { class: 'controls' },
      h('label', {}, 'Shard ', shard), h('label', {}, 'From ', position), timestamp, sequence, read, next,
      h('label', {}, 'Show as ', view), h('label', {}, split, ' de-aggregate KPL')),
    status, list);

  let iterator = null;
  let records = [];

  function showPositionInput() {
    timestamp.hidden = position.value !== 'AT_TIMESTAMP';
    sequence.hidden = !position.value.endsWith('SEQUENCE_NUMBER');
  }

  async function start() {
    const request = { StreamName: name, ShardId: shard.value, ShardIteratorType: position.value };
    if (position.value === 'AT_TIMESTAMP') request.Timestamp = new Date(timestamp.value).getTime() / 1000;
    if (position.value.endsWith('SEQUENCE_NUMBER')) request.StartingSequenceNumber = sequence.value.trim();
    iterator = (await kinesis('GetShardIterator', request)).ShardIterator;
    records = [];
    await readPage();
  }

  async function readPage() {
    const answer = await kinesis('GetRecords', { ShardIterator: iterator, Limit: PAGE });
    iterator = answer.NextShardIterator ?? null;
    records = answer.Records;
    next.disabled = !iterator;
    const behind = answer.MillisBehindLatest === undefined ? '' : `, ${formatDuration(answer.MillisBehindLatest)} behind the latest record`;
    status.textContent = iterator
      ? `${records.length} record${records.length === 1 ? '' : 's'} on this page${behind}.`
      : `${records.length} records; the shard is closed and read to its end.`;
    redraw();
  }

  function redraw() {
    show(list, records.flatMap((record) => rows(record, view.value, split.checked)));
  }

  everyPage('ListShards', { StreamName: name }, 'Shards')
    .then((shards) => show(shard, shards.map((s) =>
      h('option', { value: s.ShardId }, `${s.ShardId}${s.SequenceNumberRange.EndingSequenceNumber ? ' (closed)' : ''}`))))
    .catch(report);
}

// One entry per record, or per user record of a KPL aggregate.
function rows(record, view, split) {
  const data = base64ToBytes(record.Data);
  const users = split ? deaggregate(data) : null;
  const heading = (extra) => h('div', { class: 'record-heading' },
    h('code', { class: 'sequence' }, record.SequenceNumber), extra,
    h('span', {}, `arrived ${formatTimestamp(record.ApproximateArrivalTimestamp)}`));
  if (!users) {
    return [h('article', { class: 'record' },
      heading([h('span', {}, `key ${record.PartitionKey}`), h('span', {}, formatBytes(data.length))]),
      body(data, view))];
  }
  return users.map((user, index) => h('article', { class: 'record user-record' },
    heading([h('span', { class: 'kpl' }, `KPL ${index + 1}/${users.length}`), h('span', {}, `key ${user.partitionKey}`), h('span', {}, formatBytes(user.data.length))]),
    body(user.data, view)));
}

function body(bytes, view) {
  let text;
  if (view === 'hex') text = hexDump(bytes);
  else if (view === 'json') text = prettyJson(bytes) ?? `(not JSON) ${utf8(bytes) ?? '(not UTF-8: see hex)'}`;
  else text = utf8(bytes) ?? '(not UTF-8: see hex)';
  return h('pre', { class: `data ${view}` }, text);
}
