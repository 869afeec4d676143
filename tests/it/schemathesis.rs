//! schemathesis against the served OpenAPI document: every operation,
//! generated inputs (valid and not), with a publisher's credentials. Zero
//! server errors, zero undocumented status codes or content types, zero
//! responses that break their declared schema.

use std::path::Path;

use shulian::service::demo;

use crate::helpers::{Backend, TestApp, test_python};

/// Examples per operation and phase: enough to find shape faults, bounded for CI.
const MAX_EXAMPLES: &str = "25";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_served_api_matches_its_openapi_document_under_generated_requests() {
    let Some(python) = test_python() else { return };
    let schemathesis = Path::new(&python).with_file_name("schemathesis");
    assert!(schemathesis.exists(), "schemathesis is installed beside {python}");
    let app = TestApp::spawn(Backend::Sqlite).await;
    demo::load_demo_catalog(&app.ctx, &app.config.catalog_dir)
        .await
        .expect("demo catalog");
    let token = app.publisher("schemathesis").await;
    let run = tokio::process::Command::new(&schemathesis)
        .args([
            "run",
            &app.api("/api/v1/openapi.json"),
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance",
            // The coverage phase trips a CPython 3.11 AST bug inside hypothesis (`SystemError: AST
            // constructor recursion depth mismatch`) before it sends anything; the other phases run.
            "--phases",
            "examples,fuzzing,stateful",
            "--max-examples",
            MAX_EXAMPLES,
            "--seed",
            "20261130",
            "--workers",
            "2",
            "--no-color",
            "--header",
            &format!("Authorization: Bearer {token}"),
        ])
        .output()
        .await
        .expect("schemathesis runs");
    let report = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "schemathesis found failures:\n{report}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(report.contains("passed"), "{report}");
}
