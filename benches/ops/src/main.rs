//! `native-ops OP JSON_BYTES RING_SIZE MIN_ITERS REPS`: times one operation of
//! edge-session's core natively and prints one JSON line,
//! `{"op":…,"bytes":…,"ring":…,"iters":…,"ns_per_op":[…],"cpu_ns_per_op":[…]}` with
//! one value per rep: wall-clock time and this thread's on-CPU time (from
//! `/proc/thread-self/schedstat`, so other load on a shared machine does not
//! count). One untimed warm-up rep of MIN_ITERS runs first; the timed reps run
//! enough iterations (at least MIN_ITERS) to take about 150 ms of CPU each.
//!
//! `native-ops cookie JSON_BYTES RING_SIZE NOW`: prints the fixture's sealed cookie
//! for a running worker, `{"session_keys":…,"sealed":…,"claims_json_len":…}`, issued
//! at `NOW` (Unix seconds). The keys are fixed test bytes, never secrets.
//!
//! Exit codes: 0 ok, 2 bad usage or a failed fixture.

use std::process::ExitCode;
use std::time::Instant;

/// Target CPU time of one timed rep, in nanoseconds.
const REP_NS: f64 = 150e6;

/// This thread's on-CPU time in nanoseconds, if the kernel reports it.
fn thread_cpu_ns() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    text.split_whitespace().next()?.parse().ok()
}

use edge_session_bench_ops::{Fixture, OPS};

fn arg(args: &[String], i: usize, name: &str) -> Result<usize, String> {
    let text = args.get(i).ok_or_else(|| format!("missing {name}"))?;
    text.parse().map_err(|_| format!("{name} must be a number, got `{text}`"))
}

fn cookie(args: &[String]) -> Result<String, String> {
    let bytes = arg(args, 2, "JSON_BYTES")?;
    let ring = arg(args, 3, "RING_SIZE")?;
    let now = u64::try_from(arg(args, 4, "NOW")?).map_err(|_| "NOW is too large")?;
    let f = Fixture::at(bytes, ring, now)?;
    Ok(format!(
        "{{\"session_keys\":\"{}\",\"sealed\":\"{}\",\"claims_json_len\":{}}}",
        f.session_keys(),
        f.sealed(),
        f.claims_json().len()
    ))
}

fn run(args: &[String]) -> Result<String, String> {
    let op = args.get(1).ok_or("missing OP")?.as_str();
    if op == "cookie" {
        return cookie(args);
    }
    if !OPS.contains(&op) {
        return Err(format!("OP must be one of {OPS:?}, got `{op}`"));
    }
    let bytes = arg(args, 2, "JSON_BYTES")?;
    let ring = arg(args, 3, "RING_SIZE")?;
    let min_iters =
        u32::try_from(arg(args, 4, "MIN_ITERS")?).map_err(|_| "MIN_ITERS is too large")?.max(1);
    let reps = arg(args, 5, "REPS")?;
    let fixture = Fixture::new(bytes, ring)?;
    let cpu0 = thread_cpu_ns();
    let start = Instant::now();
    fixture.run(op, min_iters)?;
    let warm_ns = match (cpu0, thread_cpu_ns()) {
        (Some(a), Some(b)) => b.saturating_sub(a) as f64,
        _ => start.elapsed().as_nanos() as f64,
    };
    let per_op = (warm_ns / f64::from(min_iters)).max(1.0);
    let iters = ((REP_NS / per_op) as u32).clamp(min_iters, 10_000_000);
    let mut wall = Vec::with_capacity(reps);
    let mut cpu = Vec::with_capacity(reps);
    for _ in 0..reps {
        let cpu0 = thread_cpu_ns();
        let start = Instant::now();
        let ok = fixture.run(op, iters)?;
        let ns = start.elapsed().as_nanos() as f64 / f64::from(iters);
        let cpu_ns = match (cpu0, thread_cpu_ns()) {
            (Some(a), Some(b)) => b.saturating_sub(a) as f64 / f64::from(iters),
            _ => ns,
        };
        if ok != iters {
            return Err(format!("{op}: only {ok} of {iters} succeeded"));
        }
        wall.push(format!("{ns:.1}"));
        cpu.push(format!("{cpu_ns:.1}"));
    }
    Ok(format!(
        "{{\"op\":\"{op}\",\"bytes\":{},\"ring\":{ring},\"iters\":{iters},\"ns_per_op\":[{}],\"cpu_ns_per_op\":[{}]}}",
        fixture.claims_json().len(),
        wall.join(","),
        cpu.join(",")
    ))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    match run(&args) {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("native-ops: {e}");
            eprintln!("usage: native-ops OP JSON_BYTES RING_SIZE MIN_ITERS REPS | native-ops cookie JSON_BYTES RING_SIZE NOW (OP: {OPS:?})");
            ExitCode::from(2)
        }
    }
}
