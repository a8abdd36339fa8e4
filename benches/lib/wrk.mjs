// Runs wrk (pinned to the load-generator CPU) and parses its report; measures
// the server's CPU time over the run from /proc.
import { cpuSeconds, pinned, run } from "./proc.mjs";

const UNIT = { us: 1e-3, ms: 1, s: 1000 };

function ms(text) {
  const m = /^([\d.]+)(us|ms|s)$/.exec(text);
  return m ? Number(m[1]) * UNIT[m[2]] : NaN;
}

export function parseWrk(out) {
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
  const total = Number(/(\d+) requests in/.exec(out)?.[1]);
  const p50 = ms(/\s50%\s+(\S+)/.exec(out)?.[1] ?? "");
  const p99 = ms(/\s99%\s+(\S+)/.exec(out)?.[1] ?? "");
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
  const errors = /Socket errors:.*/.exec(out)?.[0] ?? "";
  return { rps, total, p50, p99, non2xx, errors };
}

/**
 * One wrk run: `seconds` long, `connections` connections on one thread, headers
 * as [name, value] pairs. `serverPid`: the process whose CPU time is charged.
 */
export async function wrk({ url, headers = [], seconds, connections, cpu, serverPid }) {
  const args = ["-t1", `-c${connections}`, `-d${seconds}s`, "--latency", "--timeout", "5s"];
  for (const [k, v] of headers) args.push("-H", `${k}: ${v}`);
  args.push(url);
  const before = serverPid ? cpuSeconds(serverPid) : 0;
  const [cmd, full] = pinned(cpu, "wrk", args);
  const out = await run(cmd, full);
  const after = serverPid ? cpuSeconds(serverPid) : 0;
  const r = parseWrk(out);
  r.cpuUsPerReq = serverPid && r.total ? ((after - before) * 1e6) / r.total : NaN;
  return r;
}
