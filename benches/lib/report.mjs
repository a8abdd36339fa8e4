// The result table (printed and written into BENCHMARKS.md) and the budgets.
import { fmt, median, num, ratios, spread } from "./stats.mjs";

export class Report {
  constructor() {
    this.rows = [];
    this.budgets = [];
    this.notes = [];
    this.skipped = [];
  }

  /**
   * A row comparing A and B measured in alternation in the same rounds.
   * `ratio` is median [min–max] of the per-round ratios A/B.
   */
  pair(section, label, aName, a, bName, b, { digits = 1, unit = "", budget = "" } = {}) {
    const r = ratios(a, b);
    this.rows.push({
      section,
      label,
      a: `${aName}: ${fmt(a, digits)}${unit}`,
      b: `${bName}: ${fmt(b, digits)}${unit}`,
      ratio: r.length ? fmt(r, 2) : "n/a",
      budget,
    });
    return median(r);
  }

  /** A row with a single value (no pairing), e.g. a size. */
  single(section, label, a, b = "", ratio = "", budget = "") {
    this.rows.push({ section, label, a, b, ratio, budget });
  }

  budget(name, pass, detail) {
    const verdict = pass === null ? "n/a" : pass ? "PASS" : "FAIL";
    this.budgets.push({ name, verdict, detail });
    return verdict;
  }

  note(text) {
    this.notes.push(text);
  }

  skip(text) {
    this.skipped.push(text);
  }

  table() {
    const head = "| issue | measurement | A | B | A/B | budget |";
    const sep = "| --- | --- | --- | --- | --- | --- |";
    const esc = (s) => String(s).replaceAll("|", "\\|");
    const body = this.rows.map(
      (r) =>
        `| ${esc(r.section)} | ${esc(r.label)} | ${esc(r.a)} | ${esc(r.b)} | ${esc(r.ratio)} | ${esc(r.budget)} |`,
    );
    return [head, sep, ...body].join("\n");
  }

  budgetList() {
    return this.budgets.map((b) => `- **${b.verdict}** ${b.name}: ${b.detail}`).join("\n");
  }
}

export { fmt, median, num, spread };
