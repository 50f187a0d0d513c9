// KCL applications, found through the DynamoDB API on the same endpoint: a lease table is one
// whose items are leases (leases.js). Its name is the application's name.

import { dynamodb } from './api.js';
import { isLease, lease } from './leases.js';

// Pages read from one table at most: the console shows leases, not a data dump.
const MAX_PAGES = 10;

async function tableNames() {
  const names = [];
  let start;
  do {
    const answer = await dynamodb('ListTables', start ? { ExclusiveStartTableName: start } : {});
    names.push(...answer.TableNames);
    start = answer.LastEvaluatedTableName;
  } while (start);
  return names;
}

async function scan(table) {
  const items = [];
  let start;
  for (let page = 0; page < MAX_PAGES; page++) {
    const answer = await dynamodb('Scan', start ? { TableName: table, ExclusiveStartKey: start } : { TableName: table });
    items.push(...answer.Items);
    start = answer.LastEvaluatedKey;
    if (!start) break;
  }
  return items;
}

// [{ application, leases }] for every lease table.
export async function applications() {
  const found = [];
  for (const table of await tableNames()) {
    const leases = (await scan(table)).filter(isLease).map(lease);
    if (leases.length) found.push({ application: table, leases });
  }
  return found;
}

