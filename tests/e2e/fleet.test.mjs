// A pool of three real demo origins behind real `wrangler dev` (ORIGINS, issue #17),
// under continuous load from a client holding a session:
// - spread: anonymous requests reach every origin; the session's requests all reach
//   one (stickiness is a preference, not a need: any origin serves it);
// - an origin killed under load: no failed request (a failed GET is retried once on
//   another origin, and the dead one is ejected after three failures);
// - an origin frozen (SIGSTOP) under load: no failed request and none slower than
//   ORIGIN_TIMEOUT plus a margin;
// - a rolling deploy: each origin in turn drained (`edge-session origins drain`),
//   restarted and undrained under load: no failed request, and the drained origin
//   answers nothing new once POOL_CACHE_TTL has passed;
// - every origin gone: JSON 502/504 within ORIGIN_TIMEOUT plus a margin, never 500,
//   while static assets are still served from KV; the session stays valid throughout.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startStack, freePort, generateSecrets, paths, ROOT } from './harness.mjs';
import { buildVariant, cli, kvArgs, publish } from './assets-site.mjs';

const TIMEOUT_S = 2;
const MARGIN_MS = 3000;
let stack;
let tmp;
let site;
const origins = []; // { port, proc }
let session;

/** Starts a demo origin on `port` (its own process group) and waits until it answers. */
async function startOrigin(port, secret) {
  const proc = spawn(paths.demoOrigin, [], {
    env: { ...process.env, ORIGIN_PORT: String(port), ORIGIN_SECRET: secret, WWW_DIR: path.join(ROOT, 'www') },
    stdio: 'ignore',
    detached: true,
  });
  for (let i = 0; i < 100; i++) {
    try {
      await (await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(1000) })).arrayBuffer();
      return proc;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`demo origin on ${port} did not start`);
}

const signal = (o, sig) => {
  try {
    process.kill(-o.proc.pid, sig);
  } catch {
    // already gone
  }
};

before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'edge-session-fleet-'));
  site = await buildVariant(tmp, 'fleet');
  const secrets = await generateSecrets();
  for (let i = 0; i < 3; i++) {
    const port = await freePort();
    origins.push({ port, proc: await startOrigin(port, secrets.ORIGIN_SECRET) });
  }
  const list = origins.map((o) => `http://127.0.0.1:${o.port}`).join(', ');
  const vars = { ORIGINS: list, ORIGIN_TIMEOUT: String(TIMEOUT_S), POOL_CACHE_TTL: '1', ORIGIN_SLOW_START: '1' };
  stack = await startStack({ origin: false, secrets, vars });
  const login = await fetch(`${stack.url}/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'fleet-user' }),
  });
  assert.equal(login.status, 200, await login.text());
  session = login.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
});
after(async () => {
  for (const o of origins) signal(o, 'SIGCONT');
  for (const o of origins) signal(o, 'SIGKILL');
  await stack?.stop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

/** One request: status, which origin answered, how long it took, the JSON body. */
async function hit(pathname, cookie = session) {
  const started = Date.now();
  const r = await fetch(stack.url + pathname, { headers: cookie ? { cookie } : {}, signal: AbortSignal.timeout(30_000) });
  const text = await r.text();
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: r.status, origin: r.headers.get('x-origin'), at: started, ms: Date.now() - started, json, text };
}

/** Runs `workers` loops of GET /api/me for `ms` while `during()` runs; every result. */
async function load(ms, during = async () => {}, workers = 4) {
  const results = [];
  const until = Date.now() + ms;
  const loops = Array.from({ length: workers }, async () => {
    while (Date.now() < until) results.push(await hit('/api/me'));
  });
  await Promise.all([...loops, during()]);
  return results;
}

const failures = (rs) => rs.filter((r) => r.status !== 200 || r.json?.sub !== 'fleet-user');

test('spread: anonymous requests reach every origin, a session keeps to one', async () => {
  const seen = new Set();
  for (let i = 0; i < 60; i++) seen.add((await hit('/api/public', '')).origin);
  assert.equal(seen.size, 3, `anonymous requests reached ${[...seen]}`);
  const mine = new Set();
  for (let i = 0; i < 20; i++) {
    const r = await hit('/api/me');
    assert.equal(r.status, 200, r.text);
    mine.add(r.origin);
  }
  assert.equal(mine.size, 1, `one session, one origin while all are healthy: ${[...mine]}`);
});

test('an origin killed under load: no failed request, the session moves on', async () => {
  const home = (await hit('/api/me')).origin;
  const victim = origins.find((o) => home.endsWith(`:${o.port}`));
  const results = await load(4000, async () => {
    await new Promise((r) => setTimeout(r, 1000));
    signal(victim, 'SIGKILL');
  });
  assert.deepEqual(failures(results).map((r) => `${r.status} ${r.text.slice(0, 80)}`), []);
  const after = results.slice(-20).map((r) => r.origin);
  assert.ok(after.every((o) => o !== home), `no request answered by the dead origin at the end: ${after}`);
  assert.match(stack.output(), /ejected after 3 failures in a row|retrying GET \/api\/me/);
  victim.proc = await startOrigin(victim.port, stack.secrets.ORIGIN_SECRET);
});

test('an origin frozen under load: no failed request, none slower than ORIGIN_TIMEOUT plus a margin', async () => {
  const home = (await hit('/api/me')).origin;
  const victim = origins.find((o) => home.endsWith(`:${o.port}`));
  try {
    const results = await load(6000, async () => {
      await new Promise((r) => setTimeout(r, 1000));
      signal(victim, 'SIGSTOP');
    });
    assert.deepEqual(failures(results).map((r) => `${r.status} ${r.text.slice(0, 80)}`), []);
    const slowest = Math.max(...results.map((r) => r.ms));
    assert.ok(slowest < TIMEOUT_S * 1000 + MARGIN_MS, `slowest request ${slowest} ms`);
  } finally {
    signal(victim, 'SIGCONT');
  }
});

test('a rolling deploy: drain, restart and undrain each origin under load, no failed request', async () => {
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const urlOf = (o) => `http://127.0.0.1:${o.port}`;
  const marks = [];
  const drains = [];
  const results = await load(3 * 9000, async () => {
    for (const o of origins) {
      await cli(['origins', 'drain', urlOf(o), ...kvArgs(stack)]);
      // POOL_CACHE_TTL is 1 s, but once (fresh clone, under this load) the drain took
      // longer to show (cause not found yet; a local KV read failing next to the
      // one-shot that wrote is a suspect): wait until 10 anonymous requests in a row
      // avoid the origin, at most 10 s (the documented bound: POOL_CACHE_TTL at most
      // 10 s, plus KV propagation), then check nothing new reaches it.
      const drainedAt = Date.now();
      for (let clear = 0; clear < 10; ) {
        assert.ok(Date.now() - drainedAt < 10_000, `origin ${o.port} still answered 10 s after its drain`);
        clear = (await hit('/api/public', '')).origin?.endsWith(`:${o.port}`) ? 0 : clear + 1;
      }
      drains.push(Date.now() - drainedAt);
      await sleep(500);
      marks.push({ port: o.port, from: Date.now() });
      await sleep(1500);
      signal(o, 'SIGKILL');
      o.proc = await startOrigin(o.port, stack.secrets.ORIGIN_SECRET);
      marks.at(-1).to = Date.now();
      await cli(['origins', 'undrain', urlOf(o), ...kvArgs(stack)]);
      await sleep(1500);
    }
  });
  console.error(`# drains took effect after ${drains.join(', ')} ms`);
  assert.deepEqual(failures(results).map((r) => `${r.status} ${r.text.slice(0, 80)}`), []);
  for (const m of marks) {
    // A request that started after the drain took effect, while the origin was down.
    const stray = results.filter((r) => r.at >= m.from && r.at <= m.to && r.origin?.endsWith(`:${m.port}`));
    assert.deepEqual(stray.map((r) => r.origin), [], `origin ${m.port} answered while drained`);
  }
  const spread = new Set();
  for (let i = 0; i < 60; i++) spread.add((await hit('/api/public', '')).origin);
  assert.equal(spread.size, 3, `every origin takes requests again: ${[...spread]}`);
  assert.match(await cli(['origins', 'list', ...kvArgs(stack)]), /undrained/);
});

test('every origin gone: JSON 502/504 within the timeout, assets still served, the session intact', async () => {
  await publish(stack, site.dir, 'fleet');
  for (const o of origins) signal(o, 'SIGKILL');
  await new Promise((r) => setTimeout(r, 200));
  for (let i = 0; i < 5; i++) {
    const r = await hit('/api/me');
    assert.ok([502, 504].includes(r.status), `${r.status} ${r.text}`);
    assert.ok(['origin_unreachable', 'origin_timeout'].includes(r.json?.error), r.text);
    assert.ok(r.ms < TIMEOUT_S * 2000 + MARGIN_MS, `answered after ${r.ms} ms`);
  }
  const asset = await hit(site.app);
  assert.equal(asset.status, 200, 'static assets come from KV without any origin');
  // One origin back: the same session cookie works again.
  origins[0].proc = await startOrigin(origins[0].port, stack.secrets.ORIGIN_SECRET);
  let back;
  for (let i = 0; i < 40; i++) {
    back = await hit('/api/me');
    if (back.status === 200) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  assert.equal(back.status, 200, back.text);
  assert.equal(back.json.sub, 'fleet-user', 'the session survived every origin');
});
