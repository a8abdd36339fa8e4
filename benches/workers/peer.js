// The JavaScript peer of edge-session for one cookie request, written the way a
// team would with Hono + jose: the session is a JWE (dir, A256GCM) in a cookie;
// open and check it, read the same two denylist keys from KV in one bulk read
// (`get([sid, user], "text")`, as edge-session does), mint
// the same HS256 `Edge-Session` assertion for the origin, strip the session
// cookie, proxy, and mark the answer private. Anonymous requests are proxied as is.
// DENYLIST_BINDING names the KV binding to read (default DENYLIST), as in edge-session.
import { Hono } from "hono";
import { getCookie } from "hono/cookie";
import { jwtDecrypt, SignJWT, base64url } from "jose";

const COOKIE = "__Host-session";
const LEEWAY = 60;
let keys;

async function importKeys(env) {
  const raw = base64url.decode(env.SESSION_KEY_B64);
  const session = await crypto.subtle.importKey("raw", raw, "AES-GCM", false, ["decrypt"]);
  const origin = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(env.ORIGIN_SECRET),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  return { session, origin };
}

async function authenticate(c) {
  const token = getCookie(c, COOKIE);
  if (!token) return null;
  const now = Math.floor(Date.now() / 1000);
  let claims;
  try {
    ({ payload: claims } = await jwtDecrypt(token, keys.session, { clockTolerance: LEEWAY }));
  } catch {
    return null;
  }
  if (typeof claims.sid !== "string" || typeof claims.sub !== "string") return null;
  if (typeof claims.ie !== "number" || claims.ie + LEEWAY < now) return null;
  const denylist = c.env[c.env.DENYLIST_BINDING ?? "DENYLIST"];
  const sidKey = `sid:${claims.sid}`;
  const userKey = `user:${claims.sub}`;
  const entries = await denylist.get([sidKey, userKey], "text");
  if (entries.get(sidKey) != null) return null;
  const byUser = entries.get(userKey);
  if (byUser != null) {
    let nbf;
    try {
      ({ nbf } = JSON.parse(byUser));
    } catch {
      return null;
    }
    if (!(claims.at > nbf)) return null;
  }
  return { claims, now };
}

const app = new Hono();
app.all("*", async (c) => {
  keys ??= await importKeys(c.env);
  const session = await authenticate(c);
  const url = new URL(c.req.url);
  const headers = new Headers(c.req.raw.headers);
  for (const name of [...headers.keys()]) {
    if (name.startsWith("edge-session")) headers.delete(name);
  }
  if (session) {
    const { claims, now } = session;
    const assertion = await new SignJWT({
      sub: claims.sub,
      sid: claims.sid,
      auth_time: claims.at,
      gen: claims.gen ?? 0,
      data: claims.d ?? {},
    })
      .setProtectedHeader({ alg: "HS256", typ: "JWT" })
      .setIssuer("edge-session")
      .setAudience("origin")
      .setIssuedAt(now)
      .setNotBefore(now)
      .setExpirationTime(now + 60)
      .sign(keys.origin);
    headers.set("edge-session", assertion);
    const rest = (headers.get("cookie") ?? "")
      .split(/;\s*/)
      .filter((pair) => pair && !pair.startsWith(`${COOKIE}=`) && !pair.startsWith(`${COOKIE}.`));
    if (rest.length) headers.set("cookie", rest.join("; "));
    else headers.delete("cookie");
  }
  const upstream = await fetch(c.env.ORIGIN_URL + url.pathname + url.search, {
    method: c.req.method,
    headers,
    body: c.req.raw.body,
    redirect: "manual",
  });
  if (!session) return upstream;
  const response = new Response(upstream.body, upstream);
  if (!/private|no-store/.test(response.headers.get("cache-control") ?? "")) {
    response.headers.set("cache-control", "private");
  }
  response.headers.append("vary", "Cookie");
  return response;
});

export default app;
