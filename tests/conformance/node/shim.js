'use strict';
/**
 * Run Atlassian's Forge storage SDKs outside Forge, against pytest-forge-storage's server
 * (reference §14.3). Require it before @forge/kvs or @forge/api:
 *
 *   FORGE_STORAGE_URL=http://127.0.0.1:8080 node --require ./shim.js app.js
 *
 * Both SDKs reach the network only through global.__forge_fetch__(target, path, init);
 * @forge/api's legacy `storage` also needs global.__forge_runtime__ to exist.
 *
 * Environment:
 *   FORGE_STORAGE_URL    the server, e.g. the `forge_storage_server.url` of a pytest test (required)
 *   FORGE_STORAGE_TOKEN  bearer token sent with every call (default: test-token)
 *   FORGE_STORAGE_PATHS  "sdk" (default): keep the SDK's in-runtime paths, /api/v1/<op> and
 *                        /forge/entities/graphql (decision 13); "rest": use the public remote
 *                        paths, /forge/storage/kvs/v1/<op> and /graphql.
 */

const BASE = (process.env.FORGE_STORAGE_URL || '').replace(/\/+$/, '');
const TOKEN = process.env.FORGE_STORAGE_TOKEN || 'test-token';
const STYLE = process.env.FORGE_STORAGE_PATHS || 'sdk';

if (!BASE) {
  throw new Error('shim.js: set FORGE_STORAGE_URL to the fake server, e.g. http://127.0.0.1:8080');
}
if (STYLE !== 'sdk' && STYLE !== 'rest') {
  throw new Error(`shim.js: FORGE_STORAGE_PATHS must be "sdk" or "rest", not ${JSON.stringify(STYLE)}`);
}

const SDK_KVS_PREFIX = '/api/v1/';
const GRAPHQL_PATH = '/forge/entities/graphql';

function mapPath(target, path) {
  const type = target && target.type;
  if (type === 'kvs' && path.startsWith(SDK_KVS_PREFIX)) {
    return STYLE === 'rest' ? `/forge/storage/kvs/v1/${path.slice(SDK_KVS_PREFIX.length)}` : path;
  }
  if (type === 'fpp' && path === GRAPHQL_PATH) {
    return STYLE === 'rest' ? '/graphql' : path;
  }
  throw new Error(`shim.js: no mapping for ${JSON.stringify(target)} ${path}`);
}

global.__forge_runtime__ = global.__forge_runtime__ || {};
global.__forge_fetch__ = async (target, path, init = {}) =>
  fetch(BASE + mapPath(target, path), {
    ...init,
    headers: { ...(init.headers || {}), authorization: `Bearer ${TOKEN}` }
  });

module.exports = { BASE, TOKEN, STYLE, mapPath };
