'use strict';
// The Forge function's storage code: @forge/kvs, exactly as it runs on Forge.
const { kvs } = require('@forge/kvs');

const DEFAULTS = { theme: 'light' };

async function loadSettings() {
  return (await kvs.get('settings')) ?? DEFAULTS;
}

// Forge answers 429 under load: try again after a short pause, three times at most.
async function saveTheme(theme, { attempts = 3, pauseMs = 10 } = {}) {
  for (let attempt = 1; ; attempt += 1) {
    try {
      await kvs.set('settings', { ...(await loadSettings()), theme });
      return;
    } catch (error) {
      if (attempt >= attempts || error.code !== 'RATE_LIMIT_EXCEEDED') throw error;
      await new Promise((resolve) => setTimeout(resolve, pauseMs));
    }
  }
}

module.exports = { DEFAULTS, loadSettings, saveTheme };
