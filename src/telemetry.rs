//! What the worker tells operators about each request: one JSON line through
//! `console.log` (Workers Logs indexes its fields) and, when a dataset is bound, one
//! Workers Analytics Engine data point with the same dimensions. Neither ever holds
//! a credential, a cookie value or a query string.
//!
//! The line, sampled by `REQUEST_LOG_SAMPLE` (1 by default: every request; 0: none):
//!
//! ```json
//! {"edge_session":"request","route":"forward","method":"GET","path":"/api/me",
//!  "session":"valid","kid":"k2","deploy":"d-42","status":200,"error":null,
//!  "origin":"https://a.internal","retries":0}
//! ```
//!
//! The data point (every request; Analytics Engine samples on its own): blobs
//! `route, session, kid, deploy, error, origin, method, path` (absent ones empty),
//! doubles `status, retries`, index `deploy` (or `-`). The README has ready queries.

use std::fmt::Write as _;

/// Which part of the worker answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Route {
    /// A static asset from KV.
    Asset,
    /// An edge endpoint (`/_session/*`).
    Endpoint,
    /// Forwarded to the origin (or refused on the way: CSRF, a missing revocation
    /// list, an oversize cookie header).
    #[default]
    Forward,
}

impl Route {
    /// The name in the log and the data point.
    pub fn as_str(self) -> &'static str {
        match self {
            Route::Asset => "asset",
            Route::Endpoint => "endpoint",
            Route::Forward => "forward",
        }
    }
}

/// What the request's credential turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SessionState {
    /// No session cookie and no bearer token (or none was looked at).
    #[default]
    None,
    /// Opened, within its lifetimes, not revoked.
    Valid,
    /// Valid and re-sealed with a new idle expiry (rolling refresh).
    Refreshed,
    /// Past its absolute or idle expiry.
    Expired,
    /// On the denylist (its `sid`, or its user signed out everywhere after it).
    Revoked,
    /// Tampered, truncated, under an unknown key, or otherwise unreadable.
    Invalid,
    /// The revocation list could not be read (`REVOCATION_FAIL_MODE` decided).
    Unverified,
}

impl SessionState {
    /// The name in the log and the data point.
    pub fn as_str(self) -> &'static str {
        match self {
            SessionState::None => "none",
            SessionState::Valid => "valid",
            SessionState::Refreshed => "refreshed",
            SessionState::Expired => "expired",
            SessionState::Revoked => "revoked",
            SessionState::Invalid => "invalid",
            SessionState::Unverified => "unverified",
        }
    }
}

/// One request, as the worker saw it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Record {
    /// Which part answered.
    pub route: Route,
    /// The method.
    pub method: String,
    /// The path, without the query, cut to [`MAX_PATH`] bytes.
    pub path: String,
    /// The credential's fate.
    pub session: SessionState,
    /// The ring key that opened the session or verified the token.
    pub kid: Option<String>,
    /// The asset deploy that answered, or that the request was pinned to.
    pub deploy: Option<String>,
    /// The status sent to the client.
    pub status: u16,
    /// The error code of an answer the worker wrote (`"error"` of its JSON body).
    pub error: Option<String>,
    /// The origin that answered (its base URL), when one was asked.
    pub origin: Option<String>,
    /// Attempts beyond the first.
    pub retries: u8,
}

/// One Workers Analytics Engine data point (`writeDataPoint`).
#[derive(Debug, Clone, PartialEq)]
pub struct DataPoint {
    /// `route, session, kid, deploy, error, origin, method, path`.
    pub blobs: [String; 8],
    /// `status, retries`.
    pub doubles: [f64; 2],
    /// The deploy, or `-`.
    pub index: String,
}

/// Where data points go: the shell's Analytics Engine binding, or a test's fake.
pub trait Metrics {
    /// Writes one data point (fire and forget, as the binding does).
    fn write(&self, point: &DataPoint);
}

impl Record {
    /// The JSON log line.
    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(256);
        out.push_str(r#"{"edge_session":"request","route":""#);
        out.push_str(self.route.as_str());
        out.push('"');
        push_field(&mut out, "method", Some(&self.method));
        push_field(&mut out, "path", Some(&self.path));
        out.push_str(r#","session":""#);
        out.push_str(self.session.as_str());
        out.push('"');
        push_field(&mut out, "kid", self.kid.as_deref());
        push_field(&mut out, "deploy", self.deploy.as_deref());
        let _ = write!(out, r#","status":{}"#, self.status);
        push_field(&mut out, "error", self.error.as_deref());
        push_field(&mut out, "origin", self.origin.as_deref());
        let _ = write!(out, r#","retries":{}}}"#, self.retries);
        out
    }

    /// The Analytics Engine data point.
    pub fn data_point(&self) -> DataPoint {
        let text = |v: &Option<String>| v.clone().unwrap_or_default();
        DataPoint {
            blobs: [
                self.route.as_str().to_owned(),
                self.session.as_str().to_owned(),
                text(&self.kid),
                text(&self.deploy),
                text(&self.error),
                text(&self.origin),
                self.method.clone(),
                self.path.clone(),
            ],
            doubles: [f64::from(self.status), f64::from(self.retries)],
            index: self.deploy.clone().unwrap_or_else(|| "-".into()),
        }
    }

    /// Reports the request: a data point to `metrics` when a dataset is bound, and
    /// the log line, returned, when `random` (uniform over `u32`, asked for only when
    /// sampling) falls in the sampled share `sample` (0 to 1).
    pub fn report(
        &self,
        sample: f64,
        random: impl FnOnce() -> u32,
        metrics: Option<&impl Metrics>,
    ) -> Option<String> {
        if let Some(m) = metrics {
            m.write(&self.data_point());
        }
        let take =
            sample >= 1.0 || (sample > 0.0 && f64::from(random()) < sample * 4_294_967_296.0);
        take.then(|| self.to_json())
    }
}

/// The longest path a record keeps, in bytes: Analytics Engine refuses a data point
/// whose blobs pass its size limit, and a log line should stay a line.
pub const MAX_PATH: usize = 1024;

/// `path`, cut to at most [`MAX_PATH`] bytes on a character boundary.
pub fn shortened(path: &str) -> String {
    let mut end = path.len().min(MAX_PATH);
    while !path.is_char_boundary(end) {
        end -= 1;
    }
    path.get(..end).unwrap_or_default().to_owned()
}

/// `,"name":"value"` (JSON-escaped), or `,"name":null`.
fn push_field(out: &mut String, name: &str, value: Option<&str>) {
    out.push_str(",\"");
    out.push_str(name);
    out.push_str("\":");
    let Some(value) = value else {
        out.push_str("null");
        return;
    };
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// The `"error"` code of a JSON error body the worker wrote (`Response::error`
/// writes `{"error":"code",…}` first: serde_json's maps are sorted).
pub fn error_code(body: &[u8]) -> Option<String> {
    let rest = body.strip_prefix(br#"{"error":""#)?;
    let end = rest.iter().position(|b| *b == b'"')?;
    std::str::from_utf8(rest.get(..end)?).ok().map(str::to_owned)
}

#[cfg(test)]
mod tests;
