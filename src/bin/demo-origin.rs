//! `demo-origin`: a small, **stateless** origin server behind the edge-session worker.
//!
//! It keeps no session state at all. On every request it verifies the `Edge-Session`
//! header (an HS256 JWS minted by the worker; key = the UTF-8 bytes of `ORIGIN_SECRET`,
//! `aud` = `ORIGIN_AUDIENCE`, `iss` = `EDGE_ISSUER`) with [`edge_session::jwt::verify`];
//! an absent or invalid header means "anonymous". It asks the worker for session
//! changes with response headers, which the worker applies and strips:
//! `Edge-Session-Set: {"sub":…,"data":…}` and `Edge-Session-Action: destroy | rotate | revoke | revoke-all`.
//!
//! Configuration (environment): `ORIGIN_PORT` (default 8788), `ORIGIN_HOST` (default
//! `127.0.0.1`), `ORIGIN_SECRET` (required, ≥ 32 bytes), `ORIGIN_AUDIENCE` (default
//! `origin`), `EDGE_ISSUER` (default `edge-session`), `WWW_DIR` (default `www`).
//! Exit codes: 0 never (it serves until killed), 1 the port cannot be bound, 2 bad
//! configuration.
//!
//! Routes: `POST /login`, `GET /api/me`, `POST /api/data`, `POST /api/big?bytes=N`,
//! `POST /logout`, `POST /api/rotate`, `GET /api/echo-headers`, `GET /api/public`, and
//! static files from `WWW_DIR` for any other `GET`/`HEAD`. JSON bodies of `POST`s must
//! be sent as `Content-Type: application/json` (so a cross-site form cannot send them)
//! and be at most 16 KiB. One log line per request goes to stderr (method, path without
//! query, status, `anonymous` or the `sub`), never a token.
//!
//! `GET /api/echo-headers` echoes every request header verbatim, the worker's
//! `Edge-Session` assertion included: it exists so end-to-end tests can see what the
//! worker forwards, and is not something a real origin would expose.

#[cfg(not(target_arch = "wasm32"))]
fn main() -> std::process::ExitCode {
    native::main()
}

/// The demo origin is native only; on wasm32 this binary is empty.
#[cfg(target_arch = "wasm32")]
fn main() {}

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use std::io::{Cursor, Read};
    use std::path::{Component, Path, PathBuf};
    use std::process::ExitCode;
    use std::sync::Arc;
    use std::time::{SystemTime, UNIX_EPOCH};

    use edge_session::jwt::{self, JwtKey, TokenClaims, Validation};
    use serde_json::{json, Map, Value};
    use tiny_http::{Header, Method, Request, Response, Server};

    /// Largest accepted request body, in bytes.
    pub const MAX_BODY: usize = 16 * 1024;
    /// Largest `bytes` accepted by `POST /api/big`.
    pub const MAX_BIG: usize = 1024 * 1024;
    /// Worker threads serving requests.
    const THREADS: usize = 4;

    /// Validated settings.
    pub struct Config {
        pub host: String,
        pub port: u16,
        pub key: JwtKey,
        pub validation: Validation,
        pub www: PathBuf,
    }

    impl Config {
        /// Reads the settings through `get` (the environment in `main`).
        pub fn load(get: impl Fn(&str) -> Option<String>) -> Result<Config, String> {
            let port = match get("ORIGIN_PORT") {
                None => 8788,
                Some(text) => {
                    text.trim().parse::<u16>().ok().filter(|p| *p != 0).ok_or_else(|| {
                        format!("ORIGIN_PORT must be a port number 1-65535, got `{text}`")
                    })?
                }
            };
            let secret = get("ORIGIN_SECRET").filter(|s| !s.is_empty()).ok_or(
                "ORIGIN_SECRET is not set; set it to the secret shared with the worker \
                 (at least 32 bytes)",
            )?;
            let key = JwtKey::from_bytes(secret.as_bytes()).map_err(|_| {
                format!("ORIGIN_SECRET is {} bytes; at least 32 are required", secret.len())
            })?;
            let audience = get("ORIGIN_AUDIENCE").unwrap_or_else(|| "origin".into());
            let issuer = get("EDGE_ISSUER").unwrap_or_else(|| "edge-session".into());
            Ok(Config {
                host: get("ORIGIN_HOST").unwrap_or_else(|| "127.0.0.1".into()),
                port,
                key,
                validation: Validation {
                    // The assertion carries the session data, which may span every
                    // cookie chunk (16 KB sealed): allow it whole.
                    max_token_len: 64 * 1024,
                    ..Validation::new(issuer, audience)
                },
                www: PathBuf::from(get("WWW_DIR").unwrap_or_else(|| "www".into())),
            })
        }
    }

    pub fn main() -> ExitCode {
        let config = match Config::load(|name| std::env::var(name).ok()) {
            Ok(config) => config,
            Err(message) => {
                eprintln!("demo-origin: configuration error: {message}");
                return ExitCode::from(2);
            }
        };
        let address = format!("{}:{}", config.host, config.port);
        let server = match Server::http(&address) {
            Ok(server) => Arc::new(server),
            Err(error) => {
                eprintln!("demo-origin: cannot listen on {address}: {error}");
                return ExitCode::from(1);
            }
        };
        eprintln!(
            "demo-origin: listening on http://{address} (static files from {})",
            config.www.display()
        );
        let config = Arc::new(config);
        let workers: Vec<_> = (0..THREADS)
            .map(|_| {
                let (server, config) = (Arc::clone(&server), Arc::clone(&config));
                std::thread::spawn(move || {
                    for request in server.incoming_requests() {
                        serve(&config, request);
                    }
                })
            })
            .collect();
        for worker in workers {
            let _ = worker.join();
        }
        ExitCode::SUCCESS
    }

    /// A request as the router sees it.
    pub struct Incoming {
        pub method: Method,
        pub path: String,
        pub query: String,
        /// Header names lowercased, values as received.
        pub headers: Vec<(String, String)>,
        /// The body, or `None` if it was larger than [`MAX_BODY`].
        pub body: Option<Vec<u8>>,
    }

    /// A response before it is turned into a `tiny_http` one.
    pub struct Reply {
        pub status: u16,
        pub content_type: &'static str,
        pub headers: Vec<(&'static str, String)>,
        pub body: Vec<u8>,
    }

    impl Reply {
        fn json(status: u16, value: &Value) -> Reply {
            Reply {
                status,
                content_type: "application/json",
                headers: Vec::new(),
                body: value.to_string().into_bytes(),
            }
        }

        fn error(status: u16, message: &str) -> Reply {
            Reply::json(status, &json!({ "error": message }))
        }

        fn with(mut self, name: &'static str, value: String) -> Reply {
            self.headers.push((name, value));
            self
        }
    }

    fn serve(config: &Config, mut request: Request) {
        let url = request.url().to_owned();
        let (path, query) = url.split_once('?').unwrap_or((&url, ""));
        let headers: Vec<(String, String)> = request
            .headers()
            .iter()
            .map(|h| (h.field.as_str().as_str().to_ascii_lowercase(), h.value.as_str().to_owned()))
            .collect();
        let method = request.method().clone();
        let body =
            if method == Method::Post { read_body(request.as_reader()) } else { Some(Vec::new()) };
        let incoming =
            Incoming { method, path: path.to_owned(), query: query.to_owned(), headers, body };

        let (session, rejected) = session_of(config, &incoming.headers, unix_now());
        let reply = route(config, &incoming, session.as_ref());
        let who = match (&session, rejected) {
            (Some(claims), _) => format!("sub={}", claims.sub.escape_debug()),
            (None, Some(why)) => format!("anonymous (Edge-Session rejected: {why})"),
            (None, None) => "anonymous".to_owned(),
        };
        eprintln!("{} {} {} {who}", incoming.method, incoming.path, reply.status);
        let status = reply.status;
        // Which origin of a pool answered (the fleet tests and the demo page read it).
        let reply = reply.with("X-Origin", format!("{}:{}", config.host, config.port));
        let response = to_response(reply).unwrap_or_else(|| {
            eprintln!("demo-origin: could not build the {status} response; answering 500");
            Response::from_string("internal error").with_status_code(500)
        });
        if let Err(error) = request.respond(response) {
            eprintln!("demo-origin: writing the response failed: {error}");
        }
    }

    fn read_body(reader: &mut dyn Read) -> Option<Vec<u8>> {
        let mut body = Vec::new();
        let limit = u64::try_from(MAX_BODY).ok()?.saturating_add(1);
        reader.take(limit).read_to_end(&mut body).ok()?;
        (body.len() <= MAX_BODY).then_some(body)
    }

    fn to_response(reply: Reply) -> Option<Response<Cursor<Vec<u8>>>> {
        let mut response = Response::from_data(reply.body).with_status_code(reply.status);
        response.add_header(Header::from_bytes("Content-Type", reply.content_type).ok()?);
        response.add_header(Header::from_bytes("X-Content-Type-Options", "nosniff").ok()?);
        for (name, value) in reply.headers {
            response.add_header(Header::from_bytes(name, value).ok()?);
        }
        Some(response)
    }

    fn unix_now() -> u64 {
        SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
    }

    /// The verified session, or why an `Edge-Session` header present was rejected.
    pub fn session_of(
        config: &Config,
        headers: &[(String, String)],
        now: u64,
    ) -> (Option<TokenClaims>, Option<jwt::JwtError>) {
        let Some((_, token)) = headers.iter().find(|(name, _)| name == "edge-session") else {
            return (None, None);
        };
        match jwt::verify(token.trim(), |_| Some(&config.key), &config.validation, now) {
            Ok(claims) => (Some(claims), None),
            Err(error) => (None, Some(error)),
        }
    }

    /// What `GET /healthz` answers: 200 until `POST /healthz?status=N` says otherwise
    /// (to watch the worker's active health check move traffic away, and back).
    static HEALTH: std::sync::atomic::AtomicU16 = std::sync::atomic::AtomicU16::new(200);

    fn health() -> Reply {
        let status = HEALTH.load(std::sync::atomic::Ordering::Relaxed);
        Reply::json(status, &json!({"healthy": status == 200}))
    }

    fn set_health(req: &Incoming) -> Reply {
        let status = req.query.split('&').find_map(|p| p.strip_prefix("status="));
        match status.and_then(|s| s.parse::<u16>().ok()).filter(|s| (200..600).contains(s)) {
            Some(s) => {
                HEALTH.store(s, std::sync::atomic::Ordering::Relaxed);
                Reply::json(200, &json!({"health_status": s}))
            }
            None => Reply::error(400, "expected ?status=N with N from 200 to 599"),
        }
    }

    /// Routes a request; `session` is the verified assertion, if any.
    pub fn route(config: &Config, req: &Incoming, session: Option<&TokenClaims>) -> Reply {
        let post = req.method == Method::Post;
        match req.path.as_str() {
            "/login" if post => login(req),
            "/logout" if post => {
                Reply::json(200, &json!({"ok": true})).with("Edge-Session-Action", "destroy".into())
            }
            "/api/me" if req.method == Method::Get => match session {
                Some(c) => Reply::json(
                    200,
                    &json!({"sub": c.sub, "sid": c.sid, "auth_time": c.auth_time, "exp": c.exp,
                            "session_exp": c.session_exp, "idle_exp": c.idle_exp,
                            "data": c.data}),
                ),
                None => not_logged_in(),
            },
            "/api/data" if post => match session {
                Some(claims) => set_data(req, claims),
                None => not_logged_in(),
            },
            "/api/big" if post => match session {
                Some(claims) => big(req, claims),
                None => not_logged_in(),
            },
            "/api/rotate" | "/api/revoke" | "/api/revoke-all" if post => match session {
                Some(_) => {
                    let action = req.path.trim_start_matches("/api/");
                    Reply::json(200, &json!({"ok": true, "action": action}))
                        .with("Edge-Session-Action", action.into())
                }
                None => not_logged_in(),
            },
            "/api/echo-headers" if req.method == Method::Get => {
                let mut echoed = Map::new();
                for (name, value) in &req.headers {
                    let joined = match echoed.get(name).and_then(Value::as_str) {
                        Some(before) => format!("{before}, {value}"),
                        None => value.clone(),
                    };
                    echoed.insert(name.clone(), Value::String(joined));
                }
                Reply::json(200, &Value::Object(echoed))
            }
            "/api/public" if req.method == Method::Get => {
                Reply::json(200, &json!({"anonymous": session.is_none()}))
            }
            "/healthz" if req.method == Method::Get => health(),
            "/healthz" if post => set_health(req),
            "/login" | "/logout" | "/api/me" | "/api/data" | "/api/big" | "/api/rotate"
            | "/api/revoke" | "/api/revoke-all" | "/api/echo-headers" | "/api/public"
            | "/healthz" => Reply::error(405, "method not allowed"),
            _ if matches!(req.method, Method::Get | Method::Head) => {
                static_file(&config.www, &req.path)
            }
            _ => Reply::error(404, "not found"),
        }
    }

    fn not_logged_in() -> Reply {
        Reply::error(401, "not logged in")
    }

    /// The JSON body of a POST, or the reply explaining why there is none.
    fn json_body(req: &Incoming) -> Result<Value, Reply> {
        let is_json = req.headers.iter().any(|(name, value)| {
            name == "content-type"
                && value
                    .split(';')
                    .next()
                    .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"))
        });
        if !is_json {
            return Err(Reply::error(415, "expected Content-Type: application/json"));
        }
        let Some(body) = &req.body else {
            return Err(Reply::error(413, &format!("body is larger than {MAX_BODY} bytes")));
        };
        serde_json::from_slice(body).map_err(|_| Reply::error(400, "body is not valid JSON"))
    }

    fn login(req: &Incoming) -> Reply {
        let body = match json_body(req) {
            Ok(body) => body,
            Err(reply) => return reply,
        };
        let username = match body.get("username").and_then(Value::as_str) {
            Some(name) => name,
            None => return Reply::error(400, "expected {\"username\": \"...\"}"),
        };
        if let Err(why) = check_username(username) {
            return Reply::error(400, &why);
        }
        let set = json!({"sub": username, "data": {"name": username, "logins": 1}});
        Reply::json(200, &json!({"ok": true, "user": username}))
            .with("Edge-Session-Set", ascii_json(&set))
    }

    fn set_data(req: &Incoming, claims: &TokenClaims) -> Reply {
        let patch = match json_body(req) {
            Ok(Value::Object(patch)) => patch,
            Ok(_) => return Reply::error(400, "body must be a JSON object"),
            Err(reply) => return reply,
        };
        let data = merge(&claims.data.to_map(), patch);
        let set = json!({"sub": claims.sub, "data": data});
        Reply::json(200, &json!({"ok": true, "data": data}))
            .with("Edge-Session-Set", ascii_json(&set))
    }

    fn big(req: &Incoming, claims: &TokenClaims) -> Reply {
        let bytes = edge_session::http::query_param(&req.query, "bytes")
            .and_then(|n| n.parse::<usize>().ok());
        let Some(bytes) = bytes.filter(|n| *n <= MAX_BIG) else {
            return Reply::error(400, &format!("expected ?bytes=N with N at most {MAX_BIG}"));
        };
        let mut data = claims.data.to_map();
        data.insert("blob".into(), Value::String("x".repeat(bytes)));
        let set = json!({"sub": claims.sub, "data": data});
        Reply::json(200, &json!({"ok": true, "bytes": bytes}))
            .with("Edge-Session-Set", ascii_json(&set))
    }

    /// Top-level JSON merge patch (RFC 7396 at depth one): `null` removes a key.
    pub fn merge(data: &Map<String, Value>, patch: Map<String, Value>) -> Map<String, Value> {
        let mut merged = data.clone();
        for (key, value) in patch {
            if value.is_null() {
                merged.remove(&key);
            } else {
                merged.insert(key, value);
            }
        }
        merged
    }

    /// 1 to 64 characters, each an ASCII letter, digit or one of `._-@`.
    pub fn check_username(name: &str) -> Result<(), String> {
        let len = name.chars().count();
        if !(1..=64).contains(&len) {
            return Err(format!("username must be 1 to 64 characters, got {len}"));
        }
        if let Some(bad) =
            name.chars().find(|c| !(c.is_ascii_alphanumeric() || "._-@".contains(*c)))
        {
            return Err(format!(
                "username may hold only letters, digits and `._-@`; found {:?}",
                bad
            ));
        }
        Ok(())
    }

    /// JSON with every non-ASCII character escaped, so it fits in an HTTP header value.
    pub fn ascii_json(value: &Value) -> String {
        let mut out = String::new();
        for c in value.to_string().chars() {
            if c.is_ascii() {
                out.push(c);
            } else {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
        }
        out
    }

    /// The file a URL path names, relative to the static root, or `None` if the path
    /// could escape it (`..`, dot files, backslashes, NUL, encoded separators) or is
    /// not valid percent-encoding. `/` and paths ending in `/` name `index.html`.
    pub fn static_rel_path(url_path: &str) -> Option<PathBuf> {
        // The worker's own path rules: escapes decoded, no dot segment, no encoded
        // separator, no control byte; `/` and `dir/` name `index.html`.
        let decoded = edge_session::assets::decode_path(url_path).ok()?;
        let mut rel = PathBuf::new();
        for segment in edge_session::assets::key_for(&decoded).split('/') {
            // Stricter for files on disk: no dotfiles, no drive or stream syntax.
            if segment.starts_with('.') || segment.contains(['\\', '\0', ':']) {
                return None;
            }
            rel.push(segment);
        }
        // Belt and braces: only plain names may remain.
        rel.components().all(|c| matches!(c, Component::Normal(_))).then_some(rel)
    }

    /// Content type by file extension: the worker's own table.
    pub fn content_type(path: &Path) -> &'static str {
        edge_session::assets::content_type_for(&path.to_string_lossy())
    }

    fn static_file(root: &Path, url_path: &str) -> Reply {
        let not_found = || Reply::error(404, "not found");
        let Some(rel) = static_rel_path(url_path) else { return not_found() };
        // Resolve symlinks and make sure the file is still under the root.
        let (Ok(root), Ok(mut file)) = (root.canonicalize(), root.join(&rel).canonicalize()) else {
            return not_found();
        };
        if file.is_dir() {
            file.push("index.html");
        }
        if !file.starts_with(&root) || !file.is_file() {
            return not_found();
        }
        match std::fs::read(&file) {
            Ok(body) => {
                Reply { status: 200, content_type: content_type(&file), headers: Vec::new(), body }
            }
            Err(_) => not_found(),
        }
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::native::*;
    use edge_session::jwt::{self, JwtKey, TokenClaims};
    use serde_json::{json, Value};
    use std::path::PathBuf;
    use tiny_http::Method;

    const SECRET: &str = "a-demo-origin-secret-that-is-long-enough";

    fn config(www: &str) -> Config {
        let env = |name: &str| match name {
            "ORIGIN_SECRET" => Some(SECRET.to_owned()),
            "WWW_DIR" => Some(www.to_owned()),
            _ => None,
        };
        Config::load(env).unwrap()
    }

    fn request(method: Method, path: &str, body: Option<&str>) -> Incoming {
        let (path, query) = path.split_once('?').unwrap_or((path, ""));
        let mut headers = vec![("host".to_owned(), "example".to_owned())];
        if body.is_some() {
            headers.push(("content-type".into(), "application/json; charset=utf-8".into()));
        }
        Incoming {
            method,
            path: path.into(),
            query: query.into(),
            headers,
            body: Some(body.unwrap_or("").as_bytes().to_vec()),
        }
    }

    fn claims() -> TokenClaims {
        serde_json::from_value(json!({"iss": "edge-session", "aud": "origin", "sub": "ada",
            "sid": "s1", "iat": 100, "nbf": 100, "exp": 160, "auth_time": 90,
            "session_exp": 3600, "idle_exp": 1000,
            "data": {"name": "ada", "logins": 1}}))
        .unwrap()
    }

    fn body(reply: &Reply) -> Value {
        assert_eq!(reply.content_type, "application/json");
        serde_json::from_slice(&reply.body).unwrap()
    }

    fn header<'a>(reply: &'a Reply, name: &str) -> Option<&'a str> {
        reply.headers.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
    }

    #[test]
    fn usernames_are_validated() {
        for good in ["a", "ada", "ada.lovelace@example.org", "A_b-9", &"x".repeat(64)] {
            assert_eq!(check_username(good), Ok(()), "{good}");
        }
        for bad in ["", "with space", "é", "a/b", "<script>", "a\nb", &"x".repeat(65)] {
            assert!(check_username(bad).is_err(), "{bad:?}");
        }
        assert_eq!(check_username("").unwrap_err(), "username must be 1 to 64 characters, got 0");
    }

    #[test]
    fn static_paths_cannot_escape_the_root() {
        let ok =
            |p: &str, want: &str| assert_eq!(static_rel_path(p), Some(PathBuf::from(want)), "{p}");
        ok("/", "index.html");
        ok("/app.js", "app.js");
        ok("/css/site.css", "css/site.css");
        ok("/docs/", "docs/index.html");
        ok("/my%20file.txt", "my file.txt");
        for bad in [
            "",
            "app.js",
            "/../etc/passwd",
            "/a/../../etc/passwd",
            "/%2e%2e/etc/passwd",
            "/..%2fetc%2fpasswd",
            "/a%2f..%2f..%2fb",
            "//etc/passwd",
            "/a//b",
            "/.env",
            "/.git/config",
            "/a\\..\\b",
            "/a%5c..%5cb",
            "/a%00.html",
            "/C:/Windows",
            "/%zz",
            "/%e9",
        ] {
            assert_eq!(static_rel_path(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn content_types_follow_extensions() {
        assert_eq!(content_type("a/index.html".as_ref()), "text/html; charset=utf-8");
        assert_eq!(content_type("app.JS".as_ref()), "text/javascript; charset=utf-8");
        assert_eq!(content_type("style.css".as_ref()), "text/css; charset=utf-8");
        assert_eq!(content_type("blob".as_ref()), "application/octet-stream");
    }

    #[test]
    fn config_requires_a_long_secret() {
        let only = |secret: Option<&'static str>| {
            move |name: &str| {
                (name == "ORIGIN_SECRET").then_some(secret).flatten().map(String::from)
            }
        };
        assert!(Config::load(only(None)).err().unwrap().contains("ORIGIN_SECRET is not set"));
        let short = Config::load(only(Some("short"))).err().unwrap();
        assert_eq!(short, "ORIGIN_SECRET is 5 bytes; at least 32 are required");
        let config = Config::load(only(Some(SECRET))).ok().unwrap();
        assert_eq!((config.port, config.host.as_str()), (8788, "127.0.0.1"));
        assert_eq!(config.validation.audience, "origin");
        assert_eq!(config.validation.issuer, "edge-session");
        let bad_port = |name: &str| match name {
            "ORIGIN_PORT" => Some("http".to_owned()),
            _ => Some(SECRET.to_owned()),
        };
        assert!(Config::load(bad_port).err().unwrap().contains("ORIGIN_PORT"));
    }

    #[test]
    fn sessions_come_only_from_a_valid_assertion() {
        let config = config("www");
        let key = JwtKey::from_bytes(SECRET.as_bytes()).unwrap();
        let token = jwt::mint(&claims(), &key, None).unwrap();
        let headers = vec![("edge-session".to_owned(), token.clone())];
        assert_eq!(session_of(&config, &headers, 120).0, Some(claims()));
        let (none, why) = session_of(&config, &headers, 1_000);
        assert_eq!((none, why), (None, Some(jwt::JwtError::Expired)));
        let other = JwtKey::from_bytes(&[1; 32]).unwrap();
        let forged = vec![("edge-session".to_owned(), jwt::mint(&claims(), &other, None).unwrap())];
        assert_eq!(session_of(&config, &forged, 120).1, Some(jwt::JwtError::BadSignature));
        assert_eq!(session_of(&config, &[], 120), (None, None));
    }

    #[test]
    fn login_me_data_logout_and_rotate() {
        let config = config("www");
        let login =
            route(&config, &request(Method::Post, "/login", Some(r#"{"username":"ada"}"#)), None);
        assert_eq!((login.status, body(&login)), (200, json!({"ok": true, "user": "ada"})));
        let set: Value = serde_json::from_str(header(&login, "Edge-Session-Set").unwrap()).unwrap();
        assert_eq!(set, json!({"sub": "ada", "data": {"name": "ada", "logins": 1}}));

        let bad =
            route(&config, &request(Method::Post, "/login", Some(r#"{"username":"a b"}"#)), None);
        assert_eq!(bad.status, 400);
        assert!(body(&bad)["error"].as_str().unwrap().contains("letters"));
        let mut form = request(Method::Post, "/login", Some(r#"{"username":"ada"}"#));
        form.headers.retain(|(name, _)| name != "content-type");
        assert_eq!(route(&config, &form, None).status, 415);
        let mut huge = request(Method::Post, "/login", Some("{}"));
        huge.body = None;
        assert_eq!(route(&config, &huge, None).status, 413);

        let me = route(&config, &request(Method::Get, "/api/me", None), None);
        assert_eq!((me.status, body(&me)), (401, json!({"error": "not logged in"})));
        let me = route(&config, &request(Method::Get, "/api/me", None), Some(&claims()));
        let want = json!({"sub": "ada", "sid": "s1", "auth_time": 90, "exp": 160,
                          "session_exp": 3600, "idle_exp": 1000,
                          "data": {"name": "ada", "logins": 1}});
        assert_eq!((me.status, body(&me)), (200, want));

        let patch = Some(r#"{"color":"blü","logins":null}"#);
        let data = route(&config, &request(Method::Post, "/api/data", patch), Some(&claims()));
        assert_eq!(body(&data)["data"], json!({"name": "ada", "color": "blü"}));
        let set = header(&data, "Edge-Session-Set").unwrap();
        assert!(set.is_ascii() && set.contains("\\u00fc"), "{set}");
        let set: Value = serde_json::from_str(set).unwrap();
        assert_eq!(set, json!({"sub": "ada", "data": {"name": "ada", "color": "blü"}}));
        let anon = route(&config, &request(Method::Post, "/api/data", patch), None);
        assert_eq!(anon.status, 401);
        let array =
            route(&config, &request(Method::Post, "/api/data", Some("[1]")), Some(&claims()));
        assert_eq!(array.status, 400);

        let big =
            route(&config, &request(Method::Post, "/api/big?bytes=5000", None), Some(&claims()));
        let set: Value = serde_json::from_str(header(&big, "Edge-Session-Set").unwrap()).unwrap();
        assert_eq!(set["data"]["blob"].as_str().map(str::len), Some(5000));
        let too_big = format!("/api/big?bytes={}", MAX_BIG + 1);
        assert_eq!(
            route(&config, &request(Method::Post, &too_big, None), Some(&claims())).status,
            400
        );

        let out = route(&config, &request(Method::Post, "/logout", None), None);
        assert_eq!((out.status, header(&out, "Edge-Session-Action")), (200, Some("destroy")));
        let rotate = route(&config, &request(Method::Post, "/api/rotate", None), Some(&claims()));
        assert_eq!(header(&rotate, "Edge-Session-Action"), Some("rotate"));
        for action in ["revoke", "revoke-all"] {
            let path = format!("/api/{action}");
            let out = route(&config, &request(Method::Post, &path, None), Some(&claims()));
            assert_eq!(header(&out, "Edge-Session-Action"), Some(action));
            assert_eq!(route(&config, &request(Method::Post, &path, None), None).status, 401);
        }
        assert_eq!(route(&config, &request(Method::Get, "/logout", None), None).status, 405);
    }

    #[test]
    fn echo_public_and_static_routes() {
        let config = config("www");
        let mut req = request(Method::Get, "/api/echo-headers", None);
        req.headers.push(("x-a".into(), "1".into()));
        req.headers.push(("x-a".into(), "2".into()));
        let echo = body(&route(&config, &req, None));
        assert_eq!((echo["host"].as_str(), echo["x-a"].as_str()), (Some("example"), Some("1, 2")));
        let public = route(&config, &request(Method::Get, "/api/public", None), Some(&claims()));
        assert_eq!(body(&public), json!({"anonymous": false}));
        assert!(public.headers.is_empty());

        let dir = std::env::temp_dir().join(format!("demo-origin-test-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        std::fs::write(dir.join("index.html"), "<h1>hi</h1>").unwrap();
        std::fs::write(dir.join("sub/app.js"), "export {}").unwrap();
        let config = self::config(dir.to_str().unwrap());
        let index = route(&config, &request(Method::Get, "/", None), None);
        assert_eq!(
            (index.status, index.content_type, index.body.as_slice()),
            (200, "text/html; charset=utf-8", &b"<h1>hi</h1>"[..])
        );
        let js = route(&config, &request(Method::Get, "/sub/app.js", None), None);
        assert_eq!((js.status, js.content_type), (200, "text/javascript; charset=utf-8"));
        for missing in ["/nope.css", "/../index.html", "/sub/../../etc/passwd", "/sub"] {
            assert_eq!(
                route(&config, &request(Method::Get, missing, None), None).status,
                404,
                "{missing}"
            );
        }
        assert_eq!(route(&config, &request(Method::Post, "/elsewhere", None), None).status, 404);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
