'use strict';
// The legacy `storage` export of @forge/api@7.2.2 (@forge/storage@2.0.3 over GraphQL,
// ref §12, §14.2, §14.5, decision 12).
const { describe, test, before } = require('node:test');
const assert = require('node:assert/strict');
const { uid, raw, graphqlPath } = require('../lib/helpers.js');
const { storage, startsWith, WhereConditions, FilterConditions, SortOrder } = require('@forge/api');
const { APIError } = require('@forge/storage');
const { kvs } = require('@forge/kvs');

async function listAll(prefix, limit) {
  const pages = [];
  let cursor;
  for (;;) {
    let query = storage.query().where('key', startsWith(prefix));
    if (limit !== undefined) query = query.limit(limit);
    if (cursor !== undefined) query = query.cursor(cursor);
    const page = await query.getMany();
    pages.push(page);
    if (page.nextCursor === undefined) return pages;
    cursor = page.nextCursor;
    assert.ok(pages.length < 50, 'pagination must end');
  }
}

describe('legacy storage: values', () => {
  test('set/get/delete (ref §14.2)', async () => {
    const key = uid('legacy');
    assert.equal(await storage.set(key, { a: [1, 2] }), undefined);
    assert.deepEqual(await storage.get(key), { a: [1, 2] });
    assert.equal(await storage.delete(key), undefined);
    assert.equal(await storage.get(key), undefined);
  });

  test('get of a missing key returns undefined ({value: null}, ref §14.5 #1)', async () => {
    assert.equal(await storage.get(uid('legacy')), undefined);
  });

  test('delete of a missing key resolves', async () => {
    await storage.delete(uid('legacy'));
  });

  for (const [label, value] of [
    ['zero', 0],
    ['false', false],
    ['empty string', ''],
    ['string', 'hello world']
  ]) {
    test(`value round-trips: ${label} (ref §14.5 #9)`, async () => {
      const key = uid('legacy');
      await storage.set(key, value);
      assert.deepEqual(await storage.get(key), value);
    });
  }

  test('REST and GraphQL share one store (decision 12)', async () => {
    const key = uid('shared');
    await storage.set(key, 'from graphql');
    assert.equal(await kvs.get(key), 'from graphql');
    await kvs.set(key, 'from rest');
    assert.equal(await storage.get(key), 'from rest');
  });

  test('getSecret/setSecret/deleteSecret, separate from plain values (ref §12.3)', async () => {
    const key = uid('legacy');
    await storage.setSecret(key, { token: 't0k3n' });
    assert.equal(await storage.get(key), undefined);
    assert.deepEqual(await storage.getSecret(key), { token: 't0k3n' });
    assert.deepEqual(await kvs.getSecret(key), { token: 't0k3n' });
    await storage.deleteSecret(key);
    assert.equal(await storage.getSecret(key), undefined);
  });

  test('an invalid key rejects with APIError (mutation payload errors, ref §12.1)', async () => {
    await assert.rejects(storage.set('bad/key', 1), (err) => {
      assert.ok(err instanceof APIError, String(err && err.stack));
      assert.ok(err.message.length > 0);
      return true;
    });
  });

  test('an invalid key on get rejects with APIError (field error, ref §12.1)', async () => {
    await assert.rejects(storage.get(''), APIError);
  });

  test('a null value rejects with APIError (ref §12.1: null is a validation error)', async () => {
    await assert.rejects(storage.set(uid('legacy'), null), APIError);
  });
});

describe('legacy storage: query', () => {
  const prefix = `${uid('lq')}.`;
  const keys = ['a', 'b', 'c', 'd', 'e'].map((s) => prefix + s);

  before(async () => {
    for (const [i, key] of keys.entries()) await storage.set(key, i);
  });

  test('where(key, startsWith) pages by the last edge cursor until an empty page (ref §14.5 #4)', async () => {
    const pages = await listAll(prefix, 2);
    assert.deepEqual(
      pages.map((p) => p.results.map((r) => r.key)),
      [keys.slice(0, 2), keys.slice(2, 4), keys.slice(4), []]
    );
    assert.deepEqual(pages[0].results[0], { key: keys[0], value: 0 });
  });

  test('default page size without limit (variables arrive as explicit nulls, ref §12.4)', async () => {
    const pages = await listAll(prefix);
    assert.deepEqual(pages.flatMap((p) => p.results.map((r) => r.value)), [0, 1, 2, 3, 4]);
  });

  test('getOne returns the first match', async () => {
    assert.deepEqual(await storage.query().where('key', startsWith(prefix)).getOne(), { key: keys[0], value: 0 });
  });

  test('secrets are not listed (decision 3)', async () => {
    const base = `${uid('lq')}.`;
    await storage.set(`${base}plain`, 1);
    await storage.setSecret(`${base}secret`, 2);
    const pages = await listAll(base);
    assert.deepEqual(pages.flatMap((p) => p.results.map((r) => r.key)), [`${base}plain`]);
  });

  test('a limit over 20 rejects with APIError (decision 12)', async () => {
    await assert.rejects(storage.query().where('key', startsWith(prefix)).limit(21).getMany(), APIError);
  });

  test('a limit of 20 is accepted (decision 12)', async () => {
    const { results } = await storage.query().where('key', startsWith(prefix)).limit(20).getMany();
    assert.equal(results.length, 5);
  });
});

describe('legacy storage: custom entities', () => {
  const team = uid('lteam');
  const people = [
    ['l1', 'Ann', 'f', 22],
    ['l2', 'Ben', 'm', 33],
    ['l3', 'Cat', 'f', 44],
    ['l4', 'Dan', 'm', 55],
    ['l5', 'Eva', 'f', 66]
  ];
  const key = (k) => `${team}.${k}`;

  before(async () => {
    for (const [k, name, gender, age] of people) {
      await storage.entity('employee').set(key(k), { name, team, gender, age });
    }
  });

  test('entity set/get/delete (ref §12.3)', async () => {
    const k = uid('lent');
    const entity = storage.entity('employee');
    assert.equal(await entity.set(k, { name: 'Zoe', age: 9 }), undefined);
    assert.deepEqual(await entity.get(k), { name: 'Zoe', age: 9 });
    assert.deepEqual(await kvs.entity('employee').get(k), { name: 'Zoe', age: 9 });
    await entity.delete(k);
    assert.equal(await entity.get(k), undefined);
  });

  test('entity get of a missing key returns undefined', async () => {
    assert.equal(await storage.entity('employee').get(uid('lent')), undefined);
  });

  test('entity set with a wrong type rejects with APIError (decision 9)', async () => {
    await assert.rejects(storage.entity('employee').set(uid('lent'), { age: 'old' }), APIError);
  });

  test('query with partition, range, filter and sort; cursor || null on the last page (ref §14.5 #5)', async () => {
    const query = () =>
      storage
        .entity('employee')
        .query()
        .index('by-team-age', { partition: [team] })
        .where(WhereConditions.isGreaterThan(30))
        .andFilter('gender', FilterConditions.equalsTo('f'))
        .sort(SortOrder.DESC);
    const first = await query().limit(1).getMany();
    assert.deepEqual(first.results, [{ key: key('l5'), value: { name: 'Eva', team, gender: 'f', age: 66 } }]);
    assert.equal(typeof first.nextCursor, 'string');
    const names = first.results.map((r) => r.value.name);
    let cursor = first.nextCursor;
    while (cursor) {
      const page = await query().limit(1).cursor(cursor).getMany();
      names.push(...page.results.map((r) => r.value.name));
      cursor = page.nextCursor;
    }
    assert.equal(cursor, null);
    assert.deepEqual(names, ['Eva', 'Cat']);
  });

  test('query by-key with beginsWith, paginated to the end', async () => {
    const keys = [];
    let cursor;
    do {
      let query = storage.entity('employee').query().index('by-key').where(WhereConditions.beginsWith(`${team}.`)).limit(2);
      if (cursor) query = query.cursor(cursor);
      const page = await query.getMany();
      keys.push(...page.results.map((r) => r.key));
      cursor = page.nextCursor;
    } while (cursor);
    assert.deepEqual(keys, people.map(([k]) => key(k)));
  });

  test('orFilter and between (ref §12.4 conditions)', async () => {
    const { results } = await storage
      .entity('employee')
      .query()
      .index('by-team-age', { partition: [team] })
      .where(WhereConditions.between([30, 60]))
      .orFilter('name', FilterConditions.equalsTo('Ben'))
      .orFilter('name', FilterConditions.equalsTo('Dan'))
      .getMany();
    assert.deepEqual(results.map((r) => r.value.name), ['Ben', 'Dan']);
  });

  test('getOne on an entity query', async () => {
    const one = await storage.entity('employee').query().index('by-team-age', { partition: [team] }).getOne();
    assert.equal(one.value.name, 'Ann');
  });
});

describe('legacy storage: GraphQL wire details', () => {
  const GET = 'query forge_app_getApplicationStorageEntity($key: ID!, $encrypted: Boolean!) { appStoredEntity(key: $key, encrypted: $encrypted) { key value } }';
  const SET =
    'mutation forge_app_setApplicationStorageEntity($input: SetAppStoredEntityMutationInput!) { appStorage { setAppStoredEntity(input: $input) { success errors { message extensions { errorType statusCode } } } } }';

  test('a missing key is {value: null}, not a null field (ref §14.5 #1)', async () => {
    const k = uid('wire');
    const { status, body } = await raw(graphqlPath(), { query: GET, variables: { key: k, encrypted: false } });
    assert.equal(status, 200);
    assert.deepEqual(body.data.appStoredEntity, { key: k, value: null });
    assert.equal(body.errors, undefined);
  });

  test('a successful mutation is {success: true, errors: null} (decision 12)', async () => {
    const { body } = await raw(graphqlPath(), { query: SET, variables: { input: { key: uid('wire'), value: 1, encrypted: false } } });
    assert.deepEqual(body.data.appStorage.setAppStoredEntity, { success: true, errors: null });
  });

  test('mutation payload errors carry extensions.errorType and statusCode (ref §14.5 #2)', async () => {
    const { status, body } = await raw(graphqlPath(), { query: SET, variables: { input: { key: 'bad@key', value: 1 } } });
    assert.equal(status, 200);
    const payload = body.data.appStorage.setAppStoredEntity;
    assert.equal(payload.success, false);
    assert.equal(payload.errors[0].extensions.errorType, 'INVALID_KEY');
    assert.equal(payload.errors[0].extensions.statusCode, 400);
  });

  test('field errors carry extensions, with data.appStoredEntity null (ref §12.1)', async () => {
    const { status, body } = await raw(graphqlPath(), { query: GET, variables: { key: '', encrypted: false } });
    assert.equal(status, 200);
    assert.equal(body.data.appStoredEntity, null);
    assert.equal(body.errors[0].extensions.errorType, 'KEY_TOO_SHORT');
    assert.equal(body.errors[0].extensions.statusCode, 400);
    assert.deepEqual(body.errors[0].path, ['appStoredEntity']);
  });

  test('malformed GraphQL is HTTP 400, its errors with extensions too (decision 12)', async () => {
    for (const query of ['{ appStoredEntity(', '{ appStoredEntity(key: "k") { nope } }']) {
      const { status, body } = await raw(graphqlPath(), { query });
      assert.equal(status, 400, query);
      assert.ok(body.errors.length > 0, query);
      for (const error of body.errors) {
        assert.equal(typeof error.message, 'string');
        assert.equal(typeof error.extensions.errorType, 'string', JSON.stringify(error));
        assert.equal(error.extensions.statusCode, 400, JSON.stringify(error));
      }
    }
  });

  test('without a token: HTTP 401 and the SDK reports "Authentication error" (ref §12.1)', async () => {
    const response = await fetch(`${require('../shim.js').BASE}${graphqlPath()}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: GET, variables: { key: 'k', encrypted: false } })
    });
    assert.equal(response.status, 401);
    await response.arrayBuffer();
  });

  test('docs-style list (ref §12.5): contextAri, where as one object, first/after, pageInfo', async () => {
    const prefix = `${uid('docs')}.`;
    await storage.set(`${prefix}1`, 'one');
    await storage.set(`${prefix}2`, 'two');
    const query =
      'query forge_app_queryExample($contextAri: ID!, $where: [AppStoredEntityFilter!]!, $first: Int!, $after: String) { appStoredEntities(contextAri: $contextAri, where: $where, first: $first, after: $after) { edges { node { value key } cursor } pageInfo { hasNextPage } } }';
    const variables = {
      contextAri: 'ari:cloud:confluence::site/1234',
      where: { field: 'key', condition: 'STARTS_WITH', value: prefix },
      first: 1,
      encrypted: false
    };
    const first = await raw(graphqlPath(), { query, variables });
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.equal(first.body.errors, undefined, JSON.stringify(first.body.errors));
    const page = first.body.data.appStoredEntities;
    assert.deepEqual(page.edges.map((e) => e.node), [{ value: 'one', key: `${prefix}1` }]);
    assert.equal(page.pageInfo.hasNextPage, true);
    const second = await raw(graphqlPath(), { query, variables: { ...variables, after: page.edges[0].cursor } });
    const next = second.body.data.appStoredEntities;
    assert.deepEqual(next.edges.map((e) => e.node.key), [`${prefix}2`]);
    assert.equal(next.pageInfo.hasNextPage, false);
  });

  test('docs-style set and get with contextAri (ref §12.5, decision 12)', async () => {
    const key = uid('docs');
    const set = await raw(graphqlPath(), {
      query: SET,
      variables: { input: { contextAri: 'ari:cloud:confluence::site/1234', key, value: 'hello world', encrypted: false } }
    });
    assert.deepEqual(set.body.data.appStorage.setAppStoredEntity, { success: true, errors: null });
    const get = await raw(graphqlPath(), {
      query:
        'query forge_app_getExample($contextAri: ID!, $key: ID!, $encrypted: Boolean!) { appStoredEntity( contextAri: $contextAri, key: $key, encrypted: $encrypted ) { value } }',
      variables: { contextAri: 'ari:cloud:confluence::site/1234', key, encrypted: false }
    });
    assert.deepEqual(get.body, { data: { appStoredEntity: { value: 'hello world' } } });
  });

  test('@forge/storage@1.5.15 entity get with contextAri (ref §12.4)', async () => {
    const key = uid('docs');
    await kvs.entity('employee').set(key, { name: 'Old' });
    const response = await raw(graphqlPath(), {
      query:
        'query forge_app_getApplicationStorageCustomEntity ($contextAri: ID!, $key: ID!, $entityName: String!) { appStoredCustomEntity(contextAri: $contextAri, key: $key, entityName: $entityName) { value entityName key } }',
      variables: { contextAri: 'ari:cloud:jira::site/1234', entityName: 'employee', key }
    });
    assert.deepEqual(response.body, {
      data: { appStoredCustomEntity: { value: { name: 'Old' }, entityName: 'employee', key } }
    });
  });

  test('a bare list query with no arguments works (ref §14.5 #11)', async () => {
    const response = await raw(graphqlPath(), { query: '{ appStoredEntities { edges { node { key value } cursor } } }' });
    assert.equal(response.status, 200);
    assert.equal(response.body.errors, undefined, JSON.stringify(response.body.errors));
    assert.ok(Array.isArray(response.body.data.appStoredEntities.edges));
  });

  test('__typename, fragments and aliases work as against Forge (design §2.4)', async () => {
    const a = uid('alias');
    const b = uid('alias');
    await storage.set(a, 'A');
    const response = await raw(graphqlPath(), {
      query:
        'query Two($a: ID!, $b: ID!) { first: appStoredEntity(key: $a, encrypted: false) { __typename ...F } second: appStoredEntity(key: $b, encrypted: false) { value } } fragment F on AppStoredEntity { key value }',
      variables: { a, b }
    });
    assert.deepEqual(response.body, {
      data: { first: { __typename: 'AppStoredEntity', key: a, value: 'A' }, second: { value: null } }
    });
  });

  test('the X-ExperimentalApi header is accepted (ref §12.1)', async () => {
    const response = await raw(
      graphqlPath(),
      { query: GET, variables: { key: uid('hdr'), encrypted: false } },
      { 'X-ExperimentalApi': 'AppEntityStorage' }
    );
    assert.equal(response.status, 200);
  });
});
