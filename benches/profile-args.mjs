// Prints the root Cargo.toml's [profile.release…] settings as `cargo --config`
// arguments (one per line), so benches/ops is built exactly like the worker.
// Only `key = value` lines inside `[profile.release]` / `[profile.release.package.X]`
// tables are read; comments and other tables are ignored.
import { readFileSync } from "node:fs";

const toml = readFileSync(new URL("../Cargo.toml", import.meta.url), "utf8");
let table = null;
for (const raw of toml.split("\n")) {
  const line = raw.replace(/\s+#.*$/, "").trim();
  if (!line || line.startsWith("#")) continue;
  const head = /^\[(.+)\]$/.exec(line);
  if (head) {
    table = /^profile\.release(\.|$)/.test(head[1]) ? head[1] : null;
    continue;
  }
  const kv = /^([A-Za-z0-9_-]+)\s*=\s*(.+)$/.exec(line);
  if (table && kv) console.log(`--config=${table}.${kv[1]}=${kv[2]}`);
}
