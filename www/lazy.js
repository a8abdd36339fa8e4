// Build info, loaded on demand by app.js (a dynamic import). Published, this
// file is `lazy.<hash>.js` and app.js imports it under that name, so a page loaded
// before a deploy keeps getting the chunk of its own build: the worker answers
// hashed names from every retained deploy.

/** This chunk's file name as served (`lazy.1a2b3c4d.js` when built, else `lazy.js`). */
export const CHUNK = new URL(import.meta.url).pathname.split('/').pop();

/**
 * The deploy that served this page, from `X-Deploy-Id`. The HTML response pinned
 * the browser to its deploy (pin cookie, or `?dpl=` in the URL), and a `HEAD` of
 * the same URL is not a navigation, so the worker answers it from that pin. `null`
 * when the page did not come from a published deploy (the origin served www/ raw).
 */
export async function deployOfPage() {
  const response = await fetch(location.href, {
    method: 'HEAD',
    credentials: 'same-origin',
    cache: 'no-store',
  });
  // Finish the (empty) body: an unread response counts as an aborted request.
  await response.arrayBuffer();
  return response.headers.get('x-deploy-id');
}

/** Fills `#deploy` with the page's deploy and `#build-info` with this chunk's name. */
export async function showBuildInfo(deployEl, infoEl) {
  let deploy;
  try {
    deploy = await deployOfPage();
  } catch (error) {
    deploy = undefined;
    infoEl.textContent = `could not ask the edge: ${error.message}`;
  }
  deployEl.textContent = deploy ?? (deploy === null ? 'dev (www/ served raw by the origin)' : 'unknown');
  deployEl.dataset.deploy = deploy ?? '';
  if (deploy !== undefined) infoEl.textContent = `lazy chunk: ${CHUNK}`;
  infoEl.hidden = false;
}
