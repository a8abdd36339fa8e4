// Sites built by real bundlers for bundlers.test.mjs: one small app (an entry,
// a stylesheet, LAZY_CHUNKS chunks loaded with dynamic `import()`, every other
// one with its own CSS, and a few modules the chunks share), written into a
// temporary directory with a deploy tag in every file (so every content hash
// changes from one deploy to the next) and built by Vite or by esbuild.
//
// In the browser the app shows its tag in #deploy and defines
// `window.loadAll()`, which imports every chunk at once. Each chunk that ran
// appends `<div data-chunk=NAME data-ran=TAG data-shared=...>` to #chunks (its
// CSS sets `--chunk-css: "TAG NAME"` on it); each failure is an <li> in
// #failures; `document.body.dataset.loaded` is set when all have settled.
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { files } from './assets-site.mjs';

/**
 * How many lazy chunks the app has. The sources (and so, for the pinned Vite, the
 * hashes) follow from it and the tags: with 30, vite2's lazy08 and lazy30 and
 * vite7's lazy27 CSS get hashes that begin with `-` or `_`, which the test needs
 * (it fails if none do). Lazy chunk and CSS hashes depend on content only; the
 * Vite entry's (`index-*.js`) also on the temporary directory's path.
 */
export const LAZY_CHUNKS = 30;
/** Chunk names, `lazy01` … */
export const CHUNK_NAMES = Array.from({ length: LAZY_CHUNKS }, (_, i) => `lazy${String(i + 1).padStart(2, '0')}`);
/** The chunks that have a stylesheet of their own (every odd one). */
export const hasCss = (name) => Number(name.slice(4)) % 2 === 1;
/** The shared module a chunk imports (three groups, so shared chunks exist). */
export const groupOf = (name) => `group${Number(name.slice(4)) % 3}`;

async function writeTree(root, tree) {
  for (const [rel, text] of Object.entries(tree)) {
    await mkdir(path.dirname(path.join(root, rel)), { recursive: true });
    await writeFile(path.join(root, rel), text);
  }
}

/** The page; `head` is what the bundler needs there (Vite: the entry script). */
function indexHtml(tag, head) {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>bundler skew test ${tag}</title>
<link rel="icon" href="data:,">
${head}
</head>
<body>
<h1>deploy <span id="deploy"></span></h1>
<div id="chunks"></div>
<ul id="failures"></ul>
</body>
</html>
`;
}

/** The sources common to both bundlers: entry, its CSS, shared modules. */
function commonSources(tag) {
  const tree = {
    'src/main.css': `body {\n  --main-css: "${tag}";\n  font-family: sans-serif;\n}\n`,
    'src/main.js': `import './main.css';

export const TAG = '${tag}';

const chunks = {
${CHUNK_NAMES.map((n) => `  ${n}: () => import('./lazy/${n}.js'),`).join('\n')}
};

// Imports every chunk and mounts it; failures are listed in #failures (and logged).
window.loadAll = async () => {
  const root = document.querySelector('#chunks');
  const failures = document.querySelector('#failures');
  await Promise.all(
    Object.entries(chunks).map(async ([name, load]) => {
      try {
        const mod = await load();
        await mod.mount(root);
      } catch (e) {
        const li = document.createElement('li');
        li.textContent = name + ': ' + (e && e.message);
        failures.append(li);
        console.error('chunk ' + name + ' failed: ' + (e && e.message));
      }
    }),
  );
  document.body.dataset.loaded = String(root.children.length);
};

document.querySelector('#deploy').textContent = TAG;
document.body.dataset.deploy = TAG;
`,
  };
  for (const g of ['group0', 'group1', 'group2']) {
    tree[`src/shared/${g}.js`] = `export const shared = () => '${g} ${tag}';\n`;
  }
  return tree;
}

/** A chunk module; `cssImport`/`cssLoad` are the bundler's way of getting its CSS. */
function chunkModule(tag, name, { cssImport = '', cssLoad = '' } = {}) {
  return `${cssImport}import { shared } from '../shared/${groupOf(name)}.js';

export const TAG = '${tag}';

export async function mount(root) {
${cssLoad}  const el = document.createElement('div');
  el.className = '${name}';
  el.dataset.chunk = '${name}';
  el.dataset.ran = TAG;
  el.dataset.shared = shared();
  el.textContent = '${name} ran';
  root.append(el);
}
`;
}

const chunkCss = (tag, name) => `.${name} {\n  --chunk-css: "${tag} ${name}";\n}\n`;

/** The 8-character hash of a `[name]-[hash].ext` file name. */
export const hashOf = (file) => path.basename(file).replace(/\.[a-z]+$/, '').slice(-8);

/**
 * Builds deploy `tag` of the app with Vite (its JS API, default asset names,
 * `build.manifest: true`) from `tmp/<tag>-src` into `tmp/<tag>`.
 * @returns {Promise<{tag: string, dir: string, files: Map<string, Buffer>,
 *   entry: {js: string, css: string[]}, lazy: {name: string, js: string, css: string[]}[],
 *   hashed: string[], publishArgs: string[], ms: number}>} URL paths start with `/`;
 *   `hashed` lists every JS and CSS file (manifest keys).
 */
export async function buildVite(tmp, tag) {
  const { build } = await import('vite');
  const src = path.join(tmp, `${tag}-src`);
  const dir = path.join(tmp, tag);
  const tree = commonSources(tag);
  tree['index.html'] = indexHtml(tag, '<script type="module" src="/src/main.js"></script>');
  for (const n of CHUNK_NAMES) {
    tree[`src/lazy/${n}.js`] = chunkModule(tag, n, { cssImport: hasCss(n) ? `import './${n}.css';\n` : '' });
    if (hasCss(n)) tree[`src/lazy/${n}.css`] = chunkCss(tag, n);
  }
  await writeTree(src, tree);
  const t0 = performance.now();
  await build({
    root: src,
    configFile: false,
    envDir: false,
    logLevel: 'warn',
    build: { outDir: dir, emptyOutDir: true, manifest: true },
  });
  const ms = performance.now() - t0;

  const manifest = JSON.parse(await readFile(path.join(dir, '.vite', 'manifest.json'), 'utf8'));
  const entry = manifest['index.html'];
  assert.ok(entry?.isEntry, `${tag}: .vite/manifest.json has no index.html entry: ${Object.keys(manifest)}`);
  const lazy = CHUNK_NAMES.map((name) => {
    const m = manifest[`src/lazy/${name}.js`];
    assert.ok(m?.isDynamicEntry, `${tag}: ${name} is no dynamic entry in .vite/manifest.json`);
    return { name, js: `/${m.file}`, css: (m.css ?? []).map((c) => `/${c}`) };
  });
  const built = await files(dir);
  return {
    tag,
    dir,
    files: built,
    entry: { js: `/${entry.file}`, css: (entry.css ?? []).map((c) => `/${c}`) },
    lazy,
    hashed: [...built.keys()].filter((k) => /\.(js|css)$/.test(k)),
    publishArgs: [],
    ms,
  };
}

/**
 * Builds deploy `tag` of the app with esbuild (JS API: bundle, splitting, esm,
 * `[name]-[hash]` names, metafile) from `tmp/<tag>-src` into `tmp/<tag>`, then
 * writes index.html there naming the hashed entry JS and CSS (from the metafile)
 * and the metafile as JSON to `tmp/<tag>.metafile.json`, outside the published
 * directory. A chunk's CSS goes through the `file` loader (`*.chunk.css`, so
 * esbuild does not also bundle it into the entry's CSS) and the chunk links it
 * and waits for it before it mounts.
 * @returns same shape as buildVite, plus `metafile` (its path); `publishArgs`
 *   is `['--bundler-manifest', metafile]`.
 */
export async function buildEsbuild(tmp, tag) {
  const esbuild = await import('esbuild');
  const src = path.join(tmp, `${tag}-src`);
  const dir = path.join(tmp, tag);
  const tree = commonSources(tag);
  tree['src/shared/css.js'] = `// Links a stylesheet and waits until it is applied.
export const loadCss = (href) =>
  new Promise((resolve, reject) => {
    const link = document.createElement('link');
    link.rel = 'stylesheet';
    link.href = href;
    link.dataset.loader = '${tag}';
    link.onload = resolve;
    link.onerror = () => reject(new Error('stylesheet failed: ' + href));
    document.head.append(link);
  });
`;
  for (const n of CHUNK_NAMES) {
    tree[`src/lazy/${n}.js`] = chunkModule(
      tag,
      n,
      hasCss(n)
        ? {
            cssImport: `import { loadCss } from '../shared/css.js';\nimport cssFile from './${n}.chunk.css';\n`,
            cssLoad: '  await loadCss(new URL(cssFile, import.meta.url).href);\n',
          }
        : {},
    );
    if (hasCss(n)) tree[`src/lazy/${n}.chunk.css`] = chunkCss(tag, n);
  }
  await writeTree(src, tree);
  const t0 = performance.now();
  const result = await esbuild.build({
    absWorkingDir: src,
    entryPoints: ['src/main.js'],
    outdir: dir,
    bundle: true,
    splitting: true,
    format: 'esm',
    entryNames: '[name]-[hash]',
    chunkNames: 'chunks/[name]-[hash]',
    assetNames: 'assets/[name]-[hash]',
    loader: { '.chunk.css': 'file' },
    metafile: true,
    logLevel: 'warning',
  });
  const ms = performance.now() - t0;

  // Output paths in the metafile are relative to absWorkingDir.
  const outRel = path.relative(src, dir).split(path.sep).join('/');
  const url = (out) => {
    assert.ok(out.startsWith(`${outRel}/`), `${tag}: ${out} is not under ${outRel}/`);
    return out.slice(outRel.length);
  };
  const outputs = Object.entries(result.metafile.outputs);
  const main = outputs.find(([, o]) => o.entryPoint === 'src/main.js');
  assert.ok(main?.[1].cssBundle, `${tag}: the metafile has no entry output with a cssBundle`);
  const entry = { js: url(main[0]), css: [url(main[1].cssBundle)] };
  const lazy = CHUNK_NAMES.map((name) => {
    const out = outputs.find(([, o]) => o.entryPoint === `src/lazy/${name}.js`);
    assert.ok(out, `${tag}: the metafile has no output for src/lazy/${name}.js`);
    const css = outputs
      .filter(([k, o]) => k.endsWith('.css') && Object.keys(o.inputs).includes(`src/lazy/${name}.chunk.css`))
      .map(([k]) => url(k));
    return { name, js: url(out[0]), css };
  });
  const head = [
    ...entry.css.map((c) => `<link rel="stylesheet" href="${c}">`),
    `<script type="module" src="${entry.js}"></script>`,
  ].join('\n');
  await writeFile(path.join(dir, 'index.html'), indexHtml(tag, head));
  const metafile = path.join(tmp, `${tag}.metafile.json`);
  await writeFile(metafile, JSON.stringify(result.metafile, null, 1));
  const built = await files(dir);
  return {
    tag,
    dir,
    files: built,
    entry,
    lazy,
    hashed: [...built.keys()].filter((k) => /\.(js|css)$/.test(k)),
    publishArgs: ['--bundler-manifest', metafile],
    metafile,
    ms,
  };
}
