// Smoke test of the end-to-end plumbing: a stack (demo origin + worker under
// wrangler dev with local KV) starts, the worker answers GET /, the stack's
// local KV is reachable with wrangler, and stop() frees the ports.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, test } from 'node:test';
import { startStack } from './harness.mjs';

let stack;
before(async () => {
  stack = await startStack();
});
after(async () => {
  await stack?.stop();
});

test('GET / through the worker answers without a server error', async () => {
  const res = await fetch(`${stack.url}/`, { redirect: 'manual' });
  const body = await res.text();
  assert.ok(res.status < 500, `GET / gave ${res.status}: ${body.slice(0, 500)}\n${stack.output()}`);
});

test('the demo origin answers on its own port', async () => {
  const res = await fetch(`${stack.originUrl}/`, { redirect: 'manual' });
  await res.arrayBuffer();
  assert.ok(res.status < 500, `origin GET / gave ${res.status}`);
});

test("the stack's local KV is reachable with wrangler", async () => {
  const key = `smoke-${process.pid}`;
  await stack.wrangler(['kv', 'key', 'put', key, 'v1', '--binding', 'DENYLIST']);
  const { stdout } = await stack.wrangler(['kv', 'key', 'get', key, '--binding', 'DENYLIST', '--text']);
  assert.equal(stdout.trim(), 'v1');
});

test('stop() ends the servers', async () => {
  const { port, originPort } = stack;
  await stack.stop();
  stack = undefined;
  for (const p of [port, originPort]) {
    const open = await new Promise((resolve) => {
      const s = net.connect(p, '127.0.0.1');
      s.on('connect', () => (s.destroy(), resolve(true)));
      s.on('error', () => resolve(false));
    });
    assert.equal(open, false, `port ${p} still accepts connections after stop()`);
  }
});
