'use strict';
// Jest globalSetup and globalTeardown: one `forge-storage-fake serve` for the whole run.
// FORGE_STORAGE_FAKE names the command (default: forge-storage-fake on the PATH).
const { spawn } = require('node:child_process');
const readline = require('node:readline');

module.exports = async function server() {
  if (globalThis.__forgeStorageServer__) {
    globalThis.__forgeStorageServer__.kill('SIGTERM'); // teardown
    return;
  }
  const command = process.env.FORGE_STORAGE_FAKE || 'forge-storage-fake';
  const child = spawn(command, ['serve', '--port', '0', '--quiet'], {
    stdio: ['ignore', 'pipe', 'inherit']
  });
  const url = await new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`${command} exited with ${code}`)));
    // The first line is "forge-storage-fake serving on http://127.0.0.1:PORT".
    readline.createInterface({ input: child.stdout }).once('line', (line) => {
      const found = / serving on (\S+)/.exec(line);
      if (found) resolve(found[1]);
      else reject(new Error(`unexpected first line from ${command}: ${line}`));
    });
  });
  child.stdout.resume(); // keep reading what it prints, so it never blocks
  globalThis.__forgeStorageServer__ = child;
  process.env.FORGE_STORAGE_URL = url;
};
