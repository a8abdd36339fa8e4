// An Express origin behind edge-session: no session state here, only the
// worker's verified claims (req.session) and the response headers of the verbs.
//
//   ORIGIN_PORT=8788 ORIGIN_SECRET=… node express-app.mjs     (HS256, the default)
//   ORIGIN_PORT=8788 JWKS_URL=https://your.site/_session/jwks.json node express-app.mjs   (EdDSA)
//
// Routes (through the worker):
//   POST /login?user=ID[&name=NAME][&ttl=SECONDS]  log in (setSession)
//   GET  /me          the verified claims, or null when anonymous
//   POST /rotate      new session id, same user and data (rotateSession)
//   POST /logout      sign out; copies of the cookie die too (revokeSession)
//   POST /forget      clear this browser's cookie only (destroySession)
//   POST /revoke-all  sign this user out everywhere (revokeAll)
import express from 'express';
import { edgeSession, setSession, rotateSession, revokeSession, destroySession, revokeAll } from './edge-session.mjs';

const session = edgeSession(
  process.env.JWKS_URL ? { jwksUrl: process.env.JWKS_URL } : { secret: process.env.ORIGIN_SECRET },
);
const app = express();
app.use(session.middleware);

/** Answers 401 unless the request carries a session. */
const loggedIn = (req, res, next) => (req.session ? next() : res.status(401).json({ error: 'not_logged_in' }));

app.post('/login', (req, res) => {
  const { user, name, ttl } = req.query;
  try {
    setSession(res, { sub: user, data: { name: name ?? user }, ttl: ttl === undefined ? undefined : Number(ttl) });
  } catch (err) {
    return res.status(400).json({ error: 'bad_login', message: err.message });
  }
  res.json({ ok: true, sub: user });
});
app.get('/me', (req, res) => res.json({ session: req.session }));
app.post('/rotate', loggedIn, (req, res) => {
  rotateSession(res);
  res.json({ ok: true });
});
app.post('/logout', (req, res) => {
  revokeSession(res);
  res.json({ ok: true });
});
app.post('/forget', (req, res) => {
  destroySession(res);
  res.json({ ok: true });
});
app.post('/revoke-all', loggedIn, (req, res) => {
  revokeAll(res);
  res.json({ ok: true });
});

const port = Number(process.env.ORIGIN_PORT || 8788);
app.listen(port, '127.0.0.1', () => console.log(`express origin listening on http://127.0.0.1:${port}`));
