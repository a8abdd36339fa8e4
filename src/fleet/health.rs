//! Active health checks: a cron trigger (`[triggers] crons` in `wrangler.toml`) asks
//! every origin for `HEALTH_CHECK_PATH` and stores what failed in KV under
//! [`HEALTH_KEY`] (in the `ASSETS` namespace), where every isolate reads it with the
//! pool state. An origin failing its check is ordered with the ejected ones: tried
//! only after every healthy origin, never dropped, so a pool whose checks all fail
//! still serves.
//!
//! KV allows few writes (a key takes one a second; the free plan a thousand a day),
//! so a check writes only when the failing set changes, and otherwise every
//! [`HEALTH_REWRITE`] seconds to show it is alive. A report older than
//! [`HEALTH_MAX_AGE`] is ignored: a cron trigger that stopped leaves no origin
//! marked down for good.

/// The KV key of the last health report.
pub const HEALTH_KEY: &str = "pool-health";
/// An unchanged report is written again after this many seconds.
pub const HEALTH_REWRITE: u64 = 600;
/// A report older than this many seconds is ignored.
pub const HEALTH_MAX_AGE: u64 = 3 * HEALTH_REWRITE;

/// Why and since when an origin fails its check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failing {
    /// Unix seconds of the first failed check in a row.
    pub since: u64,
    /// What the check saw: a status, a timeout, or no connection.
    pub why: String,
}

/// The origins that failed the last check, stored as lines of text (read on every
/// pool refresh; a JSON reader for it would add kilobytes to the worker):
///
/// ```text
/// checked_at 1700000000
/// failing https://b.internal 1699999940 status 503
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HealthReport {
    /// Unix seconds at which the report was written.
    pub checked_at: u64,
    /// Failing origins by base URL (a URL holds no space), in check order.
    pub failing: Vec<(String, Failing)>,
}

impl HealthReport {
    /// Reads the stored text.
    ///
    /// # Errors
    /// A message saying why it is not a health report.
    pub fn parse(bytes: &[u8]) -> Result<HealthReport, String> {
        let bad = |why: &str| format!("`{HEALTH_KEY}` is malformed: {why}");
        let text = std::str::from_utf8(bytes).map_err(|_| bad("not UTF-8"))?;
        let mut lines = text.lines();
        let first = lines.next().and_then(|l| l.strip_prefix("checked_at "));
        let checked_at = first.and_then(|n| n.parse().ok());
        let checked_at = checked_at.ok_or_else(|| bad("expected `checked_at <seconds>` first"))?;
        let mut failing = Vec::new();
        for line in lines {
            let mut fields = line.splitn(4, ' ');
            let (Some("failing"), Some(url), Some(since), Some(why)) =
                (fields.next(), fields.next(), fields.next(), fields.next())
            else {
                return Err(bad("expected `failing <url> <since> <why>` lines"));
            };
            let since = since.parse().map_err(|_| bad("`since` is not a number of seconds"))?;
            failing.push((url.to_owned(), Failing { since, why: why.to_owned() }));
        }
        Ok(HealthReport { checked_at, failing })
    }

    /// The text to store (see the type's docs).
    pub fn to_text(&self) -> Vec<u8> {
        let mut out = format!("checked_at {}\n", self.checked_at);
        for (url, f) in &self.failing {
            // Line breaks would split the entry: a reason is one line.
            let why: String = f.why.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
            out.push_str(&format!("failing {url} {} {why}\n", f.since));
        }
        out.into_bytes()
    }

    /// Why `url` failed, if it did.
    pub fn failing(&self, url: &str) -> Option<&Failing> {
        self.failing.iter().find(|(u, _)| u == url).map(|(_, f)| f)
    }

    /// Whether the report still counts at `now`.
    pub fn is_current(&self, now: u64) -> bool {
        now < self.checked_at.saturating_add(HEALTH_MAX_AGE)
    }

    /// The report after a round of checks at `now` (`Err` holds why an origin
    /// failed), and whether it needs writing: the failing set changed, or the
    /// previous report is due for a rewrite (or absent).
    pub fn after_checks(
        previous: Option<&HealthReport>,
        results: Vec<(String, Result<(), String>)>,
        now: u64,
    ) -> (HealthReport, bool) {
        let mut failing = Vec::new();
        for (url, result) in results {
            if let Err(why) = result {
                let since = previous.and_then(|p| p.failing(&url)).map_or(now, |f| f.since);
                failing.push((url, Failing { since, why }));
            }
        }
        let write = match previous {
            None => true,
            Some(p) => {
                !p.failing.iter().map(|f| &f.0).eq(failing.iter().map(|f| &f.0))
                    || now >= p.checked_at.saturating_add(HEALTH_REWRITE)
            }
        };
        let checked_at = match (write, previous) {
            (false, Some(p)) => p.checked_at,
            _ => now,
        };
        (HealthReport { checked_at, failing }, write)
    }
}

/// Judges a check's answer: a 2xx status passes; anything else says why not.
pub fn judge(status: u16) -> Result<(), String> {
    match status {
        200..=299 => Ok(()),
        s => Err(format!("status {s}")),
    }
}
