//! The `shulian` binary driven as a user would: admin, publish, get, gc, print-config.

use std::path::Path;

use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, sha256_hex};
use crate::on_both_backends;

on_both_backends!(
    admin_publish_and_get_round_trip_with_resume,
    malformed_packages_fail_cleanly_and_change_nothing,
    gc_command_reports_as_json,
    a_buyer_orders_licensed_data_from_the_command_line,
    audit_detects_receipts_and_log_entries_altered_in_the_database,
    the_buyer_flow_runs_end_to_end_and_verifies_offline,
    what_one_node_serves_publishes_to_another,
    a_buyer_proves_receipts_from_log_tiles_and_a_static_mirror,
    a_buyer_fetches_once_the_publisher_has_agreed,
    buyers_post_demands_and_the_operator_challenges_from_the_command_line,
    a_large_file_goes_in_parts_and_a_rerun_resumes_inside_it,
);

/// What a run of the binary printed, and whether it succeeded.
pub struct Output {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

/// Runs the `shulian` binary with `args`, outside any node or token the environment names.
pub async fn shulian(args: &[&str]) -> Output {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_shulian"))
        .args(args)
        .env_remove("SHULIAN_NODE")
        .env_remove("SHULIAN_TOKEN")
        .output()
        .await
        .expect("the binary runs");
    Output {
        success: output.status.success(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

pub fn json(output: &Output) -> Value {
    assert!(output.success, "command failed: {}", output.stderr);
    serde_json::from_str(&output.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", output.stdout))
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read").flatten() {
        std::fs::copy(entry.path(), to.join(entry.file_name())).expect("copy");
    }
}

async fn add_publisher(app: &TestApp, name: &str, id: &str) -> String {
    let output = shulian(&[
        "admin",
        "add-publisher",
        name,
        "--id",
        id,
        "--database-url",
        &app.config.database_url,
    ])
    .await;
    assert!(output.success, "{}", output.stderr);
    output.stdout.lines().last().expect("token line").trim().to_owned()
}

async fn admin_publish_and_get_round_trip_with_resume(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = add_publisher(&app, "北京市交通委员会", "bjtc").await;
    assert!(token.starts_with("shl_"));
    let work = tempfile::tempdir().expect("tempdir");
    let package = work.path().join("pkg");
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("catalog/beijing-traffic-flow"),
        &package,
    );
    let package_arg = package.to_str().expect("utf-8");

    let first = json(&shulian(&["publish", package_arg, "--node", &app.url, "--token", &token, "--json"]).await);
    assert_eq!(
        (
            first["version"].as_u64(),
            first["created"].as_bool(),
            first["uploadedFiles"].as_u64()
        ),
        (Some(1), Some(true), Some(1))
    );
    let again = json(&shulian(&["publish", package_arg, "--node", &app.url, "--token", &token, "--json"]).await);
    assert_eq!(
        (
            again["version"].as_u64(),
            again["created"].as_bool(),
            again["skippedFiles"].as_u64()
        ),
        (Some(1), Some(false), Some(1))
    );
    let csv = package.join("hourly_flow.csv");
    let mut changed = std::fs::read(&csv).expect("csv");
    changed.extend_from_slice("朝阳门,2026-10-01,08,1500,25.0\n".as_bytes());
    std::fs::write(&csv, &changed).expect("write");
    let second = json(&shulian(&["publish", package_arg, "--node", &app.url, "--token", &token, "--json"]).await);
    assert_eq!(
        (second["version"].as_u64(), second["created"].as_bool()),
        (Some(2), Some(true))
    );

    let out = work.path().join("download");
    let out_arg = out.to_str().expect("utf-8");
    let got = json(
        &shulian(&[
            "get",
            "beijing-traffic-flow@2",
            "--node",
            &app.url,
            "--out",
            out_arg,
            "--json",
        ])
        .await,
    );
    assert_eq!(got["version"], 2);
    assert_eq!(
        (got["logIndex"].as_u64(), got["checkpointSize"].as_u64()),
        (Some(1), Some(2))
    );
    let downloaded = out.join("hourly_flow.csv");
    assert_eq!(std::fs::read(&downloaded).expect("downloaded"), changed);
    assert_eq!(got["files"][0]["sha256"], sha256_hex(&changed));

    // An interrupted download resumes from its partial file.
    std::fs::remove_file(&downloaded).expect("remove");
    std::fs::write(out.join("hourly_flow.csv.part"), &changed[..40]).expect("partial");
    let resumed = json(
        &shulian(&[
            "get",
            "beijing-traffic-flow",
            "--node",
            &app.url,
            "--out",
            out_arg,
            "--json",
        ])
        .await,
    );
    assert_eq!(resumed["files"][0]["resumedBytes"], 40);
    assert_eq!(std::fs::read(&downloaded).expect("resumed file"), changed);
    let present = json(
        &shulian(&[
            "get",
            "beijing-traffic-flow@2",
            "--node",
            &app.url,
            "--out",
            out_arg,
            "--json",
        ])
        .await,
    );
    assert_eq!(present["files"][0]["alreadyPresent"], true);

    // A corrupt partial file is detected and never kept.
    std::fs::remove_file(&downloaded).expect("remove");
    std::fs::write(out.join("hourly_flow.csv.part"), vec![b'#'; 40]).expect("corrupt partial");
    let corrupt = shulian(&["get", "beijing-traffic-flow", "--node", &app.url, "--out", out_arg]).await;
    assert!(!corrupt.success);
    assert!(corrupt.stderr.contains("hash"), "{}", corrupt.stderr);
    assert!(!downloaded.exists() && !out.join("hourly_flow.csv.part").exists());

    let wrong_token = shulian(&["publish", package_arg, "--node", &app.url, "--token", "shl_x.y"]).await;
    assert!(!wrong_token.success);
    assert!(wrong_token.stderr.contains("unauthorized"), "{}", wrong_token.stderr);
    app.stop().await;
}

async fn malformed_packages_fail_cleanly_and_change_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = add_publisher(&app, "Test", "test").await;
    let before = app.snapshot().await;
    let work = tempfile::tempdir().expect("tempdir");
    std::fs::write(work.path().join("a.csv"), "x\n").expect("file");
    for descriptor in [
        "{ not json",
        r#"{"name": "ok", "licenses": [{"name": "x"}], "resources": [{"path": "a.csv"}]}"#,
        r#"{"name": "../evil", "title": "t", "licenses": [{"name": "x"}], "resources": [{"path": "a.csv"}], "shulian": {"access": "open"}}"#,
        r#"{"name": "ok", "title": "t", "licenses": [{"name": "x"}], "resources": [{"path": "../a.csv"}], "shulian": {"access": "open"}}"#,
        r#"{"name": "ok", "title": "t", "licenses": [{"name": "x"}], "resources": [{"path": "missing.csv"}], "shulian": {"access": "open"}}"#,
    ] {
        std::fs::write(work.path().join("datapackage.json"), descriptor).expect("descriptor");
        let output = shulian(&[
            "publish",
            work.path().to_str().expect("utf-8"),
            "--node",
            &app.url,
            "--token",
            &token,
        ])
        .await;
        assert!(!output.success, "{descriptor} was accepted");
        assert!(output.stderr.contains("datapackage.json"), "{}", output.stderr);
    }
    assert_eq!(app.snapshot().await, before);
    let licensed_get = shulian(&[
        "get",
        "no-such-dataset",
        "--node",
        &app.url,
        "--out",
        work.path().join("o").to_str().expect("utf-8"),
    ])
    .await;
    assert!(!licensed_get.success);
    assert!(licensed_get.stderr.contains("not-found"), "{}", licensed_get.stderr);
    app.stop().await;
}

async fn gc_command_reports_as_json(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.publisher("p").await;
    app.upload(&token, b"orphan bytes").await;
    let blob_url = app.config.blob_url.clone();
    let args = [
        "gc",
        "--grace",
        "0s",
        "--json",
        "--database-url",
        &app.config.database_url,
        "--blob-url",
        &blob_url,
    ];
    let first = json(&shulian(&args).await);
    assert_eq!(first["removedBlobs"], 1);
    let second = json(&shulian(&args).await);
    assert_eq!(second["removedBlobs"], 0);
    app.stop().await;
}

#[tokio::test]
async fn print_config_shows_every_setting_and_hides_passwords() {
    let output = shulian(&["print-config", "--database-url", "postgres://u:hunter2@db/x"]).await;
    assert!(output.success, "{}", output.stderr);
    for setting in [
        "listen",
        "data_dir",
        "database_url",
        "blob_url",
        "public_url",
        "node_name",
        "node_key_file",
        "max_upload_bytes",
        "request_timeout_secs",
        "log_format",
        "catalog_dir",
    ] {
        assert!(
            output.stdout.contains(&format!("\n{setting} = ")),
            "{setting} missing:\n{}",
            output.stdout
        );
    }
    assert!(output.stdout.contains("listen = \"127.0.0.1:8080\""));
    assert!(
        output.stdout.contains("# doip_listen = "),
        "DOIP is off unless asked for"
    );
    let doip = shulian(&["print-config", "--doip-listen", "127.0.0.1:9000"]).await;
    assert!(
        doip.stdout.contains("\ndoip_listen = \"127.0.0.1:9000\""),
        "{}",
        doip.stdout
    );
    assert!(!output.stdout.contains("hunter2"));
    let unknown = shulian(&["no-such-command"]).await;
    assert!(!unknown.success);
}

async fn a_buyer_orders_licensed_data_from_the_command_line(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = add_publisher(&app, "某三甲医院", "hospital").await;
    let work = tempfile::tempdir().expect("tempdir");
    let package = Path::new(env!("CARGO_MANIFEST_DIR")).join("catalog/hospital-outpatient-visits");
    json(
        &shulian(&[
            "publish",
            package.to_str().expect("utf-8"),
            "--node",
            &app.url,
            "--token",
            &token,
            "--json",
        ])
        .await,
    );

    let key = work.path().join("buyer.json");
    let key_arg = key.to_str().expect("utf-8");
    let made = json(&shulian(&["keygen", "--out", key_arg, "--json"]).await);
    assert!(made["did"].as_str().is_some_and(|did| did.starts_with("did:key:z6Mk")));
    assert!(
        !shulian(&["keygen", "--out", key_arg]).await.success,
        "a key is never overwritten"
    );

    let out = work.path().join("order");
    let args = [
        "order",
        "hospital-outpatient-visits",
        "--key",
        key_arg,
        "--purpose",
        "学术研究",
        "--node",
        &app.url,
    ];
    let mut with_out = args.to_vec();
    with_out.extend(["--out", out.to_str().expect("utf-8"), "--days", "30", "--json"]);
    let placed = json(&shulian(&with_out).await);
    assert_eq!(placed["state"], "AGREED");
    let agreement: Value =
        serde_json::from_slice(&std::fs::read(out.join("agreement.json")).expect("agreement saved")).expect("json");
    assert_eq!(agreement["purpose"], "学术研究");
    assert_eq!(agreement["buyer"], made["did"]);
    #[cfg(unix)]
    for secret in ["token", "profile.share"] {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(out.join(secret)).expect(secret).permissions().mode();
        assert_eq!(mode & 0o077, 0, "{secret} is readable by its owner only");
    }
    let access = std::fs::read_to_string(out.join("token")).expect("token");
    // The saved Delta Sharing profile reads the ordered tables with the same token.
    let profile: Value =
        serde_json::from_slice(&std::fs::read(out.join("profile.share")).expect("profile")).expect("json");
    assert_eq!(profile["bearerToken"], access.trim());
    assert_eq!(profile["endpoint"], app.api("/delta-sharing"));
    let shared = app
        .http
        .get(app.api("/delta-sharing/shares/hospital/all-tables"))
        .bearer_auth(access.trim())
        .send()
        .await
        .expect("tables");
    let shared: Value = shared.json().await.expect("json");
    assert_eq!(shared["items"][0]["name"], "visits");
    let file = app
        .http
        .get(app.api("/api/v1/datasets/hospital-outpatient-visits/versions/1/files/visits.csv"))
        .bearer_auth(access.trim())
        .send()
        .await
        .expect("download");
    assert_eq!(file.status(), reqwest::StatusCode::OK);
    assert_eq!(
        file.bytes().await.expect("body").as_ref(),
        std::fs::read(package.join("visits.csv")).expect("csv")
    );

    let refused = shulian(&[
        "order",
        "hospital-outpatient-visits",
        "--key",
        key_arg,
        "--purpose",
        "marketing",
        "--node",
        &app.url,
    ])
    .await;
    assert!(!refused.success);
    assert!(refused.stderr.contains("order-outside-offer"), "{}", refused.stderr);
    let open = shulian(&[
        "order",
        "beijing-traffic-flow",
        "--key",
        key_arg,
        "--purpose",
        "x",
        "--node",
        &app.url,
    ])
    .await;
    assert!(!open.success);
    app.stop().await;
}

async fn audit_detects_receipts_and_log_entries_altered_in_the_database(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let work = cli_order_of_hospital_data(&app).await;
    let out = work.path().join("order");
    let access = std::fs::read_to_string(out.join("token")).expect("token");
    let url = app.api("/api/v1/datasets/hospital-outpatient-visits/versions/1/files/visits.csv");
    app.http
        .get(&url)
        .bearer_auth(access.trim())
        .send()
        .await
        .expect("get")
        .bytes()
        .await
        .expect("body");

    let node_key = app.config.node_key_file.to_str().expect("utf-8").to_owned();
    let audit_args = [
        "audit",
        "--database-url",
        &app.config.database_url,
        "--node-key-file",
        &node_key,
        "--json",
    ];
    let clean = json(&shulian(&audit_args).await);
    assert_eq!(clean["problems"], serde_json::json!([]));
    assert_eq!(clean["entriesChecked"], 4, "manifest, order, agreement, receipt");
    assert_eq!(clean["copiesChecked"], 2);
    assert!(
        clean["checkpointsChecked"].as_u64() >= Some(3),
        "each batch kept its checkpoint: {clean}"
    );

    // A kept checkpoint moved to another size: served there, it would show a false root.
    app.tamper(
        "UPDATE checkpoints SET note = (SELECT note FROM checkpoints WHERE size = 1) \
         WHERE size = (SELECT MAX(size) FROM checkpoints)",
    )
    .await;
    let moved_checkpoint = shulian(&audit_args).await;
    assert!(
        !moved_checkpoint.success && moved_checkpoint.stdout.contains("is for another size"),
        "{}",
        moved_checkpoint.stdout
    );
    app.tamper("DELETE FROM checkpoints WHERE size = (SELECT MAX(size) FROM checkpoints)")
        .await;
    assert!(shulian(&audit_args).await.success, "only kept checkpoints are checked");

    // A delivery row rewritten to claim another download than its receipt records.
    app.tamper("UPDATE deliveries SET sequence = sequence + 100 WHERE log_index = 3")
        .await;
    let altered_delivery = shulian(&audit_args).await;
    assert!(!altered_delivery.success);
    assert!(
        altered_delivery
            .stdout
            .contains("the deliveries row of log entry 3 differs from the receipt there"),
        "{}",
        altered_delivery.stdout
    );

    app.tamper("UPDATE log_entries SET entry = REPLACE(entry, 'research', 'marketing') WHERE kind = 'agreement'")
        .await;
    let altered_entry = shulian(&audit_args).await;
    assert!(!altered_entry.success);
    assert!(
        altered_entry
            .stdout
            .contains("log entry 2 (agreement): its text does not match its leaf hash"),
        "{}",
        altered_entry.stdout
    );

    // A rewritten hash in the stored tree would make the node serve a forged root.
    app.tamper(&format!(
        "UPDATE log_tree SET hash = '{}' WHERE node = (SELECT MAX(node) FROM log_tree)",
        "0".repeat(64)
    ))
    .await;
    let altered_tree = shulian(&audit_args).await;
    assert!(
        altered_tree.stdout.contains("the stored log tree's subtree"),
        "{}",
        altered_tree.stdout
    );
    app.stop().await;
}

async fn the_buyer_flow_runs_end_to_end_and_verifies_offline(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let work = cli_order_of_hospital_data(&app).await;
    let package = Path::new(env!("CARGO_MANIFEST_DIR")).join("catalog/hospital-outpatient-visits");
    let path = |name: &str| work.path().join(name).to_str().expect("utf-8").to_owned();

    let (order, key, files) = (path("order"), path("buyer.json"), path("files"));
    let fetch_args = [
        "fetch", &order, "--key", &key, "--node", &app.url, "--out", &files, "--json",
    ];
    let fetched = json(&shulian(&fetch_args).await);
    // visits.csv and the Parquet copy the node derived from it: one receipt each.
    assert_eq!(
        (fetched["receipts"].as_u64(), fetched["acknowledged"].as_u64()),
        (Some(2), Some(2))
    );
    assert!(work.path().join("files/visits.parquet").is_file());
    assert_eq!(
        std::fs::read(work.path().join("files/visits.csv")).expect("file"),
        std::fs::read(package.join("visits.csv")).expect("csv")
    );
    let again = json(&shulian(&fetch_args).await);
    assert_eq!(again["acknowledged"], 0, "a receipt is acknowledged once");
    let bundle = path("files/evidence.json");
    let verified = json(&shulian(&["verify", &bundle, "--files", &path("files"), "--json"]).await);
    assert_eq!(
        (verified["receipts"].as_u64(), verified["files"].as_u64()),
        (Some(2), Some(2))
    );

    // Keep today's checkpoint; after the log grows, the node proves it only appended.
    let old_checkpoint = app.checkpoint_note().await;
    std::fs::write(work.path().join("old-checkpoint.txt"), &old_checkpoint).expect("save");
    let more = app.publisher("more").await;
    app.publish(&more, "more-data", "open", &[("a.csv", b"1")]).await;
    let consistent = json(
        &shulian(&[
            "verify",
            &bundle,
            "--node",
            &app.url,
            "--since",
            &path("old-checkpoint.txt"),
            "--json",
        ])
        .await,
    );
    assert!(consistent["consistentTo"].as_u64() > verified["checkpointSize"].as_u64());

    std::fs::write(work.path().join("files/visits.csv"), "forged,rows\n").expect("tamper file");
    let bad_file = shulian(&["verify", &bundle, "--files", &path("files")]).await;
    assert!(
        !bad_file.success && bad_file.stderr.contains("does not match its receipt"),
        "{}",
        bad_file.stderr
    );
    let mut evidence: Value = serde_json::from_slice(&std::fs::read(&bundle).expect("bundle")).expect("json");
    evidence["receipts"][0]["receipt"]["bytes"] = serde_json::json!(1);
    std::fs::write(&bundle, evidence.to_string()).expect("tamper bundle");
    let bad_receipt = shulian(&["verify", &bundle]).await;
    assert!(
        !bad_receipt.success && bad_receipt.stderr.contains("receipt"),
        "{}",
        bad_receipt.stderr
    );
    app.stop().await;
}

/// An order the publisher reviews: fetching before the decision says the order awaits it and
/// saves nothing; after the publisher agrees, fetch gets the agreement from the node (saved
/// beside the order), downloads and writes evidence `verify` accepts.
async fn a_buyer_fetches_once_the_publisher_has_agreed(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let publisher = app.publisher("hospital").await;
    let mut metadata = crate::helpers::metadata("reviewed", "licensed");
    metadata["offer"]["autoAccept"] = json!(false);
    app.publish_files(
        &publisher,
        "reviewed",
        metadata,
        &[("wards.csv", "text/csv", b"ward,beds\na,3\n")],
    )
    .await;
    let work = tempfile::tempdir().expect("work");
    let path = |name: &str| work.path().join(name).to_str().expect("utf-8").to_owned();
    let (key, order, files) = (path("buyer.json"), path("order"), path("files"));
    json(&shulian(&["keygen", "--out", &key, "--json"]).await);
    let placed = json(
        &shulian(&[
            "order",
            "reviewed",
            "--key",
            &key,
            "--purpose",
            "research",
            "--node",
            &app.url,
            "--out",
            &order,
            "--json",
        ])
        .await,
    );
    assert_eq!(placed["state"], "REQUESTED");
    let fetch_args = ["fetch", &order, "--key", &key, "--out", &files, "--json"];
    let early = shulian(&fetch_args).await;
    assert!(
        !early.success && early.stderr.contains("is REQUESTED"),
        "{}",
        early.stderr
    );
    assert!(!work.path().join("order/agreement.json").exists());
    assert!(
        !work.path().join("files").exists(),
        "nothing fetched before the agreement"
    );

    let order_id = placed["orderId"].as_str().expect("id");
    let decided = app
        .http
        .post(app.api(&format!("/api/v1/orders/{order_id}/decision")))
        .bearer_auth(&publisher)
        .json(&json!({"accept": true}))
        .send()
        .await
        .expect("decision");
    assert!(decided.status().is_success());
    let fetched = json(&shulian(&fetch_args).await);
    assert_eq!(fetched["receipts"], 2, "wards.csv and its Parquet copy");
    let agreement: Value =
        serde_json::from_slice(&std::fs::read(work.path().join("order/agreement.json")).expect("saved")).expect("json");
    assert_eq!(agreement["state"], "AGREED");
    let verified = json(&shulian(&["verify", &path("files/evidence.json"), "--files", &files, "--json"]).await);
    assert_eq!(verified["files"], 2);
    app.stop().await;
}

/// `shulian publish --part-mib`: a file larger than a part goes in parts joined by the node;
/// after an interruption that left some parts on the node, a rerun sends only the others,
/// and the published file is the whole file.
async fn a_large_file_goes_in_parts_and_a_rerun_resumes_inside_it(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = add_publisher(&app, "Sensors", "sensors").await;
    let work = tempfile::tempdir().expect("tempdir");
    let package = work.path().join("pkg");
    std::fs::create_dir_all(&package).expect("dir");
    // Bytes that repeat no part, 3.5 parts of 1 MiB.
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let big: Vec<u8> = (0..(7u32 << 19))
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect();
    std::fs::write(package.join("readings.bin"), &big).expect("file");
    let descriptor = json!({
        "name": "sensor-readings",
        "title": "传感器读数",
        "licenses": [{"name": "CC-BY-4.0"}],
        "resources": [{"name": "readings", "path": "readings.bin", "mediatype": "application/octet-stream"}],
        "shulian": {"access": "open"},
    });
    std::fs::write(package.join("datapackage.json"), descriptor.to_string()).expect("descriptor");
    // An earlier run was cut off after the first two parts.
    for part in big.chunks(1 << 20).take(2) {
        assert!(app.upload(&token, part).await.status().is_success());
    }
    let package_arg = package.to_str().expect("utf-8");
    let args = [
        "publish",
        package_arg,
        "--node",
        &app.url,
        "--token",
        &token,
        "--part-mib",
        "1",
        "--json",
    ];
    let published = json(&shulian(&args).await);
    assert_eq!(
        (published["uploadedParts"].as_u64(), published["skippedParts"].as_u64()),
        (Some(2), Some(2)),
        "only the parts the node lacked: {published}"
    );
    let (_, version) = app.get_json("/api/v1/datasets/sensor-readings/versions/1").await;
    assert_eq!(version["files"][0]["sha256"], sha256_hex(&big));
    let downloaded = app
        .http
        .get(app.api("/api/v1/datasets/sensor-readings/versions/1/files/readings.bin"))
        .send()
        .await
        .expect("download")
        .bytes()
        .await
        .expect("bytes");
    assert_eq!(sha256_hex(&downloaded), sha256_hex(&big), "the joined file is the file");
    let again = json(&shulian(&args).await);
    assert_eq!(
        (again["created"].as_bool(), again["skippedFiles"].as_u64()),
        (Some(false), Some(1))
    );
    app.stop().await;
}

/// `shulian demand`: a buyer's demand signed with its key; a challenge only with the
/// node's key file, which the operator holds.
async fn buyers_post_demands_and_the_operator_challenges_from_the_command_line(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let work = tempfile::tempdir().expect("work");
    let key = work.path().join("buyer.json");
    let key = key.to_str().expect("utf-8");
    json(&shulian(&["keygen", "--out", key, "--json"]).await);
    let deadline = (chrono::Utc::now() + chrono::Duration::days(30))
        .format("%Y-%m-%d")
        .to_string();
    let demand = |key: &str, award: Option<&str>| {
        let mut args: Vec<String> = [
            "demand",
            "--key",
            key,
            "--title",
            "各区门诊量",
            "--title-en",
            "Visits by district",
            "--field",
            "科室",
            "--field",
            "人次",
            "--budget",
            "300.5",
            "--deadline",
            &deadline,
            "--contact",
            "buyer@example.com",
            "--node",
            &app.url,
            "--json",
        ]
        .map(str::to_owned)
        .to_vec();
        args.extend(
            award
                .map(|award| ["--award".to_owned(), award.to_owned()])
                .into_iter()
                .flatten(),
        );
        async move { shulian(&args.iter().map(String::as_str).collect::<Vec<_>>()).await }
    };
    let posted = json(&demand(key, None).await);
    assert_eq!(
        (posted["kind"].as_str(), posted["state"].as_str()),
        (Some("demand"), Some("OPEN"))
    );
    assert_eq!(posted["budgetFen"], 30_050);
    assert_eq!(posted["document"]["wanted"]["fields"], json!(["科室", "人次"]));
    assert!(
        posted["deadline"]
            .as_str()
            .is_some_and(|time| time.contains("23:59:59")),
        "{posted}"
    );
    let refused = demand(key, Some("1000")).await;
    assert!(
        !refused.success && refused.stderr.contains("demand-not-yours"),
        "{}",
        refused.stderr
    );
    let node_key = app.config.node_key_file.to_str().expect("utf-8").to_owned();
    let challenge = json(&demand(&node_key, Some("1000")).await);
    assert_eq!(challenge["kind"], "challenge");
    assert_eq!(challenge["poster"], app.ctx.node.key.did().to_string());
    assert_eq!(challenge["document"]["awardFen"], 100_000);
    let bad_money = shulian(&[
        "demand",
        "--key",
        key,
        "--title",
        "x",
        "--field",
        "a",
        "--budget",
        "3.141",
        "--deadline",
        &deadline,
        "--contact",
        "c",
        "--node",
        &app.url,
    ])
    .await;
    assert!(
        !bad_money.success && bad_money.stderr.contains("--budget"),
        "{}",
        bad_money.stderr
    );
    app.stop().await;
}

/// Publishes the demo's licensed dataset through the CLI, makes a buyer key and orders it:
/// returns the work folder holding `buyer.json` and `order/`.
async fn cli_order_of_hospital_data(app: &TestApp) -> tempfile::TempDir {
    let token = add_publisher(app, "Hospital", "hospital").await;
    let package = Path::new(env!("CARGO_MANIFEST_DIR")).join("catalog/hospital-outpatient-visits");
    let package = package.to_str().expect("utf-8");
    json(&shulian(&["publish", package, "--node", &app.url, "--token", &token, "--json"]).await);
    let work = tempfile::tempdir().expect("tempdir");
    let path = |name: &str| work.path().join(name).to_str().expect("utf-8").to_owned();
    json(&shulian(&["keygen", "--out", &path("buyer.json"), "--json"]).await);
    let (key, out) = (path("buyer.json"), path("order"));
    let args = [
        "order",
        "hospital-outpatient-visits",
        "--key",
        &key,
        "--purpose",
        "research",
        "--node",
        &app.url,
        "--out",
        &out,
        "--json",
    ];
    json(&shulian(&args).await);
    work
}

async fn what_one_node_serves_publishes_to_another(backend: Backend) {
    let first = TestApp::spawn(backend.clone()).await;
    let token = add_publisher(&first, "Air", "air").await;
    let package = Path::new(env!("CARGO_MANIFEST_DIR")).join("catalog/shanghai-air-quality");
    json(
        &shulian(&[
            "publish",
            package.to_str().expect("utf-8"),
            "--node",
            &first.url,
            "--token",
            &token,
            "--json",
        ])
        .await,
    );
    let work = tempfile::tempdir().expect("tempdir");
    let folder = work.path().to_str().expect("utf-8");
    json(
        &shulian(&[
            "get",
            "shanghai-air-quality",
            "--node",
            &first.url,
            "--out",
            folder,
            "--json",
        ])
        .await,
    );
    let saved: Value = serde_json::from_slice(&std::fs::read(work.path().join("datapackage.json")).expect("saved"))
        .expect("the saved package descriptor");
    let (_, served) = first
        .get_json("/api/v1/datasets/shanghai-air-quality/versions/1/datapackage.json")
        .await;
    for descriptor in [&served, &saved] {
        let names: Vec<&str> = descriptor["resources"]
            .as_array()
            .expect("resources")
            .iter()
            .filter_map(|resource| resource["name"].as_str())
            .collect();
        assert_eq!(
            names,
            ["daily-aqi", "stations"],
            "the publisher's resource names are kept"
        );
    }

    let second = TestApp::spawn(backend).await;
    let token = add_publisher(&second, "Air again", "air").await;
    let published = json(&shulian(&["publish", folder, "--node", &second.url, "--token", &token, "--json"]).await);
    assert_eq!(published["created"], true);
    let (_, original) = first.get_json("/api/v1/datasets/shanghai-air-quality/versions/1").await;
    let (_, copied) = second
        .get_json("/api/v1/datasets/shanghai-air-quality/versions/1")
        .await;
    assert_eq!(
        copied["files"], original["files"],
        "same names, bytes and derived copies"
    );
    assert_eq!(copied["manifest"]["metadata"], original["manifest"]["metadata"]);
    assert_eq!(copied["files"][0]["resource"], "daily-aqi");

    // Two files may not share one resource name, and a name is a Frictionless name.
    let stored = copied["files"][0].clone();
    for (second_resource, why) in [("daily-aqi", "shared"), ("Daily AQI", "not a Frictionless name")] {
        let mut other = stored.clone();
        other["name"] = json!("again.csv");
        other["resource"] = json!(second_resource);
        let body = json!({"metadata": copied["manifest"]["metadata"], "files": [stored, other]});
        let refused = second.post_version(&token, "shanghai-air-quality", body).await;
        assert!(refused.status().is_client_error(), "{why}: {}", refused.status());
        let problem = refused.text().await.expect("problem");
        assert!(problem.contains("resource"), "{why}: {problem}");
    }
    first.stop().await;
    second.stop().await;
}

async fn a_buyer_proves_receipts_from_log_tiles_and_a_static_mirror(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let work = cli_order_of_hospital_data(&app).await;
    let path = |name: &str| work.path().join(name).to_str().expect("utf-8").to_owned();
    let tiles = format!("{}/log", app.url);
    let (order, key, files) = (path("order"), path("buyer.json"), path("files"));
    let fetched = json(
        &shulian(&[
            "fetch",
            &order,
            "--key",
            &key,
            "--node",
            &app.url,
            "--out",
            &files,
            "--log-tiles",
            &tiles,
            "--json",
        ])
        .await,
    );
    assert_eq!(
        fetched["receipts"].as_u64(),
        Some(2),
        "receipts proven from tiles: {fetched}"
    );
    let bundle = path("files/evidence.json");
    let verified = json(&shulian(&["verify", &bundle, "--json"]).await);
    assert_eq!(verified["receipts"].as_u64(), Some(2));

    // The log grows; a static copy of its checkpoint and tiles (what a bucket or CDN holds)
    // proves the node only appended since the bundle's checkpoint.
    let more = app.publisher("more").await;
    for round in 0..5 {
        app.publish(&more, "more-data", "open", &[("a.csv", format!("{round}").as_bytes())])
            .await;
    }
    let mirror = tempfile::tempdir().expect("mirror");
    copy_log(&app, mirror.path()).await;
    let mirror_url = serve_files(mirror.path().to_owned()).await;
    let consistent = json(
        &shulian(&[
            "verify",
            &bundle,
            "--node",
            &app.url,
            "--log-tiles",
            &mirror_url,
            "--json",
        ])
        .await,
    );
    assert!(
        consistent["consistentTo"].as_u64() > verified["checkpointSize"].as_u64(),
        "{consistent}"
    );

    // A mirror whose tiles were altered cannot prove it.
    for tile in walk(&mirror.path().join("tile")) {
        let mut bytes = std::fs::read(&tile).expect("tile");
        bytes[0] ^= 1;
        std::fs::write(&tile, bytes).expect("tamper");
    }
    let refused = shulian(&["verify", &bundle, "--node", &app.url, "--log-tiles", &mirror_url]).await;
    assert!(
        !refused.success && refused.stderr.contains("does not extend"),
        "{}",
        refused.stderr
    );
    app.stop().await;
}

/// Copies the node's checkpoint and every hash tile of its tree into `dir`, at their paths.
async fn copy_log(app: &TestApp, dir: &Path) {
    use shulian::ledger::tiles::{TILE_WIDTH, Tile, TileKind};
    let note = app.checkpoint_note().await;
    std::fs::write(dir.join("checkpoint"), &note).expect("checkpoint");
    let size: u64 = note.lines().nth(1).and_then(|line| line.parse().ok()).expect("size");
    for level in 0u8.. {
        let available = size >> (8 * u32::from(level));
        if available == 0 {
            break;
        }
        for index in 0..available.div_ceil(TILE_WIDTH) {
            let width = (available - index * TILE_WIDTH).min(TILE_WIDTH);
            let tile = Tile {
                kind: TileKind::Hashes(level),
                index,
                partial: u8::try_from(width).ok(),
            };
            let bytes = app
                .http
                .get(format!("{}/log/tile/{}", app.url, tile.path()))
                .send()
                .await
                .expect("tile")
                .bytes()
                .await
                .expect("bytes");
            let file = dir.join("tile").join(tile.path());
            std::fs::create_dir_all(file.parent().expect("parent")).expect("dirs");
            std::fs::write(file, bytes).expect("write");
        }
    }
}

/// Serves the files under `dir` over HTTP on a free port, as a bucket or CDN would; its URL.
async fn serve_files(dir: std::path::PathBuf) -> String {
    use axum::response::IntoResponse as _;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    let files = axum::Router::new().fallback(move |uri: axum::http::Uri| {
        let file = dir.join(uri.path().trim_start_matches('/'));
        async move {
            match tokio::fs::read(file).await {
                Ok(bytes) => bytes.into_response(),
                Err(_) => reqwest::StatusCode::NOT_FOUND.into_response(),
            }
        }
    });
    tokio::spawn(async move { axum::serve(listener, files).await });
    format!("http://{address}")
}

/// Every file below `dir`.
fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).expect("dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}
