'use strict';
// @forge/kvs@1.6.5 kvs.transact() (ref §10, decision 11).
const { describe, test } = require('node:test');
const assert = require('node:assert/strict');
const { uid, kvsError, raw, restPath } = require('../lib/helpers.js');
const { kvs, Filter, FilterConditions, MetadataField } = require('@forge/kvs');

const employees = kvs.entity('employee');
const EMPLOYEE = 'employee';

describe('transactions', () => {
  test('set, delete and check together: resolves undefined and applies everything (ref §10)', async () => {
    const plain = uid('tx');
    const gone = uid('tx');
    const emp = uid('tx');
    const checked = uid('tx');
    await kvs.set(gone, 'bye');
    await employees.set(checked, { name: 'Checker', age: 50 });
    const result = await kvs
      .transact()
      .set(plain, { x: 1 })
      .set(emp, { name: 'Ann', age: 30 }, { entityName: EMPLOYEE })
      .delete(gone)
      .check(checked, { entityName: EMPLOYEE, conditions: new Filter().and('age', FilterConditions.greaterThan(40)) })
      .execute();
    assert.equal(result, undefined);
    assert.deepEqual(await kvs.get(plain), { x: 1 });
    assert.deepEqual(await employees.get(emp), { name: 'Ann', age: 30 });
    assert.equal(await kvs.get(gone), undefined);
  });

  test('deleting a missing key succeeds (decision 11)', async () => {
    await kvs.transact().delete(uid('tx')).delete(uid('tx'), { entityName: EMPLOYEE }).execute();
  });

  test('a false check: CONDITIONAL_CHECK_FAILED 400, nothing applied (decision 11)', async () => {
    const plain = uid('tx');
    const checked = uid('tx');
    await employees.set(checked, { name: 'Young', age: 20 });
    await assert.rejects(
      kvs
        .transact()
        .set(plain, 'never')
        .check(checked, { entityName: EMPLOYEE, conditions: new Filter().and('age', FilterConditions.greaterThan(40)) })
        .execute(),
      kvsError('CONDITIONAL_CHECK_FAILED', 400, '/api/v1/transaction')
    );
    assert.equal(await kvs.get(plain), undefined);
  });

  test('a conditional set whose condition holds writes; one that fails writes nothing (decision 11)', async () => {
    const emp = uid('tx');
    await employees.set(emp, { name: 'V', age: 1 });
    const version = (n) => new Filter().and('age', FilterConditions.equalTo(n));
    await kvs.transact().set(emp, { name: 'V', age: 2 }, { entityName: EMPLOYEE, conditions: version(1) }).execute();
    assert.deepEqual(await employees.get(emp), { name: 'V', age: 2 });
    await assert.rejects(
      kvs.transact().set(emp, { name: 'V', age: 3 }, { entityName: EMPLOYEE, conditions: version(1) }).execute(),
      kvsError('CONDITIONAL_CHECK_FAILED', 400)
    );
    assert.deepEqual(await employees.get(emp), { name: 'V', age: 2 });
  });

  test('or conditions: one true condition is enough', async () => {
    const emp = uid('tx');
    await employees.set(emp, { name: 'Or', age: 5 });
    const either = new Filter().or('age', FilterConditions.equalTo(99)).or('name', FilterConditions.equalTo('Or'));
    await kvs.transact().check(emp, { entityName: EMPLOYEE, conditions: either }).execute();
  });

  test('a condition on a missing record is false, except notExists (decision 11)', async () => {
    const missing = uid('tx');
    await assert.rejects(
      kvs.transact().check(missing, { entityName: EMPLOYEE, conditions: new Filter().and('age', FilterConditions.exists()) }).execute(),
      kvsError('CONDITIONAL_CHECK_FAILED', 400)
    );
    const created = uid('tx');
    await kvs
      .transact()
      .set(created, { name: 'New' }, { entityName: EMPLOYEE, conditions: new Filter().and('name', FilterConditions.notExists()) })
      .execute();
    assert.deepEqual(await employees.get(created), { name: 'New' });
  });

  test('delete with a condition (ref §10)', async () => {
    const emp = uid('tx');
    await employees.set(emp, { name: 'Del', active: false });
    await kvs
      .transact()
      .delete(emp, { entityName: EMPLOYEE, conditions: new Filter().and('active', FilterConditions.equalTo(false)) })
      .execute();
    assert.equal(await employees.get(emp), undefined);
  });

  test('TTL comes from the 4th argument of set (ref §8 SDK quirk)', async () => {
    const key = uid('tx');
    await kvs.transact().set(key, 'ttl', undefined, { ttl: { value: 1, unit: 'HOURS' } }).execute();
    const got = await kvs.get(key, { metadataFields: [MetadataField.EXPIRE_TIME] });
    assert.ok(Math.abs(Date.parse(got.expireTime) - (Date.now() + 3600000)) < 10000, got.expireTime);
  });

  test('the same key as a plain value and as an entity record is allowed (design §2.4)', async () => {
    const key = uid('tx');
    await kvs.transact().set(key, 'plain').set(key, { name: 'E' }, { entityName: EMPLOYEE }).execute();
    assert.equal(await kvs.get(key), 'plain');
    assert.deepEqual(await employees.get(key), { name: 'E' });
  });

  test('a key twice: INVALID_TRANSACTION_REQUEST 400 (decision 11)', async () => {
    const key = uid('tx');
    await assert.rejects(kvs.transact().set(key, 1).delete(key).execute(), kvsError('INVALID_TRANSACTION_REQUEST', 400));
    assert.equal(await kvs.get(key), undefined);
  });

  test('an empty transaction: INVALID_TRANSACTION_REQUEST 400 (decision 11)', async () => {
    await assert.rejects(kvs.transact().execute(), kvsError('INVALID_TRANSACTION_REQUEST', 400));
  });

  test('25 operations are allowed, 26 are INVALID_TRANSACTION_REQUEST 400 (decision 11)', async () => {
    const base = uid('tx');
    const build = (n) => {
      let tx = kvs.transact();
      for (let i = 0; i < n; i += 1) tx = tx.set(`${base}.${i}`, i);
      return tx;
    };
    await build(25).execute();
    assert.equal(await kvs.get(`${base}.24`), 24);
    await assert.rejects(build(26).execute(), kvsError('INVALID_TRANSACTION_REQUEST', 400));
  });

  test('conditions on a plain KVS item: INVALID_TRANSACTION_REQUEST 400 (decision 11)', async () => {
    const body = {
      set: [{ key: uid('tx'), value: 1, conditions: { and: [{ property: 'x', condition: 'EXISTS', values: [true] }] } }]
    };
    const response = await raw(restPath('transaction'), body);
    assert.equal(response.status, 400);
    assert.equal(response.body.code, 'INVALID_TRANSACTION_REQUEST');
  });

  test('success is 204 with an empty body (decision 11)', async () => {
    const response = await raw(restPath('transaction'), { set: [{ key: uid('tx'), value: 1 }] });
    assert.deepEqual(response, { status: 204, body: undefined });
  });

  test('returnValue is not allowed on transaction items: 400 (ref §8: TTL only on batch/transaction)', async () => {
    const response = await raw(restPath('transaction'), { set: [{ key: uid('tx'), value: 1, options: { returnValue: 'LATEST' } }] });
    assert.equal(response.status, 400, JSON.stringify(response.body));
  });

  test('a transaction over 4 MB is refused (ref §5, §10)', async () => {
    const base = uid('tx');
    const big = 'x'.repeat(230 * 1024);
    let tx = kvs.transact();
    for (let i = 0; i < 20; i += 1) tx = tx.set(`${base}.${i}`, big);
    await assert.rejects(tx.execute(), (err) => {
      assert.ok([400, 413].includes(err.responseDetails.status), `${err.responseDetails.status} ${err.code}`);
      return true;
    });
    assert.equal(await kvs.get(`${base}.0`), undefined);
  });
});
