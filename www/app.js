// edge-session demo page: talks to the origin (/login, /api/*) and to the edge's
// own session endpoints (/_session/*). No framework. Works as is (the demo origin
// serves www/ raw) and published: `edge-session assets build www build/www` renames
// every script and style to a content-hashed name and rewrites the references,
// including the dynamic import of the lazy chunk below, so a page loaded before a
// deploy still gets the chunk of its own build afterwards (no version skew).

const $ = (id) => document.getElementById(id);

/** fetch with JSON in and out; never throws for HTTP errors. */
async function api(method, path, body) {
  const init = {
    method,
    credentials: 'same-origin',
    headers: { Accept: 'application/json' },
  };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    return { status: 0, ok: false, data: { error: `network error: ${error.message}` } };
  }
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  return { status: response.status, ok: response.ok, data };
}

function errorText(result, what) {
  const detail = result.data && result.data.error ? result.data.error : `HTTP ${result.status}`;
  return `${what} failed: ${detail}`;
}

function setStatus(text, kind = 'error') {
  const status = $('status');
  status.textContent = text;
  status.dataset.kind = text ? kind : '';
}

function formatTime(seconds) {
  if (typeof seconds !== 'number') return String(seconds ?? '');
  const date = new Date(seconds * 1000);
  return `${seconds} (${date.toLocaleString()})`;
}

/** "in 59 s", "in 3 h 5 min", "2 min ago": from now (this page's clock) to `seconds`. */
function formatFromNow(seconds) {
  const delta = Math.round(seconds - Date.now() / 1000);
  let left = Math.abs(delta);
  const parts = [];
  for (const [unit, size] of [['d', 86400], ['h', 3600], ['min', 60]]) {
    if (left >= size) {
      parts.push(`${Math.floor(left / size)} ${unit}`);
      left %= size;
    }
    if (parts.length === 2) break;
  }
  if (parts.length === 0) parts.push(`${left} s`);
  return delta >= 0 ? `in ${parts.join(' ')}` : `${parts.join(' ')} ago`;
}

/**
 * The session's own ends (`session_exp`: absolute, `idle_exp`: idle, Unix seconds),
 * which the edge puts in the assertion. The `exp` of `/api/me` is the assertion's:
 * the edge signs a new one for every request (`ASSERTION_TTL`, a minute by
 * default), so it is never shown as the session's end.
 */
function showExpiry(me) {
  const when = (t) => `${formatTime(t)}, ${formatFromNow(t)}`;
  $('session-exp').textContent = when(me.session_exp);
  $('session-idle-exp').textContent = `${when(me.idle_exp)} (each request moves it later)`;
  $('claim-exp').textContent = formatTime(me.exp);
  $('claim-exp-note').textContent =
    `this assertion expires ${formatFromNow(me.exp)}; the edge signs a fresh one for every request`;
}

function showAnonymous() {
  $('signed-in').hidden = true;
  $('anonymous').hidden = false;
  $('token').hidden = true;
  $('token').textContent = '';
  $('token-exp').textContent = '';
}

function showUser(me) {
  $('user-name').textContent = me.sub;
  $('claim-sub').textContent = me.sub;
  $('claim-sid').textContent = me.sid;
  $('claim-auth-time').textContent = formatTime(me.auth_time);
  showExpiry(me);
  $('claim-data').textContent = JSON.stringify(me.data ?? {}, null, 2);
  $('anonymous').hidden = true;
  $('signed-in').hidden = false;
}

/** Loads /api/me and shows the matching view. Returns true when logged in. */
async function refresh() {
  const result = await api('GET', '/api/me');
  if (result.ok && result.data) {
    showUser(result.data);
    return true;
  }
  showAnonymous();
  if (result.status !== 401) setStatus(errorText(result, 'Loading the session'));
  return false;
}

async function busy(button, work) {
  button.disabled = true;
  try {
    await work();
  } finally {
    button.disabled = false;
  }
}

async function onLogin(event) {
  event.preventDefault();
  const username = $('username').value.trim();
  await busy($('login-button'), async () => {
    const result = await api('POST', '/login', { username });
    if (!result.ok) {
      setStatus(errorText(result, 'Log in'));
      return;
    }
    setStatus('');
    if (!(await refresh())) {
      setStatus('The origin accepted the login but no session came back: is the edge worker in front?');
    }
  });
}

async function onSaveData(event) {
  event.preventDefault();
  const key = $('data-key').value.trim();
  if (!key) {
    setStatus('Enter a key to save.');
    return;
  }
  await busy($('data-save'), async () => {
    const result = await api('POST', '/api/data', { [key]: $('data-value').value });
    if (!result.ok) {
      setStatus(errorText(result, 'Saving data'));
      return;
    }
    setStatus('');
    $('data-key').value = '';
    $('data-value').value = '';
    await refresh();
  });
}

async function onLogout() {
  await busy($('logout-button'), async () => {
    let result = await api('POST', '/_session/logout');
    if (result.status === 404) result = await api('POST', '/logout');
    if (!result.ok) {
      setStatus(errorText(result, 'Log out'));
      return;
    }
    setStatus('');
    await refresh();
  });
}

async function onToken() {
  await busy($('token-button'), async () => {
    const result = await api('POST', '/_session/token');
    if (!result.ok || !result.data) {
      setStatus(errorText(result, 'Getting an API token'));
      return;
    }
    const token = result.data.token ?? result.data.access_token ?? '';
    const exp = result.data.exp ?? result.data.expires_at;
    $('token').textContent = token;
    $('token').hidden = false;
    $('token-exp').textContent = exp === undefined ? '' : `expires ${formatTime(exp)}`;
    setStatus('');
  });
}

/** Loads the build-info chunk on demand (after load, possibly after a deploy). */
async function onBuildInfo() {
  await busy($('load-lazy'), async () => {
    try {
      const { showBuildInfo } = await import('./lazy.js');
      await showBuildInfo($('deploy'), $('build-info'));
    } catch (error) {
      setStatus(`Loading the build info failed: ${error.message}`);
    }
  });
}

function start() {
  $('login-form').addEventListener('submit', onLogin);
  $('data-form').addEventListener('submit', onSaveData);
  $('logout-button').addEventListener('click', onLogout);
  $('token-button').addEventListener('click', onToken);
  $('load-lazy').addEventListener('click', onBuildInfo);
  refresh();
}

start();
