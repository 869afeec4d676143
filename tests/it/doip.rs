//! DOIP: the `/doip` HTTP form over real HTTP, and the native listener (TLS, DOIP
//! segments) driven by the reference Python client doipy: Hello (signed by the node's
//! key), ListOperations, Retrieve of a dataset version and of an open file's bytes,
//! Search; licensed bytes, unknown objects and unknown operations refused.

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{Backend, TestApp, run_python_check, sha256_hex, test_python};
use crate::on_both_backends;
use crate::web::{FLOWS, market};

on_both_backends!(
    doip_clients_say_hello_list_retrieve_and_search,
    a_served_node_answers_doip_on_its_configured_port
);

/// A `/doip` request over HTTP; its status and body.
async fn over_http(app: &TestApp, query: &[(&str, &str)]) -> (StatusCode, reqwest::Response) {
    let response = app.http.get(app.api("/doip")).query(query).send().await.expect("doip");
    (response.status(), response)
}

async fn json_of(app: &TestApp, query: &[(&str, &str)], status: StatusCode) -> Value {
    let (got, response) = over_http(app, query).await;
    let body: Value = response.json().await.expect("json");
    assert_eq!(got, status, "{query:?}: {body}");
    body
}

async fn doip_clients_say_hello_list_retrieve_and_search(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    market(&app).await;
    let prefix = app.ctx.node.handle_prefix.to_string();
    let service = format!("{prefix}/service");
    let (traffic, visits) = (format!("{prefix}/traffic"), format!("{prefix}/visits"));
    let node = app.ctx.node.key.did().to_string();

    let hello = json_of(
        &app,
        &[("operationId", "0.DOIP/Op.Hello"), ("targetId", &service)],
        StatusCode::OK,
    )
    .await;
    assert_eq!(hello["status"], "0.DOIP/Status.001");
    assert_eq!(hello["output"]["id"], service.as_str());
    let described = &hello["output"]["attributes"]["nodeDescription"];
    let signer = shulian::crypto::proof::verify_document(described).expect("the description is signed");
    assert_eq!(signer.to_string(), node, "signed by the node's key");
    let operations = json_of(
        &app,
        &[("operationId", "0.DOIP/Op.ListOperations"), ("targetId", &service)],
        StatusCode::OK,
    )
    .await;
    assert!(
        operations["output"]
            .as_array()
            .expect("operations")
            .contains(&"0.DOIP/Op.Search".into())
    );
    let object = json_of(
        &app,
        &[("operationId", "0.DOIP/Op.Retrieve"), ("targetId", &traffic)],
        StatusCode::OK,
    )
    .await;
    assert_eq!(object["output"]["id"], format!("{traffic}@1"));
    let (_, version) = app.get_json("/api/v1/datasets/traffic/versions/1").await;
    assert_eq!(
        object["output"]["attributes"]["manifestDigest"],
        version["manifestDigest"]
    );
    assert!(
        object["output"]["elements"]
            .as_array()
            .expect("elements")
            .iter()
            .any(|element| element["id"] == "flows.csv"),
        "{object}"
    );
    let (status, bytes) = over_http(
        &app,
        &[
            ("operationId", "0.DOIP/Op.Retrieve"),
            ("targetId", &traffic),
            ("element", "flows.csv"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(bytes.bytes().await.expect("bytes").as_ref(), FLOWS.as_bytes());
    let licensed = json_of(
        &app,
        &[
            ("operationId", "0.DOIP/Op.Retrieve"),
            ("targetId", &visits),
            ("element", "visits.csv"),
        ],
        StatusCode::FORBIDDEN,
    )
    .await;
    assert_eq!(licensed["status"], "0.DOIP/Status.103", "licensed bytes are ordered");
    assert!(
        !licensed.to_string().contains("心内科"),
        "no licensed byte in the refusal"
    );
    let unknown = json_of(
        &app,
        &[
            ("operationId", "0.DOIP/Op.Retrieve"),
            ("targetId", &format!("{prefix}/nothing")),
        ],
        StatusCode::NOT_FOUND,
    )
    .await;
    assert_eq!(unknown["status"], "0.DOIP/Status.104");
    let elsewhere = json_of(
        &app,
        &[("operationId", "0.DOIP/Op.Retrieve"), ("targetId", "20.500.1/other")],
        StatusCode::NOT_FOUND,
    )
    .await;
    assert_eq!(elsewhere["status"], "0.DOIP/Status.104");
    let no_such = json_of(
        &app,
        &[("operationId", "0.DOIP/Op.Delete"), ("targetId", &traffic)],
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert_eq!(no_such["status"], "0.DOIP/Status.200");
    let found = json_of(
        &app,
        &[
            ("operationId", "0.DOIP/Op.Search"),
            ("targetId", &service),
            ("query", "交通"),
            ("pageSize", "5"),
        ],
        StatusCode::OK,
    )
    .await;
    assert!(found["output"]["size"].as_u64() >= Some(1), "{found}");
    assert_eq!(found["output"]["results"][0]["id"], format!("{traffic}@1"));
    let (status, _) = over_http(&app, &[("targetId", &service)]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "no operation");

    // Natively, with the reference client.
    let Some(python) = test_python() else {
        app.stop().await;
        return;
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("doip port");
    let port = listener.local_addr().expect("address").port().to_string();
    let tls = shulian::doip::self_signed_acceptor("127.0.0.1").expect("certificate");
    let served = tokio::spawn(shulian::doip::serve(listener, app.ctx.clone(), tls));
    let args: Vec<&str> = vec![
        "127.0.0.1",
        &port,
        &service,
        &traffic,
        "flows.csv",
        &visits,
        "visits.csv",
        "交通",
    ];
    let args: Vec<&std::ffi::OsStr> = args.iter().map(std::ffi::OsStr::new).collect();
    let seen = run_python_check(&python, "doip_check.py", &args).await;
    assert_eq!(seen["hello"][0]["status"], "0.DOIP/Status.001", "{seen}");
    assert_eq!(seen["hello"][0]["output"]["attributes"]["port"].to_string(), port);
    let signer = shulian::crypto::proof::verify_document(&seen["hello"][0]["output"]["attributes"]["nodeDescription"])
        .expect("signed");
    assert_eq!(signer.to_string(), node);
    assert!(
        seen["operations"][0]["output"]
            .as_array()
            .is_some_and(|operations| operations.contains(&"0.DOIP/Op.Retrieve".into())),
        "{seen}"
    );
    assert_eq!(seen["retrieved"][0]["output"]["id"], format!("{traffic}@1"));
    assert_eq!(seen["saved"], serde_json::json!(["flows.csv"]));
    assert_eq!(seen["sha256"], sha256_hex(FLOWS.as_bytes()), "the element's bytes");
    assert_eq!(seen["licensed"][0]["status"], "0.DOIP/Status.103");
    assert_eq!(seen["search"][0]["output"]["results"][0]["id"], format!("{traffic}@1"));
    assert_eq!(seen["unknown"][0]["status"], "0.DOIP/Status.104");
    served.abort();
    app.stop().await;
}

/// `shulian serve --doip-listen`: a real node process answers the reference client on the
/// port it was given, as the node its HTTP side says it is.
async fn a_served_node_answers_doip_on_its_configured_port(backend: Backend) {
    let Some(python) = test_python() else { return };
    let state = crate::process::NodeState::new(&backend).await;
    let (http_port, doip_port) = (
        crate::process::NodeState::free_port(),
        crate::process::NodeState::free_port(),
    );
    let node = state
        .start_with(
            http_port,
            &state.data_dir.join("search"),
            &["--doip-listen".to_owned(), format!("127.0.0.1:{doip_port}")],
        )
        .await;
    let description: Value = reqwest::get(format!("{}/.well-known/shulian-node", node.url))
        .await
        .expect("description")
        .json()
        .await
        .expect("json");
    let service = format!("{}/service", description["identifierPrefix"].as_str().expect("prefix"));
    let port = doip_port.to_string();
    let args = ["127.0.0.1", port.as_str(), service.as_str()].map(std::ffi::OsStr::new);
    let seen = run_python_check(&python, "doip_hello.py", &args).await;
    assert_eq!(seen["hello"][0]["status"], "0.DOIP/Status.001", "{seen}");
    assert_eq!(seen["hello"][0]["output"]["attributes"]["port"], doip_port);
    let signer = shulian::crypto::proof::verify_document(&seen["hello"][0]["output"]["attributes"]["nodeDescription"])
        .expect("signed");
    assert_eq!(signer.to_string(), description["id"].as_str().expect("did"));
    drop(node);
    state.drop_database(&backend).await;
}
