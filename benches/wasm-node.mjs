// `node wasm-node.mjs GLUE OP JSON_BYTES RING_SIZE MIN_ITERS REPS`: the wasm twin
// of `native-ops`. Loads the benches/ops crate built for wasm32 through
// `wasm-bindgen --target web` (GLUE is its ES-module .js file, instantiated here
// with the `_bg.wasm` beside it: the same glue workerd loads), runs one untimed warm-up
// rep of MIN_ITERS, then REPS timed reps of about 150 ms of CPU each, and prints
// the same JSON line as native-ops: wall-clock and on-CPU time of this thread
// (from /proc/thread-self/schedstat) per operation.
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { resolve } from "node:path";

const REP_NS = 150e6;
const [glue, op, bytes, ring, minIters, reps] = process.argv.slice(2);
if (!glue || !op || !reps) {
  console.error("usage: node wasm-node.mjs GLUE OP JSON_BYTES RING_SIZE MIN_ITERS REPS");
  process.exit(2);
}

function cpuNs() {
  try {
    return Number(readFileSync("/proc/thread-self/schedstat", "utf8").split(" ")[0]);
  } catch {
    return NaN;
  }
}

const glueModule = await import(pathToFileURL(resolve(glue)).href);
glueModule.initSync({ module: readFileSync(resolve(glue).replace(/\.js$/, "_bg.wasm")) });
const { Bench } = glueModule;
const bench = new Bench(Number(bytes), Number(ring));
const min = Math.max(1, Number(minIters));
const c0 = cpuNs();
const w0 = process.hrtime.bigint();
bench.run(op, min);
const warm = Number.isFinite(c0) ? cpuNs() - c0 : Number(process.hrtime.bigint() - w0);
const n = Math.min(10_000_000, Math.max(min, Math.floor(REP_NS / Math.max(1, warm / min))));
const wall = [];
const cpu = [];
for (let i = 0; i < Number(reps); i++) {
  const c = cpuNs();
  const t0 = process.hrtime.bigint();
  const ok = bench.run(op, n);
  const ns = Number(process.hrtime.bigint() - t0) / n;
  const cns = Number.isFinite(c) ? (cpuNs() - c) / n : ns;
  if (ok !== n) {
    console.error(`${op}: only ${ok} of ${n} succeeded`);
    process.exit(1);
  }
  wall.push(Number(ns.toFixed(1)));
  cpu.push(Number(cns.toFixed(1)));
}
console.log(
  JSON.stringify({
    op,
    bytes: bench.claims_json().length,
    ring: Number(ring),
    iters: n,
    ns_per_op: wall,
    cpu_ns_per_op: cpu,
  }),
);
