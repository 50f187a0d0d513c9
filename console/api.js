// Calling the API port from the browser: JSON bodies, SigV4-signed, errors as ApiError with
// AWS's error type. Kinesis and DynamoDB share the endpoint (docs/protocol/front-door.md).

import { config } from './config.js';
import * as credentials from './credentials.js';
import { amzDate, authorization } from './sigv4.js';

const SERVICES = {
  kinesis: { prefix: 'Kinesis_20131202', contentType: 'application/x-amz-json-1.1', signingName: 'kinesis' },
  dynamodb: { prefix: 'DynamoDB_20120810', contentType: 'application/x-amz-json-1.0', signingName: 'dynamodb' },
};

// Error types that mean the key was refused: the console asks for another.
const KEY_REFUSED = new Set(['UnrecognizedClientException', 'InvalidSignatureException', 'MissingAuthenticationTokenException']);

export class ApiError extends Error {
  constructor(type, message, status) {
    super(message ? `${type}: ${message}` : type);
    this.type = type;
    this.status = status;
  }
}

// Fired on `window` when the server refuses the key, or none is stored yet.
export const KEY_NEEDED = 'kinesin-key-needed';

async function call(service, operation, input) {
  const { prefix, contentType, signingName } = SERVICES[service];
  const key = credentials.current();
  if (!key) {
    window.dispatchEvent(new Event(KEY_NEEDED));
    throw new ApiError('MissingAuthenticationTokenException', 'no access key entered', 0);
  }
  const body = JSON.stringify(input ?? {});
  const sent = { 'content-type': contentType, 'x-amz-date': amzDate(new Date()), 'x-amz-target': `${prefix}.${operation}` };
  // Host is signed too; the browser sends it itself.
  const headers = { ...sent, host: new URL(config.endpoint).host };
  const signed = await authorization({ ...key, region: config.region, service: signingName, headers, body });
  const answer = await fetch(config.endpoint, { method: 'POST', headers: { ...sent, authorization: signed }, body });
  const text = await answer.text();
  if (answer.ok) return text ? JSON.parse(text) : {};
  throw refusal(answer, text);
}

function refusal(answer, text) {
  let type = answer.headers.get('x-amzn-ErrorType')?.split(':')[0];
  let message = '';
  try {
    const parsed = JSON.parse(text);
    type = (parsed.__type ?? type ?? '').split('#').pop();
    message = parsed.message ?? parsed.Message ?? '';
  } catch {
    // An XML or empty body: the front door's routing answers. Its root element is the type.
    type = type ?? text.match(/<(\w+)/)?.[1] ?? `HTTP ${answer.status}`;
  }
  if (KEY_REFUSED.has(type) && config.credentialsRequired) {
    credentials.forget();
    window.dispatchEvent(new Event(KEY_NEEDED));
  }
  return new ApiError(type, message, answer.status);
}

export const kinesis = (operation, input) => call('kinesis', operation, input);
export const dynamodb = (operation, input) => call('dynamodb', operation, input);

// Every page of a paginated Kinesis listing: `field` of each answer, concatenated.
export async function everyPage(operation, input, field) {
  const items = [];
  let answer = await kinesis(operation, input);
  items.push(...(answer[field] ?? []));
  while (answer.NextToken) {
    answer = await kinesis(operation, { NextToken: answer.NextToken, ...pagingKeep(operation, input) });
    items.push(...(answer[field] ?? []));
  }
  return items;
}

// ListStreamConsumers needs the stream again with its token; ListShards and ListStreams refuse it.
const pagingKeep = (operation, input) => (operation === 'ListStreamConsumers' ? { StreamARN: input.StreamARN } : {});
