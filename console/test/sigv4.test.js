// The console's signer against the worked vector of docs/protocol/sigv4.md (botocore's
// PutRecord), which crates/sigv4 asserts too (`matches_the_botocore_vector`).

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { amzDate, authorization } from '../sigv4.js';

test('signs the worked vector as botocore does', async () => {
  const signed = await authorization({
    accessKey: 'AKIDEXAMPLE',
    secret: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
    region: 'us-east-1',
    service: 'kinesis',
    headers: {
      'content-type': 'application/x-amz-json-1.1',
      host: 'localhost:4567',
      'x-amz-date': '20261125T183406Z',
      'x-amz-target': 'Kinesis_20131202.PutRecord',
    },
    body: '{"StreamName": "my-stream", "Data": "aGVsbG8=", "PartitionKey": "pk-1"}',
  });
  assert.equal(
    signed,
    'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261125/us-east-1/kinesis/aws4_request, ' +
      'SignedHeaders=content-type;host;x-amz-date;x-amz-target, ' +
      'Signature=87324ccd46de04a6f79f2f5428f1e8b8deae3e255bc8d09d662de69ec57ecb57',
  );
});

test('dates in the basic ISO 8601 form', () => {
  assert.equal(amzDate(new Date(Date.UTC(2026, 10, 25, 18, 34, 6, 789))), '20261125T183406Z');
});
