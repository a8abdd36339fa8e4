// A node:test reporter for the end-to-end step (scripts/test.sh): node's own
// reporter (TAP when stdout is not a terminal, as in CI logs; spec on a
// terminal; E2E_REPORTER=tap|spec to choose), then a short summary that can be
// read from the tail of a log:
//
//   - one line per test file: time, ok/FAIL, number of tests; the slowest tests;
//   - the wrangler one-shots run once more ("running it once more", "trying again");
//   - each failed test (file › name) with the first lines of its error and
//     where it was thrown; tests of one file that failed with the same error
//     (a failed before() hook) are one entry; the servers' output a harness
//     error carries ("----- wrangler …, last output -----") is cut to its tail;
//   - last, a plain `N passed, N failed` line (node's own `# pass N`/`# fail N`
//     counts, plus cancelled/skipped/todo when there are any).
//
//   node --test --test-reporter=./tests/e2e/reporter.mjs --test-reporter-destination=stdout …
//
// With E2E_SUMMARY_FILE set, the summary goes to that file instead (scripts/test.sh
// prints it after everything else, right before its FAILED: line) and only the
// closing line is printed here.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { inspect } from 'node:util';
import { spec, tap } from 'node:test/reporters';

/** Lines of an error message shown before the output sections. */
const HEAD_LINES = 14;
/** Lines kept from the end of each server's output in an error. */
const OUTPUT_TAIL_LINES = 15;
/** Lines of a crashed file's stderr shown. */
const STDERR_TAIL_LINES = 20;
/** Longest line shown. */
const LINE_MAX = 400;

const SECTION = /^----- (.+), last output -----$/;
// The harness's one-shot retries, and the CLI's (`warning: … trying again`) where a
// test prints the CLI's stderr.
const RETRY = /running it once more|trying again/;
/** Slowest tests listed. */
const SLOWEST = 5;

const rel = (file) => (file ? path.relative(process.cwd(), file.startsWith('file:') ? fileURLToPath(file) : file) : '?');
const clip = (text) => {
  const line = text.replace(/\x1b\[[0-9;]*[A-Za-z]/g, ''); // colours (wrangler's error box)
  return line.length > LINE_MAX ? `${line.slice(0, LINE_MAX)} …(${line.length} chars)` : line;
};
const secs = (ms) => `${(ms / 1000).toFixed(1)}s`;

/** The test's own error: node wraps it (ERR_TEST_FAILURE) with the original as `cause`. */
function innerError(error) {
  if (error && error.code === 'ERR_TEST_FAILURE' && error.cause !== undefined) return error.cause;
  return error;
}

function messageOf(err) {
  if (typeof err === 'string') return err;
  if (err instanceof Error || (err && typeof err.message === 'string')) {
    let text = err.message || String(err.name ?? 'Error');
    // assert.ok(x, msg) says only `msg`, and so do match/notEqual/… with a
    // message of their own: add the values unless the message shows them.
    const isOk = err.operator === '==' && err.expected === true;
    if (err.code === 'ERR_ASSERTION' && !err.generatedMessage && !isOk && 'actual' in err
      && !/!==|!=|\+ actual|did not match|Input:/.test(text)) {
      const show = (v) => inspect(v, { depth: 3, breakLength: Infinity, maxStringLength: 300 });
      text += `\nactual: ${show(err.actual)}\nexpected: ${show(err.expected)} (${err.operator})`;
    }
    if (err.name && err.name !== 'Error' && err.name !== 'AssertionError' && !text.startsWith(err.name)) {
      text = `${err.name}: ${text}`;
    }
    return text;
  }
  return inspect(err, { depth: 3 });
}

/** `file:line` of the first stack frame inside the test file (or tests/e2e/). */
function whereThrown(err, file) {
  const stack = typeof err?.stack === 'string' ? err.stack : '';
  const frames = stack.split('\n').filter((l) => /^\s+at /.test(l));
  const pick = (pred) => {
    for (const f of frames) {
      const m = /(?:file:\/\/)?(\/[^\s():]+):(\d+):\d+\)?$/.exec(f);
      if (m && pred(m[1])) return `${rel(m[1])}:${m[2]}`;
    }
    return null;
  };
  const own = file ? pick((p) => p === file) : null;
  return own ?? pick((p) => p.includes(`${path.sep}tests${path.sep}e2e${path.sep}`));
}

/** An error message cut for the summary: its head, and the tail of each server output section. */
function excerpt(text) {
  const lines = text.replace(/\s+$/, '').split('\n');
  const out = [];
  let i = 0;
  const head = [];
  while (i < lines.length && !SECTION.test(lines[i])) head.push(lines[i++]);
  // Blank runs collapsed, then cut.
  const compact = head.filter((l, k) => l.trim() !== '' || (k > 0 && head[k - 1].trim() !== ''));
  out.push(...compact.slice(0, HEAD_LINES).map((l) => clip(l.trimEnd())));
  if (compact.length > HEAD_LINES) out.push(`… (${compact.length - HEAD_LINES} more lines above in the log)`);
  while (i < lines.length) {
    const header = lines[i++];
    const body = [];
    while (i < lines.length && !SECTION.test(lines[i])) body.push(lines[i++]);
    const kept = body.slice(-OUTPUT_TAIL_LINES);
    out.push(`${header.replace(/, last output -----$/, `, last ${kept.length} of ${body.length} lines -----`)}`);
    out.push(...kept.map((l) => clip(l.trimEnd())));
  }
  return out;
}

function chooseReporter() {
  const want = process.env.E2E_REPORTER;
  if (want === 'tap' || want === 'spec') return want;
  return process.stdout.isTTY ? 'spec' : 'tap';
}

export default async function* e2eReporter(source) {
  /** file → { duration, passed, tests, failed } */
  const files = new Map();
  /** failed tests, in order: { file, name, nesting, kind, text, where, duration } */
  const failures = [];
  /** file → last stderr lines */
  const stderr = new Map();
  const retries = [];
  /** { file, name, duration } of every top-level test */
  const timed = [];
  const counts = {};
  const started = Date.now();

  const fileOf = (data) => data.file ?? null;
  const fileEntry = (file) => {
    if (!files.has(file)) files.set(file, { duration: null, passed: null, tests: 0, failed: 0 });
    return files.get(file);
  };

  async function* watch() {
    for await (const event of source) {
      const { type, data } = event;
      const file = fileOf(data ?? {});
      const isFile = file && data?.nesting === 0 && data.name === file;
      if (type === 'test:complete' && isFile) {
        const f = fileEntry(file);
        f.duration = data.details?.duration_ms ?? null;
        f.passed = data.details?.passed ?? null;
      } else if (type === 'test:pass' && !isFile && file) {
        fileEntry(file).tests += 1;
        if (data.nesting === 0) timed.push({ file, name: data.name, duration: data.details?.duration_ms ?? 0 });
      } else if (type === 'test:fail') {
        const error = data.details?.error;
        const kind = error?.failureType;
        if (file && !isFile) {
          fileEntry(file).tests += 1;
          if (data.nesting === 0) timed.push({ file, name: data.name, duration: data.details?.duration_ms ?? 0 });
        }
        if (file) fileEntry(file).failed += 1;
        // A parent whose subtests failed adds nothing: the subtests are listed.
        if (kind !== 'subtestsFailed') {
          const inner = innerError(error);
          let text = messageOf(inner);
          if (kind === 'hookFailed' && error?.message && error.message !== text) text = `${error.message}: ${text}`;
          if (kind === 'cancelledByParent' || kind === 'testTimeoutFailure') text = messageOf(error);
          failures.push({
            file,
            name: isFile ? '(the file itself)' : data.name,
            nesting: data.nesting,
            kind,
            text,
            where: whereThrown(inner, file),
            duration: data.details?.duration_ms,
          });
        }
      } else if (type === 'test:stderr' && typeof data?.message === 'string') {
        const lines = stderr.get(file) ?? [];
        for (const line of data.message.replace(/\n$/, '').split('\n')) {
          lines.push(line);
          if (RETRY.test(line)) retries.push({ file, line });
        }
        stderr.set(file, lines.slice(-STDERR_TAIL_LINES));
      } else if (type === 'test:diagnostic' && data?.nesting === 0) {
        const m = /^(tests|suites|pass|fail|cancelled|skipped|todo|duration_ms) ([\d.]+)$/.exec(data.message ?? '');
        if (m) counts[m[1]] = Number(m[2]);
      }
      yield event;
    }
  }

  const name = chooseReporter();
  if (name === 'tap') {
    yield* tap(watch());
  } else {
    yield* Readable.from(watch()).pipe(spec());
  }

  // ---- the summary ----
  const out = [];
  out.push('');
  out.push('end-to-end test files (in run order):');
  for (const [file, f] of files) {
    const status = f.passed === false || f.failed > 0 ? 'FAIL' : 'ok  ';
    const time = f.duration == null ? '   ?  ' : secs(f.duration).padStart(6);
    const failed = f.failed ? `, ${f.failed} failed` : '';
    out.push(`  ${time}  ${status}  ${rel(file)} (${f.tests} ${f.tests === 1 ? 'test' : 'tests'}${failed})`);
  }
  if (timed.length > SLOWEST) {
    out.push('');
    out.push(`slowest tests:`);
    for (const t of [...timed].sort((a, b) => b.duration - a.duration).slice(0, SLOWEST)) {
      out.push(`  ${secs(t.duration).padStart(6)}  ${path.basename(t.file)} › ${clip(t.name)}`);
    }
  }
  if (retries.length) {
    out.push('');
    out.push(`wrangler one-shots run once more (${retries.length}):`);
    for (const r of retries) out.push(`  ${rel(r.file)}: ${clip(r.line.replace(/^#\s*/, ''))}`);
  }
  if (failures.length) {
    // Tests of one file failing with one error (a before() hook): one entry.
    const groups = [];
    for (const f of failures) {
      const same = groups.find((g) => g.file === f.file && g.text === f.text && g.kind === f.kind);
      if (same && f.kind === 'hookFailed') same.names.push(f.name);
      else groups.push({ ...f, names: [f.name] });
    }
    out.push('');
    out.push(`FAILED end-to-end tests (${failures.length}):`);
    for (const g of groups) {
      const names = g.names.length > 3 ? `${g.names.slice(0, 3).join(', ')} and ${g.names.length - 3} more` : g.names.join(', ');
      const how = g.kind && g.kind !== 'testCodeFailure' ? ` [${g.kind}]` : '';
      const after = g.duration != null ? ` after ${secs(g.duration)}` : '';
      out.push('');
      out.push(`✖ ${rel(g.file)} › ${names}${how}${after}`);
      if (g.where) out.push(`    at ${g.where}`);
      for (const line of excerpt(g.text)) out.push(`    ${line}`);
      if (g.name === '(the file itself)' && stderr.get(g.file)?.length) {
        out.push(`    ----- stderr of ${rel(g.file)}, last lines -----`);
        for (const line of stderr.get(g.file)) out.push(`    ${clip(line)}`);
      }
    }
  }
  const n = (k) => counts[k] ?? 0;
  const extra = ['cancelled', 'skipped', 'todo'].filter((k) => n(k) > 0).map((k) => `, ${n(k)} ${k}`).join('');
  const total = counts.duration_ms ?? Date.now() - started;
  const closing = `${n('pass')} passed, ${n('fail')} failed${extra} (${n('tests')} tests in ${files.size} ${files.size === 1 ? 'file' : 'files'}, ${secs(total)})`;
  out.push('');
  out.push(closing);
  const text = `${out.join('\n')}\n`;

  if (process.env.E2E_SUMMARY_FILE) {
    writeFileSync(process.env.E2E_SUMMARY_FILE, text);
    yield `\n${closing}\n`;
  } else {
    yield text;
  }
}
