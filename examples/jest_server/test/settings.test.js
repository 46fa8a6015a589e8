'use strict';
const { kvs } = require('@forge/kvs');
const { DEFAULTS, loadSettings, saveTheme } = require('../settings');

// The control API of the server (docs/server.md): reset, seed, faults, calls.
const control = (method, path, body) =>
  fetch(`${process.env.FORGE_STORAGE_URL}/_forge-storage/${path}`, {
    method,
    body: body === undefined ? undefined : JSON.stringify(body)
  }).then((r) => r.json());

beforeEach(async () => {
  await control('POST', 'reset'); // also forgets the calls and the planned faults
});

test('settings default until something is stored', async () => {
  expect(await loadSettings()).toEqual(DEFAULTS);
});

test('saveTheme keeps the other settings and writes once', async () => {
  await control('POST', 'seed', { kvs: { settings: { theme: 'light', lang: 'fr' } } });

  await saveTheme('dark');

  expect(await kvs.get('settings')).toEqual({ theme: 'dark', lang: 'fr' });
  const { calls } = await control('GET', 'calls?operation=set');
  expect(calls).toHaveLength(1);
  expect(calls[0].request).toEqual({ key: 'settings', value: { theme: 'dark', lang: 'fr' } });
});

test('saveTheme survives one rate limit', async () => {
  await control('POST', 'faults', { operation: 'set', code: 'RATE_LIMIT_EXCEEDED' });

  await saveTheme('dark');

  const { calls } = await control('GET', 'calls?operation=set');
  expect(calls.map((call) => call.status)).toEqual([429, 204]);
  expect(await loadSettings()).toEqual({ theme: 'dark' });
});

test('saveTheme gives up after three rate limits', async () => {
  await control('POST', 'faults', { operation: 'set', code: 'RATE_LIMIT_EXCEEDED', times: 3 });

  await expect(saveTheme('dark')).rejects.toMatchObject({ code: 'RATE_LIMIT_EXCEEDED' });
  expect(await loadSettings()).toEqual(DEFAULTS);
});

test('Forge rules hold: a key over 500 characters is refused', async () => {
  await expect(kvs.set('k'.repeat(501), 1)).rejects.toThrow();
  const { calls } = await control('GET', 'calls?operation=set');
  expect(calls[0].status).toBe(400);
});
