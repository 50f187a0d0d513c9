// De-aggregating KPL records (docs/protocol/kpl-aggregation.md): magic F3 89 9A C2, a protobuf
// AggregatedRecord, then the MD5 of that message. Anything that fails a check is an ordinary
// record: `deaggregate` returns null for it.

import { md5 } from './md5.js';
import { fields } from './protobuf.js';

const MAGIC = [0xf3, 0x89, 0x9a, 0xc2];
const DIGEST = 16;
const text = new TextDecoder('utf-8', { fatal: true });

const sameBytes = (a, b) => a.length === b.length && a.every((byte, i) => byte === b[i]);

// [{ partitionKey, explicitHashKey, data }] for an aggregated record, else null.
export function deaggregate(data) {
  if (data.length <= MAGIC.length + DIGEST || !MAGIC.every((byte, i) => data[i] === byte)) return null;
  const message = data.subarray(MAGIC.length, data.length - DIGEST);
  if (!sameBytes(md5(message), data.subarray(data.length - DIGEST))) return null;
  try {
    return parse(message);
  } catch {
    return null;
  }
}

function parse(message) {
  const partitionKeys = [];
  const hashKeys = [];
  const records = [];
  for (const { number, value } of fields(message)) {
    if (number === 1) partitionKeys.push(text.decode(bytesOf(value)));
    else if (number === 2) hashKeys.push(text.decode(bytesOf(value)));
    else if (number === 3) records.push(record(bytesOf(value)));
  }
  return records.map(({ keyIndex, hashIndex, data }) => {
    if (keyIndex >= partitionKeys.length) throw new Error('partition key index out of range');
    if (hashIndex !== null && hashIndex >= hashKeys.length) throw new Error('hash key index out of range');
    return { partitionKey: partitionKeys[keyIndex], explicitHashKey: hashIndex === null ? null : hashKeys[hashIndex], data };
  });
}

// A Record: partition_key_index (1, required), explicit_hash_key_index (2), data (3, required).
function record(bytes) {
  let keyIndex = null;
  let hashIndex = null;
  let data = null;
  for (const { number, value } of fields(bytes)) {
    if (number === 1) keyIndex = Number(varintOf(value));
    else if (number === 2) hashIndex = Number(varintOf(value));
    else if (number === 3) data = bytesOf(value);
  }
  if (keyIndex === null || data === null) throw new Error('a required field is missing');
  return { keyIndex, hashIndex, data };
}

function bytesOf(value) {
  if (!(value instanceof Uint8Array)) throw new Error('expected a length-delimited field');
  return value;
}

function varintOf(value) {
  if (typeof value !== 'bigint') throw new Error('expected a varint');
  return value;
}
