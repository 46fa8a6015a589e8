'use strict';
// Jest setupFiles: the two globals @forge/kvs reaches the network through, outside Forge
// (docs/server.md, "From Node"). FORGE_STORAGE_URL is set by test/server.js.
global.__forge_runtime__ = global.__forge_runtime__ || {};
global.__forge_fetch__ = (target, path, init = {}) =>
  fetch(process.env.FORGE_STORAGE_URL + path, {
    ...init,
    headers: { ...init.headers, authorization: 'Bearer test-token' }
  });
