//! Publish, promote and gc tests over a recorded in-memory store.

use crate::assets::testkit::{publish_tree, req, try_publish, Recording};
use crate::assets::{
    apply_gc, commit_publish, load_deploys, plan_gc, plan_publish, promote, serve, upload_blob,
    AssetCache, AssetConfig, AssetsError, Outcome, PlanKind, PublishFile, PublishOptions,
};
use crate::manifest::{
    Activation, AssetHash, DeployId, DeployState, Manifest, RetentionUpdate, MAX_BLOB_BYTES,
};
use crate::store::block_on_ready;

const T0: u64 = 1_700_000_000;
const DAY: u64 = 86_400;

fn id(s: &str) -> DeployId {
    DeployId::parse(s).unwrap()
}

fn named(name: &str) -> PublishOptions {
    PublishOptions { deploy_id: Some(id(name)), ..PublishOptions::default() }
}

const TREE: &[(&str, &[u8])] = &[
    ("index.html", b"<h1>hi</h1>"),
    ("assets/app.3f2a1b9c.js", b"js"),
    ("assets/copy.js", b"js"),
    ("img/logo.png", b"\x89PNG\x00\xff"),
];

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn publishing_the_same_tree_twice_uploads_nothing() {
    let store = Recording::new(T0);
    let first = publish_tree(&store, TREE, PublishOptions::default(), T0);
    assert_eq!(
        (first.kind, first.files, first.new_blobs, first.bytes_sent),
        (PlanKind::New, 4, 3, 19)
    );
    assert!(first.activated);
    assert!(first.deploy.as_str().starts_with("20231114-221320-"), "{}", first.deploy);
    store.take();
    let second = publish_tree(&store, TREE, PublishOptions::default(), T0 + 60);
    assert_eq!((second.kind, second.new_blobs, second.bytes_sent), (PlanKind::Unchanged, 0, 0));
    assert_eq!(second.deploy, first.deploy);
    assert!(!second.activated);
    assert_eq!(store.writes(), Vec::<String>::new(), "no write at all");
    // A changed tree uploads only the new blob.
    let mut tree = TREE.to_vec();
    tree.push(("new.txt", b"new"));
    let third = publish_tree(&store, &tree, PublishOptions::default(), T0 + 120);
    assert_eq!((third.kind, third.new_blobs, third.bytes_sent), (PlanKind::New, 1, 3));
    let doc = block_on_ready(load_deploys(&store)).unwrap().unwrap().unwrap();
    assert_eq!(doc.deploys.len(), 2);
    assert_eq!(doc.current, Some(third.deploy));
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn blobs_are_written_before_the_manifest_before_the_deploy_list() {
    let store = Recording::new(T0);
    publish_tree(&store, TREE, named("d1"), T0);
    let writes = store.writes();
    let pos = |k: &str| writes.iter().position(|w| w == &format!("put {k}")).unwrap();
    let last_blob = writes.iter().rposition(|w| w.starts_with("put blob:")).unwrap();
    assert_eq!(writes.iter().filter(|w| w.starts_with("put blob:")).count(), 3);
    assert!(last_blob < pos("manifest:d1"), "{writes:?}");
    assert!(pos("manifest:d1") < pos("deploys"), "{writes:?}");
    assert_eq!(writes.len(), 5);
    // The stored manifest records type, size, ETag and immutability.
    let m = Manifest::parse(&store.raw_get("manifest:d1").unwrap(), "m").unwrap();
    let js = m.files.get("assets/app.3f2a1b9c.js").unwrap();
    assert!(js.immutable);
    assert!(!m.files.get("assets/copy.js").unwrap().immutable);
    assert_eq!(m.files.get("img/logo.png").unwrap().content_type, "image/png");
    let text = String::from_utf8(store.raw_get("manifest:d1").unwrap()).unwrap();
    assert!(
        text.contains(&format!("\"etag\":\"\\\"{}\\\"\"", AssetHash::of(b"js").to_hex())),
        "{text}"
    );
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn failed_upload_leaves_readers_on_the_old_deploy() {
    let store = Recording::new(T0);
    publish_tree(&store, TREE, named("d1"), T0);
    let files =
        vec![PublishFile { path: "index.html".into(), hash: AssetHash::of(b"v2"), size: 2 }];
    let plan = block_on_ready(plan_publish(&store, files, named("d2"), T0 + 1)).unwrap().unwrap();
    assert_eq!(plan.missing.len(), 1);
    let blob = plan.missing.first().unwrap();
    let err = block_on_ready(upload_blob(&store, blob, b"v3")).unwrap().unwrap_err();
    assert!(matches!(err, AssetsError::ContentChanged(ref p) if p == "index.html"), "{err}");
    assert!(store.raw_get("manifest:d2").is_none());
    block_on_ready(upload_blob(&store, blob, b"v2")).unwrap().unwrap();
    block_on_ready(commit_publish(&store, &plan, T0 + 1)).unwrap().unwrap();
    let s = block_on_ready(serve(
        &store,
        &AssetCache::new(0),
        &req("GET", "/", &[]),
        &AssetConfig::default(),
        T0 + 2,
        "c",
    ))
    .unwrap();
    assert_eq!(s.deploy, Some(id("d2")));
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn bad_trees_are_refused_with_clear_messages() {
    let store = Recording::new(T0);
    let err = |files: Vec<PublishFile>, o: PublishOptions| {
        block_on_ready(plan_publish(&store, files, o, T0)).unwrap().unwrap_err().to_string()
    };
    let f = |p: &str, size: u64| PublishFile {
        path: p.into(),
        hash: AssetHash::of(p.as_bytes()),
        size,
    };
    assert!(err(vec![], PublishOptions::default()).contains("nothing to publish"));
    let big = err(vec![f("video.mp4", MAX_BLOB_BYTES + 1)], PublishOptions::default());
    assert!(
        big.contains("`video.mp4` is 26214401 bytes") && big.contains("limited to 26214400 bytes"),
        "{big}"
    );
    assert!(err(vec![f("a/../b", 1)], PublishOptions::default()).contains("`.` or `..`"));
    assert!(err(vec![f("a", 1), f("a", 1)], PublishOptions::default()).contains("two files"));
    let o = PublishOptions { origin: Some("ftp://x".into()), ..PublishOptions::default() };
    let e = err(vec![f("a", 1)], o);
    assert!(e.contains("origins: must start with http:// or https://, got `ftp://x`"), "{e}");
    let o = PublishOptions { activation: Activation::Canary(101), ..PublishOptions::default() };
    assert!(err(vec![f("a", 1)], o).contains("101 %"));
    assert!(store.writes().is_empty());
    // Exactly 25 MiB is accepted.
    assert!(block_on_ready(plan_publish(
        &store,
        vec![f("ok.bin", MAX_BLOB_BYTES)],
        PublishOptions::default(),
        T0
    ))
    .unwrap()
    .is_ok());
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn deploy_ids_are_immutable_and_reusing_one_reactivates_it() {
    let store = Recording::new(T0);
    publish_tree(&store, TREE, named("v1"), T0);
    publish_tree(&store, &[("index.html", b"two")], named("v2"), T0 + 1);
    let e = try_publish(&store, &[("index.html", b"other")], named("v1"), T0 + 2).unwrap_err();
    assert!(matches!(e, AssetsError::Conflict(ref i) if i.as_str() == "v1"), "{e}");
    store.take();
    let again = publish_tree(&store, TREE, named("v1"), T0 + 3);
    assert_eq!((again.kind, again.new_blobs), (PlanKind::Existing, 0));
    assert_eq!(store.writes(), ["put deploys"]);
    let doc = block_on_ready(load_deploys(&store)).unwrap().unwrap().unwrap();
    assert_eq!(doc.current, Some(id("v1")));
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn canary_publish_grows_by_republishing_and_promote_finishes_it() {
    let store = Recording::new(T0);
    publish_tree(&store, TREE, named("v1"), T0);
    let canary =
        |pct| PublishOptions { activation: Activation::Canary(pct), ..PublishOptions::default() };
    let tree2: &[(&str, &[u8])] = &[("index.html", b"v2")];
    let s = publish_tree(&store, tree2, canary(10), T0 + 1);
    assert_eq!(s.kind, PlanKind::New);
    let doc = block_on_ready(load_deploys(&store)).unwrap().unwrap().unwrap();
    assert_eq!(doc.current, Some(id("v1")));
    assert_eq!(doc.state(&s.deploy, T0 + 1), Some(DeployState::Canary(10)));
    store.take();
    let grown = publish_tree(&store, tree2, canary(50), T0 + 2);
    assert_eq!(
        (grown.kind, grown.deploy.clone(), grown.new_blobs),
        (PlanKind::Existing, s.deploy.clone(), 0)
    );
    assert_eq!(store.writes(), ["put deploys"]);
    let doc = block_on_ready(load_deploys(&store)).unwrap().unwrap().unwrap();
    assert_eq!(doc.state(&s.deploy, T0 + 2), Some(DeployState::Canary(50)));
    // Re-publishing the current tree as a canary changes nothing.
    let same = publish_tree(&store, TREE, canary(50), T0 + 3);
    assert_eq!((same.kind, same.activated), (PlanKind::Unchanged, false));
    let doc =
        block_on_ready(promote(&store, &s.deploy, Activation::Current, T0 + 4)).unwrap().unwrap();
    assert_eq!((doc.current, doc.canary), (Some(s.deploy), None));
}

/// Four deploys: `d1` (old), `d2` (old, rolled back to), `d3` (old), `d4` (new).
fn history() -> Recording {
    let store = Recording::new(T0);
    let r = PublishOptions {
        retention: RetentionUpdate { keep_last: Some(1), keep_days: Some(1) },
        ..named("d1")
    };
    publish_tree(&store, &[("index.html", b"1"), ("shared.css", b"s"), ("only1.js", b"1")], r, T0);
    publish_tree(
        &store,
        &[("index.html", b"2"), ("shared.css", b"s"), ("only2.js", b"2")],
        named("d2"),
        T0 + DAY,
    );
    publish_tree(
        &store,
        &[("index.html", b"3"), ("shared.css", b"s"), ("only3.js", b"3")],
        named("d3"),
        T0 + 2 * DAY,
    );
    publish_tree(&store, &[("index.html", b"4"), ("shared.css", b"s")], named("d4"), T0 + 10 * DAY);
    block_on_ready(promote(&store, &id("d4"), Activation::Current, T0 + 10 * DAY))
        .unwrap()
        .unwrap();
    store
}

fn blob(content: &[u8]) -> String {
    AssetHash::of(content).blob_key()
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn gc_deletes_exactly_the_unreferenced_blobs_and_never_current_or_canary() {
    let store = history();
    let now = T0 + 10 * DAY + 5;
    // Keep d2 as canary: it must survive.
    block_on_ready(promote(&store, &id("d2"), Activation::Canary(0), T0 + 10 * DAY))
        .unwrap()
        .unwrap_err();
    let mut doc = block_on_ready(load_deploys(&store)).unwrap().unwrap().unwrap();
    doc.canary = Some(crate::manifest::Canary { id: id("d2"), percent: 0 });
    store.raw_put("deploys", &doc.to_json());
    store.raw_put("manifest:junk id", b"x");
    store.raw_put("blob:not-a-hash", b"x");
    let plan = block_on_ready(plan_gc(&store, RetentionUpdate::default(), now)).unwrap().unwrap();
    assert_eq!(plan.kept_deploys, [id("d4"), id("d2")]);
    assert_eq!(plan.dropped_deploys, [id("d1"), id("d3")]);
    assert_eq!(plan.drop_manifests, ["manifest:d1", "manifest:d3"]);
    let mut want = vec![blob(b"1"), blob(b"3")];
    want.sort();
    assert_eq!(plan.drop_blobs, want, "index 1, only1.js (same bytes) and only3.js/index 3");
    assert_eq!(plan.kept_blobs, 3, "2, 4 and s");
    assert_eq!(plan.foreign_keys, ["manifest:junk id", "blob:not-a-hash"]);
    store.take();
    block_on_ready(apply_gc(&store, &plan)).unwrap().unwrap();
    let writes = store.writes();
    assert_eq!(writes.first().map(String::as_str), Some("put deploys"), "list first: {writes:?}");
    assert!(store.raw_get(&blob(b"s")).is_some() && store.raw_get(&blob(b"2")).is_some());
    assert!(store.raw_get(&blob(b"3")).is_none() && store.raw_get("manifest:d3").is_none());
    assert!(store.raw_get("blob:not-a-hash").is_some());
    let doc = block_on_ready(load_deploys(&store)).unwrap().unwrap().unwrap();
    assert_eq!(doc.deploys.iter().map(|d| d.id.as_str()).collect::<Vec<_>>(), ["d2", "d4"]);
    // Idempotent: a second run finds nothing.
    assert!(block_on_ready(plan_gc(&store, RetentionUpdate::default(), now))
        .unwrap()
        .unwrap()
        .is_empty());
    // The canary still serves its files.
    let s = block_on_ready(serve(
        &store,
        &AssetCache::new(0),
        &req("GET", "/only2.js?dpl=d2", &[]),
        &AssetConfig::default(),
        now,
        "c",
    ))
    .unwrap();
    assert!(matches!(&s.outcome, Outcome::Respond(r) if r.status == 200 && r.body == b"2"));
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn gc_keeps_young_orphans_and_refuses_when_a_retained_manifest_is_broken() {
    let store = history();
    let now = T0 + 10 * DAY + 5;
    // An orphan manifest (publish in progress) protects its blobs; an old one does not.
    let young = Manifest::parse(&store.raw_get("manifest:d3").unwrap(), "m").unwrap();
    let young = Manifest { id: id("wip"), created: now - 10, ..young };
    store.raw_put("manifest:wip", &young.to_json());
    let plan = block_on_ready(plan_gc(&store, RetentionUpdate::default(), now)).unwrap().unwrap();
    assert!(!plan.drop_blobs.contains(&blob(b"3")));
    assert!(!plan.drop_manifests.contains(&"manifest:wip".to_owned()));
    let plan = block_on_ready(plan_gc(&store, RetentionUpdate::default(), now + 2 * DAY))
        .unwrap()
        .unwrap();
    assert!(plan.drop_manifests.contains(&"manifest:wip".to_owned()));
    // Retention given on the command line is stored with the pruned list.
    let plan = block_on_ready(plan_gc(
        &store,
        RetentionUpdate { keep_last: Some(3), keep_days: Some(0) },
        now,
    ))
    .unwrap()
    .unwrap();
    assert_eq!(plan.kept_deploys, [id("d4"), id("d3"), id("d2")]);
    assert_eq!(plan.doc.as_ref().unwrap().retention.keep_last, 3);
    assert!(block_on_ready(plan_gc(
        &store,
        RetentionUpdate { keep_last: Some(0), keep_days: None },
        now
    ))
    .unwrap()
    .is_err());
    // Broken retained manifest: nothing is planned, nothing deleted.
    store.raw_put("manifest:d4", b"{");
    store.take();
    let err =
        block_on_ready(plan_gc(&store, RetentionUpdate::default(), now)).unwrap().unwrap_err();
    assert!(
        matches!(err, AssetsError::BrokenRetained { ref id, .. } if id.as_str() == "d4"),
        "{err}"
    );
    assert!(err.to_string().contains("nothing was deleted"));
    assert!(store.writes().is_empty());
}
