'use strict';
// @forge/kvs@1.6.5: plain values, secrets, options, keyPolicy/returnValue, TTL, errors.
// Expectations cite shared/reference/forge-storage-api.md (ref §N, decision N = §17).
const { describe, test } = require('node:test');
const assert = require('node:assert/strict');
const { uid, kvsError, sleep, raw, restPath } = require('../lib/helpers.js');
const { kvs, MetadataField } = require('@forge/kvs');

const YEAR_SECONDS = 31536000;

describe('kvs get/set/delete', () => {
  test('set resolves undefined (204, ref §3.1) and get returns the value', async () => {
    const key = uid('kvs');
    assert.equal(await kvs.set(key, { name: 'Ann', tags: ['a', 'b'], n: 1.5 }), undefined);
    assert.deepEqual(await kvs.get(key), { name: 'Ann', tags: ['a', 'b'], n: 1.5 });
  });

  test('get of a missing key returns undefined (404 KEY_NOT_FOUND swallowed, ref §14.5 #6)', async () => {
    assert.equal(await kvs.get(uid('missing')), undefined);
  });

  test('set overwrites (keyPolicy OVERRIDE is the default, ref §9)', async () => {
    const key = uid('kvs');
    await kvs.set(key, 'first');
    await kvs.set(key, 'second');
    assert.equal(await kvs.get(key), 'second');
  });

  test('delete removes; delete of a missing key resolves (ref §3.1, decision 2)', async () => {
    const key = uid('kvs');
    await kvs.set(key, 1);
    assert.equal(await kvs.delete(key), undefined);
    assert.equal(await kvs.get(key), undefined);
    assert.equal(await kvs.delete(key), undefined);
  });

  for (const [label, value] of [
    ['zero', 0],
    ['false', false],
    ['empty string', ''],
    ['empty array', []],
    ['empty object', {}],
    ['negative float', -0.25],
    ['unicode string', 'héllo ✓ 日本'],
    ['array of mixed', [1, 'two', { three: [3] }, true]]
  ]) {
    test(`value round-trips: ${label} (ref §14.5 #9)`, async () => {
      const key = uid('falsy');
      await kvs.set(key, value);
      assert.deepEqual(await kvs.get(key), value);
    });
  }

  test('keys may use every allowed character class (ref §5 key regex)', async () => {
    const key = `${uid('chars')} :._-#AZ09`;
    await kvs.set(key, 'ok');
    assert.equal(await kvs.get(key), 'ok');
  });

  test('keys "-", "#" and one with a tab are valid under the JS key regex (ref §5)', async () => {
    for (const key of ['-', '#', `${uid('tab')}\tx`]) {
      await kvs.set(key, key);
      assert.equal(await kvs.get(key), key);
    }
  });

  test('a 500-character key is accepted (ref §5)', async () => {
    const base = uid('long');
    const key = base + 'x'.repeat(500 - base.length);
    await kvs.set(key, 1);
    assert.equal(await kvs.get(key), 1);
  });

  test('null value is rejected with 400 (ref §5: any JSON type except null)', async () => {
    await assert.rejects(kvs.set(uid('null'), null), (err) => {
      assert.equal(err.responseDetails.status, 400);
      assert.equal(typeof err.code, 'string');
      return true;
    });
  });
});

describe('kvs errors', () => {
  test('empty key: KEY_TOO_SHORT 400 (ref §4.2, §16 #13)', async () => {
    await assert.rejects(kvs.get(''), kvsError('KEY_TOO_SHORT', 400, '/api/v1/get'));
    await assert.rejects(kvs.set('', 1), kvsError('KEY_TOO_SHORT', 400, '/api/v1/set'));
  });

  test('501-character key: KEY_TOO_LONG 400 (ref §4.2)', async () => {
    await assert.rejects(kvs.get('k'.repeat(501)), kvsError('KEY_TOO_LONG', 400));
  });

  for (const key of ['a/b', 'a@b', 'ü', 'a,b', '   ']) {
    test(`invalid key ${JSON.stringify(key)}: INVALID_KEY 400 (ref §5)`, async () => {
      await assert.rejects(kvs.set(key, 1), kvsError('INVALID_KEY', 400));
    });
  }

  test('invalid key on delete is not swallowed (only KEY_NOT_FOUND is, ref §3.3)', async () => {
    await assert.rejects(kvs.delete('a/b'), kvsError('INVALID_KEY', 400, '/api/v1/delete'));
  });

  test('value over 240 KiB: MAX_SIZE 400 (decision 8)', async () => {
    await assert.rejects(kvs.set(uid('big'), 'x'.repeat(240 * 1024 + 1)), kvsError('MAX_SIZE', 400));
  });

  test('value just under 240 KiB is stored (decision 8: UTF-8 bytes of compact JSON)', async () => {
    const key = uid('big');
    const value = 'x'.repeat(240 * 1024 - 2); // + 2 quote characters = 240 KiB exactly
    await kvs.set(key, value);
    assert.equal((await kvs.get(key)).length, value.length);
  });

  test('31 nesting levels are stored, 32 are MAX_DEPTH (decision 8, design §2.4)', async () => {
    const nest = (levels) => {
      let value = 1;
      for (let i = 0; i < levels; i += 1) value = i % 2 ? [value] : { a: value };
      return value;
    };
    const key = uid('deep');
    await kvs.set(key, nest(31));
    assert.deepEqual(await kvs.get(key), nest(31));
    await assert.rejects(kvs.set(uid('deep'), nest(32)), kvsError('MAX_DEPTH', 400));
  });

  test('unknown metadata field: 400 BAD_REQUEST (ref §4.1 SDK fixture)', async () => {
    await assert.rejects(kvs.get(uid('meta'), { metadataFields: ['OWNER'] }), kvsError('BAD_REQUEST', 400));
  });
});

describe('kvs metadata options', () => {
  test('get with {} options returns {key, value} (ref §3.3 processGetResponse)', async () => {
    const key = uid('meta');
    await kvs.set(key, 'v');
    assert.deepEqual(await kvs.get(key, {}), { key, value: 'v' });
  });

  test('createdAt/updatedAt are epoch milliseconds; createdAt kept on overwrite (decision 4)', async () => {
    const key = uid('meta');
    const before = Date.now();
    await kvs.set(key, 1);
    const fields = [MetadataField.CREATED_AT, MetadataField.UPDATED_AT];
    const first = await kvs.get(key, { metadataFields: fields });
    assert.equal(first.key, key);
    assert.equal(first.value, 1);
    assert.equal(typeof first.createdAt, 'number');
    assert.ok(first.createdAt >= before - 5000 && first.createdAt <= Date.now() + 5000, `createdAt ${first.createdAt}`);
    await sleep(5);
    await kvs.set(key, 2);
    const second = await kvs.get(key, { metadataFields: fields });
    assert.equal(second.createdAt, first.createdAt);
    assert.ok(second.updatedAt >= first.updatedAt);
    assert.equal(second.value, 2);
  });

  test('EXPIRE_TIME of a value without TTL is absent (ref §8)', async () => {
    const key = uid('meta');
    await kvs.set(key, 1);
    const got = await kvs.get(key, { metadataFields: [MetadataField.EXPIRE_TIME] });
    assert.equal(got.expireTime, undefined);
  });
});

describe('kvs TTL', () => {
  test('ttl sets expireTime, ISO-8601 UTC with milliseconds and Z (decision 4)', async () => {
    const key = uid('ttl');
    const before = Date.now();
    await kvs.set(key, 'v', { ttl: { value: 1, unit: 'HOURS' } });
    const got = await kvs.get(key, { metadataFields: [MetadataField.EXPIRE_TIME] });
    assert.match(got.expireTime, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    const expires = Date.parse(got.expireTime);
    assert.ok(Math.abs(expires - (before + 3600 * 1000)) < 10000, `expireTime ${got.expireTime}`);
  });

  for (const unit of ['SECONDS', 'MINUTES', 'HOURS', 'DAYS']) {
    test(`ttl unit ${unit} is accepted (ref §8)`, async () => {
      const key = uid('ttl');
      await kvs.set(key, unit, { ttl: { value: 2, unit } });
      assert.equal(await kvs.get(key), unit);
    });
  }

  test('an expired value is absent at once (decision 5)', async () => {
    const key = uid('ttl');
    await kvs.set(key, 'short-lived', { ttl: { value: 1, unit: 'SECONDS' } });
    assert.equal(await kvs.get(key), 'short-lived');
    await sleep(1300);
    assert.equal(await kvs.get(key), undefined);
  });

  test('ttl of exactly one year is accepted, one second more is 400 BAD_REQUEST (decision 5)', async () => {
    await kvs.set(uid('ttl'), 1, { ttl: { value: YEAR_SECONDS, unit: 'SECONDS' } });
    await assert.rejects(
      kvs.set(uid('ttl'), 1, { ttl: { value: YEAR_SECONDS + 1, unit: 'SECONDS' } }),
      kvsError('BAD_REQUEST', 400)
    );
    await assert.rejects(kvs.set(uid('ttl'), 1, { ttl: { value: 366, unit: 'DAYS' } }), kvsError('BAD_REQUEST', 400));
  });

  test('ttl with unit WEEKS or a value of 0 is 400 BAD_REQUEST (decision 5)', async () => {
    await assert.rejects(kvs.set(uid('ttl'), 1, { ttl: { value: 1, unit: 'WEEKS' } }), kvsError('BAD_REQUEST', 400));
    await assert.rejects(kvs.set(uid('ttl'), 1, { ttl: { value: 0, unit: 'SECONDS' } }), kvsError('BAD_REQUEST', 400));
  });
});

describe('kvs keyPolicy and returnValue', () => {
  test('FAIL_IF_EXISTS on a new key writes (ref §9)', async () => {
    const key = uid('policy');
    assert.equal(await kvs.set(key, 1, { keyPolicy: 'FAIL_IF_EXISTS' }), undefined);
    assert.equal(await kvs.get(key), 1);
  });

  test('FAIL_IF_EXISTS on an existing key: KEY_CONFLICT 409, nothing written (decision 6)', async () => {
    const key = uid('policy');
    await kvs.set(key, 'original');
    await assert.rejects(kvs.set(key, 'other', { keyPolicy: 'FAIL_IF_EXISTS' }), kvsError('KEY_CONFLICT', 409, '/api/v1/set'));
    assert.equal(await kvs.get(key), 'original');
  });

  test('FAIL_IF_EXISTS after the old value expired writes (decision 6: "existing live key")', async () => {
    const key = uid('policy');
    await kvs.set(key, 'old', { ttl: { value: 1, unit: 'SECONDS' } });
    await sleep(1300);
    await kvs.set(key, 'new', { keyPolicy: 'FAIL_IF_EXISTS' });
    assert.equal(await kvs.get(key), 'new');
  });

  test('returnValue LATEST returns {key, value} of the new value (ref §9)', async () => {
    const key = uid('ret');
    await kvs.set(key, 'old');
    assert.deepEqual(await kvs.set(key, 'new', { keyPolicy: 'OVERRIDE', returnValue: 'LATEST' }), { key, value: 'new' });
  });

  test('returnValue PREVIOUS returns the overwritten value (ref §9)', async () => {
    const key = uid('ret');
    await kvs.set(key, { v: 1 });
    assert.deepEqual(await kvs.set(key, { v: 2 }, { returnValue: 'PREVIOUS' }), { key, value: { v: 1 } });
    assert.deepEqual(await kvs.get(key), { v: 2 });
  });

  test('returnValue PREVIOUS on a new key returns undefined (204, decision 6)', async () => {
    const key = uid('ret');
    assert.equal(await kvs.set(key, 1, { returnValue: 'PREVIOUS' }), undefined);
    assert.equal(await kvs.get(key), 1);
  });

  test('returnMetadataFields adds the requested metadata (ref §3.2)', async () => {
    const key = uid('ret');
    const got = await kvs.set(key, 'v', {
      keyPolicy: 'OVERRIDE',
      returnValue: 'LATEST',
      returnMetadataFields: [MetadataField.CREATED_AT, MetadataField.UPDATED_AT, MetadataField.EXPIRE_TIME],
      ttl: { value: 1, unit: 'DAYS' }
    });
    assert.equal(got.key, key);
    assert.equal(got.value, 'v');
    assert.equal(typeof got.createdAt, 'number');
    assert.equal(typeof got.updatedAt, 'number');
    assert.match(got.expireTime, /Z$/);
  });

  test('FAIL_IF_EXISTS with returnValue: INVALID_KEY_POLICY_RETURN_VALUE_COMBINATION 400 (decision 6)', async () => {
    await assert.rejects(
      kvs.set(uid('ret'), 1, { keyPolicy: 'FAIL_IF_EXISTS', returnValue: 'LATEST' }),
      kvsError('INVALID_KEY_POLICY_RETURN_VALUE_COMBINATION', 400)
    );
  });
});

describe('kvs secrets', () => {
  test('setSecret/getSecret/deleteSecret (ref §3.1)', async () => {
    const key = uid('secret');
    assert.equal(await kvs.setSecret(key, { token: 's3cr3t' }), undefined);
    assert.deepEqual(await kvs.getSecret(key), { token: 's3cr3t' });
    assert.equal(await kvs.deleteSecret(key), undefined);
    assert.equal(await kvs.getSecret(key), undefined);
    assert.equal(await kvs.deleteSecret(key), undefined);
  });

  test('secrets and plain values are separate namespaces (decision 3)', async () => {
    const key = uid('ns');
    await kvs.set(key, 'plain');
    await kvs.setSecret(key, 'secret');
    assert.equal(await kvs.get(key), 'plain');
    assert.equal(await kvs.getSecret(key), 'secret');
    await kvs.deleteSecret(key);
    assert.equal(await kvs.get(key), 'plain');
  });

  test('getSecret of a missing key returns undefined', async () => {
    assert.equal(await kvs.getSecret(uid('secret')), undefined);
  });

  test('getSecret with metadata options (ref §3.1: as get)', async () => {
    const key = uid('secret');
    await kvs.setSecret(key, 0);
    const got = await kvs.getSecret(key, { metadataFields: [MetadataField.CREATED_AT] });
    assert.equal(got.key, key);
    assert.equal(got.value, 0);
    assert.equal(typeof got.createdAt, 'number');
  });

  test('setSecret with FAIL_IF_EXISTS: KEY_CONFLICT 409 (ref §4.2)', async () => {
    const key = uid('secret');
    await kvs.setSecret(key, 1);
    await assert.rejects(kvs.setSecret(key, 2, { keyPolicy: 'FAIL_IF_EXISTS' }), kvsError('KEY_CONFLICT', 409, '/api/v1/secret/set'));
  });

  test('setSecret with a TTL expires (ref §3.2 ExtendedSetOptions, decision 5)', async () => {
    const key = uid('secret');
    await kvs.setSecret(key, 'brief', { ttl: { value: 1, unit: 'SECONDS' } });
    assert.equal(await kvs.getSecret(key), 'brief');
    await sleep(1300);
    assert.equal(await kvs.getSecret(key), undefined);
  });

  test('secret over 128 KiB: MAX_SIZE (decision 8)', async () => {
    await assert.rejects(kvs.setSecret(uid('secret'), 'x'.repeat(128 * 1024 + 1)), kvsError('MAX_SIZE', 400));
  });
});

describe('REST wire details the SDK hides', () => {
  test('set answers 204 with an empty body (ref §14.5 #7)', async () => {
    const response = await fetch(`${require('../shim.js').BASE}${restPath('set')}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer t' },
      body: JSON.stringify({ key: uid('wire'), value: 1 })
    });
    assert.equal(response.status, 204);
    assert.equal(await response.text(), '');
  });

  test('get answers exactly {key, value} without metadata unless asked (decision 4)', async () => {
    const key = uid('wire');
    await kvs.set(key, [1]);
    assert.deepEqual(await raw(restPath('get'), { key }), { status: 200, body: { key, value: [1] } });
  });

  test('entity get answers {key, value, entityName} (ref §3.1)', async () => {
    const key = uid('wire');
    await kvs.entity('employee').set(key, { age: 1 });
    assert.deepEqual(await raw(restPath('entity/get'), { entityName: 'employee', key }), {
      status: 200,
      body: { key, value: { age: 1 }, entityName: 'employee' }
    });
  });

  test('a missing key is 404 {code: KEY_NOT_FOUND, message} on get and delete (decision 2)', async () => {
    for (const op of ['get', 'delete', 'secret/get', 'secret/delete']) {
      const response = await raw(restPath(op), { key: uid('wire') });
      assert.equal(response.status, 404, op);
      assert.deepEqual(Object.keys(response.body).sort(), ['code', 'message'], op);
      assert.equal(response.body.code, 'KEY_NOT_FOUND', op);
    }
    const response = await raw(restPath('entity/delete'), { entityName: 'employee', key: uid('wire') });
    assert.equal(response.status, 404);
    assert.equal(response.body.code, 'KEY_NOT_FOUND');
  });

  test('the last query page has no cursor member at all (ref §14.5 #8)', async () => {
    const key = uid('wire');
    await kvs.set(key, 1);
    const where = [{ property: 'key', condition: 'BEGINS_WITH', values: [key] }];
    const response = await raw(restPath('query'), { where });
    assert.deepEqual(response.body, { data: [{ key, value: 1 }] });
  });

  test('no bearer token: 401 {code: UNAUTHORIZED, message} (decision 1)', async () => {
    const response = await raw(restPath('get'), { key: 'k' }, { authorization: '' });
    assert.equal(response.status, 401);
    assert.equal(response.body.code, 'UNAUTHORIZED');
    assert.equal(typeof response.body.message, 'string');
  });

  test('an unknown operation path: 403 (decision 1)', async () => {
    const response = await raw(restPath('secret/query'), {});
    assert.equal(response.status, 403);
  });

  test('GET instead of POST is refused', async () => {
    const response = await fetch(`${require('../shim.js').BASE}${restPath('get')}`, {
      headers: { authorization: 'Bearer t' }
    });
    assert.ok(response.status >= 400 && response.status < 500, String(response.status));
    await response.arrayBuffer();
  });
});
