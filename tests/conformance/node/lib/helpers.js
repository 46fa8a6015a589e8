'use strict';
// Shared by the test files: the shim, unique keys, error matchers and raw HTTP.
const assert = require('node:assert/strict');
const shim = require('../shim.js');
const { ForgeKvsAPIError } = require('@forge/kvs');

let counter = 0;
const RUN = `${process.pid.toString(36)}${Date.now().toString(36)}`;

/** A key (or partition value) no other test or test file uses: the server is shared. */
function uid(label) {
  counter += 1;
  return `${label}.${RUN}.${counter}`;
}

/**
 * An assert.rejects validator: a ForgeKvsAPIError with this Forge code and HTTP status,
 * shaped as @forge/kvs builds it from the server's {code, message} body (ref §3.3).
 */
function kvsError(code, status, path) {
  return (err) => {
    assert.ok(err instanceof ForgeKvsAPIError, `expected ForgeKvsAPIError, got ${err && err.stack}`);
    assert.equal(err.name, 'ForgeKvsError');
    assert.equal(err.code, code, `code (message: ${err.message})`);
    assert.equal(err.responseDetails.status, status, `status for ${code}`);
    assert.equal(typeof err.message, 'string');
    assert.ok(err.message.length > 0, 'a non-empty message');
    // Decision 2: the body is exactly {code, message}; the SDK files any other member under context.
    assert.deepEqual(err.context, {}, 'no members beside code and message');
    assert.equal(err.responseDetails.httpMethod, 'POST');
    if (path !== undefined) {
      assert.equal(err.responseDetails.httpPath, path);
    }
    return true;
  };
}

/** POST a JSON body straight to the server (for what the SDKs hide), with the shim's token. */
async function raw(path, body, headers = {}) {
  const response = await fetch(shim.BASE + path, {
    method: 'POST',
    body: JSON.stringify(body),
    headers: { 'content-type': 'application/json', authorization: `Bearer ${shim.TOKEN}`, ...headers }
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined };
}

/** The REST path the shim would use for an operation (`get`, `entity/query`, ...). */
function restPath(operation) {
  return shim.STYLE === 'rest' ? `/forge/storage/kvs/v1/${operation}` : `/api/v1/${operation}`;
}

function graphqlPath() {
  return shim.STYLE === 'rest' ? '/graphql' : '/forge/entities/graphql';
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

module.exports = { uid, kvsError, raw, restPath, graphqlPath, sleep, shim };
