// A Hono origin (on Node, through @hono/node-server) behind edge-session: no
// session state here, only the worker's verified claims (c.get('session')) and
// the response headers of the verbs.
//
//   ORIGIN_PORT=8788 ORIGIN_SECRET=… node hono-app.mjs     (HS256, the default)
//   ORIGIN_PORT=8788 JWKS_URL=https://your.site/_session/jwks.json node hono-app.mjs   (EdDSA)
//
// Routes: the same as express-app.mjs.
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { edgeSession, setSession, rotateSession, revokeSession, destroySession, revokeAll } from './edge-session.mjs';

const session = edgeSession(
  process.env.JWKS_URL ? { jwksUrl: process.env.JWKS_URL } : { secret: process.env.ORIGIN_SECRET },
);
const app = new Hono();
app.use(session.hono);

/** Answers 401 unless the request carries a session. */
const loggedIn = async (c, next) => (c.get('session') ? next() : c.json({ error: 'not_logged_in' }, 401));

app.post('/login', (c) => {
  const { user, name, ttl } = c.req.query();
  try {
    setSession(c, { sub: user, data: { name: name ?? user }, ttl: ttl === undefined ? undefined : Number(ttl) });
  } catch (err) {
    return c.json({ error: 'bad_login', message: err.message }, 400);
  }
  return c.json({ ok: true, sub: user });
});
app.get('/me', (c) => c.json({ session: c.get('session') }));
app.post('/rotate', loggedIn, (c) => {
  rotateSession(c);
  return c.json({ ok: true });
});
app.post('/logout', (c) => {
  revokeSession(c);
  return c.json({ ok: true });
});
app.post('/forget', (c) => {
  destroySession(c);
  return c.json({ ok: true });
});
app.post('/revoke-all', loggedIn, (c) => {
  revokeAll(c);
  return c.json({ ok: true });
});

const port = Number(process.env.ORIGIN_PORT || 8788);
serve({ fetch: app.fetch, port, hostname: '127.0.0.1' }, () =>
  console.log(`hono origin listening on http://127.0.0.1:${port}`),
);
