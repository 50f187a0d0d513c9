// The key the console signs with. With --credentials the operator types one in, kept for the
// browser tab only (sessionStorage); without, any well-formed signature is accepted and a
// placeholder key is used.

import { config } from './config.js';

const STORAGE_KEY = 'kinesin-console-credentials';
const PLACEHOLDER = { accessKey: 'kinesin-console', secret: 'not-checked' };

export function current() {
  if (!config.credentialsRequired) return PLACEHOLDER;
  const stored = sessionStorage.getItem(STORAGE_KEY);
  return stored ? JSON.parse(stored) : null;
}

export function remember(accessKey, secret) {
  sessionStorage.setItem(STORAGE_KEY, JSON.stringify({ accessKey, secret }));
}

export function forget() {
  sessionStorage.removeItem(STORAGE_KEY);
}
