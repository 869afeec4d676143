//! Peers: an operator adds another node by URL, pinned to the key that signs its
//! description; a peer that later shows another key is refused and says why.

use reqwest::StatusCode;

use shulian::service::network;

use crate::cli::{Output, shulian};
use crate::helpers::{Backend, TestApp};
use crate::on_both_backends;

on_both_backends!(
    a_peer_is_pinned_to_the_key_that_signs_its_description,
    a_peer_that_changes_its_key_is_refused_loudly,
    a_peer_that_stops_answering_is_marked_and_kept,
);

async fn add_peer(node: &TestApp, args: &[&str]) -> Output {
    let mut all = vec!["admin", "add-peer"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--json", "--database-url", &node.config.database_url]);
    shulian(&all).await
}

async fn did_of(node: &TestApp) -> String {
    let (status, description) = node.get_json("/.well-known/shulian-node").await;
    assert_eq!(status, StatusCode::OK);
    description["id"].as_str().expect("id").to_owned()
}

async fn peers_of(node: &TestApp) -> Vec<serde_json::Value> {
    let (status, peers) = node.get_json("/api/v1/peers").await;
    assert_eq!(status, StatusCode::OK);
    peers.as_array().expect("a list").clone()
}

async fn a_peer_is_pinned_to_the_key_that_signs_its_description(backend: Backend) {
    let city = TestApp::spawn(backend.clone()).await;
    let industry = TestApp::spawn(backend.clone()).await;
    let other = TestApp::spawn(backend).await;
    let industry_did = did_of(&industry).await;
    assert!(peers_of(&city).await.is_empty());

    let added = add_peer(&city, &[&format!("{}/", industry.url)]).await;
    assert!(added.success, "{}", added.stderr);
    let added: serde_json::Value = serde_json::from_str(&added.stdout).expect("JSON");
    assert_eq!(added["url"], industry.url, "kept without the trailing slash");
    assert_eq!(added["did"], industry_did.as_str());

    let peers = peers_of(&city).await;
    assert_eq!(peers.len(), 1);
    assert_eq!(peers[0]["did"], industry_did.as_str());
    assert_eq!(peers[0]["name"], industry.config.node_name.as_str());
    assert!(peers[0]["lastSeenAt"].is_string());
    assert!(peers[0]["lastHarvestedAt"].is_null());
    assert!(peers[0]["lastError"].is_null());

    let page = city.get("/node").await.text().await.expect("page");
    assert!(
        page.contains(&industry_did) && page.contains(&industry.url),
        "the /node page lists the peer"
    );

    // A DID given by the operator must be the one that signs: `other` is not `industry`.
    let mispinned = add_peer(&city, &[&other.url, "--did", &industry_did]).await;
    assert!(!mispinned.success);
    let other_did = did_of(&other).await;
    assert!(
        mispinned.stderr.contains(&format!("signed by {other_did}")) && mispinned.stderr.contains(&industry_did),
        "{}",
        mispinned.stderr
    );
    for bad in ["ftp://example.org", "http://127.0.0.1:9/?x=1", "not a url"] {
        let refused = add_peer(&city, &[bad]).await;
        assert!(
            !refused.success && refused.stderr.contains("peer"),
            "{bad}: {}",
            refused.stderr
        );
    }
    // Nothing answers on port 9: unreachable, and nothing kept.
    let unreachable = add_peer(&city, &["http://127.0.0.1:9"]).await;
    assert!(
        !unreachable.success && unreachable.stderr.contains("did not answer"),
        "{}",
        unreachable.stderr
    );
    assert_eq!(peers_of(&city).await.len(), 1, "refused peers are not added");
}

async fn a_peer_that_changes_its_key_is_refused_loudly(backend: Backend) {
    let city = TestApp::spawn(backend.clone()).await;
    let industry = TestApp::spawn(backend.clone()).await;
    let (url, pinned) = (industry.url.clone(), did_of(&industry).await);
    let address = industry.config.listen;
    let added = add_peer(&city, &[&url]).await;
    assert!(added.success, "{}", added.stderr);

    // The same address now answers with another key (a new node on the old port).
    industry.stop().await;
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .expect("rebind the peer's port");
    let impostor = TestApp::spawn_on(backend, listener, |_| {}).await;
    let presented = did_of(&impostor).await;
    assert_ne!(presented, pinned);

    let refused = add_peer(&city, &[&url]).await;
    assert!(!refused.success);
    assert!(
        refused.stderr.contains(&format!("pinned to {pinned}"))
            && refused.stderr.contains(&format!("signed by {presented}")),
        "{}",
        refused.stderr
    );
    let peers = peers_of(&city).await;
    assert_eq!(peers.len(), 1);
    assert_eq!(peers[0]["did"], pinned.as_str(), "the pin is not moved");
    let error = peers[0]["lastError"].as_str().expect("the refusal is recorded");
    assert!(error.contains(&presented), "{error}");
    let page = city.get("/node").await.text().await.expect("page");
    assert!(
        page.contains(&presented),
        "the /node page shows why the peer is refused"
    );

    // Asking to pin the new key over the old one is refused too: re-pinning is deliberate.
    let repinned = add_peer(&city, &[&url, "--did", &presented]).await;
    assert!(
        !repinned.success && repinned.stderr.contains("already pinned"),
        "{}",
        repinned.stderr
    );
}

async fn a_peer_that_stops_answering_is_marked_and_kept(backend: Backend) {
    let city = TestApp::spawn(backend.clone()).await;
    let industry = TestApp::spawn(backend).await;
    let added = add_peer(&city, &[&industry.url]).await;
    assert!(added.success, "{}", added.stderr);
    let checked = network::check_peers(city.ctx.store.as_ref()).await.expect("check");
    assert_eq!(checked.len(), 1);
    assert!(checked[0].last_error.is_none());
    let seen = checked[0].last_seen_at.expect("seen");

    industry.stop().await;
    let checked = network::check_peers(city.ctx.store.as_ref()).await.expect("check");
    let error = checked[0]
        .last_error
        .as_deref()
        .expect("the failed contact is recorded");
    assert!(error.contains("did not answer"), "{error}");
    assert_eq!(
        checked[0].last_seen_at,
        Some(seen),
        "last seen stays at the last good contact"
    );
    let peers = peers_of(&city).await;
    assert_eq!(peers.len(), 1, "an unreachable peer is kept");
    assert!(peers[0]["lastErrorAt"].is_string());
}
