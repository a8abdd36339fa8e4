// `edge-session doctor` (issue #18) on the repository's own wrangler.toml, as a new
// user runs it: fresh secrets in a .dev.vars-style file pass (the placeholder KV ids
// are a note); for `wrangler deploy` they are problems (exit 3); a risky setting is
// named in plain words; no secret value is ever printed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { generateSecrets, paths, ROOT } from './harness.mjs';

const run = async (args) => {
  try {
    const { stdout } = await promisify(execFile)(paths.cli, ['doctor', '--config', paths.wranglerToml, ...args], { cwd: ROOT });
    return { code: 0, out: stdout };
  } catch (e) {
    return { code: e.code, out: `${e.stdout}${e.stderr}` };
  }
};

test('doctor: ready for wrangler dev, not for deploy, and says why', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'edge-session-doctor-'));
  try {
    const secrets = await generateSecrets();
    const file = path.join(dir, 'secrets.vars');
    await writeFile(file, Object.entries(secrets).map(([k, v]) => `${k}=${v}`).join('\n'));
    const dev = await run(['--secrets', file]);
    assert.equal(dev.code, 0, dev.out);
    assert.match(dev.out, /note +kv_namespaces: `ASSETS` has the placeholder id/);
    assert.match(dev.out, /^ok: 0 problem\(s\), 0 risk\(s\)/m);
    const deploy = await run(['--secrets', file, '--deploy', '--var', 'REVOCATION_FAIL_MODE:open']);
    assert.equal(deploy.code, 3, deploy.out);
    assert.match(deploy.out, /problem +kv_namespaces: `DENYLIST` has the placeholder id/);
    assert.match(deploy.out, /risk +REVOCATION_FAIL_MODE: is open/);
    const broken = await run(['--secrets', file, '--var', 'TOKEN_AUDIENCE:origin']);
    assert.equal(broken.code, 3, broken.out);
    assert.match(broken.out, /problem +settings: the worker would answer every request with 500: .*TOKEN_AUDIENCE/);
    for (const r of [dev, deploy, broken]) {
      for (const value of Object.values(secrets)) assert.ok(!r.out.includes(value), 'no secret in the output');
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
