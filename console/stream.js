// A stream's page: its description, the shard map, and live charts of the last two minutes
// (records and bytes per second in and out, iterator age, throttles), updated every second.
// Tabs lead to its records and its consumers.

import { everyPage, kinesis } from './api.js';
import { lineChart } from './charts.js';
import { h, show } from './dom.js';
import { formatBytes, formatCount, formatDuration, formatTimestamp } from './format.js';
import * as metrics from './metrics.js';
import { shardMap } from './shardmap.js';

const REFRESH_MS = 5000;

export function streamHeader(name, tab) {
  const link = (label, suffix) =>
    h('a', { href: `#/streams/${encodeURIComponent(name)}${suffix}`, class: tab === label ? 'current' : '' }, label);
  return h('div', { class: 'stream-header' },
    h('p', { class: 'crumbs' }, h('a', { href: '#/streams' }, 'Streams'), ' / '),
    h('h1', {}, name),
    h('nav', { class: 'tabs' }, link('Overview', ''), link('Records', '/records'), link('Consumers', '/consumers')),
  );
}

export function streamPage(main, report, name) {
  const facts = h('dl', { class: 'facts' });
  const map = h('div', { class: 'map' });
  const charts = h('div', { class: 'charts' });
  show(main, streamHeader(name, 'Overview'), facts, h('h2', {}, 'Shards'), map, h('h2', {}, 'Last two minutes'), charts);

  async function refresh() {
    const [{ StreamDescriptionSummary: summary }, shards] = await Promise.all([
      kinesis('DescribeStreamSummary', { StreamName: name }),
      everyPage('ListShards', { StreamName: name }, 'Shards'),
    ]);
    show(facts, describe(summary));
    show(map, shardMap(shards));
  }
  const drawCharts = () => show(charts, liveCharts(metrics.history(name)));
  const refreshNow = () => refresh().catch(report);
  refreshNow();
  drawCharts();
  const timer = setInterval(refreshNow, REFRESH_MS);
  const unwatch = metrics.watch(drawCharts);
  return () => {
    clearInterval(timer);
    unwatch();
  };
}

function describe(summary) {
  const fact = (term, value) => [h('dt', {}, term), h('dd', {}, value)];
  return [
    fact('Status', h('span', { class: `status ${summary.StreamStatus.toLowerCase()}` }, summary.StreamStatus)),
    fact('Mode', summary.StreamModeDetails?.StreamMode === 'ON_DEMAND' ? 'on-demand' : 'provisioned'),
    fact('Open shards', summary.OpenShardCount),
    fact('Retention', `${summary.RetentionPeriodHours} hours`),
    fact('Encryption', summary.EncryptionType === 'KMS' ? `KMS, key ${summary.KeyId}` : 'none'),
    fact('Fan-out consumers', summary.ConsumerCount ?? 0),
    fact('Created', formatTimestamp(summary.StreamCreationTimestamp)),
    fact('ARN', h('code', {}, summary.StreamARN)),
  ];
}

function liveCharts(points) {
  const values = (figure) => points.map((p) => p[figure]);
  return [
    lineChart({ title: 'Records/s', format: formatCount, series: [
      { label: 'in', values: values('incomingRecords'), className: 'incoming' },
      { label: 'out', values: values('outgoingRecords'), className: 'outgoing' },
    ] }),
    lineChart({ title: 'Bytes/s', format: formatBytes, series: [
      { label: 'in', values: values('incomingBytes'), className: 'incoming' },
      { label: 'out', values: values('outgoingBytes'), className: 'outgoing' },
    ] }),
    lineChart({ title: 'Iterator age', format: formatDuration, series: [
      { label: 'latest GetRecords', values: values('iteratorAgeMs'), className: 'age' },
    ] }),
    lineChart({ title: 'Throttled/s', format: formatCount, series: [
      { label: 'writes', values: values('writeThrottles'), className: 'incoming' },
      { label: 'reads', values: values('readThrottles'), className: 'outgoing' },
    ] }),
  ];
}
