//! Many writers at once: no "database is locked", no 5xx, no gaps or duplicate versions.

use std::collections::BTreeSet;

use reqwest::StatusCode;

use crate::helpers::{Backend, TestApp};
use crate::on_both_backends;

on_both_backends!(concurrent_publishes_all_land_with_distinct_versions);

async fn concurrent_publishes_all_land_with_distinct_versions(backend: Backend) {
    let app = std::sync::Arc::new(TestApp::spawn(backend).await);
    let token = app.publisher("busy").await;
    let mut tasks = Vec::new();
    for writer in 0..24 {
        let app = app.clone();
        let token = token.clone();
        tasks.push(tokio::spawn(async move {
            // Eight datasets, three writers each with different content.
            let dataset = format!("shared-{}", writer % 8);
            let content = format!("writer {writer}\n");
            let response = app
                .publish(&token, &dataset, "open", &[("data.csv", content.as_bytes())])
                .await;
            (dataset, response.status())
        }));
    }
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.expect("task"));
    }
    assert!(
        statuses.iter().all(|(_, status)| *status == StatusCode::CREATED),
        "{statuses:?}"
    );
    for dataset in 0..8 {
        let (_, detail) = app.get_json(&format!("/api/v1/datasets/shared-{dataset}")).await;
        let versions: BTreeSet<u64> = detail["versions"]
            .as_array()
            .expect("versions")
            .iter()
            .filter_map(|v| v["version"].as_u64())
            .collect();
        assert_eq!(versions, BTreeSet::from([1, 2, 3]), "shared-{dataset}");
    }
}
