// Live figures per stream: /metrics polled every second, counters turned into per-second
// rates by difference (docs/metrics.md names the series). Pages subscribe with `watch`.

import { config } from './config.js';
import { parseSamples } from './prometheus.js';

const POLL_MS = 1000;
// Two minutes of one-second points.
const KEEP = 120;

// What the console charts, from which series: counters are summed, then differenced.
const RATES = {
  incomingRecords: ['kinesin_incoming_records_total'],
  incomingBytes: ['kinesin_incoming_bytes_total'],
  outgoingRecords: ['kinesin_get_records_records_total', 'kinesin_subscribe_to_shard_event_records_total'],
  outgoingBytes: ['kinesin_get_records_bytes_total', 'kinesin_subscribe_to_shard_event_bytes_total'],
  readThrottles: ['kinesin_read_provisioned_throughput_exceeded_total'],
  writeThrottles: ['kinesin_write_provisioned_throughput_exceeded_total'],
};
const GAUGES = { iteratorAgeMs: 'kinesin_iterator_age_milliseconds' };

// stream name -> { points: [{ time, incomingRecords, ..., iteratorAgeMs }], last: totals }
const streams = new Map();
const listeners = new Set();
let timer = null;
let previousTime = null;

function totals(samples) {
  const byStream = new Map();
  for (const { name, labels, value } of samples) {
    if (!labels.stream || labels.account !== config.account || labels.region !== config.region) continue;
    const figures = byStream.get(labels.stream) ?? {};
    for (const [figure, series] of Object.entries(RATES)) {
      if (series.includes(name)) figures[figure] = (figures[figure] ?? 0) + value;
    }
    for (const [figure, series] of Object.entries(GAUGES)) {
      if (series === name) figures[figure] = value;
    }
    byStream.set(labels.stream, figures);
  }
  return byStream;
}

async function poll() {
  let samples;
  try {
    samples = parseSamples(await (await fetch('/metrics')).text());
  } catch {
    return; // the next poll tries again; the charts just pause
  }
  const now = Date.now();
  const seconds = previousTime === null ? 1 : (now - previousTime) / 1000;
  previousTime = now;
  for (const [stream, figures] of totals(samples)) {
    const entry = streams.get(stream) ?? { points: [], last: null };
    if (entry.last) {
      const point = { time: now };
      // A restart sets counters back to zero: count that second as zero, not negative.
      for (const figure of Object.keys(RATES)) point[figure] = Math.max(0, ((figures[figure] ?? 0) - (entry.last[figure] ?? 0)) / seconds);
      for (const figure of Object.keys(GAUGES)) point[figure] = figures[figure] ?? 0;
      entry.points.push(point);
      if (entry.points.length > KEEP) entry.points.shift();
    }
    entry.last = figures;
    streams.set(stream, entry);
  }
  for (const listener of listeners) listener();
}

// The points recorded for a stream, oldest first.
export const history = (stream) => streams.get(stream)?.points ?? [];

// Calls `listener` after every poll; returns the function that stops it.
export function watch(listener) {
  listeners.add(listener);
  if (!timer) {
    poll();
    timer = setInterval(poll, POLL_MS);
  }
  return () => listeners.delete(listener);
}
