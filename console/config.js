// What the admin port tells the page (/console/config.json): the API port, the account and
// region, and whether the server verifies signatures (--credentials).

const answer = await fetch('/console/config.json');
if (!answer.ok) throw new Error(`/console/config.json: ${answer.status}`);
const loaded = await answer.json();

export const config = {
  ...loaded,
  // The API port on the host this page came from: the admin and API ports share a host.
  endpoint: `${location.protocol}//${location.hostname}:${loaded.apiPort}`,
};
