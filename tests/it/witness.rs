//! Witnessing (C2SP `tlog-witness`, `tlog-cosignature`): a node cosigns a peer's
//! checkpoint only when it extends the one it verified before, a log serves its
//! witnesses' cosignatures with its checkpoint, and a log that shows two trees of one
//! history is caught, both signed checkpoints kept as evidence.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use reqwest::StatusCode;
use shulian::crypto::KeyPair;
use shulian::crypto::note::{self, Cosigner};
use shulian::ledger::{Checkpoint, merkle, origin_for};
use shulian::service::network;

use crate::helpers::{Backend, TestApp, assert_problem, run_python_check, test_python};
use crate::on_both_backends;

on_both_backends!(
    a_witness_cosigns_a_peers_log_only_where_it_extends_what_it_verified,
    a_log_that_shows_two_trees_of_one_size_is_caught_by_its_witness
);

/// A log node and a witness node: the witness follows the log (its peer), and the log
/// asks the witness to cosign (its peer, marked as its witness).
async fn log_and_witness(backend: Backend) -> (TestApp, TestApp) {
    let log = TestApp::spawn(backend.clone()).await;
    let witness = TestApp::spawn(backend).await;
    network::add_peer(witness.ctx.store.as_ref(), &log.url, None, false)
        .await
        .expect("the witness peers with the log");
    let peer = network::add_peer(log.ctx.store.as_ref(), &witness.url, None, true)
        .await
        .expect("the log peers with its witness");
    assert!(peer.witnesses_us);
    (log, witness)
}

/// The witness's cosigner key, as its description gives it.
async fn cosigner_of(node: &TestApp) -> Cosigner {
    let (_, description) = node.get_json("/.well-known/shulian-node").await;
    description["witness"]["verifierKey"]
        .as_str()
        .expect("a witness key")
        .parse()
        .expect("a cosigner key")
}

async fn publish(node: &TestApp, token: &str, text: &str) {
    let status = node
        .publish(token, "weather", "open", &[("data.csv", text.as_bytes())])
        .await
        .status();
    assert!(status.is_success(), "{status}");
}

/// The log's checkpoint, its witnesses asked first.
async fn witnessed(node: &TestApp) -> String {
    let response = node.get("/api/v1/log/checkpoint?witnessed=true").await;
    assert_eq!(response.status(), StatusCode::OK);
    response.text().await.expect("note")
}

async fn submit(witness: &TestApp, body: String) -> reqwest::Response {
    witness
        .http
        .post(witness.api("/witness/add-checkpoint"))
        .body(body)
        .send()
        .await
        .expect("submitted")
}

/// A checkpoint of `size` with `root` signed by `key` under `origin`.
fn forged(origin: &str, size: u64, root: merkle::Hash, key: &KeyPair) -> String {
    Checkpoint {
        origin: origin.to_owned(),
        size,
        root,
    }
    .sign(key)
    .expect("signed")
}

fn request(old: u64, proof: &[merkle::Hash], checkpoint: &str) -> String {
    let lines: String = proof
        .iter()
        .map(|hash| format!("{}\n", STANDARD.encode(hash)))
        .collect();
    format!("old {old}\n{lines}\n{checkpoint}")
}

async fn witnessed_size(witness: &TestApp, origin: &str) -> Option<u64> {
    let recorded = witness.ctx.store.witnessed_checkpoint(origin).await.expect("read");
    recorded.map(|checkpoint| checkpoint.size)
}

async fn a_witness_cosigns_a_peers_log_only_where_it_extends_what_it_verified(backend: Backend) {
    let (log, witness) = log_and_witness(backend).await;
    let cosigner = cosigner_of(&witness).await;
    let log_key = &log.ctx.node.key;
    let origin = origin_for(&log_key.public());
    let token = log.publisher("qxj").await;

    // The first checkpoint is cosigned (old 0), the next one through a consistency proof.
    publish(&log, &token, "t\n1\n").await;
    let first = witnessed(&log).await;
    assert!(note::cosigned_at(&first, &cosigner).is_ok(), "{first}");
    let first_size = Checkpoint::verify(&first, &origin, &log_key.public())
        .expect("log-signed")
        .size;
    publish(&log, &token, "t\n2\n").await;
    let second = witnessed(&log).await;
    let second_size = Checkpoint::verify(&second, &origin, &log_key.public())
        .expect("log-signed")
        .size;
    assert!(second_size > first_size);
    assert!(note::cosigned_at(&second, &cosigner).is_ok(), "{second}");
    assert_eq!(witnessed_size(&witness, &origin).await, Some(second_size));
    // An independent verifier (Python, `cryptography`) reads the cosignature as the spec says.
    if let Some(python) = test_python() {
        let checked = run_python_check(
            &python,
            "verify_cosignature.py",
            &[log.url.as_ref(), witness.url.as_ref()],
        )
        .await;
        assert_eq!(checked["origin"], origin.as_str());
        assert_eq!(checked["witness"], cosigner.name.as_str());
    }
    // Every reader of the checkpoint gets the cosignature, in the tiles layout too.
    let tiles = log.get("/log/checkpoint").await.text().await.expect("note");
    assert!(note::cosigned_at(&tiles, &cosigner).is_ok(), "{tiles}");

    // What the witness refuses, each with the status tlog-witness gives it; nothing changes.
    let recorded = witness.ctx.store.witnessed_checkpoint(&origin).await.expect("read");
    let stranger = KeyPair::generate();
    let unknown = forged(&origin_for(&stranger.public()), 1, [1; 32], &stranger);
    let other_key = forged(&origin, second_size + 1, [1; 32], &stranger);
    let shrunk = forged(&origin, 1, [1; 32], log_key);
    let truthful_next = forged(&origin, second_size, merkle_root_of(&second, &origin, log_key), log_key);
    for (body, status, kind) in [
        ("hello".to_owned(), StatusCode::BAD_REQUEST, "witness-malformed"),
        (request(0, &[], &unknown), StatusCode::NOT_FOUND, "witness-unknown-log"),
        (
            request(second_size, &[], &other_key),
            StatusCode::FORBIDDEN,
            "witness-not-signed",
        ),
        (
            request(second_size, &[], &shrunk),
            StatusCode::BAD_REQUEST,
            "witness-malformed",
        ),
    ] {
        assert_problem(submit(&witness, body).await, status, kind).await;
    }
    // A log that does not know the size last cosigned is told it, as text/x.tlog.size.
    let stale = submit(&witness, request(first_size, &[], &truthful_next)).await;
    assert_eq!(stale.status(), StatusCode::CONFLICT);
    assert_eq!(
        stale.headers()["content-type"].to_str().expect("type"),
        "text/x.tlog.size"
    );
    assert_eq!(stale.text().await.expect("body"), format!("{second_size}\n"));
    // A larger tree that does not extend the one verified: 422, kept as evidence.
    let unrelated = forged(&origin, second_size + 1, [7; 32], log_key);
    assert_problem(
        submit(&witness, request(second_size, &[[9; 32]], &unrelated)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "witness-inconsistent",
    )
    .await;
    assert_eq!(
        witness.ctx.store.witnessed_checkpoint(&origin).await.expect("read"),
        recorded,
        "nothing the witness refused changed what it verified"
    );
    let (_, conflicts) = witness.get_json("/api/v1/witness/conflicts").await;
    assert_eq!(conflicts.as_array().map(Vec::len), Some(1), "{conflicts}");
    assert_eq!(conflicts[0]["conflicting"], unrelated.as_str());
    assert_eq!(
        conflicts[0]["accepted"],
        recorded.as_ref().map(|r| r.note.clone()).unwrap_or_default()
    );

    // The same checkpoint again (old = its size): cosigned again, as the spec says.
    let again = submit(&witness, request(second_size, &[], &truthful_next)).await;
    assert_eq!(again.status(), StatusCode::OK);
    let line = again.text().await.expect("line");
    assert!(note::cosigned_at(&format!("{truthful_next}{line}"), &cosigner).is_ok());

    // The log goes on; the witness goes on cosigning it.
    publish(&log, &token, "t\n3\n").await;
    let third = witnessed(&log).await;
    assert!(note::cosigned_at(&third, &cosigner).is_ok(), "{third}");
    for node in [log, witness] {
        node.stop().await;
    }
}

/// The root a checkpoint note states.
fn merkle_root_of(note: &str, origin: &str, key: &KeyPair) -> merkle::Hash {
    Checkpoint::verify(note, origin, &key.public())
        .expect("checkpoint")
        .root
}

async fn a_log_that_shows_two_trees_of_one_size_is_caught_by_its_witness(backend: Backend) {
    let (log, witness) = log_and_witness(backend.clone()).await;
    let log_key = &log.ctx.node.key;
    let origin = origin_for(&log_key.public());
    let token = log.publisher("qxj").await;
    publish(&log, &token, "t\n1\n").await;
    let shown = witnessed(&log).await;
    let real = Checkpoint::verify(&shown, &origin, &log_key.public()).expect("checkpoint");

    // The log is made to sign another tree of the same size and to show it to the witness.
    let fork = forged(&origin, real.size, [7; 32], log_key);
    assert_problem(
        submit(&witness, request(real.size, &[], &fork)).await,
        StatusCode::CONFLICT,
        "witness-fork",
    )
    .await;
    let (_, conflicts) = witness.get_json("/api/v1/witness/conflicts").await;
    let evidence = &conflicts[0];
    for side in ["accepted", "conflicting"] {
        let signed = evidence[side].as_str().expect("a signed checkpoint");
        let checkpoint = Checkpoint::verify(signed, &origin, &log_key.public()).expect("signed by the log");
        assert_eq!(checkpoint.size, real.size, "{side}");
    }
    assert_ne!(evidence["accepted"], evidence["conflicting"]);
    assert_eq!(evidence["origin"], origin.as_str());
    // The witness's node page shows the evidence; the log's shows who witnesses it.
    let page = witness.page_text("/node").await;
    let shown = page
        .split("id=\"witness-conflicts\"")
        .nth(1)
        .expect("the evidence is shown");
    assert!(
        shown.contains(&origin) && shown.contains(real.size.to_string().as_str()),
        "{shown}"
    );
    let page = log.page_text("/node").await;
    assert!(page.contains("id=\"witness-key\""));
    let peers = page.split("id=\"peers\"").nth(1).expect("peers");
    assert!(peers.contains("✓"), "{peers}");

    // A split view the other way round: a second witness is shown the forged tree first
    // (it knows nothing to refuse it by), while the log shows everyone else the real one.
    // Following the log's public checkpoint, that witness catches the two trees.
    let second = TestApp::spawn(backend).await;
    network::add_peer(second.ctx.store.as_ref(), &log.url, None, false)
        .await
        .expect("peered");
    let accepted = submit(&second, request(0, &[], &fork)).await;
    assert_eq!(accepted.status(), StatusCode::OK);
    let peers = network::check_peers(second.ctx.store.as_ref()).await.expect("checked");
    let error = peers[0].last_error.clone().unwrap_or_default();
    assert!(
        error.contains("witnessing its log") && error.contains("kept as evidence"),
        "{error}"
    );
    let (_, conflicts) = second.get_json("/api/v1/witness/conflicts").await;
    assert_eq!(conflicts[0]["accepted"], fork.as_str());
    let public = conflicts[0]["conflicting"].as_str().expect("note");
    let public = Checkpoint::verify(public, &origin, &log_key.public()).expect("signed by the log");
    assert_eq!(
        (public.size, public.root),
        (real.size, real.root),
        "the tree everyone else is shown"
    );
    for node in [log, witness, second] {
        node.stop().await;
    }
}
