//! The request log line and the data point.

use super::*;

fn record() -> Record {
    Record {
        route: Route::Forward,
        method: "POST".into(),
        path: "/api/\"quoted\"\\n\u{1}".into(),
        session: SessionState::Revoked,
        kid: Some("k2".into()),
        deploy: None,
        status: 502,
        error: Some("origin_unreachable".into()),
        origin: Some("https://a.internal".into()),
        retries: 1,
    }
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn the_line_is_json_with_every_field_and_escapes_what_it_must() {
    let line = record().to_json();
    let v: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(v["path"], "/api/\"quoted\"\\n\u{1}");
    assert_eq!(v["session"], "revoked");
    assert_eq!(v["kid"], "k2");
    assert!(v["deploy"].is_null());
    assert_eq!(v["error"], "origin_unreachable");
    assert_eq!((v["status"].as_u64(), v["retries"].as_u64()), (Some(502), Some(1)));
    assert!(!line.contains('\n'), "one line");
    let empty = Record::default().to_json();
    let v: serde_json::Value = serde_json::from_str(&empty).unwrap();
    assert_eq!((v["route"].as_str(), v["session"].as_str()), (Some("forward"), Some("none")));
    for (state, name) in [
        (SessionState::Valid, "valid"),
        (SessionState::Refreshed, "refreshed"),
        (SessionState::Expired, "expired"),
        (SessionState::Invalid, "invalid"),
        (SessionState::Unverified, "unverified"),
    ] {
        assert_eq!(state.as_str(), name);
    }
    assert_eq!((Route::Asset.as_str(), Route::Endpoint.as_str()), ("asset", "endpoint"));
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn the_data_point_has_the_same_dimensions_and_an_index() {
    let p = record().data_point();
    assert_eq!(
        p.blobs[..6],
        ["forward", "revoked", "k2", "", "origin_unreachable", "https://a.internal"]
    );
    assert_eq!(p.blobs[6], "POST");
    assert_eq!((p.doubles, p.index.as_str()), ([502.0, 1.0], "-"));
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn the_error_code_comes_from_the_workers_own_error_body() {
    let r = crate::http::Response::error(504, "origin_timeout", "the origin \"x\" did not answer");
    assert_eq!(error_code(&r.body).as_deref(), Some("origin_timeout"));
    assert_eq!(error_code(b"<html>"), None);
    assert_eq!(error_code(br#"{"error":"unterminated"#), None);
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn long_paths_are_cut_on_a_character_boundary() {
    assert_eq!(shortened("/api/me"), "/api/me");
    let long = format!("/{}", "é".repeat(MAX_PATH));
    let cut = shortened(&long);
    assert!(cut.len() <= MAX_PATH && cut.len() >= MAX_PATH - 1, "{}", cut.len());
    assert!(long.starts_with(&cut));
}
