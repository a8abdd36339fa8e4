// Per-operation timings inside workerd: edge-session's Rust functions (the
// `benches/ops` crate through wasm-bindgen) beside jose and iron-session doing the
// same job on the same claims. GET /run?impl=rust|jose|iron&op=…&bytes=…&ring=…&iters=…
// answers {"ns_per_op": …, "ok": …} for one loop timed with performance.now()
// (wall clock). The caller warms up with a first request and can charge the
// workerd process's CPU time over the request instead (see benches/bench.mjs).
import { initSync, Bench } from "ops-glue";
import opsWasm from "./ops_bg.wasm";
import { EncryptJWT, jwtDecrypt, SignJWT, jwtVerify, base64url } from "jose";
import { sealData, unsealData } from "iron-session";

initSync({ module: opsWasm });

const NOW = 1_700_000_000;
const NOW_DATE = new Date(NOW * 1000);
const LEEWAY = 60;
const IRON_PASSWORD = "bench-iron-password-of-at-least-32-characters";
// The bearer-token key of the Rust fixture (`key_bytes(100)` in benches/ops).
const JWT_KEY = Uint8Array.from({ length: 32 }, (_, b) => (b * 31 + 100 + 7) & 0xff);
const AES_KEY = Uint8Array.from({ length: 32 }, (_, b) => (b * 17 + 3) & 0xff);

const fixtures = new Map();

async function fixture(bytes, ring) {
  const id = `${bytes}/${ring}`;
  if (fixtures.has(id)) return fixtures.get(id);
  const rust = new Bench(bytes, ring);
  const claims = JSON.parse(rust.claims_json());
  const token = rust.token();
  const tokenClaims = JSON.parse(new TextDecoder().decode(base64url.decode(token.split(".")[1])));
  const aes = await crypto.subtle.importKey("raw", AES_KEY, "AES-GCM", false, ["encrypt", "decrypt"]);
  const hmac = await crypto.subtle.importKey(
    "raw",
    JWT_KEY,
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign", "verify"],
  );
  const jweSeal = () =>
    new EncryptJWT(claims).setProtectedHeader({ alg: "dir", enc: "A256GCM" }).encrypt(aes);
  const jwe = await jweSeal();
  const iron = await sealData(claims, { password: IRON_PASSWORD });
  const f = { rust, claims, token, tokenClaims, aes, hmac, jwe, jweSeal, iron };
  fixtures.set(id, f);
  return f;
}

// Session checks beyond what the libraries do: idle expiry and the subject.
const current = (c) => typeof c.sub === "string" && c.ie + LEEWAY >= NOW && c.exp + LEEWAY >= NOW;

const js = {
  jose: {
    async open(f, sealed = f.jwe) {
      const { payload } = await jwtDecrypt(sealed, f.aes, {
        currentDate: NOW_DATE,
        clockTolerance: LEEWAY,
      });
      return current(payload);
    },
    async seal(f) {
      return (await f.jweSeal()).length > 40;
    },
    async seal_open(f) {
      return js.jose.open(f, await f.jweSeal());
    },
    async jwt_verify(f) {
      const { payload } = await jwtVerify(f.token, f.hmac, {
        issuer: "edge-session",
        audience: "api",
        algorithms: ["HS256"],
        currentDate: NOW_DATE,
        clockTolerance: LEEWAY,
      });
      return payload.sub === f.claims.sub;
    },
    async jwt_mint(f) {
      const t = await new SignJWT(f.tokenClaims)
        .setProtectedHeader({ alg: "HS256", typ: "JWT" })
        .sign(f.hmac);
      return t.length > 40;
    },
  },
  iron: {
    async open(f, sealed = f.iron) {
      const c = await unsealData(sealed, { password: IRON_PASSWORD });
      return current(c);
    },
    async seal(f) {
      return (await sealData(f.claims, { password: IRON_PASSWORD })).length > 40;
    },
    async seal_open(f) {
      return js.iron.open(f, await sealData(f.claims, { password: IRON_PASSWORD }));
    },
  },
};

async function loop(impl, op, f, iters) {
  let ok = 0;
  if (impl === "rust") return f.rust.run(op, iters);
  const fn = js[impl]?.[op];
  if (!fn) throw new Error(`no ${impl} ${op}`);
  for (let i = 0; i < iters; i++) if (await fn(f)) ok++;
  return ok;
}

export default {
  async fetch(request) {
    const q = new URL(request.url).searchParams;
    const impl = q.get("impl");
    const op = q.get("op");
    const bytes = Number(q.get("bytes") ?? 200);
    const ring = Number(q.get("ring") ?? 1);
    const iters = Number(q.get("iters") ?? 1000);
    try {
      const f = await fixture(bytes, ring);
      if (q.has("info")) {
        return Response.json({
          claims_json: f.rust.claims_json().length,
          sealed: f.rust.sealed().length,
          jwe: f.jwe.length,
          iron: f.iron.length,
          token: f.token.length,
        });
      }
      const t0 = performance.now();
      const ok = await loop(impl, op, f, iters);
      const ms = performance.now() - t0;
      return Response.json({ impl, op, bytes, ring, iters, ok, ns_per_op: (ms * 1e6) / iters });
    } catch (e) {
      return Response.json({ error: String(e && e.stack ? e.stack : e) }, { status: 500 });
    }
  },
};
