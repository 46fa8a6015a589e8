'use strict';
// @forge/kvs@1.6.5 kvs.batchSet / batchGet / batchDelete (ref §11, decision 10).
const { describe, test } = require('node:test');
const assert = require('node:assert/strict');
const { uid, kvsError } = require('../lib/helpers.js');
const { kvs, MetadataField } = require('@forge/kvs');

const employees = kvs.entity('employee');

describe('batch', () => {
  test('batchSet of plain and entity items: all successful, KVS items carry no entityName (design §2.4)', async () => {
    const a = uid('batch');
    const e = uid('batch');
    const result = await kvs.batchSet([
      { key: a, value: { x: 1 } },
      { key: e, value: { name: 'Ann', age: 3 }, entityName: 'employee' }
    ]);
    assert.deepEqual(result, { successfulKeys: [{ key: a }, { key: e, entityName: 'employee' }], failedKeys: [] });
    assert.ok(!('entityName' in result.successfulKeys[0]));
    assert.deepEqual(await kvs.get(a), { x: 1 });
    assert.deepEqual(await employees.get(e), { name: 'Ann', age: 3 });
  });

  test('batchSet partial failure: the bad item in failedKeys with its code, the rest written (decision 10)', async () => {
    const good = uid('batch');
    const bad = uid('batch');
    const alsoGood = uid('batch');
    const result = await kvs.batchSet([
      { key: good, value: 1 },
      { key: bad, value: { age: 'not a number' }, entityName: 'employee' },
      { key: alsoGood, value: { age: 7 }, entityName: 'employee' }
    ]);
    assert.deepEqual(result.successfulKeys, [{ key: good }, { key: alsoGood, entityName: 'employee' }]);
    assert.equal(result.failedKeys.length, 1);
    const [failed] = result.failedKeys;
    assert.equal(failed.key, bad);
    assert.equal(failed.entityName, 'employee');
    assert.equal(failed.error.code, 'INVALID_ENTITY_VALUE');
    assert.equal(typeof failed.error.message, 'string');
    assert.equal(await kvs.get(good), 1);
    assert.equal(await employees.get(bad), undefined);
    assert.deepEqual(await employees.get(alsoGood), { age: 7 });
  });

  test('batchSet with a TTL per item (ref §11)', async () => {
    const key = uid('batch');
    await kvs.batchSet([{ key, value: 'v', options: { ttl: { value: 1, unit: 'DAYS' } } }]);
    const got = await kvs.get(key, { metadataFields: [MetadataField.EXPIRE_TIME] });
    const expires = Date.parse(got.expireTime);
    assert.ok(Math.abs(expires - (Date.now() + 86400000)) < 10000, got.expireTime);
  });

  test('batchGet: values in request order, missing key in failedKeys with KEY_NOT_FOUND (decision 10)', async () => {
    const a = uid('batch');
    const e = uid('batch');
    const missing = uid('batch');
    await kvs.set(a, 0);
    await employees.set(e, { name: 'Bo' });
    const result = await kvs.batchGet([{ key: e, entityName: 'employee' }, { key: missing }, { key: a }]);
    assert.deepEqual(result.successfulKeys, [
      { key: e, entityName: 'employee', value: { name: 'Bo' } },
      { key: a, value: 0 }
    ]);
    assert.equal(result.failedKeys.length, 1);
    assert.equal(result.failedKeys[0].key, missing);
    assert.equal(result.failedKeys[0].error.code, 'KEY_NOT_FOUND');
    assert.ok(!('entityName' in result.failedKeys[0]));
  });

  test('batchGet with metadata options (ref §11)', async () => {
    const a = uid('batch');
    await kvs.set(a, 'v');
    const result = await kvs.batchGet([{ key: a, options: { metadataFields: [MetadataField.CREATED_AT] } }]);
    assert.equal(result.successfulKeys.length, 1);
    assert.equal(result.successfulKeys[0].value, 'v');
    assert.equal(typeof result.successfulKeys[0].createdAt, 'number');
  });

  test('batchGet does not reach secrets (ref §11)', async () => {
    const s = uid('batch');
    await kvs.setSecret(s, 'secret');
    const result = await kvs.batchGet([{ key: s }]);
    assert.deepEqual(result.successfulKeys, []);
    assert.equal(result.failedKeys[0].error.code, 'KEY_NOT_FOUND');
  });

  test('batchDelete: existing deleted, missing in failedKeys with KEY_NOT_FOUND (decision 10)', async () => {
    const a = uid('batch');
    const e = uid('batch');
    const missing = uid('batch');
    await kvs.set(a, 1);
    await employees.set(e, { name: 'Cy' });
    const result = await kvs.batchDelete([{ key: a }, { key: missing, entityName: 'employee' }, { key: e, entityName: 'employee' }]);
    assert.deepEqual(result.successfulKeys, [{ key: a }, { key: e, entityName: 'employee' }]);
    assert.equal(result.failedKeys.length, 1);
    assert.equal(result.failedKeys[0].key, missing);
    assert.equal(result.failedKeys[0].entityName, 'employee');
    assert.equal(result.failedKeys[0].error.code, 'KEY_NOT_FOUND');
    assert.equal(await kvs.get(a), undefined);
    assert.equal(await employees.get(e), undefined);
  });

  test('the same key as a plain value and an entity record is not a duplicate (decision 10)', async () => {
    const key = uid('batch');
    const result = await kvs.batchSet([
      { key, value: 'plain' },
      { key, value: { name: 'Entity' }, entityName: 'employee' }
    ]);
    assert.equal(result.successfulKeys.length, 2);
    assert.equal(await kvs.get(key), 'plain');
  });

  test('empty batch: 400 BAD_REQUEST (decision 10)', async () => {
    await assert.rejects(kvs.batchSet([]), kvsError('BAD_REQUEST', 400, '/api/v1/batch/set'));
    await assert.rejects(kvs.batchGet([]), kvsError('BAD_REQUEST', 400, '/api/v1/batch/get'));
    await assert.rejects(kvs.batchDelete([]), kvsError('BAD_REQUEST', 400, '/api/v1/batch/delete'));
  });

  test('duplicate key: 400 BAD_REQUEST and nothing written (decision 10)', async () => {
    const key = uid('batch');
    await assert.rejects(
      kvs.batchSet([
        { key, value: 1 },
        { key, value: 2 }
      ]),
      kvsError('BAD_REQUEST', 400)
    );
    assert.equal(await kvs.get(key), undefined);
  });

  test('25 items are allowed, 26 are 400 BAD_REQUEST (decision 10)', async () => {
    const base = uid('batch');
    const items = (n) => Array.from({ length: n }, (_, i) => ({ key: `${base}.${i}`, value: i }));
    const result = await kvs.batchSet(items(25));
    assert.equal(result.successfulKeys.length, 25);
    await assert.rejects(kvs.batchSet(items(26)), kvsError('BAD_REQUEST', 400));
    await assert.rejects(kvs.batchGet(items(26).map(({ key }) => ({ key }))), kvsError('BAD_REQUEST', 400));
  });

  test('keyPolicy is not allowed in batch items: 400 (ref §8: TTL only on batch/transaction)', async () => {
    const key = uid('batch');
    await assert.rejects(
      kvs.batchSet([{ key, value: 1, options: { keyPolicy: 'FAIL_IF_EXISTS' } }]),
      (err) => {
        assert.equal(err.responseDetails.status, 400, `${err.code}: ${err.message}`);
        return true;
      }
    );
  });

  test('a batchSet over 4 MB is refused as a whole (ref §5, §11)', async () => {
    const base = uid('batch');
    const big = 'x'.repeat(230 * 1024);
    const items = Array.from({ length: 20 }, (_, i) => ({ key: `${base}.${i}`, value: big }));
    await assert.rejects(kvs.batchSet(items), (err) => {
      assert.ok([400, 413].includes(err.responseDetails.status), `${err.responseDetails.status} ${err.code}`);
      return true;
    });
    assert.equal(await kvs.get(`${base}.0`), undefined);
  });
});
