// Process helpers: CPU time from /proc, CPU pinning, child lookup, spawning.
import { execFileSync, spawn } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import { cpus } from "node:os";

let clkTck;
export function ticksPerSecond() {
  clkTck ??= Number(execFileSync("getconf", ["CLK_TCK"]).toString().trim()) || 100;
  return clkTck;
}

/**
 * CPU time of a process, in seconds: the sum over its threads of the on-CPU time
 * in /proc/<pid>/task/<tid>/schedstat (nanoseconds); where that is missing,
 * utime + stime from /proc/<pid>/stat (clock ticks).
 */
export function cpuSeconds(pid) {
  try {
    let ns = 0;
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[0]);
      } catch {
        // The thread ended while we looked.
      }
    }
    if (ns > 0) return ns / 1e9;
  } catch {
    // No schedstat: fall back to ticks.
  }
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // fields[0] is field 3 (state); utime is field 14, stime field 15.
  return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond();
}

/** Descendants of `root` whose command name is `comm`. */
export function findDescendants(root, comm) {
  const parent = new Map();
  const names = new Map();
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, "utf8");
      const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      parent.set(Number(d), ppid);
      names.set(Number(d), name);
    } catch {
      // The process ended while we looked.
    }
  }
  const isDescendant = (pid) => {
    for (let p = parent.get(pid), hops = 0; p && hops < 64; p = parent.get(p), hops++) {
      if (p === root) return true;
    }
    return false;
  };
  return [...names].filter(([pid, n]) => n === comm && isDescendant(pid)).map(([pid]) => pid);
}

export function haveTaskset() {
  try {
    execFileSync("taskset", ["-p", String(process.pid)], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** Pins every thread of `pid` to `cpu` (no-op without taskset or with one CPU). */
export function pin(pid, cpu) {
  if (!haveTaskset() || cpuCount() < 2) return false;
  execFileSync("taskset", ["-a", "-p", "-c", String(cpu), String(pid)], { stdio: "ignore" });
  return true;
}

/** CPUs of the machine (not of this process's affinity mask, which `nproc` reports). */
export function cpuCount() {
  return cpus().length || 1;
}

/** A command prefixed with `taskset -c cpu` when pinning is possible. */
export function pinned(cpu, cmd, args) {
  if (haveTaskset() && cpuCount() >= 2) return ["taskset", ["-c", String(cpu), cmd, ...args]];
  return [cmd, args];
}

/** Runs a command to completion; resolves with stdout, rejects with stderr. */
export function run(cmd, args, opts = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"], ...opts });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    child.on("error", reject);
    child.on("close", (code) =>
      code === 0 ? resolve(out) : reject(new Error(`${cmd} ${args.join(" ")} exited ${code}: ${err}`)),
    );
  });
}

/** The CPUs a process may run on, as the kernel lists them ("0", "0-1"). */
export function affinity(pid) {
  try {
    return /Cpus_allowed_list:\s*(\S+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? "?";
  } catch {
    return "?";
  }
}
