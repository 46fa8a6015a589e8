'use strict';
// @forge/kvs@1.6.5 custom entities: CRUD, validation, and queries (index, partition, range,
// filters and/or, sort, limit, cursor pagination to the end). Entities: ../manifest.yml.
const { describe, test, before } = require('node:test');
const assert = require('node:assert/strict');
const { uid, kvsError, sleep } = require('../lib/helpers.js');
const { kvs, WhereConditions, FilterConditions, Filter, Sort, MetadataField } = require('@forge/kvs');

const employees = kvs.entity('employee');

async function pagesOf(makeQuery, limit) {
  const pages = [];
  let cursor;
  do {
    let query = makeQuery().limit(limit);
    if (cursor !== undefined) query = query.cursor(cursor);
    const page = await query.getMany();
    pages.push(page);
    cursor = page.nextCursor;
    assert.ok(pages.length < 50, 'pagination must end');
  } while (cursor !== undefined);
  return pages;
}

const keysOf = (pages) => pages.flatMap((p) => p.results.map((r) => r.key));

describe('entity get/set/delete', () => {
  test('set resolves undefined, get returns the record (ref §3.1)', async () => {
    const key = uid('emp');
    const value = { name: 'Ann', age: 31, rating: 4.5, active: true, extra: { any: ['thing'] } };
    assert.equal(await employees.set(key, value), undefined);
    assert.deepEqual(await employees.get(key), value);
  });

  test('get of a missing key returns undefined (KEY_NOT_FOUND swallowed)', async () => {
    assert.equal(await employees.get(uid('emp')), undefined);
  });

  test('delete removes; delete of a missing key resolves', async () => {
    const key = uid('emp');
    await employees.set(key, { name: 'Bo' });
    assert.equal(await employees.delete(key), undefined);
    assert.equal(await employees.get(key), undefined);
    assert.equal(await employees.delete(key), undefined);
  });

  test('entities and plain values are separate namespaces (decision 3)', async () => {
    const key = uid('ns');
    await kvs.set(key, 'plain');
    await employees.set(key, { name: 'Entity' });
    await kvs.entity('project-task').set(key, { title: 'Task' });
    assert.equal(await kvs.get(key), 'plain');
    assert.deepEqual(await employees.get(key), { name: 'Entity' });
    assert.deepEqual(await kvs.entity('project-task').get(key), { title: 'Task' });
  });

  test('get with metadata options returns {key, value, createdAt, updatedAt} (ref §3.1)', async () => {
    const key = uid('emp');
    await employees.set(key, { name: 'Cy' });
    const got = await employees.get(key, { metadataFields: [MetadataField.CREATED_AT, MetadataField.UPDATED_AT] });
    assert.equal(got.key, key);
    assert.deepEqual(got.value, { name: 'Cy' });
    assert.equal(typeof got.createdAt, 'number');
    assert.equal(typeof got.updatedAt, 'number');
    assert.equal(got.entityName, undefined, 'the SDK keeps only key, value and requested metadata');
  });

  test('FAIL_IF_EXISTS on an existing record: KEY_CONFLICT 409 (decision 6)', async () => {
    const key = uid('emp');
    await employees.set(key, { name: 'Di' });
    await assert.rejects(
      employees.set(key, { name: 'Other' }, { keyPolicy: 'FAIL_IF_EXISTS' }),
      kvsError('KEY_CONFLICT', 409, '/api/v1/entity/set')
    );
    assert.deepEqual(await employees.get(key), { name: 'Di' });
  });

  test('returnValue PREVIOUS and LATEST (ref §9)', async () => {
    const key = uid('emp');
    assert.equal(await employees.set(key, { age: 1 }, { returnValue: 'PREVIOUS' }), undefined);
    assert.deepEqual(await employees.set(key, { age: 2 }, { returnValue: 'PREVIOUS' }), { key, value: { age: 1 } });
    assert.deepEqual(await employees.set(key, { age: 3 }, { keyPolicy: 'OVERRIDE', returnValue: 'LATEST' }), {
      key,
      value: { age: 3 }
    });
  });

  test('TTL on an entity record: expireTime, then absent once expired (ref §8, decision 5)', async () => {
    const key = uid('emp');
    await employees.set(key, { name: 'Ed' }, { ttl: { value: 1, unit: 'SECONDS' } });
    const got = await employees.get(key, { metadataFields: [MetadataField.EXPIRE_TIME] });
    assert.match(got.expireTime, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    await sleep(1300);
    assert.equal(await employees.get(key), undefined);
  });

  test('a float attribute accepts an integer (design §2.4)', async () => {
    const key = uid('emp');
    await employees.set(key, { rating: 4 });
    assert.deepEqual(await employees.get(key), { rating: 4 });
  });

  for (const [label, value] of [
    ['a string for an integer', { age: 'old' }],
    ['a float for an integer', { age: 1.5 }],
    ['a boolean for a float', { rating: true }],
    ['a number for a boolean', { active: 1 }],
    ['an undeclared attribute', { salary: 10 }],
    ['a whitespace-only string', { name: '   ' }],
    ['an integer out of 32-bit range', { age: 2147483648 }],
    ['an empty string', { name: '' }],
    ['a float above 9.99E+125', { rating: 1e126 }],
    ['a float below 1E-130', { rating: 1e-131 }]
  ]) {
    test(`${label}: INVALID_ENTITY_VALUE 400 (decision 9, ref §5)`, async () => {
      await assert.rejects(employees.set(uid('emp'), value), kvsError('INVALID_ENTITY_VALUE', 400));
    });
  }

  test('32-bit integer bounds and a float of 0 are accepted (ref §5)', async () => {
    const key = uid('emp');
    await employees.set(key, { age: -2147483648, rating: 0 });
    await employees.set(key, { age: 2147483647, rating: -1e-130 });
    assert.deepEqual(await employees.get(key), { age: 2147483647, rating: -1e-130 });
  });

  test('a value that is not an object is rejected with 400 (ref §16 #14)', async () => {
    await assert.rejects(employees.set(uid('emp'), 'just a string'), (err) => {
      assert.equal(err.responseDetails.status, 400);
      assert.ok(['INVALID_ENTITY_VALUE', 'BAD_REQUEST'].includes(err.code), err.code);
      return true;
    });
  });

  test('empty key: EMPTY_KEY 400 (ref §4.2)', async () => {
    await assert.rejects(employees.get(''), kvsError('EMPTY_KEY', 400, '/api/v1/entity/get'));
  });

  test('entity key rules: KEY_TOO_LONG and INVALID_KEY 400 (ref §4.2)', async () => {
    await assert.rejects(employees.get('k'.repeat(501)), kvsError('KEY_TOO_LONG', 400));
    await assert.rejects(employees.set('a/b', { name: 'x' }), kvsError('INVALID_KEY', 400));
  });

  test('an indexed range value over 900 bytes is rejected with 400 (ref §5 indexes)', async () => {
    await assert.rejects(employees.set(uid('emp'), { name: 'n'.repeat(901) }), (err) => {
      assert.equal(err.responseDetails.status, 400, `${err.code}: ${err.message}`);
      return true;
    });
  });

  test('partition values over 1700 bytes are rejected with 400 (ref §5 indexes)', async () => {
    await assert.rejects(employees.set(uid('emp'), { team: 't'.repeat(1701), age: 1 }), (err) => {
      assert.equal(err.responseDetails.status, 400, `${err.code}: ${err.message}`);
      return true;
    });
  });

  test('undeclared entity: INVALID_ENTITY_TYPE 400 (decision 9)', async () => {
    await assert.rejects(kvs.entity('not-declared').set(uid('x'), { a: 1 }), kvsError('INVALID_ENTITY_TYPE', 400));
  });

  test('entity name too short: ENTITY_TYPE_TOO_SHORT 400 (ref §4.2)', async () => {
    await assert.rejects(kvs.entity('ab').get('k'), kvsError('ENTITY_TYPE_TOO_SHORT', 400));
  });

  test('entity name over 60 characters: ENTITY_TYPE_TOO_LARGE 400 (ref §4.2)', async () => {
    await assert.rejects(kvs.entity('e'.repeat(61)).get('k'), kvsError('ENTITY_TYPE_TOO_LARGE', 400));
  });

  test('entity name with bad characters: INVALID_ENTITY_TYPE 400 (ref §4.2)', async () => {
    await assert.rejects(kvs.entity('Employee').get('k'), kvsError('INVALID_ENTITY_TYPE', 400));
  });
});

describe('entity queries', () => {
  const team = uid('team');
  const other = uid('team');
  // key, name, gender, age, rating, active
  const people = [
    ['p01', 'Alice', 'f', 25, 4.5, true],
    ['p02', 'Bob', 'm', 30, 3.0, false],
    ['p03', 'Carol', 'f', 35, 4.0, true],
    ['p04', 'Dave', 'm', 25, 2.5, true],
    ['p05', 'Eve', 'f', 40, 5.0, false],
    ['p06', 'Frank', 'm', 45, 3.5, true],
    ['p07', 'Grace', 'f', 30, 4.8, true]
  ];
  const key = (k) => `${team}.${k}`;

  before(async () => {
    for (const [k, name, gender, age, rating, active] of people) {
      const value = { name, team, gender, age, rating, active };
      if (k === 'p03') value.nickname = 'Caz';
      await employees.set(key(k), value);
    }
    await employees.set(`${other}.x01`, { name: 'Zed', team: other, gender: 'f', age: 30, rating: 1 });
  });

  const byTeamAge = () => employees.query().index('by-team-age', { partition: [team] });

  test('by-key index with beginsWith, paginated to the end (ref §6.2)', async () => {
    const pages = await pagesOf(() => employees.query().index('by-key').where(WhereConditions.beginsWith(`${team}.`)), 3);
    assert.deepEqual(pages.map((p) => p.results.length), [3, 3, 1]);
    assert.deepEqual(keysOf(pages), people.map(([k]) => key(k)));
    assert.equal(pages[2].nextCursor, undefined);
  });

  test('items are {key, value} without entityName (ref §16 #16)', async () => {
    const { results } = await employees.query().index('by-key').where(WhereConditions.equalTo(key('p01'))).getMany();
    assert.deepEqual(results, [{ key: key('p01'), value: { name: 'Alice', team, gender: 'f', age: 25, rating: 4.5, active: true } }]);
  });

  test('partition index sorts by range value, then key (decision 9)', async () => {
    const { results, nextCursor } = await byTeamAge().getMany();
    assert.deepEqual(results.map((r) => r.key), ['p01', 'p04', 'p02', 'p07', 'p03', 'p05', 'p06'].map(key));
    assert.equal(nextCursor, undefined);
  });

  test('sort DESC reverses the range order (ref §6.2)', async () => {
    const { results } = await byTeamAge().sort(Sort.DESC).limit(3).getMany();
    assert.deepEqual(results.map((r) => r.value.age), [45, 40, 35]);
  });

  test('range between is inclusive (design §2.4)', async () => {
    const { results } = await byTeamAge().where(WhereConditions.between(25, 30)).getMany();
    assert.deepEqual(results.map((r) => r.value.name), ['Alice', 'Dave', 'Bob', 'Grace']);
  });

  for (const [label, condition, names] of [
    ['greaterThan', WhereConditions.greaterThan(35), ['Eve', 'Frank']],
    ['greaterThanEqualTo', WhereConditions.greaterThanEqualTo(35), ['Carol', 'Eve', 'Frank']],
    ['lessThan', WhereConditions.lessThan(30), ['Alice', 'Dave']],
    ['lessThanEqualTo', WhereConditions.lessThanEqualTo(25), ['Alice', 'Dave']],
    ['equalTo', WhereConditions.equalTo(30), ['Bob', 'Grace']]
  ]) {
    test(`range ${label} (ref §6.2)`, async () => {
      const { results } = await byTeamAge().where(condition).getMany();
      assert.deepEqual(results.map((r) => r.value.name), names);
    });
  }

  test('partition isolates: another team sees only its own records', async () => {
    const { results } = await employees.query().index('by-team-age', { partition: [other] }).getMany();
    assert.deepEqual(results.map((r) => r.value.name), ['Zed']);
  });

  test('two-attribute partition in declared order, range on a float (ref §6.2)', async () => {
    const { results } = await employees
      .query()
      .index('by-team-gender-rating', { partition: [team, 'f'] })
      .where(WhereConditions.greaterThan(4.2))
      .getMany();
    assert.deepEqual(results.map((r) => r.value.name), ['Alice', 'Grace', 'Eve']);
  });

  test('simple index named after its attribute, with beginsWith on a string (ref §6.1)', async () => {
    const { results } = await employees.query().index('name').where(WhereConditions.beginsWith('Car')).getMany();
    assert.ok(results.some((r) => r.key === key('p03')));
    assert.ok(results.every((r) => r.value.name.startsWith('Car')));
  });

  test('filters with and (ref §3.4)', async () => {
    const { results } = await byTeamAge()
      .filters(new Filter().and('gender', FilterConditions.equalTo('f')).and('active', FilterConditions.equalTo(true)))
      .getMany();
    assert.deepEqual(results.map((r) => r.value.name), ['Alice', 'Grace', 'Carol']);
  });

  test('filters with or (ref §3.4)', async () => {
    const { results } = await byTeamAge()
      .filters(new Filter().or('name', FilterConditions.equalTo('Bob')).or('rating', FilterConditions.greaterThanEqualTo(4.8)))
      .getMany();
    assert.deepEqual(results.map((r) => r.value.name), ['Bob', 'Grace', 'Eve']);
  });

  for (const [label, filter, names] of [
    ['contains', FilterConditions.contains('a'), ['Dave', 'Grace', 'Carol', 'Frank']],
    ['notContains', FilterConditions.notContains('a'), ['Alice', 'Bob', 'Eve']],
    ['notEqualTo', FilterConditions.notEqualTo('Bob'), ['Alice', 'Dave', 'Grace', 'Carol', 'Eve', 'Frank']],
    ['beginsWith', FilterConditions.beginsWith('A'), ['Alice']]
  ]) {
    test(`filter ${label} on a string (ref §6.2)`, async () => {
      const { results } = await byTeamAge().filters(new Filter().and('name', filter)).getMany();
      assert.deepEqual(results.map((r) => r.value.name), names);
    });
  }

  test('filter exists / notExists (ref §6.2)', async () => {
    const has = await byTeamAge().filters(new Filter().and('nickname', FilterConditions.exists())).getMany();
    assert.deepEqual(has.results.map((r) => r.value.name), ['Carol']);
    const hasNot = await byTeamAge().filters(new Filter().and('nickname', FilterConditions.notExists())).getMany();
    assert.equal(hasNot.results.length, 6);
  });

  test('filter between on a float, and range + filter together (ref §6.2)', async () => {
    const { results } = await byTeamAge()
      .where(WhereConditions.greaterThanEqualTo(30))
      .filters(new Filter().and('rating', FilterConditions.between(3.0, 4.0)))
      .getMany();
    assert.deepEqual(results.map((r) => r.value.name), ['Bob', 'Carol', 'Frank']);
  });

  test('filters apply after the page is cut: a page may be empty yet have a cursor (decision 9)', async () => {
    const query = () => byTeamAge().filters(new Filter().and('name', FilterConditions.equalTo('Frank')));
    const pages = await pagesOf(query, 2);
    assert.deepEqual(pages.map((p) => p.results.length), [0, 0, 0, 1]);
    assert.equal(typeof pages[0].nextCursor, 'string');
    assert.equal(pages[3].nextCursor, undefined);
  });

  test('cursor absent exactly when no further item exists: 6 records at limit 3 are 2 pages (design §2.4)', async () => {
    const pages = await pagesOf(() => byTeamAge().where(WhereConditions.lessThan(45)), 3);
    assert.deepEqual(pages.map((p) => p.results.length), [3, 3]);
  });

  test('getOne returns the first record', async () => {
    const first = await byTeamAge().sort(Sort.DESC).getOne();
    assert.equal(first.value.name, 'Frank');
  });

  test('query metadata options add createdAt to items (ref §3.4)', async () => {
    const { results } = await employees
      .query({ metadataFields: [MetadataField.CREATED_AT] })
      .index('by-team-age', { partition: [team] })
      .limit(2)
      .getMany();
    assert.equal(results.length, 2);
    for (const item of results) assert.equal(typeof item.createdAt, 'number');
  });

  test('undeclared index: INVALID_ENTITY_INDEX 400 (decision 9)', async () => {
    await assert.rejects(employees.query().index('by-salary').getMany(), kvsError('INVALID_ENTITY_INDEX', 400, '/api/v1/entity/query'));
  });

  test('undeclared entity: INVALID_ENTITY_TYPE 400 (decision 9)', async () => {
    await assert.rejects(kvs.entity('not-declared').query().index('by-key').getMany(), kvsError('INVALID_ENTITY_TYPE', 400));
  });

  test('limit 0 or 101: COMPLEX_QUERY_PAGE_LIMIT_NOT_IN_RANGE 400 (ref §4.2)', async () => {
    await assert.rejects(byTeamAge().limit(101).getMany(), kvsError('COMPLEX_QUERY_PAGE_LIMIT_NOT_IN_RANGE', 400));
    await assert.rejects(byTeamAge().limit(0).getMany(), kvsError('COMPLEX_QUERY_PAGE_LIMIT_NOT_IN_RANGE', 400));
  });

  test('a filter on an attribute declared `any` is 422 (ref §4.2, entities-api-query)', async () => {
    await assert.rejects(byTeamAge().filters(new Filter().and('extra', FilterConditions.exists())).getMany(), (err) => {
      assert.equal(err.responseDetails.status, 422, `${err.code}: ${err.message}`);
      return true;
    });
  });

  test('more than 100 conditions in one query are refused with 400 (ref §5)', async () => {
    let filter = new Filter();
    for (let i = 0; i < 101; i += 1) filter = filter.and('age', FilterConditions.notEqualTo(i + 1000));
    await assert.rejects(byTeamAge().filters(filter).getMany(), (err) => {
      assert.equal(err.responseDetails.status, 400, `${err.code}: ${err.message}`);
      return true;
    });
  });

  test('between with one value: INSUFFICIENT_FILTER_VALUES 400 (ref §4.2)', async () => {
    await assert.rejects(
      byTeamAge().where({ condition: 'BETWEEN', values: [1] }).getMany(),
      kvsError('INSUFFICIENT_FILTER_VALUES', 400)
    );
  });
});
