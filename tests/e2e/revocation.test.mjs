// Revocation end to end: the CLI writing the local KV of a live `wrangler dev`,
// `denylist list`, the admin endpoint, and the strongly consistent Durable Object mode.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startStack, paths, ROOT } from './harness.mjs';
import { Client } from './client.mjs';

const run = promisify(execFile);

async function cli(stack, args) {
  const local = ['--local', '--persist-to', stack.persistTo, '--config', paths.wranglerToml];
  const out = await run(paths.cli, [...args, ...local], { cwd: ROOT, maxBuffer: 4 << 20 });
  // Retried one-shots ("trying again") show in the end-to-end summary.
  if (out.stderr.trim()) console.error(out.stderr.trim());
  return out;
}

async function withStack(options, fn) {
  const stack = await startStack(options);
  try { await fn(stack); } finally { await stack.stop(); }
}

test('CLI revoke --sid and --user --local take effect; denylist list shows expiries', async () => {
  await withStack({}, async (stack) => {
    const a = new Client(stack.url);
    const b = new Client(stack.url);
    const other = new Client(stack.url);
    await a.login('judy');
    await b.login('judy');
    await other.login('mallory');
    const sid = (await a.fetch('/api/me')).json.sid;

    const out = await cli(stack, ['revoke', '--sid', sid]);
    assert.match(out.stdout, new RegExp(`revoked session ${sid}`));
    assert.equal((await a.fetch('/api/me')).status, 401, 'revoked sid is anonymous');
    assert.equal((await b.fetch('/api/me')).status, 200, 'the other session of the user lives');

    await cli(stack, ['revoke', '--user', 'judy']);
    assert.equal((await b.fetch('/api/me')).status, 401, 'user signed out everywhere');
    assert.equal((await other.fetch('/api/me')).status, 200, 'other users unaffected');

    const list = await cli(stack, ['denylist', 'list']);
    assert.match(list.stdout, new RegExp(`sid:${sid}\\s+\\d{4}-\\d\\d-\\d\\d`));
    assert.match(list.stdout, /user:judy\s+\d{4}-\d\d-\d\d/);

    await assert.rejects(cli(stack, ['revoke', '--sid', 'not-a-sid']), /not a session id/);
  });
});

test('admin endpoint: off without ADMIN_TOKEN, constant-time token check, revokes users', async () => {
  await withStack({}, async (stack) => {
    const r = await fetch(stack.url + '/_session/admin/revoke?user=x', { method: 'POST' });
    assert.equal(r.status, 404);
    await r.text();
  });
  const token = 'admin-token-for-the-e2e-test-0123456789';
  const secrets = await (await import('./harness.mjs')).generateSecrets();
  await withStack({ secrets: { ...secrets, ADMIN_TOKEN: token } }, async (stack) => {
    const c = new Client(stack.url);
    await c.login('kim');
    const bad = await fetch(stack.url + '/_session/admin/revoke?user=kim', {
      method: 'POST', headers: { authorization: 'Bearer wrong-token' },
    });
    assert.equal(bad.status, 401);
    await bad.text();
    assert.equal((await c.fetch('/api/me')).status, 200);
    const ok = await fetch(stack.url + '/_session/admin/revoke?user=kim', {
      method: 'POST', headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(ok.status, 200, await ok.text());
    assert.equal((await c.fetch('/api/me')).status, 401);
  });
});

test('Durable Object mode: revocation holds even where KV has not caught up', async () => {
  await withStack({ vars: { STRONG_REVOCATION_PATHS: '*' } }, async (stack) => {
    const c = new Client(stack.url);
    await c.login('liam');
    const copy = c.cookieHeader();
    const sid = (await c.fetch('/api/me')).json.sid;
    assert.equal((await c.fetch('/_session/logout', { method: 'POST' })).status, 200);
    // Simulate KV's propagation window: the entry is missing from KV…
    await stack.wrangler(['kv', 'key', 'delete', `sid:${sid}`, '--binding', 'DENYLIST']);
    const listed = await stack.wrangler(['kv', 'key', 'list', '--binding', 'DENYLIST']);
    assert.ok(!listed.stdout.includes(`sid:${sid}`), 'KV no longer has the entry');
    // …yet the Durable Object, read on every request in this mode, still refuses the copy.
    const replay = await new Client(stack.url).fetch('/api/me', { cookie: copy });
    assert.equal(replay.status, 401, 'revoked immediately through the Durable Object');
  });
  // Control: without the strong mode the same deletion resurrects the copy, so the
  // test above really exercises the Durable Object.
  await withStack({}, async (stack) => {
    const c = new Client(stack.url);
    await c.login('liam');
    const copy = c.cookieHeader();
    const sid = (await c.fetch('/api/me')).json.sid;
    await c.fetch('/_session/logout', { method: 'POST' });
    await stack.wrangler(['kv', 'key', 'delete', `sid:${sid}`, '--binding', 'DENYLIST']);
    assert.equal((await new Client(stack.url).fetch('/api/me', { cookie: copy })).status, 200);
  });
});
