// AWS Signature Version 4 for the console's API calls (docs/protocol/sigv4.md), with the
// browser's WebCrypto (SHA-256, HMAC-SHA256). Every call is a POST to "/" with no query.

const encoder = new TextEncoder();

const hex = (buffer) => [...new Uint8Array(buffer)].map((b) => b.toString(16).padStart(2, '0')).join('');

const bytes = (data) => (typeof data === 'string' ? encoder.encode(data) : data);

const sha256 = (data) => crypto.subtle.digest('SHA-256', bytes(data));

async function hmac(key, text) {
  const imported = await crypto.subtle.importKey('raw', bytes(key), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  return crypto.subtle.sign('HMAC', imported, encoder.encode(text));
}

// `20261125T183406Z` for a Date.
export function amzDate(date) {
  return date.toISOString().replace(/[-:]/g, '').replace(/\.\d+/, '');
}

// The Authorization header for a POST to "/" of `body` with `headers` (lower-case names; `host`
// and `x-amz-date` included: every header given is signed).
export async function authorization({ accessKey, secret, region, service, headers, body }) {
  const names = Object.keys(headers).sort();
  const canonicalHeaders = names.map((name) => `${name}:${String(headers[name]).trim().replace(/\s+/g, ' ')}\n`).join('');
  const signedHeaders = names.join(';');
  const canonicalRequest = ['POST', '/', '', canonicalHeaders, signedHeaders, hex(await sha256(body))].join('\n');
  const date = headers['x-amz-date'];
  const scope = `${date.slice(0, 8)}/${region}/${service}/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', date, scope, hex(await sha256(canonicalRequest))].join('\n');
  let key = await hmac(`AWS4${secret}`, date.slice(0, 8));
  for (const part of [region, service, 'aws4_request']) key = await hmac(key, part);
  const signature = hex(await hmac(key, stringToSign));
  return `AWS4-HMAC-SHA256 Credential=${accessKey}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`;
}
