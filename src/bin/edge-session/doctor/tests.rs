//! The doctor on configurations written here.

use super::*;

const KEYS: &str = "k1:cGxlbnR5LW9mLXJhbmRvbS1ieXRlcy0wMTIzNDU2Nzg5YWJjZGVm";
const SECRET: &str = "c2Vjb25kLXNlY3JldC13aXRoLWVudHJvcHktOTg3NjU0MzIxMGZlZGNi";

const TOML: &str = r#"
name = "app"
main = "build/index.js"
compatibility_date = "2026-04-20"

[[kv_namespaces]]
binding = "DENYLIST"
id = "00000000000000000000000000000001"

[[kv_namespaces]]
binding = "ASSETS"
id = "00000000000000000000000000000002"

[vars]
ORIGIN_URL = "https://origin.example"

[env.production.vars]
ORIGIN_URL = "http://10.0.0.5:8080"
REVOCATION_FAIL_MODE = "open"
HEALTH_CHECK_PATH = "/healthz"
"#;

fn doctor(toml: &str, env: Option<&str>, extra: &[(&str, &str)], deploy: bool) -> Vec<Finding> {
    let doc: Value = toml::from_str(toml).unwrap();
    let mut d = deployment(&doc, env).unwrap();
    d.settings.extend(crate::dev_vars::parse(&format!(
        "SESSION_KEYS={KEYS}\nORIGIN_SECRET=\"{SECRET}\"\n"
    )));
    for (k, v) in extra {
        d.settings.insert((*k).into(), (*v).into());
    }
    check(&d, deploy)
}

fn about(findings: &[Finding], what: &str) -> Vec<Level> {
    findings.iter().filter(|f| f.what == what).map(|f| f.level).collect()
}

#[test]
fn a_sound_configuration_has_only_the_placeholder_note_until_deploy() {
    let f = doctor(TOML, None, &[], false);
    assert_eq!(f.iter().map(|f| f.level).collect::<Vec<_>>(), [Level::Note, Level::Note], "{f:#?}");
    assert!(f[0].message.contains("npx wrangler kv namespace create"), "{f:#?}");
    let f = doctor(TOML, None, &[], true);
    assert_eq!(about(&f, "kv_namespaces"), [Level::Problem, Level::Problem], "{f:#?}");
}

#[test]
fn what_the_worker_refuses_is_a_problem_naming_the_setting() {
    let f = doctor(TOML, None, &[("TOKEN_AUDIENCE", "origin")], false);
    let p = f.iter().find(|f| f.level == Level::Problem).expect("a problem");
    assert!(p.message.contains("TOKEN_AUDIENCE") && p.message.contains("500"), "{p:?}");
    let f = doctor(TOML, None, &[("COOKIE_NAME", "__Host-s"), ("COOKIE_PATH", "/app")], false);
    assert!(
        f.iter().any(|f| f.level == Level::Problem && f.message.contains("COOKIE_PATH")),
        "{f:#?}"
    );
}

#[test]
fn risks_are_named_in_plain_words_and_secrets_never_shown() {
    let f = doctor(
        TOML,
        Some("production"),
        &[("COOKIE_NAME", "sid"), ("COOKIE_SAMESITE", "None")],
        false,
    );
    assert_eq!(about(&f, "REVOCATION_FAIL_MODE"), [Level::Risk]);
    assert_eq!(about(&f, "ORIGINS"), [Level::Risk], "plain http to another host: {f:#?}");
    assert_eq!(about(&f, "HEALTH_CHECK_PATH"), [Level::Risk], "no trigger");
    assert_eq!(about(&f, "COOKIE_NAME"), [Level::Risk]);
    assert_eq!(about(&f, "COOKIE_SAMESITE"), [Level::Risk]);
    let weak = doctor(TOML, None, &[("ORIGIN_SECRET", &"ab".repeat(20))], false);
    assert_eq!(about(&weak, "ORIGIN_SECRET"), [Level::Risk]);
    for f in f.iter().chain(&weak) {
        assert!(!f.message.contains(SECRET) && !f.message.contains("abab"), "{f:?}");
    }
    let secret_in_vars =
        TOML.replace("[vars]\n", &format!("[vars]\nORIGIN_SECRET = \"{SECRET}\"\n"));
    let f = doctor(&secret_in_vars, None, &[], false);
    assert_eq!(about(&f, "ORIGIN_SECRET"), [Level::Problem], "{f:#?}");
    assert!(deployment(&toml::from_str(TOML).unwrap(), Some("staging")).is_err());
    // An environment inherits no bindings (as wrangler): production declares none.
    let prod = doctor(TOML, Some("production"), &[], false);
    assert_eq!(about(&prod, "kv_namespaces"), [Level::Problem, Level::Problem], "{prod:#?}");
    // Loopback over http is fine, IPv6 included.
    for local in ["http://[::1]:8788", "http://localhost:8788/base", "http://127.0.0.1"] {
        let f = doctor(TOML, None, &[("ORIGIN_URL", local)], false);
        assert!(about(&f, "ORIGINS").is_empty(), "{local}: {f:#?}");
    }
}

#[test]
fn missing_bindings_are_problems() {
    let no_assets = TOML.replace("binding = \"ASSETS\"", "binding = \"FILES\"");
    let f = doctor(&no_assets, None, &[], false);
    assert!(
        f.iter().any(|f| f.level == Level::Problem && f.message.contains("`ASSETS`")),
        "{f:#?}"
    );
    let f = doctor(TOML, None, &[("STRONG_REVOCATION_PATHS", "/admin/")], false);
    assert_eq!(about(&f, "durable_objects"), [Level::Problem]);
    let with_cron = format!("{TOML}\n[triggers]\ncrons = [\"* * * * *\"]\n");
    let f = doctor(&with_cron, None, &[], false);
    assert_eq!(about(&f, "triggers"), [Level::Note]);
}
