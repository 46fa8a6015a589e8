'use strict';
// @forge/kvs@1.6.5 kvs.query(): where beginsWith, limit, cursor, getOne, metadata (ref §7).
const { describe, test, before } = require('node:test');
const assert = require('node:assert/strict');
const { uid, kvsError } = require('../lib/helpers.js');
const { kvs, WhereConditions, MetadataField } = require('@forge/kvs');

async function allPages(prefix, limit) {
  const pages = [];
  let cursor;
  do {
    let query = kvs.query().where('key', WhereConditions.beginsWith(prefix)).limit(limit);
    if (cursor !== undefined) query = query.cursor(cursor);
    const page = await query.getMany();
    pages.push(page);
    cursor = page.nextCursor;
    assert.ok(pages.length < 50, 'pagination must end');
  } while (cursor !== undefined);
  return pages;
}

describe('kvs query', () => {
  const prefix = `${uid('account')}.`;
  const keys = [1, 2, 3, 4, 5].map((i) => `${prefix}${i}`);

  before(async () => {
    for (const [i, key] of keys.entries()) await kvs.set(key, { n: i + 1 });
  });

  test('docs paging example: limit 2 gives [1,2] [3,4] [5], no cursor on the last page (ref §7)', async () => {
    const pages = await allPages(prefix, 2);
    assert.deepEqual(
      pages.map((p) => p.results.map((r) => r.key)),
      [keys.slice(0, 2), keys.slice(2, 4), keys.slice(4)]
    );
    assert.equal(typeof pages[0].nextCursor, 'string');
    assert.equal(pages[2].nextCursor, undefined);
  });

  test('items are {key, value} (ref §3.1)', async () => {
    const { results } = await kvs.query().where('key', WhereConditions.beginsWith(prefix)).limit(1).getMany();
    assert.deepEqual(results, [{ key: keys[0], value: { n: 1 } }]);
  });

  test('a full last page carries no cursor (decision 7)', async () => {
    const pages = await allPages(`${prefix}`, 5);
    assert.equal(pages.length, 1);
    assert.equal(pages[0].results.length, 5);
    assert.equal(pages[0].nextCursor, undefined);
  });

  test('getOne returns the first item (ref §3.3)', async () => {
    assert.deepEqual(await kvs.query().where('key', WhereConditions.beginsWith(prefix)).getOne(), {
      key: keys[0],
      value: { n: 1 }
    });
  });

  test('getOne with no match returns undefined', async () => {
    assert.equal(await kvs.query().where('key', WhereConditions.beginsWith(uid('none'))).getOne(), undefined);
  });

  test('no match: empty results and no cursor', async () => {
    const page = await kvs.query().where('key', WhereConditions.beginsWith(uid('none'))).getMany();
    assert.deepEqual(page.results, []);
    assert.equal(page.nextCursor, undefined);
  });

  test('default limit is 10 (ref §5)', async () => {
    const many = `${uid('many')}.`;
    for (let i = 0; i < 12; i += 1) await kvs.set(`${many}${String(i).padStart(2, '0')}`, i);
    const page = await kvs.query().where('key', WhereConditions.beginsWith(many)).getMany();
    assert.equal(page.results.length, 10);
    assert.equal(typeof page.nextCursor, 'string');
    const rest = await kvs.query().where('key', WhereConditions.beginsWith(many)).cursor(page.nextCursor).getMany();
    assert.deepEqual(rest.results.map((r) => r.value), [10, 11]);
    assert.equal(rest.nextCursor, undefined);
  });

  test('keys come back in code-point order (decision 7)', async () => {
    const base = `${uid('order')}.`;
    const suffixes = ['b', 'B', '_', '-', '1', 'a', ' x', '#', ':', 'A'];
    for (const s of suffixes) await kvs.set(base + s, s);
    const pages = await allPages(base, 3);
    const got = pages.flatMap((p) => p.results.map((r) => r.value));
    const expected = [...suffixes].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
    assert.deepEqual(got, expected);
  });

  test('query without where iterates every plain value in key order', async () => {
    const seen = [];
    let cursor;
    do {
      let query = kvs.query().limit(100);
      if (cursor) query = query.cursor(cursor);
      const page = await query.getMany();
      seen.push(...page.results.map((r) => r.key));
      cursor = page.nextCursor;
    } while (cursor);
    const mine = seen.filter((k) => k.startsWith(prefix));
    assert.deepEqual(mine, keys);
  });

  test('metadataFields in query options add metadata to items (ref §7)', async () => {
    const { results } = await kvs
      .query({ metadataFields: [MetadataField.CREATED_AT, MetadataField.UPDATED_AT] })
      .where('key', WhereConditions.beginsWith(prefix))
      .limit(2)
      .getMany();
    assert.equal(results.length, 2);
    for (const item of results) {
      assert.equal(typeof item.createdAt, 'number');
      assert.equal(typeof item.updatedAt, 'number');
    }
  });

  test('secrets and entity records are not returned (decision 3)', async () => {
    const base = `${uid('scope')}.`;
    await kvs.set(`${base}plain`, 1);
    await kvs.setSecret(`${base}secret`, 2);
    await kvs.entity('employee').set(`${base}entity`, { name: 'E', age: 1 });
    const { results } = await kvs.query().where('key', WhereConditions.beginsWith(base)).getMany();
    assert.deepEqual(results.map((r) => r.key), [`${base}plain`]);
  });

  test('expired values are not returned (decision 5)', async () => {
    const base = `${uid('expired')}.`;
    await kvs.set(`${base}a`, 1, { ttl: { value: 1, unit: 'SECONDS' } });
    await kvs.set(`${base}b`, 2);
    await new Promise((resolve) => setTimeout(resolve, 1300));
    const { results } = await kvs.query().where('key', WhereConditions.beginsWith(base)).getMany();
    assert.deepEqual(results.map((r) => r.key), [`${base}b`]);
  });

  test('100 concurrent sets through the SDK are all stored and listed once', async () => {
    const base = `${uid('parallel')}.`;
    const keys = Array.from({ length: 100 }, (_, i) => `${base}${String(i).padStart(3, '0')}`);
    await Promise.all(keys.map((key, i) => kvs.set(key, i)));
    const pages = await allPages(base, 30);
    assert.deepEqual(pages.flatMap((p) => p.results.map((r) => r.key)), keys);
    assert.deepEqual(pages.map((p) => p.results.length), [30, 30, 30, 10]);
  });

  test('limit 100 is allowed; 101 and 0 are LIST_QUERY_LIMIT_EXCEEDED 400 (decision 7)', async () => {
    await kvs.query().where('key', WhereConditions.beginsWith(prefix)).limit(100).getMany();
    await assert.rejects(kvs.query().limit(101).getMany(), kvsError('LIST_QUERY_LIMIT_EXCEEDED', 400, '/api/v1/query'));
    await assert.rejects(kvs.query().limit(0).getMany(), kvsError('LIST_QUERY_LIMIT_EXCEEDED', 400));
  });

  test('where on another field: QUERY_WHERE_FIELD_INVALID 400 (ref §4.2)', async () => {
    await assert.rejects(
      kvs.query().where('value', WhereConditions.beginsWith('x')).getMany(),
      kvsError('QUERY_WHERE_FIELD_INVALID', 400)
    );
  });

  test('where with another condition: INVALID_FILTER_CONDITION 400 (ref §4.2)', async () => {
    await assert.rejects(
      kvs.query().where('key', WhereConditions.greaterThan('x')).getMany(),
      kvsError('INVALID_FILTER_CONDITION', 400)
    );
  });

  test('where beginsWith an invalid key prefix: INVALID_KEY 400 (ref §3.1 key errors)', async () => {
    await assert.rejects(kvs.query().where('key', WhereConditions.beginsWith('a/')).getMany(), kvsError('INVALID_KEY', 400));
  });
});
