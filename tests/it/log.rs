//! The transparency log over HTTP: checkpoints, entries and proofs, checked with the verifier alone.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use reqwest::StatusCode;
use shulian::crypto::{Did, canonical};
use shulian::ledger::{Checkpoint, merkle};

use crate::helpers::{Backend, TestApp, assert_problem, b64_list, prove_consistent, run_python_check, test_python};
use crate::on_both_backends;

on_both_backends!(
    publications_are_logged_and_provable_from_checkpoints,
    log_queries_out_of_range_are_400,
    concurrent_publications_get_dense_distinct_log_indices,
    two_replicas_sharing_one_database_keep_one_log,
    a_log_written_before_the_tree_was_stored_is_converted_once,
    a_tree_stored_under_the_previous_keys_is_rekeyed_by_the_migration,
    the_log_is_served_as_tiles_an_independent_verifier_rebuilds,
    a_batch_logs_its_good_writes_and_nothing_of_the_failed_ones,
);

async fn signed_checkpoint(app: &TestApp) -> Checkpoint {
    let (_, node) = app.get_json("/.well-known/shulian-node").await;
    let did: Did = node["id"].as_str().expect("did").parse().expect("did");
    let origin = node["log"]["origin"].as_str().expect("origin");
    let text = app.checkpoint_note().await;
    Checkpoint::verify(&text, origin, &did.public_key()).expect("checkpoint signed by the node key")
}

async fn publications_are_logged_and_provable_from_checkpoints(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.publisher("p").await;
    app.publish(&token, "one", "open", &[("a.csv", b"1")]).await;
    let old = signed_checkpoint(&app).await;
    assert_eq!(old.size, 1);
    app.publish(&token, "one", "open", &[("a.csv", b"2")]).await;
    app.publish(&token, "two", "licensed", &[("b.csv", b"3")]).await;
    let new = signed_checkpoint(&app).await;
    assert_eq!(new.size, 3);

    let (status, entries) = app.get_json("/api/v1/log/entries?start=0&end=3").await;
    assert_eq!(status, StatusCode::OK);
    for (dataset, version) in [("one", 1), ("one", 2), ("two", 1)] {
        let (_, detail) = app
            .get_json(&format!("/api/v1/datasets/{dataset}/versions/{version}"))
            .await;
        let index = detail["logIndex"].as_u64().expect("logged");
        let manifest_text = canonical::canonicalize(&detail["manifest"]).expect("canonical");
        let entry = &entries[index as usize];
        assert_eq!(entry["kind"], "manifest");
        assert_eq!(entry["entry"], detail["manifest"]);
        // A third party: leaf hash of the manifest, audit path from the node, root from the signed checkpoint.
        let leaf = merkle::leaf_hash(manifest_text.as_bytes());
        let (_, proof) = app
            .get_json(&format!("/api/v1/log/proof/inclusion?index={index}&size={}", new.size))
            .await;
        merkle::verify_inclusion(index, new.size, &leaf, &b64_list(&proof["proof"]), &new.root).expect("included");
    }
    prove_consistent(&app.http, &app.url, &old, &new)
        .await
        .expect("append-only");

    // The log survives a restart of the node and keeps growing from where it was.
    let reopened = shulian::app::App::build(&app.config).await.expect("rebuild");
    assert_eq!(reopened.context().store.log_size().await.expect("size"), 3);
    app.stop().await;
}

async fn log_queries_out_of_range_are_400(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.publisher("p").await;
    app.publish(&token, "one", "open", &[("a.csv", b"1")]).await;
    for query in [
        "/api/v1/log/entries?start=1&end=1",
        "/api/v1/log/entries?start=0&end=5000",
        "/api/v1/log/entries?start=-1&end=2",
        "/api/v1/log/entries",
        "/api/v1/log/proof/inclusion?index=1&size=1",
        "/api/v1/log/proof/inclusion?index=0&size=2",
        "/api/v1/log/proof/inclusion?index=0&size=0",
        "/api/v1/log/proof/consistency?from=0&to=1",
        "/api/v1/log/proof/consistency?from=2&to=1",
        "/api/v1/log/proof/consistency?from=1&to=99",
    ] {
        let response = app.http.get(app.api(query)).send().await.expect("request");
        assert_problem(response, StatusCode::BAD_REQUEST, "invalid-request").await;
    }
    let (status, empty_range) = app.get_json("/api/v1/log/entries?start=5&end=6").await;
    assert_eq!((status, empty_range), (StatusCode::OK, serde_json::json!([])));
    app.stop().await;
}

async fn concurrent_publications_get_dense_distinct_log_indices(backend: Backend) {
    let app = std::sync::Arc::new(TestApp::spawn(backend).await);
    let token = app.publisher("p").await;
    let mut tasks = Vec::new();
    for writer in 0..16 {
        let (app, token) = (app.clone(), token.clone());
        tasks.push(tokio::spawn(async move {
            app.publish(
                &token,
                &format!("d-{}", writer % 4),
                "open",
                &[("f.csv", format!("{writer}").as_bytes())],
            )
            .await
            .status()
        }));
    }
    for task in tasks {
        assert_eq!(task.await.expect("task"), StatusCode::CREATED);
    }
    let checkpoint = signed_checkpoint(&app).await;
    assert_eq!(checkpoint.size, 16);
    let (_, entries) = app.get_json("/api/v1/log/entries?start=0&end=16").await;
    let indices: Vec<u64> = entries
        .as_array()
        .expect("entries")
        .iter()
        .filter_map(|e| e["index"].as_u64())
        .collect();
    assert_eq!(indices, (0..16).collect::<Vec<_>>());
    let leaves: Vec<merkle::Hash> = entries
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| merkle::leaf_hash(canonical::canonicalize(&e["entry"]).expect("canonical").as_bytes()))
        .collect();
    assert_eq!(
        merkle::root(&leaves),
        checkpoint.root,
        "the checkpoint commits to exactly these entries"
    );
}

async fn two_replicas_sharing_one_database_keep_one_log(backend: Backend) {
    let first = TestApp::spawn(backend.clone()).await;
    let second = first.replica(backend).await;
    let token = first.publisher("p").await;
    let (first, second) = (std::sync::Arc::new(first), std::sync::Arc::new(second));
    let mut tasks = Vec::new();
    for writer in 0..12 {
        let replica = if writer % 2 == 0 { first.clone() } else { second.clone() };
        let token = token.clone();
        tasks.push(tokio::spawn(async move {
            replica
                .publish(
                    &token,
                    &format!("r-{}", writer % 3),
                    "open",
                    &[("f.csv", format!("{writer}").as_bytes())],
                )
                .await
                .status()
        }));
    }
    for task in tasks {
        assert_eq!(task.await.expect("task"), StatusCode::CREATED);
    }
    let (from_first, from_second) = (signed_checkpoint(&first).await, signed_checkpoint(&second).await);
    assert_eq!(from_first, from_second, "both replicas serve the same log");
    assert_eq!(from_first.size, 12);
}

/// Publishes `entries` versions; the log's checkpoint then, and its consistency proof from size 5.
async fn grown_log(app: &TestApp, entries: usize) -> (Checkpoint, serde_json::Value) {
    let token = app.publisher("p").await;
    for round in 0..entries {
        app.publish(&token, "growing", "open", &[("a.csv", format!("v{round}").as_bytes())])
            .await;
    }
    let checkpoint = signed_checkpoint(app).await;
    let (_, proof) = app
        .get_json(&format!("/api/v1/log/proof/consistency?from=5&to={}", checkpoint.size))
        .await;
    (checkpoint, proof)
}

async fn a_log_written_before_the_tree_was_stored_is_converted_once(backend: Backend) {
    let mut app = TestApp::spawn(backend).await;
    let (before, old_proof) = grown_log(&app, 13).await;
    app.begin_shutdown();
    app.wait_stopped().await;
    // What a database written by a node before the stored tree looks like.
    app.tamper("DELETE FROM log_tree").await;
    app.tamper("DELETE FROM checkpoints").await;

    let reopened = shulian::app::App::build(&app.config)
        .await
        .expect("the node converts its log");
    let ctx = reopened.context();
    assert_eq!(ctx.store.stored_tree_size().await.expect("tree"), before.size);
    let note = shulian::service::transparency::checkpoint(ctx)
        .await
        .expect("checkpoint");
    let origin = shulian::service::transparency::origin(ctx);
    let after = Checkpoint::verify(&note, &origin, &ctx.node.key.public()).expect("signed");
    assert_eq!(
        (after.size, after.root),
        (before.size, before.root),
        "the same root for the same size"
    );
    let proof = shulian::service::transparency::consistency(ctx, 5, before.size)
        .await
        .expect("proof");
    assert_eq!(serde_json::to_value(&proof).expect("json"), old_proof);
    assert_eq!(
        shulian::service::transparency::complete_stored_tree(ctx)
            .await
            .expect("again"),
        0,
        "converted once"
    );
}

/// Migration 0029 re-keys the stored tree (level · 2^48 + index before, last leaf · 64 +
/// level after): a tree stored under the old keys serves the same roots, proofs and tiles
/// afterwards, and is not rebuilt from its leaves.
async fn a_tree_stored_under_the_previous_keys_is_rekeyed_by_the_migration(backend: Backend) {
    let mut app = TestApp::spawn(backend).await;
    let (before, old_proof) = grown_log(&app, 37).await;
    let (_, old_inclusion) = app
        .get_json(&format!("/api/v1/log/proof/inclusion?index=17&size={}", before.size))
        .await;
    let tile = format!("/log/tile/0/000.p/{}", before.size);
    let old_tile = app.get(&tile).await.bytes().await.expect("tile");
    let stored = app.count("SELECT COUNT(*) FROM log_tree").await;
    app.begin_shutdown();
    app.wait_stopped().await;
    // The stored tree as the version before 0029 left it, and 0029 not yet run.
    app.tamper(
        "CREATE TABLE previous_keys AS SELECT ((node & 63) << 48) | \
         ((((node >> 6) + 1) >> CAST(node & 63 AS INTEGER)) - 1) AS node, hash FROM log_tree",
    )
    .await;
    app.tamper("DELETE FROM log_tree").await;
    app.tamper("INSERT INTO log_tree (node, hash) SELECT node, hash FROM previous_keys")
        .await;
    app.tamper("DROP TABLE previous_keys").await;
    assert_eq!(
        app.count("SELECT MAX(node) FROM log_tree").await >> 48,
        5,
        "the old keys: the 32-leaf subtree is the highest"
    );
    app.tamper("DELETE FROM _sqlx_migrations WHERE version = 29").await;

    let reopened = shulian::app::App::build(&app.config)
        .await
        .expect("the node migrates its tree");
    let ctx = reopened.context();
    assert_eq!(ctx.store.stored_tree_size().await.expect("tree"), before.size);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM log_tree").await,
        stored,
        "re-keyed, not rebuilt"
    );
    let root = shulian::service::transparency::consistency(ctx, 5, before.size)
        .await
        .expect("proof");
    assert_eq!(serde_json::to_value(&root).expect("json"), old_proof);
    let inclusion = shulian::service::transparency::inclusion(ctx, 17, before.size)
        .await
        .expect("proof");
    assert_eq!(serde_json::to_value(&inclusion).expect("json"), old_inclusion);
    let tile = shulian::service::transparency::tile(
        ctx,
        shulian::ledger::tiles::Tile::parse(tile.trim_start_matches("/log/tile/")).expect("tile"),
    )
    .await
    .expect("tile");
    assert_eq!(tile, old_tile.to_vec());
}

async fn the_log_is_served_as_tiles_an_independent_verifier_rebuilds(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.publisher("p").await;
    // 300 entries: one full level-0 tile, a partial one, a partial level-1 tile.
    for round in 0..300 {
        app.publish(&token, "growing", "open", &[("a.csv", format!("v{round}").as_bytes())])
            .await;
    }
    let full = app.get("/log/tile/0/000").await;
    assert_eq!(full.status(), StatusCode::OK);
    assert_eq!(full.headers()["cache-control"], "public, max-age=31536000, immutable");
    assert_eq!(full.headers()["content-type"], "application/octet-stream");
    assert_eq!(full.bytes().await.expect("tile").len(), 256 * 32);
    assert_eq!(
        app.get("/log/tile/0/001.p/44").await.bytes().await.expect("tile").len(),
        44 * 32
    );
    assert_eq!(app.get("/log/tile/1/000.p/1").await.status(), StatusCode::OK);
    for missing in [
        "/log/tile/0/001",
        "/log/tile/0/001.p/45",
        "/log/tile/1/000",
        "/log/tile/0/1",
        "/log/tile/0/x000/000",
    ] {
        assert_eq!(app.get(missing).await.status(), StatusCode::NOT_FOUND, "{missing}");
    }
    assert_eq!(
        app.checkpoint_note().await,
        app.get("/log/checkpoint").await.text().await.expect("note")
    );
    if let Some(python) = test_python() {
        let summary = run_python_check(&python, "verify_tiles.py", &[app.url.as_ref()]).await;
        assert_eq!(summary["size"], 300);
        assert_eq!(summary["entries"], 300);
    }
}

/// An order of dataset `sold` v1 that only the store sees (the sequencer's input).
fn unsigned_order(buyer: &str, nonce: &str) -> shulian::store::NewOrder {
    let id = uuid::Uuid::new_v4().simple().to_string();
    let text = format!(r#"{{"buyer":"{buyer}","nonce":"{nonce}","type":"ShulianOrder"}}"#);
    let leaf = shulian::domain::Sha256Digest::from_bytes(merkle::leaf_hash(text.as_bytes()));
    shulian::store::NewOrder {
        id: id.clone(),
        buyer: buyer.to_owned(),
        nonce: nonce.to_owned(),
        dataset: "sold".parse().expect("id"),
        version: shulian::domain::VersionNumber::FIRST,
        order: shulian::store::LoggedDocument {
            kind: shulian::domain::EntryKind::Order,
            text,
            leaf,
        },
        order_digest: leaf,
        state: shulian::domain::order::OrderState::Requested,
        agreement: None,
        valid_until: None,
        max_downloads: 1,
        demand: None,
        token_id: id,
        token_secret_sha256: leaf,
        created_at: chrono::Utc::now(),
    }
}

async fn a_batch_logs_its_good_writes_and_nothing_of_the_failed_ones(backend: Backend) {
    use shulian::store::{LogWrite, LogWritten, LoggedWrite, OrderTransition, StoreError};
    let app = TestApp::spawn(backend).await;
    let token = app.publisher("p").await;
    app.publish(&token, "sold", "licensed", &[("f.csv", b"a\n1\n")]).await;
    let ctx = &app.ctx;
    let before = ctx.store.log_size().await.expect("size");
    let first = unsigned_order("did:key:a", "n1");
    let replay = unsigned_order("did:key:a", "n1");
    let stray = OrderTransition {
        order_id: "no-such-order".into(),
        from: shulian::domain::order::OrderState::Requested,
        to: shulian::domain::order::OrderState::Terminated,
        document: first.order.clone(),
        valid_until: None,
        at: chrono::Utc::now(),
    };
    let last = unsigned_order("did:key:b", "n1");
    let batch = vec![
        LogWrite::Logged(Box::new(LoggedWrite::Order(first.clone()))),
        LogWrite::Logged(Box::new(LoggedWrite::Order(replay))),
        LogWrite::Logged(Box::new(LoggedWrite::Transition(stray))),
        LogWrite::Logged(Box::new(LoggedWrite::Order(last.clone()))),
    ];
    let node = ctx.node.clone();
    let sign = move |size: u64, root: merkle::Hash| {
        shulian::service::transparency::sign_checkpoint(&node, size, root)
            .map_err(|error| StoreError::Other(anyhow::anyhow!("{error}")))
    };
    let results = ctx.store.integrate(&batch, &sign).await.expect("the batch commits");
    assert!(matches!(results[0], Ok(LogWritten::Ordered)), "{:?}", results[0]);
    assert!(
        matches!(results[1], Err(StoreError::Conflict(_))),
        "a replayed nonce: {:?}",
        results[1]
    );
    assert!(
        matches!(results[2], Err(StoreError::Conflict(_))),
        "no such order: {:?}",
        results[2]
    );
    assert!(matches!(results[3], Ok(LogWritten::Ordered)), "{:?}", results[3]);

    assert_eq!(
        ctx.store.log_size().await.expect("size"),
        before + 2,
        "only the good writes are logged"
    );
    let (_, entries) = app
        .get_json(&format!("/api/v1/log/entries?start={before}&end={}", before + 2))
        .await;
    let texts: Vec<String> = entries
        .as_array()
        .expect("entries")
        .iter()
        .map(|entry| canonical::canonicalize(&entry["entry"]).expect("canonical"))
        .collect();
    assert_eq!(
        texts,
        vec![first.order.text.clone(), last.order.text.clone()],
        "dense, in batch order"
    );
    assert!(ctx.store.get_order(&first.id).await.is_ok());
    assert!(ctx.store.get_order(&last.id).await.is_ok());

    // The batch stored its checkpoint, and it commits to every entry so far.
    let checkpoint = signed_checkpoint(&app).await;
    assert_eq!(checkpoint.size, before + 2);
    let (_, all) = app
        .get_json(&format!("/api/v1/log/entries?start=0&end={}", before + 2))
        .await;
    let leaves: Vec<merkle::Hash> = all
        .as_array()
        .expect("entries")
        .iter()
        .map(|entry| {
            STANDARD
                .decode(entry["leafHash"].as_str().expect("leaf"))
                .expect("base64")
                .try_into()
                .expect("32 bytes")
        })
        .collect();
    assert_eq!(merkle::root(&leaves), checkpoint.root);
    assert_eq!(
        ctx.store.checkpoint_note(before + 2).await.expect("note").as_deref(),
        Some(
            shulian::service::transparency::checkpoint(ctx)
                .await
                .expect("note")
                .as_str()
        ),
        "signed once, with the batch"
    );
}

/// A node's state as the version before the stored tree wrote it (SQLite; see the
/// fixture's `make.sh`): the node converts its log once at start and serves the roots the
/// old node signed, proves its old checkpoints consistent, audits clean and goes on appending.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_written_by_the_version_before_the_stored_tree_keeps_its_roots() {
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/log-before-stored-tree");
    let app = TestApp::spawn_with(Backend::Sqlite, |settings| {
        let dir = settings.data_dir.clone().expect("data dir");
        copy_tree(&fixture.join("data"), &dir);
    })
    .await;
    let key = app.ctx.node.key.public();
    let origin = shulian::service::transparency::origin(&app.ctx);
    let mut old = Vec::new();
    for entry in std::fs::read_dir(fixture.join("checkpoints")).expect("checkpoints") {
        let note = std::fs::read_to_string(entry.expect("entry").path()).expect("note");
        old.push(Checkpoint::verify(&note, &origin, &key).expect("the old node signed it with this key"));
    }
    assert!(old.len() >= 4, "the fixture holds the old node's checkpoints");
    let audit = shulian::service::audit::audit(app.ctx.store.as_ref(), &key.did())
        .await
        .expect("audit");
    assert_eq!(audit.problems, Vec::<String>::new());

    let token = app.publisher("after-upgrade").await;
    app.publish(&token, "after-upgrade", "open", &[("a.csv", b"x\n1\n")])
        .await;
    let current = signed_checkpoint(&app).await;
    for checkpoint in &old {
        prove_consistent(&app.http, &app.url, checkpoint, &current)
            .await
            .expect("the converted log has the old root at the old size");
    }
}

/// Copies the files below `from` into `to`.
fn copy_tree(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).expect("dir");
    for entry in std::fs::read_dir(from).expect("fixture") {
        let path = entry.expect("entry").path();
        let target = to.join(path.file_name().expect("name"));
        if path.is_dir() {
            copy_tree(&path, &target);
        } else {
            std::fs::copy(&path, &target).expect("copy");
        }
    }
}
