// Small statistics over per-round samples: median, min, max, and per-round ratios.

export function median(xs) {
  const s = [...xs].filter(Number.isFinite).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function spread(xs) {
  const s = xs.filter(Number.isFinite);
  return { min: Math.min(...s), max: Math.max(...s), median: median(s), n: s.length };
}

/** Per-round ratios a[i] / b[i] (rounds are paired: A and B ran back to back). */
export function ratios(a, b) {
  return a.map((x, i) => x / b[i]).filter(Number.isFinite);
}

/** "12.3 [11.9–12.8]": median and the range over rounds. */
export function fmt(xs, digits = 1) {
  const { min, max, median: m } = spread(xs);
  if (!Number.isFinite(m)) return "n/a";
  return `${num(m, digits)} [${num(min, digits)}–${num(max, digits)}]`;
}

export function num(x, digits = 1) {
  if (!Number.isFinite(x)) return "n/a";
  if (Math.abs(x) >= 1000) return Math.round(x).toLocaleString("en-US");
  return x.toFixed(digits);
}

/**
 * Runs `variants` (name → async () => sample) in alternation A B C A B C … for
 * `rounds` rounds; returns name → [sample per round].
 */
export async function alternate(rounds, variants) {
  const out = Object.fromEntries(Object.keys(variants).map((k) => [k, []]));
  for (let r = 0; r < rounds; r++) {
    for (const [name, run] of Object.entries(variants)) out[name].push(await run(r));
  }
  return out;
}
