//! The Delta Sharing server: protocol shape, open and order profiles, ticketed
//! licensed files that yield receipts, and the official Python client.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{
    Backend, TestApp, metadata, open_profile, place_test_order, receipts, run_python_check, sha256_hex, test_python,
};
use crate::on_both_backends;
use crate::tables::typed_parquet;

on_both_backends!(
    open_datasets_are_shared_with_the_public_profile,
    an_order_profile_reads_its_table_and_each_read_is_a_delivery,
    the_official_python_client_reads_open_and_licensed_tables,
    reads_racing_past_the_download_limit_get_no_more_than_it_allows,
    the_official_client_reads_a_table_as_of_a_version_or_a_time,
    the_official_client_reads_a_tables_change_data_feed,
);

const PARQUET: &str = "application/vnd.apache.parquet";

/// Share `city`: open `trips` (a Parquet table) and `flows` (a CSV); share `hospital`: licensed `visits`.
async fn market(app: &TestApp) -> (Vec<u8>, Vec<u8>) {
    let city = app.publisher("city").await;
    let trips = typed_parquet(3_000, 1_000);
    app.publish_files(
        &city,
        "trips",
        metadata("trips", "open"),
        &[("trips.parquet", PARQUET, &trips)],
    )
    .await;
    let flows = "站点,流量\n东直门,1200\n西直门,980\n".as_bytes();
    app.publish_files(
        &city,
        "flows",
        metadata("flows", "open"),
        &[("flows.csv", "text/csv", flows)],
    )
    .await;
    let hospital = app.publisher("hospital").await;
    let visits = typed_parquet(40, 40);
    app.publish_files(
        &hospital,
        "visits",
        metadata("visits", "licensed"),
        &[("visits.parquet", PARQUET, &visits)],
    )
    .await;
    (trips, visits)
}

async fn sharing(
    app: &TestApp,
    token: Option<&str>,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> reqwest::Response {
    let mut request = app.http.request(method, app.api(&format!("/delta-sharing{path}")));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.expect("sharing request")
}

/// The NDJSON lines of a table query that must succeed.
async fn query_lines(app: &TestApp, token: &str, table: &str, body: Value) -> Vec<Value> {
    let query = sharing(
        app,
        Some(token),
        reqwest::Method::POST,
        &format!("{table}/query"),
        Some(body),
    )
    .await;
    assert_eq!(query.status(), StatusCode::OK);
    ndjson(&query.text().await.expect("text"))
}

fn ndjson(text: &str) -> Vec<Value> {
    text.lines()
        .map(|line| serde_json::from_str(line).expect("one JSON object per line"))
        .collect()
}

async fn open_datasets_are_shared_with_the_public_profile(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (trips, _) = market(&app).await;
    let profile = open_profile(&app).await;
    assert_eq!(profile["shareCredentialsVersion"], 1);
    assert_eq!(profile["endpoint"], app.api("/delta-sharing"));
    let token = profile["bearerToken"].as_str().expect("token");
    let get = reqwest::Method::GET;

    let anonymous = sharing(&app, None, get.clone(), "/shares", None).await;
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let error: Value = anonymous.json().await.expect("json");
    assert_eq!(error["errorCode"], "UNAUTHENTICATED");

    let shares: Value = sharing(&app, Some(token), get.clone(), "/shares", None)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(
        shares,
        json!({"items": [{"name": "city"}]}),
        "licensed-only publishers are not shared"
    );
    let first: Value = sharing(
        &app,
        Some(token),
        get.clone(),
        "/shares/city/schemas?maxResults=1",
        None,
    )
    .await
    .json()
    .await
    .expect("json");
    assert_eq!(first["items"], json!([{"name": "flows", "share": "city"}]));
    let next = first["nextPageToken"].as_str().expect("a next page");
    let second: Value = sharing(
        &app,
        Some(token),
        get.clone(),
        &format!("/shares/city/schemas?maxResults=1&pageToken={next}"),
        None,
    )
    .await
    .json()
    .await
    .expect("json");
    assert_eq!(second, json!({"items": [{"name": "trips", "share": "city"}]}));
    let all: Value = sharing(&app, Some(token), get.clone(), "/shares/city/all-tables", None)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(
        all["items"],
        json!([{"name": "flows", "schema": "flows", "share": "city"}, {"name": "trips", "schema": "trips", "share": "city"}])
    );

    let table = "/shares/city/schemas/trips/tables/trips";
    let version = sharing(&app, Some(token), get.clone(), &format!("{table}/version"), None).await;
    assert_eq!(version.headers()["delta-table-version"], "1");
    let metadata = sharing(&app, Some(token), get.clone(), &format!("{table}/metadata"), None).await;
    assert_eq!(metadata.headers()["delta-table-version"], "1");
    let lines = ndjson(&metadata.text().await.expect("text"));
    assert_eq!(lines[0], json!({"protocol": {"minReaderVersion": 1}}));
    assert_eq!(lines[1]["metaData"]["format"], json!({"provider": "parquet"}));
    let schema: Value =
        serde_json::from_str(lines[1]["metaData"]["schemaString"].as_str().expect("schema")).expect("json");
    assert_eq!(schema["fields"][2]["type"], "decimal(12,2)");
    assert_eq!(schema["fields"][6]["type"]["type"], "array");
    let at_one = sharing(
        &app,
        Some(token),
        get.clone(),
        &format!("{table}/metadata?version=1"),
        None,
    )
    .await;
    assert_eq!(at_one.headers()["delta-table-version"], "1");
    let absent = sharing(
        &app,
        Some(token),
        get.clone(),
        &format!("{table}/metadata?version=99"),
        None,
    )
    .await;
    assert_eq!(absent.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        absent.json::<Value>().await.expect("json")["errorCode"],
        "RESOURCE_DOES_NOT_EXIST"
    );
    for (method, path) in [
        (get.clone(), "/shares/city/changes"),
        (get.clone(), "/nothing/here"),
        (reqwest::Method::DELETE, "/shares"),
    ] {
        let answer = sharing(&app, Some(token), method, path, None).await;
        assert!(answer.status().is_client_error(), "{path}");
        let error: Value = answer.json().await.expect("the protocol's error form");
        assert!(
            error["errorCode"].is_string() && error["message"].is_string(),
            "{path}: {error}"
        );
    }
    let shouted = "/shares/CITY/schemas/Trips/tables/TRIPS/version";
    let version = sharing(&app, Some(token), get.clone(), shouted, None).await;
    assert_eq!(version.status(), StatusCode::OK, "names are case-insensitive");

    let query = sharing(
        &app,
        Some(token),
        reqwest::Method::POST,
        &format!("{table}/query"),
        Some(json!({})),
    )
    .await;
    assert_eq!(query.headers()["delta-table-version"], "1");
    let lines = ndjson(&query.text().await.expect("text"));
    let file = &lines[2]["file"];
    assert_eq!(file["size"], trips.len());
    assert_eq!(file["id"], sha256_hex(&trips));
    assert_eq!(
        serde_json::from_str::<Value>(file["stats"].as_str().expect("stats")).expect("json")["numRecords"],
        3_000
    );
    let bytes = app
        .http
        .get(file["url"].as_str().expect("url"))
        .send()
        .await
        .expect("get")
        .bytes()
        .await
        .expect("body");
    assert_eq!(bytes.as_ref(), trips.as_slice());
    assert_eq!(
        query_lines(&app, token, table, json!({"limitHint": 0})).await.len(),
        2,
        "no file is needed for zero rows"
    );

    for (path, status, code) in [
        (
            "/shares/hospital/schemas",
            StatusCode::NOT_FOUND,
            "RESOURCE_DOES_NOT_EXIST",
        ),
        (
            "/shares/hospital/schemas/visits/tables/visits/metadata",
            StatusCode::FORBIDDEN,
            "PERMISSION_DENIED",
        ),
        (
            "/shares/city/schemas/trips/tables/nope/metadata",
            StatusCode::NOT_FOUND,
            "RESOURCE_DOES_NOT_EXIST",
        ),
        (
            "/shares/city/schemas?maxResults=0",
            StatusCode::BAD_REQUEST,
            "INVALID_PARAMETER_VALUE",
        ),
        (
            "/shares/city/schemas?pageToken=zz",
            StatusCode::BAD_REQUEST,
            "INVALID_PARAMETER_VALUE",
        ),
    ] {
        let response = sharing(&app, Some(token), get.clone(), path, None).await;
        assert_eq!(response.status(), status, "{path}");
        let error: Value = response.json().await.expect("json");
        assert_eq!(error["errorCode"], code, "{path}");
    }
    for body in [
        json!({"version": 7}),
        json!({"limitHint": -1}),
        json!({"timestamp": "2024-01-01T00:00:00Z"}),
    ] {
        let refused = sharing(
            &app,
            Some(token),
            reqwest::Method::POST,
            &format!("{table}/query"),
            Some(body.clone()),
        )
        .await;
        assert!(refused.status().is_client_error(), "{body}");
    }
    app.stop().await;
}

async fn an_order_profile_reads_its_table_and_each_read_is_a_delivery(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, visits) = market(&app).await;
    let placed = place_test_order(&app, "visits").await;
    let profile = &placed["deltaSharingProfile"];
    assert_eq!(profile["bearerToken"], placed["accessToken"]);
    assert_eq!(profile["endpoint"], app.api("/delta-sharing"));
    assert!(profile["expirationTime"].as_str().is_some());
    let token = profile["bearerToken"].as_str().expect("token");

    let shares: Value = sharing(&app, Some(token), reqwest::Method::GET, "/shares", None)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(shares, json!({"items": [{"name": "hospital"}]}));
    let elsewhere = sharing(&app, Some(token), reqwest::Method::GET, "/shares/city/schemas", None).await;
    assert_eq!(elsewhere.status(), StatusCode::NOT_FOUND);
    let table = "/shares/hospital/schemas/visits/tables/visits";
    let lines = query_lines(&app, token, table, json!({})).await;
    let file = &lines[2]["file"];
    assert!(file["expirationTimestamp"].as_i64().is_some());
    let url = file["url"].as_str().expect("url");
    assert!(url.starts_with(&app.api("/delta-sharing/files/")), "{url}");

    // Readers fetch the URL with no credentials, by ranges as pyarrow does.
    let head = app.http.head(url).send().await.expect("head");
    assert_eq!(head.headers()["content-length"], visits.len().to_string().as_str());
    assert_eq!(head.headers()["accept-ranges"], "bytes");
    let order_id = placed["orderId"].as_str().expect("id");
    let receipts_now = || receipts(&app, order_id, token);
    // A table reader may read only the footer and the columns it projects, never the whole
    // file: the session's first bytes are its delivery, receipted at once.
    let split = visits.len() / 2;
    let rest = app
        .http
        .get(url)
        .header("range", format!("bytes={split}-"))
        .send()
        .await
        .expect("get");
    assert_eq!(rest.status(), StatusCode::PARTIAL_CONTENT);
    let tail = rest.bytes().await.expect("body").to_vec();
    let first = receipts_now().await;
    assert_eq!(first.len(), 1, "the session's first range is its delivery");
    assert_eq!(first[0]["receipt"]["file"], "visits.parquet");
    let start = app
        .http
        .get(url)
        .header("range", format!("bytes=0-{}", split - 1))
        .send()
        .await
        .expect("get");
    let mut bytes = start.bytes().await.expect("body").to_vec();
    bytes.extend_from_slice(&tail);
    assert_eq!(bytes, visits);
    // Reading again through the same URL (pyarrow re-reads footers) is the same download.
    for _ in 0..3 {
        let again = app.http.get(url).send().await.expect("get");
        assert_eq!(again.bytes().await.expect("body").as_ref(), visits.as_slice());
    }
    assert_eq!(receipts_now().await, first, "one session, one delivery");

    // A new query is a new session; whole-file reads racing through its URL are one download,
    // whichever of them finishes first.
    let lines = query_lines(&app, token, table, json!({})).await;
    let racing_url = lines[2]["file"]["url"].as_str().expect("url").to_owned();
    let racing = (0..8).map(|_| async {
        let read = app.http.get(&racing_url).send().await.expect("get");
        read.bytes().await.expect("body")
    });
    for read in futures::future::join_all(racing).await {
        assert!(read.as_ref() == visits.as_slice(), "{}", String::from_utf8_lossy(&read));
    }
    assert_eq!(receipts_now().await.len(), 2, "one receipt per session");

    let mut forged = url.to_owned();
    forged.pop();
    forged.push(if url.ends_with('A') { 'B' } else { 'A' });
    assert_eq!(
        app.http.get(&forged).send().await.expect("get").status(),
        StatusCode::FORBIDDEN
    );
    let earlier = sharing(
        &app,
        Some(token),
        reqwest::Method::POST,
        &format!("{table}/query"),
        Some(json!({"version": 2})),
    )
    .await;
    assert_eq!(earlier.status(), StatusCode::FORBIDDEN);
    app.stop().await;
}

async fn the_official_python_client_reads_open_and_licensed_tables(backend: Backend) {
    let Some(python) = test_python() else { return };
    let app = TestApp::spawn(backend).await;
    let (trips, visits) = market(&app).await;
    let placed = place_test_order(&app, "visits").await;
    let work = tempfile::tempdir().expect("tempdir");
    let profile = work.path().join("order.share");
    std::fs::write(&profile, placed["deltaSharingProfile"].to_string()).expect("profile");
    let (open_source, licensed_source) = (work.path().join("trips.parquet"), work.path().join("visits.parquet"));
    std::fs::write(&open_source, &trips).expect("source");
    std::fs::write(&licensed_source, &visits).expect("source");

    let args = [
        app.url.as_ref(),
        profile.as_os_str(),
        open_source.as_os_str(),
        licensed_source.as_os_str(),
    ];
    let summary = run_python_check(&python, "delta_sharing_check.py", &args).await;
    assert_eq!(
        summary,
        json!({"shares": ["city"], "rows": 3000, "limited": 7, "licensedRows": 40})
    );

    let order_id = placed["orderId"].as_str().expect("id");
    let token = placed["accessToken"].as_str().expect("token");
    let receipts = receipts(&app, order_id, token).await;
    assert_eq!(
        receipts.len(),
        2,
        "each of the client's two loads of the licensed table is one delivery with its receipt"
    );
    app.stop().await;
}

/// Whole-file reads sent at once; how many brought the complete file.
async fn complete_reads(requests: Vec<reqwest::RequestBuilder>, expected: &[u8]) -> usize {
    let reads = requests.into_iter().map(|request| async move {
        let response = request.send().await.expect("send");
        if !response.status().is_success() {
            return false;
        }
        // A body the node withholds the end of breaks off.
        matches!(response.bytes().await, Ok(body) if body.as_ref() == expected)
    });
    futures::future::join_all(reads)
        .await
        .into_iter()
        .filter(|complete| *complete)
        .count()
}

async fn reads_racing_past_the_download_limit_get_no_more_than_it_allows(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, visits) = market(&app).await;
    let table = "/shares/hospital/schemas/visits/tables/visits";

    // Through Delta Sharing: every query opens a new read session, each one download.
    let placed = place_test_order(&app, "visits").await;
    let token = placed["accessToken"].as_str().expect("token");
    let mut requests = Vec::new();
    for _ in 0..6 {
        let lines = query_lines(&app, token, table, json!({})).await;
        let url = lines[2]["file"]["url"].as_str().expect("url").to_owned();
        requests.push(app.http.get(url));
    }
    let complete = complete_reads(requests, &visits).await;
    let order_id = placed["orderId"].as_str().expect("id");
    let logged = receipts(&app, order_id, token).await;
    assert_eq!((complete, logged.len()), (2, 2), "the test order allows two downloads");

    // With the order token on the download URL: every request is a download of its own.
    let placed = place_test_order(&app, "visits").await;
    let token = placed["accessToken"].as_str().expect("token");
    let url = app.api("/api/v1/datasets/visits/versions/1/files/visits.parquet");
    let requests = (0..6).map(|_| app.http.get(&url).bearer_auth(token)).collect();
    let complete = complete_reads(requests, &visits).await;
    let order_id = placed["orderId"].as_str().expect("id");
    let logged = receipts(&app, order_id, token).await;
    assert_eq!((complete, logged.len()), (2, 2));
    app.stop().await;
}

/// A dataset version is a table version, published at its publication time: the official
/// client reads the table as of version 1 and as of a time between two versions, asks
/// which version followed a time, and is refused a time before the first version. A
/// client that reads only the delta response format gets its lines as PROTOCOL.md shows,
/// and the official client's Delta Kernel reader reads the same rows from them.
async fn the_official_client_reads_a_table_as_of_a_version_or_a_time(backend: Backend) {
    let Some(python) = test_python() else { return };
    let app = TestApp::spawn(backend).await;
    let city = app.publisher("city").await;
    let publish = |rows: usize| {
        let (app, city) = (&app, city.clone());
        async move {
            let table = typed_parquet(rows, rows);
            app.publish_files(
                &city,
                "trips",
                metadata("trips", "open"),
                &[("trips.parquet", PARQUET, &table)],
            )
            .await;
        }
    };
    publish(30).await;
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let between = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    publish(50).await;
    let summary = run_python_check(
        &python,
        "delta_sharing_time_travel.py",
        &[app.url.as_ref(), "city.trips.trips".as_ref(), between.as_ref()],
    )
    .await;
    assert_eq!(
        summary,
        json!({"latest": 50, "version1": 30, "asOf": 30, "versionSince": 2, "before": "INVALID_PARAMETER_VALUE"})
    );
    let profile = open_profile(&app).await;
    let both = sharing(
        &app,
        profile["bearerToken"].as_str(),
        reqwest::Method::POST,
        "/shares/city/schemas/trips/tables/trips/query",
        Some(json!({"version": 1, "timestamp": between})),
    )
    .await;
    assert_eq!(both.status(), StatusCode::BAD_REQUEST, "version or timestamp, not both");

    let query = |capabilities: &'static str, body: Value| {
        let (app, token) = (&app, profile["bearerToken"].as_str().expect("token").to_owned());
        async move {
            app.http
                .post(app.api("/delta-sharing/shares/city/schemas/trips/tables/trips/query"))
                .bearer_auth(token)
                .header("delta-sharing-capabilities", capabilities)
                .json(&body)
                .send()
                .await
                .expect("query")
        }
    };
    let delta = query(
        "responseformat=delta;readerfeatures=deletionvectors,columnmapping",
        json!({"version": 1}),
    )
    .await;
    assert_eq!(delta.headers()["delta-sharing-capabilities"], "responseformat=delta");
    let lines = ndjson(&delta.text().await.expect("text"));
    assert_eq!(
        lines[0],
        json!({"protocol": {"deltaProtocol": {"minReaderVersion": 1, "minWriterVersion": 4}}})
    );
    assert_eq!(lines[1]["metaData"]["version"], 1);
    assert_eq!(lines[1]["metaData"]["deltaMetadata"]["format"]["provider"], "parquet");
    assert!(lines[1]["metaData"]["deltaMetadata"]["schemaString"].is_string());
    let add = &lines[2]["file"]["deltaSingleAction"]["add"];
    assert!(
        add["path"].as_str().is_some_and(|path| path.contains("/versions/1/")),
        "{add}"
    );
    assert_eq!(add["dataChange"], true);
    assert!(
        add["stats"]
            .as_str()
            .is_some_and(|stats| stats.contains("\"numRecords\":30")),
        "{add}"
    );
    // Either format accepted: the plain tables here answer in parquet, and say so.
    let either = query("responseformat=delta,parquet", json!({})).await;
    assert_eq!(either.headers()["delta-sharing-capabilities"], "responseformat=parquet");
    let unknown = query("responseformat=avro", json!({})).await;
    assert_eq!(unknown.status(), StatusCode::BAD_REQUEST);
    app.stop().await;
}

/// A dataset version is a table version whose file replaces the previous one: the official
/// client reads the change data feed as version 1 inserting its rows, version 2 deleting
/// them and inserting its own, and version 3 (the same file again) changing nothing; by
/// version and by time in both of the protocol's formats. A buyer's feed is the ordered
/// version alone, read as a delivery with its receipt; asking past it is refused.
async fn the_official_client_reads_a_tables_change_data_feed(backend: Backend) {
    let Some(python) = test_python() else { return };
    let app = TestApp::spawn(backend).await;
    let city = app.publisher("city").await;
    let publish = |rows: usize, description: &'static str| {
        let (app, city) = (&app, city.clone());
        async move {
            let table = typed_parquet(rows, rows);
            let mut described = metadata("trips", "open");
            described["description"] = json!({"zh": description, "en": description});
            app.publish_files(&city, "trips", described, &[("trips.parquet", PARQUET, &table)])
                .await;
        }
    };
    publish(30, "first").await;
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let between = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    publish(50, "second").await;
    publish(50, "the second's file, described anew").await;
    let hospital = app.publisher("hospital").await;
    let visits = typed_parquet(40, 40);
    let licensed = [("visits.parquet", PARQUET, visits.as_slice())];
    app.publish_files(&hospital, "visits", metadata("visits", "licensed"), &licensed)
        .await;
    let placed = place_test_order(&app, "visits").await;
    let work = tempfile::tempdir().expect("tempdir");
    let profile = work.path().join("order.share");
    std::fs::write(&profile, placed["deltaSharingProfile"].to_string()).expect("profile");

    let args = [
        app.url.as_ref(),
        "city.trips.trips".as_ref(),
        between.as_ref(),
        profile.as_os_str(),
        "hospital.visits.visits".as_ref(),
    ];
    let summary = run_python_check(&python, "delta_sharing_changes.py", &args).await;
    let replaced = json!({"delete": 30, "insert": 50});
    assert_eq!(
        summary,
        json!({
            "all": {"1": {"insert": 30}, "2": replaced},
            "kernel": {"1": {"insert": 30}, "2": replaced},
            "second": {"2": replaced},
            "sinceTime": {"2": replaced},
            "untilTime": {"1": {"insert": 30}},
            "licensed": {"1": {"insert": 40}},
            "licensedKernel": {"1": {"insert": 40}},
        })
    );
    let order_id = placed["orderId"].as_str().expect("id");
    let token = placed["accessToken"].as_str().expect("token");
    assert_eq!(
        receipts(&app, order_id, token).await.len(),
        2,
        "each of the buyer's two reads of the feed (parquet, then delta format) is one delivery"
    );

    let public = open_profile(&app).await;
    let public = public["bearerToken"].as_str().expect("token");
    let changes = |token: &str, table: &str, query: &str, capabilities: &str| {
        let request = app
            .http
            .get(app.api(&format!("/delta-sharing/shares/{table}/changes?{query}")))
            .bearer_auth(token)
            .header("delta-sharing-capabilities", capabilities);
        async move { request.send().await.expect("changes") }
    };
    let trips = "city/schemas/trips/tables/trips";
    // The protocol's delta format: a removal and an addition, each with its version's path.
    let delta = changes(
        public,
        trips,
        "startingVersion=2&endingVersion=3",
        "responseformat=delta",
    )
    .await;
    assert_eq!(delta.status(), StatusCode::OK);
    assert_eq!(delta.headers()["delta-table-version"], "2");
    let lines = ndjson(&delta.text().await.expect("text"));
    assert_eq!(
        lines.len(),
        4,
        "protocol, metadata, one removal, one addition: {lines:?}"
    );
    let removed = &lines[2]["file"]["deltaSingleAction"]["remove"];
    let added = &lines[3]["file"]["deltaSingleAction"]["add"];
    assert!(
        removed["path"]
            .as_str()
            .is_some_and(|path| path.contains("/versions/1/")),
        "{removed}"
    );
    assert!(
        added["path"].as_str().is_some_and(|path| path.contains("/versions/2/")),
        "{added}"
    );
    assert_eq!(
        (&lines[2]["file"]["version"], &lines[3]["file"]["version"]),
        (&json!(2), &json!(2))
    );
    // A query with a starting version answers the same data change files.
    let query = sharing(
        &app,
        Some(public),
        reqwest::Method::POST,
        &format!("/shares/{trips}/query"),
        Some(json!({"startingVersion": 2})),
    )
    .await;
    assert_eq!(query.headers()["delta-table-version"], "2");
    let lines = ndjson(&query.text().await.expect("text"));
    assert_eq!(lines[1]["metaData"]["configuration"]["enableChangeDataFeed"], "true");
    let kinds: Vec<(bool, bool)> = lines[2..]
        .iter()
        .map(|line| (line.get("remove").is_some(), line.get("add").is_some()))
        .collect();
    assert_eq!(kinds, [(true, false), (false, true)]);

    for (query, why) in [
        (
            "startingVersion=3&endingVersion=1",
            "a range that ends before it starts",
        ),
        ("endingVersion=2", "no start"),
        ("startingVersion=1&endingVersion=9", "a version not published yet"),
        ("startingVersion=1&startingTimestamp=2026-01-01T00:00:00Z", "two starts"),
        ("startingTimestamp=yesterday", "not a time"),
        ("startingVersion=1&includeHistoricalMetadata=maybe", "not a boolean"),
    ] {
        let refused = changes(public, trips, query, "responseformat=parquet").await;
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST, "{why}");
        let body: Value = refused.json().await.expect("json");
        assert_eq!(body["errorCode"], "INVALID_PARAMETER_VALUE", "{why}: {body}");
    }
    // Licensed versions stay out of the public feed, and a buyer's feed is its version only.
    let mut described = metadata("visits", "licensed");
    described["description"] = json!({"zh": "同样的数据", "en": "the same visits, described anew"});
    app.publish_files(&hospital, "visits", described, &licensed).await;
    let visits_table = "hospital/schemas/visits/tables/visits";
    let refused = changes(public, visits_table, "startingVersion=1", "responseformat=parquet").await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let beyond = changes(
        token,
        visits_table,
        "startingVersion=1&endingVersion=2",
        "responseformat=parquet",
    )
    .await;
    assert_eq!(beyond.status(), StatusCode::FORBIDDEN);
    let body: Value = beyond.json().await.expect("json");
    assert_eq!(body["errorCode"], "PERMISSION_DENIED", "{body}");
    assert_eq!(
        receipts(&app, order_id, token).await.len(),
        2,
        "refusals deliver nothing"
    );
    app.stop().await;
}
