// The console's shell: the header, the router (`#/streams`, `#/streams/NAME`,
// `#/streams/NAME/records`, `#/streams/NAME/consumers`), the error banner, and the key prompt
// when the server verifies signatures.

import { KEY_NEEDED } from './api.js';
import { config } from './config.js';
import { consumersPage } from './consumers.js';
import * as credentials from './credentials.js';
import { ask, field } from './dialog.js';
import { h, show } from './dom.js';
import { recordsPage } from './records.js';
import { streamPage } from './stream.js';
import { streamsPage } from './streams.js';

const main = document.querySelector('main');
const banner = document.querySelector('#banner');
const where = document.querySelector('#where');

where.textContent = `${config.endpoint} · account ${config.account} · ${config.region}`;
if (config.credentialsRequired) {
  where.append(' · ', h('button', { class: 'link', onclick: signOut }, 'Change key'));
}

// Shows an error in the banner until the next page or the next success.
function report(error) {
  show(banner, h('span', {}, String(error.message ?? error)), h('button', { class: 'link', onclick: () => show(banner) }, 'dismiss'));
}

const ROUTES = [
  [/^#\/streams\/([^/]+)\/records$/, recordsPage],
  [/^#\/streams\/([^/]+)\/consumers$/, consumersPage],
  [/^#\/streams\/([^/]+)$/, streamPage],
  [/^(#\/streams)?$/, streamsPage],
];

let leave = () => {};
function route() {
  leave();
  show(banner);
  const [pattern, page] = ROUTES.find(([pattern]) => pattern.test(location.hash)) ?? ROUTES.at(-1);
  const name = location.hash.match(pattern)?.[1];
  leave = page(main, report, name && decodeURIComponent(name)) ?? (() => {});
}

let asking = false;
async function askForKey() {
  if (asking) return;
  asking = true;
  const values = await ask({
    title: 'Sign in to kinesin',
    message: 'This server verifies request signatures (--credentials). Enter a key from its credentials file; it is kept for this browser tab only.',
    fields: [
      field('Access key ID', h('input', { name: 'accessKey', required: true, autocomplete: 'username', autofocus: true })),
      field('Secret access key', h('input', { name: 'secret', type: 'password', required: true, autocomplete: 'current-password' })),
    ],
    submitLabel: 'Sign in',
  });
  asking = false;
  if (!values) {
    leave(); // the page's timers would only ask again
    leave = () => {};
    show(main, h('p', { class: 'empty' }, 'This server verifies signatures: the console needs a key. ',
      h('button', { onclick: askForKey }, 'Sign in')));
    return;
  }
  credentials.remember(values.accessKey.trim(), values.secret.trim());
  route();
}

function signOut() {
  credentials.forget();
  askForKey();
}

window.addEventListener(KEY_NEEDED, askForKey);
window.addEventListener('hashchange', route);
if (config.credentialsRequired && !credentials.current()) askForKey();
else route();
