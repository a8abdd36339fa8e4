// A minimal browser-like HTTP client for end-to-end tests: a cookie jar that
// honours Max-Age=0 deletions, and fetch without redirects.

export class Client {
  constructor(base) {
    this.base = base;
    this.jar = new Map();
  }

  cookieHeader() {
    return [...this.jar].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  /** Applies Set-Cookie lines; returns them. */
  absorb(res) {
    const lines = res.headers.getSetCookie();
    for (const line of lines) {
      const [pair, ...attrs] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const maxAge = attrs.map((a) => a.trim()).find((a) => a.toLowerCase().startsWith('max-age='));
      if (maxAge && Number(maxAge.split('=')[1]) <= 0) this.jar.delete(name);
      else this.jar.set(name, value);
    }
    return lines;
  }

  async fetch(path, { method = 'GET', headers = {}, body, json, cookie } = {}) {
    const h = { ...headers };
    const c = cookie ?? this.cookieHeader();
    if (c) h.cookie = c;
    if (json !== undefined) {
      h['content-type'] = 'application/json';
      body = JSON.stringify(json);
    }
    const res = await fetch(this.base + path, { method, headers: h, body, redirect: 'manual' });
    const setCookies = this.absorb(res);
    const text = await res.text();
    let data;
    try { data = JSON.parse(text); } catch { data = undefined; }
    return { status: res.status, headers: res.headers, setCookies, text, json: data };
  }

  async login(username) {
    const r = await this.fetch('/login', { method: 'POST', json: { username } });
    if (r.status !== 200) throw new Error(`login failed: ${r.status} ${r.text}`);
    return r;
  }
}
