// De-aggregation against the test vector of docs/protocol/kpl-aggregation.md (crates/client
// asserts the same bytes), MD5 against RFC 1321's suite, and the cases that must fall back to
// an ordinary record.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { deaggregate } from '../kpl.js';
import { md5 } from '../md5.js';

const fromHex = (hex) => Uint8Array.from(hex.replace(/\s/g, '').match(/../g), (b) => parseInt(b, 16));
const toHex = (bytes) => [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');
const utf8 = (bytes) => new TextDecoder().decode(bytes);

const VECTOR = fromHex(`f3899ac2 0a04706b2d31 0a04706b2d32
  1a0908001a0568656c6c6f 1a0908011a05776f726c64 1a0908001a05616761696e
  537f04435a8db88ea5cdcf9e6d2fb7df`);

test('md5 matches RFC 1321', () => {
  const cases = {
    '': 'd41d8cd98f00b204e9800998ecf8427e',
    abc: '900150983cd24fb0d6963f7d28e17f72',
    'message digest': 'f96b697d7cb7938d525a2f31aaf161d0',
    '12345678901234567890123456789012345678901234567890123456789012345678901234567890': '57edf4a22be3c955ac49da2e2107b67a',
  };
  for (const [input, digest] of Object.entries(cases)) assert.equal(toHex(md5(new TextEncoder().encode(input))), digest);
});

test('the documented vector de-aggregates to three records', () => {
  const records = deaggregate(VECTOR).map((r) => [r.partitionKey, utf8(r.data), r.explicitHashKey]);
  assert.deepEqual(records, [['pk-1', 'hello', null], ['pk-2', 'world', null], ['pk-1', 'again', null]]);
});

test('anything that fails a check is an ordinary record', () => {
  const badDigest = VECTOR.slice();
  badDigest[badDigest.length - 1] ^= 1;
  assert.equal(deaggregate(badDigest), null);
  assert.equal(deaggregate(new TextEncoder().encode('hello')), null);
  assert.equal(deaggregate(VECTOR.subarray(0, 20)), null);
  // A valid digest over a message whose record names a partition key that is not in the table.
  const message = fromHex('1a0908051a0568656c6c6f');
  const outOfRange = new Uint8Array([...VECTOR.subarray(0, 4), ...message, ...md5(message)]);
  assert.equal(deaggregate(outOfRange), null);
});
