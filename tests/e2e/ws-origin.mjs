// A small real origin for the WebSocket and streaming tests (websocket.test.mjs),
// run as its own process behind `wrangler dev`: it holds no session state, verifies
// the worker's `Edge-Session` assertion with `jose`, and records what reached it.
//
//   ORIGIN_PORT=8790 ORIGIN_SECRET=… node tests/e2e/ws-origin.mjs
//
// Routes:
//   POST /login?user=NAME   logs NAME in (answers Edge-Session-Set)
//   GET  /ws (upgrade)      WebSocket: first message is what the handshake carried
//                           ({sub, cookie}), then every message is echoed
//   GET  /events            server-sent events: `first` at once, `second` after
//                           EVENT_GAP_MS, then the stream ends
//   GET  /__seen            (asked directly, not through the worker) what reached
//                           this origin: every upgrade's path and headers
import http from 'node:http';
import { jwtVerify } from 'jose';
import { WebSocketServer } from 'ws';

const port = Number(process.env.ORIGIN_PORT);
const secret = new TextEncoder().encode(process.env.ORIGIN_SECRET ?? '');
const EVENT_GAP_MS = 3000;
const upgrades = [];

/** The verified assertion's subject, or null (none, or it does not verify). */
async function subject(req) {
  const token = req.headers['edge-session'];
  if (!token) return null;
  try {
    const { payload } = await jwtVerify(token, secret, {
      issuer: 'edge-session',
      audience: 'origin',
      algorithms: ['HS256'],
    });
    return payload.sub;
  } catch {
    return null;
  }
}

const server = http.createServer(async (req, res) => {
  const url = new URL(req.url, 'http://origin');
  if (url.pathname === '/__seen') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ upgrades }));
  } else if (url.pathname === '/login' && req.method === 'POST') {
    const sub = url.searchParams.get('user') ?? 'nobody';
    res.writeHead(200, { 'content-type': 'application/json', 'edge-session-set': JSON.stringify({ sub }) });
    res.end(JSON.stringify({ ok: true, sub }));
  } else if (url.pathname === '/events') {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
    res.write('data: first\n\n');
    setTimeout(() => res.end('data: second\n\n'), EVENT_GAP_MS);
  } else {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ path: url.pathname, sub: await subject(req) }));
  }
});

const wss = new WebSocketServer({ noServer: true });
server.on('upgrade', async (req, socket, head) => {
  upgrades.push({ path: req.url, headers: req.headers });
  const hello = { sub: await subject(req), cookie: req.headers.cookie ?? null };
  wss.handleUpgrade(req, socket, head, (ws) => {
    ws.send(JSON.stringify(hello));
    ws.on('message', (data) => ws.send(`echo: ${data}`));
  });
});

server.listen(port, '127.0.0.1', () => console.log(`ws-origin listening on ${port}`));
