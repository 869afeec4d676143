//! The access matrix: every operation of the served OpenAPI document (and
//! the Delta Sharing routes beside it) × every kind of caller, with the
//! answer each must get. Nobody but the holder of an order in force receives
//! a licensed byte or a preview row beyond the offer's sample.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use shulian::crypto::KeyPair;

use crate::helpers::{Backend, TestApp, metadata, open_profile, order, post_order, sha256_hex, signed};
use crate::on_both_backends;

on_both_backends!(every_operation_answers_every_caller_as_the_matrix_says);

/// Row 1 is the public sample; the rows after it are what orders pay for.
const RECORDS: &[u8] = b"id,value\n1,public-sample\n2,LICENSED-SECRET-2\n3,LICENSED-SECRET-3\n";
/// What must never reach anyone but the holder.
const SECRET: &str = "LICENSED-SECRET";

/// Who calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Caller {
    Anonymous,
    /// The publisher that owns the licensed dataset.
    Owner,
    OtherPublisher,
    /// The order in force for `records` version 1: the one caller licensed bytes are for.
    Holder,
    /// Another buyer's order for the same version.
    OtherBuyer,
    /// An order for version 2 of the same dataset.
    OtherVersion,
    /// An order for another licensed dataset.
    OtherDataset,
    Expired,
    Revoked,
    /// The public Delta Sharing profile's token.
    OpenProfile,
    /// A well-formed token the node never issued.
    Forged,
}

const CALLERS: [Caller; 11] = [
    Caller::Anonymous,
    Caller::Owner,
    Caller::OtherPublisher,
    Caller::Holder,
    Caller::OtherBuyer,
    Caller::OtherVersion,
    Caller::OtherDataset,
    Caller::Expired,
    Caller::Revoked,
    Caller::OpenProfile,
    Caller::Forged,
];

/// What an operation is, for the expected answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Guard {
    /// Anyone may read it; credentials change nothing.
    Public,
    /// Licensed bytes: holders of an order in force for this version only.
    LicensedBytes,
    /// Table rows: holders get them all, anyone the offer's sample only.
    Preview,
    /// Anyone may write it (a signed order, demand or decision): an empty one is refused as malformed.
    OpenWrite,
    /// The order's status and receipts: its holder or the dataset's publisher.
    OrderRecords,
    /// The order's acknowledgements: its holder only.
    OrderWrite,
    /// A publisher's own operation.
    Publisher,
    /// The owner's decision on (or revocation of) its dataset's order.
    OwnerDecision,
}

struct Market {
    tokens: Vec<(Caller, Option<String>)>,
    holder_order: String,
    /// An order already revoked: decisions on it change nothing whoever asks.
    ended_order: String,
    records_digest: String,
    /// The licensed dataset's version handle.
    records_handle: String,
    /// A demand on the board.
    demand: String,
}

impl Market {
    fn token(&self, caller: Caller) -> Option<&str> {
        self.tokens
            .iter()
            .find(|(c, _)| *c == caller)
            .and_then(|(_, token)| token.as_deref())
    }
}

async fn place(app: &TestApp, dataset: &str, version: u32) -> Value {
    let (_, node) = app.get_json("/.well-known/shulian-node").await;
    let (_, detail) = app
        .get_json(&format!("/api/v1/datasets/{dataset}/versions/{version}"))
        .await;
    let buyer = KeyPair::generate();
    let mut document = order(
        node["id"].as_str().expect("did"),
        dataset,
        detail["manifestDigest"].as_str().expect("digest"),
        &buyer,
    );
    document["version"] = json!(version);
    let placed: Value = post_order(app, &signed(document, &buyer))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(placed["state"], "AGREED", "{placed}");
    placed
}

async fn market(app: &TestApp) -> Market {
    let owner = app.publisher("hospital").await;
    let other_publisher = app.publisher("intruder").await;
    let mut records = metadata("records", "licensed");
    records["offer"]["sampleRows"] = json!(1);
    app.publish_files(
        &owner,
        "records",
        records.clone(),
        &[("records.csv", "text/csv", RECORDS)],
    )
    .await;
    app.publish_files(
        &owner,
        "records",
        records,
        &[("records.csv", "text/csv", &[RECORDS, b"4,LICENSED-SECRET-4\n"].concat())],
    )
    .await;
    app.publish_files(
        &owner,
        "billing",
        metadata("billing", "licensed"),
        &[("bills.csv", "text/csv", b"id\n9\n")],
    )
    .await;
    app.publish(&owner, "open-data", "open", &[("open.csv", b"id\n1\n")])
        .await;

    let holder = place(app, "records", 1).await;
    let other_buyer = place(app, "records", 1).await;
    let other_version = place(app, "records", 2).await;
    let other_dataset = place(app, "billing", 1).await;
    let expired = place(app, "records", 1).await;
    app.tamper(&format!(
        "UPDATE orders SET valid_until = '2020-01-01T00:00:00.000000Z' WHERE id = '{}'",
        expired["orderId"].as_str().expect("id")
    ))
    .await;
    let revoked = place(app, "records", 1).await;
    let revocation = app
        .http
        .post(app.api(&format!(
            "/api/v1/orders/{}/revocation",
            revoked["orderId"].as_str().expect("id")
        )))
        .bearer_auth(&owner)
        .json(&json!({"reason": "test"}))
        .send()
        .await
        .expect("revoke");
    assert_eq!(revocation.status(), StatusCode::OK);
    let profile = open_profile(app).await;
    let token = |placed: &Value| placed["accessToken"].as_str().map(str::to_owned);
    let poster = KeyPair::generate();
    let node = app.ctx.node.key.did().to_string();
    let posted = app
        .http
        .post(app.api("/api/v1/demands"))
        .json(&signed(
            crate::demands::demand(&node, &poster, 10_000, chrono::Duration::days(1)),
            &poster,
        ))
        .send()
        .await
        .expect("demand");
    assert_eq!(posted.status(), StatusCode::CREATED);
    let demand: Value = posted.json().await.expect("json");
    Market {
        tokens: vec![
            (Caller::Anonymous, None),
            (Caller::Owner, Some(owner)),
            (Caller::OtherPublisher, Some(other_publisher)),
            (Caller::Holder, token(&holder)),
            (Caller::OtherBuyer, token(&other_buyer)),
            (Caller::OtherVersion, token(&other_version)),
            (Caller::OtherDataset, token(&other_dataset)),
            (Caller::Expired, token(&expired)),
            (Caller::Revoked, token(&revoked)),
            (Caller::OpenProfile, profile["bearerToken"].as_str().map(str::to_owned)),
            (
                Caller::Forged,
                Some("sho_0123456789abcdef.forgedforgedforgedforgedforgedforgedforg".into()),
            ),
        ],
        holder_order: holder["orderId"].as_str().expect("id").to_owned(),
        ended_order: revoked["orderId"].as_str().expect("id").to_owned(),
        records_digest: sha256_hex(RECORDS),
        records_handle: format!("{}/records@1", app.ctx.node.handle_prefix),
        demand: demand["id"].as_str().expect("id").to_owned(),
    }
}

/// How an operation of the document is exercised: its path filled in, its query, its guard.
fn exercise(path: &str, method: &Method, market: &Market) -> (String, Guard) {
    let filled = path
        .replace("{dataset}", "records")
        .replace("{version}", "1")
        .replace("{order}", &market.holder_order)
        .replace("{sha256}", &market.records_digest)
        .replace("{demand}", &market.demand);
    let (filled, guard) = match path {
        "/api/v1/datasets/{dataset}/versions/{version}/files/{name}" => {
            (filled.replace("{name}", "records.csv"), Guard::LicensedBytes)
        }
        "/api/v1/datasets/{dataset}/versions/{version}/files/{name}/preview" => {
            (filled.replace("{name}", "records.csv") + "?limit=10", Guard::Preview)
        }
        // Anyone may submit; only a checkpoint signed by a peer's log key is cosigned.
        "/api/v1/orders" | "/api/v1/demands/{demand}/decision" | "/witness/add-checkpoint" => {
            (filled, Guard::OpenWrite)
        }
        "/api/v1/demands" if *method == Method::POST => (filled, Guard::OpenWrite),
        "/api/v1/demands/{demand}/answers" => (filled, Guard::Publisher),
        "/api/v1/datasets/{dataset}/versions/{version}/files/{name}/schema" => {
            (filled.replace("{name}", "records.csv"), Guard::Public)
        }
        "/api/v1/orders/{order}/receipts" | "/api/v1/orders/{order}" => (filled, Guard::OrderRecords),
        "/api/v1/orders/{order}/acknowledgements" => (filled, Guard::OrderWrite),
        "/api/v1/orders/{order}/decision" | "/api/v1/orders/{order}/revocation" => {
            (path.replace("{order}", &market.ended_order), Guard::OwnerDecision)
        }
        "/api/v1/publisher/orders"
        | "/api/v1/datasets/{dataset}/versions"
        | "/api/v1/blobs/{sha256}"
        | "/api/v1/blobs/{sha256}/composition" => (filled, Guard::Publisher),
        "/api/v1/log/entries" => (filled + "?start=0&end=50", Guard::Public),
        "/api/handles/{handle}" => (filled.replace("{handle}", &market.records_handle), Guard::Public),
        "/log/tile/{tile}" => (filled.replace("{tile}", "entries/000.p/3"), Guard::Public),
        "/api/v1/log/proof/inclusion" => (filled + "?index=0&size=1", Guard::Public),
        "/api/v1/log/proof/consistency" => (filled + "?from=1&to=2", Guard::Public),
        _ => (filled, Guard::Public),
    };
    (filled, guard)
}

/// Whether `status` is what `caller` must get from an operation behind `guard`.
fn expected(guard: Guard, caller: Caller, method: &Method, status: StatusCode) -> bool {
    let refused = matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN);
    let unauthenticated = status == StatusCode::UNAUTHORIZED;
    match guard {
        Guard::Public => status.is_success() || status == StatusCode::NOT_FOUND && *method == Method::HEAD,
        Guard::LicensedBytes => match caller {
            Caller::Holder | Caller::OtherBuyer => status.is_success(),
            // The publisher's token is no order token: it unlocks nothing of its own dataset's bytes.
            Caller::Owner | Caller::OtherPublisher | Caller::OpenProfile | Caller::Forged => refused,
            _ => status == StatusCode::FORBIDDEN,
        },
        Guard::Preview => match caller {
            Caller::Holder | Caller::OtherBuyer | Caller::Anonymous => status.is_success(),
            Caller::Owner | Caller::OtherPublisher | Caller::OpenProfile | Caller::Forged => refused,
            _ => status == StatusCode::FORBIDDEN,
        },
        Guard::OpenWrite => status == StatusCode::BAD_REQUEST,
        Guard::OrderRecords => match caller {
            Caller::Holder | Caller::Owner => status.is_success(),
            Caller::Anonymous | Caller::OpenProfile | Caller::Forged => unauthenticated,
            _ => refused,
        },
        Guard::OrderWrite => match caller {
            // An empty acknowledgement: admitted past the token check, refused as malformed.
            Caller::Holder => status == StatusCode::BAD_REQUEST,
            Caller::Anonymous | Caller::OpenProfile | Caller::Forged => unauthenticated,
            _ => refused,
        },
        Guard::Publisher => match caller {
            // Admitted past authentication, refused on the (empty) input, or their own listing.
            Caller::Owner | Caller::OtherPublisher => !refused && !status.is_server_error(),
            _ => unauthenticated,
        },
        Guard::OwnerDecision => match caller {
            Caller::Owner => !refused && !status.is_server_error(),
            Caller::OtherPublisher => status == StatusCode::FORBIDDEN,
            _ => unauthenticated,
        },
    }
}

async fn every_operation_answers_every_caller_as_the_matrix_says(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let market = market(&app).await;
    let (_, document) = app.get_json("/api/v1/openapi.json").await;
    let mut cells = 0;
    let mut wrong = Vec::new();
    for (path, operations) in document["paths"].as_object().expect("paths") {
        for method in operations.as_object().expect("operations").keys() {
            let method: Method = method.to_uppercase().parse().expect("method");
            let (url, guard) = exercise(path, &method, &market);
            for caller in CALLERS {
                let mut request = app.http.request(method.clone(), app.api(&url));
                if let Some(token) = market.token(caller) {
                    request = request.bearer_auth(token);
                }
                if method == Method::POST || method == Method::PUT {
                    let body = if guard == Guard::OwnerDecision {
                        r#"{"accept":false,"reason":"matrix"}"#
                    } else {
                        "{}"
                    };
                    let body = if path.ends_with("/revocation") {
                        r#"{"reason":"matrix"}"#
                    } else {
                        body
                    };
                    request = request.header("content-type", "application/json").body(body);
                }
                let response = request.send().await.expect("request");
                let status = response.status();
                let body = response.text().await.unwrap_or_default();
                cells += 1;
                if !expected(guard, caller, &method, status) {
                    wrong.push(format!("{method} {url} as {caller:?}: {status} {}", truncate(&body)));
                }
                let entitled = matches!(caller, Caller::Holder | Caller::OtherBuyer)
                    && matches!(guard, Guard::LicensedBytes | Guard::Preview);
                if !entitled && body.contains(SECRET) {
                    wrong.push(format!("{method} {url} as {caller:?}: LICENSED BYTES LEAKED"));
                }
            }
        }
    }
    cells += delta_sharing_rows(&app, &market, &mut wrong).await;
    assert!(
        cells > 250,
        "the matrix covers every operation and caller ({cells} cells)"
    );
    assert!(
        wrong.is_empty(),
        "{} cells answered wrongly:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

/// The Delta Sharing routes (outside the OpenAPI document): only the holder's
/// profile reads the licensed table and its change data feed (from version 1, which
/// another version's order does not cover), and a ticket altered by one character opens
/// nothing.
async fn delta_sharing_rows(app: &TestApp, market: &Market, wrong: &mut Vec<String>) -> usize {
    let table = "/delta-sharing/shares/hospital/schemas/records/tables/records";
    let mut cells = 0;
    let mut holder_ticket = None;
    for (route, feed) in [("query", false), ("changes?startingVersion=1", true)] {
        let url = app.api(&format!("{table}/{route}"));
        for caller in CALLERS {
            let mut request = if feed {
                app.http.get(&url)
            } else {
                app.http.post(&url).json(&json!({}))
            };
            if let Some(token) = market.token(caller) {
                request = request.bearer_auth(token);
            }
            let response = request.send().await.expect("query");
            let status = response.status();
            let body = response.text().await.unwrap_or_default();
            cells += 1;
            // Each order reads the version it covers; another dataset's order sees nothing here.
            let allowed = match caller {
                Caller::OtherVersion if feed => status == StatusCode::FORBIDDEN,
                Caller::Holder | Caller::OtherBuyer | Caller::OtherVersion => status == StatusCode::OK,
                Caller::Anonymous | Caller::Owner | Caller::OtherPublisher | Caller::Forged => {
                    status == StatusCode::UNAUTHORIZED
                }
                _ => matches!(status, StatusCode::FORBIDDEN | StatusCode::NOT_FOUND),
            };
            if !allowed {
                wrong.push(format!(
                    "{route} of {table} as {caller:?}: {status} {}",
                    truncate(&body)
                ));
            }
            if caller == Caller::Holder && !feed {
                holder_ticket = body
                    .lines()
                    .filter_map(|line| serde_json::from_str::<Value>(line).ok())
                    .find_map(|line| line["file"]["url"].as_str().map(str::to_owned));
            } else if !matches!(caller, Caller::Holder | Caller::OtherBuyer | Caller::OtherVersion)
                && body.contains("/delta-sharing/files/")
            {
                wrong.push(format!("{route} of {table} as {caller:?}: a file URL was handed out"));
            }
        }
    }
    let Some(ticket) = holder_ticket else {
        wrong.push("the holder's query listed no file".into());
        return cells;
    };
    let mut tampered = ticket.clone();
    let last = tampered.pop().expect("non-empty");
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    let mut truncated = ticket.clone();
    truncated.truncate(ticket.len() - 10);
    for url in [tampered, truncated] {
        let response = app.http.get(&url).send().await.expect("ticket");
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        cells += 1;
        if status != StatusCode::FORBIDDEN || body.contains(SECRET) {
            wrong.push(format!("GET tampered ticket: {status} {}", truncate(&body)));
        }
    }
    cells
}

fn truncate(body: &str) -> String {
    body.chars().take(160).collect()
}
