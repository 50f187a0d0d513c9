// The streams page: every stream of the account and region with its status, mode, open shards,
// retention, encryption and a sparkline of incoming records per second; create, scale and
// delete, each confirmed first.

import { everyPage, kinesis } from './api.js';
import { sparkline } from './charts.js';
import { ask, confirmAction, field } from './dialog.js';
import { h, show } from './dom.js';
import { formatCount } from './format.js';
import * as metrics from './metrics.js';

const REFRESH_MS = 3000;

export function streamsPage(main, report) {
  const rows = h('tbody');
  const table = h('table', { class: 'streams' },
    h('thead', {}, h('tr', {}, ['Stream', 'Status', 'Mode', 'Open shards', 'Retention', 'Encryption', 'Incoming records/s', ''].map((t) => h('th', {}, t)))),
    rows,
  );
  const create = h('button', { onclick: () => createStream().then(refresh, report) }, 'Create stream');
  show(main, h('div', { class: 'toolbar' }, h('h1', {}, 'Streams'), create), table);

  const sparks = new Map(); // stream name -> the cell holding its sparkline
  async function refresh() {
    const names = (await everyPage('ListStreams', {}, 'StreamSummaries')).map((s) => s.StreamName).sort();
    const summaries = await Promise.all(names.map((name) =>
      kinesis('DescribeStreamSummary', { StreamName: name }).then((a) => a.StreamDescriptionSummary, () => null)));
    sparks.clear();
    show(rows, summaries.filter(Boolean).map((summary) => row(summary, sparks, refresh, report)));
    if (!summaries.length) show(rows, h('tr', {}, h('td', { colSpan: 8, class: 'empty' }, 'No streams yet.')));
    drawSparklines();
  }
  function drawSparklines() {
    for (const [name, cell] of sparks) {
      const values = metrics.history(name).map((p) => p.incomingRecords);
      show(cell, sparkline(values), h('span', { class: 'figure' }, formatCount(values.at(-1) ?? 0)));
    }
  }
  const refreshNow = () => refresh().catch(report);
  refreshNow();
  const timer = setInterval(refreshNow, REFRESH_MS);
  const unwatch = metrics.watch(drawSparklines);
  return () => {
    clearInterval(timer);
    unwatch();
  };
}

function row(summary, sparks, refresh, report) {
  const name = summary.StreamName;
  const mode = summary.StreamModeDetails?.StreamMode ?? 'PROVISIONED';
  const spark = h('td', { class: 'spark' });
  sparks.set(name, spark);
  const scale = h('button', { class: 'secondary', disabled: mode !== 'PROVISIONED' || summary.StreamStatus !== 'ACTIVE',
    onclick: () => scaleStream(name, summary.OpenShardCount).then(refresh, report) }, 'Scale');
  const remove = h('button', { class: 'danger', disabled: summary.StreamStatus === 'DELETING',
    onclick: () => deleteStream(name).then(refresh, report) }, 'Delete');
  return h('tr', { 'data-stream': name },
    h('td', {}, h('a', { href: `#/streams/${encodeURIComponent(name)}` }, name)),
    h('td', {}, h('span', { class: `status ${summary.StreamStatus.toLowerCase()}` }, summary.StreamStatus)),
    h('td', {}, mode === 'ON_DEMAND' ? 'on-demand' : 'provisioned'),
    h('td', { class: 'number' }, summary.OpenShardCount),
    h('td', { class: 'number' }, `${summary.RetentionPeriodHours} h`),
    h('td', {}, summary.EncryptionType === 'KMS' ? `KMS (${summary.KeyId})` : 'none'),
    spark,
    h('td', { class: 'actions' }, scale, remove),
  );
}

async function createStream() {
  const shards = h('input', { name: 'shards', type: 'number', min: 1, value: 1, required: true });
  const mode = h('select', { name: 'mode', onchange: () => (shards.disabled = mode.value === 'ON_DEMAND') },
    h('option', { value: 'PROVISIONED' }, 'provisioned'), h('option', { value: 'ON_DEMAND' }, 'on-demand'));
  const values = await ask({
    title: 'Create a stream',
    fields: [
      field('Name', h('input', { name: 'name', required: true, pattern: '[a-zA-Z0-9_.\\-]{1,128}', autofocus: true })),
      field('Capacity mode', mode),
      field('Shards', shards),
    ],
    submitLabel: 'Create',
  });
  if (!values) return;
  const request = { StreamName: values.name, StreamModeDetails: { StreamMode: values.mode } };
  if (values.mode === 'PROVISIONED') request.ShardCount = Number(values.shards);
  await kinesis('CreateStream', request);
}

async function scaleStream(name, openShards) {
  const values = await ask({
    title: `Scale ${name}`,
    message: `${openShards} open shards now. UpdateShardCount splits or merges them evenly; the old shards stay readable until their retention ends.`,
    fields: [field('Target shard count', h('input', { name: 'target', type: 'number', min: 1, value: openShards * 2, required: true }))],
    submitLabel: 'Scale',
  });
  if (!values) return;
  await kinesis('UpdateShardCount', { StreamName: name, TargetShardCount: Number(values.target), ScalingType: 'UNIFORM_SCALING' });
}

async function deleteStream(name) {
  const sure = await confirmAction(`Delete ${name}?`, 'Its records and consumers are deleted with it. This cannot be undone.', 'Delete', true);
  if (sure) await kinesis('DeleteStream', { StreamName: name, EnforceConsumerDeletion: true });
}
