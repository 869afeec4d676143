//! The demand board over real HTTP: a demand posted, answered with a published version,
//! accepted and ordered at the answer's price, its receipt naming the demand; and the
//! attacks on it (documents signed by another party, answers over budget or with another
//! publisher's data, decisions by someone else, closed and expired demands).

use chrono::{Duration, SecondsFormat, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};
use shulian::crypto::KeyPair;

use crate::helpers::{Backend, TestApp, assert_problem, metadata, order, post_order, receipts, signed};
use crate::on_both_backends;

on_both_backends!(
    a_demand_is_answered_accepted_and_ordered_and_its_receipt_names_it,
    a_promised_delivery_is_ordered_once_its_provider_publishes_it,
    demands_are_found_by_the_catalog_search_and_kept_apart_from_datasets,
    forged_late_and_closed_board_documents_change_nothing
);

fn now() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn nonce() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// An unsigned demand by `poster` at `node`, with a budget and a deadline `lasting` from now.
pub fn demand(node: &str, poster: &KeyPair, budget_fen: u64, lasting: Duration) -> Value {
    json!({
        "type": "ShulianDemand",
        "node": node,
        "kind": "demand",
        "title": {"zh": "各区门诊量", "en": "Outpatient visits by district"},
        "description": {"zh": "按科室统计的门诊人次\n最近一年"},
        "wanted": {"fields": ["科室", "人次"]},
        "budgetFen": budget_fen,
        "deadline": (Utc::now() + lasting).to_rfc3339_opts(SecondsFormat::Secs, true),
        "contact": "buyer@example.com",
        "poster": poster.did(),
        "nonce": nonce(),
        "created": now(),
    })
}

/// An unsigned answer to `demand` offering version 1 of `dataset` at `price_fen`.
fn answer(node: &str, demand: &str, provider: &KeyPair, dataset: &str, digest: &str, price_fen: u64) -> Value {
    json!({
        "type": "ShulianDemandAnswer",
        "node": node,
        "demand": demand,
        "provider": provider.did(),
        "dataset": dataset,
        "version": 1,
        "manifestDigest": digest,
        "priceFen": price_fen,
        "note": "每日更新",
        "nonce": nonce(),
        "created": now(),
    })
}

/// An unsigned answer to `demand` promising `dataset`, to be published within `within`, at `price_fen`.
fn promise(node: &str, demand: &str, provider: &KeyPair, dataset: &str, within: Duration, price_fen: u64) -> Value {
    let mut promised = answer(node, demand, provider, dataset, "", price_fen);
    let document = promised.as_object_mut().expect("object");
    document.remove("version");
    document.remove("manifestDigest");
    document.insert(
        "promise".into(),
        json!({
            "fields": ["病区", "床位"],
            "deliverBy": (Utc::now() + within).to_rfc3339_opts(SecondsFormat::Secs, true),
        }),
    );
    promised
}

/// An unsigned acceptance of `answer` (or, without one, a withdrawal) by `poster`.
fn decision(node: &str, demand: &str, poster: &KeyPair, answer: Option<&str>) -> Value {
    let mut decision = json!({
        "type": if answer.is_some() { "ShulianDemandAcceptance" } else { "ShulianDemandWithdrawal" },
        "node": node,
        "demand": demand,
        "poster": poster.did(),
        "created": now(),
    });
    if let Some(answer) = answer {
        decision["answer"] = json!(answer);
    }
    decision
}

struct Board {
    app: TestApp,
    node: String,
    hospital: String,
    rival: String,
    digest: String,
}

impl Board {
    async fn open(backend: Backend) -> Self {
        let app = TestApp::spawn(backend).await;
        let hospital = app.publisher("hospital").await;
        let rival = app.publisher("rival").await;
        let mut visits = metadata("visits", "licensed");
        // Orders of the offer itself wait for the publisher; an answer's order does not.
        visits["offer"]["autoAccept"] = json!(false);
        app.publish_files(
            &hospital,
            "visits",
            visits,
            &[("visits.csv", "text/csv", "科室,人次\n心内科,412\n".as_bytes())],
        )
        .await;
        let (_, node) = app.get_json("/.well-known/shulian-node").await;
        let (_, version) = app.get_json("/api/v1/datasets/visits/versions/1").await;
        Self {
            node: node["id"].as_str().expect("did").to_owned(),
            digest: version["manifestDigest"].as_str().expect("digest").to_owned(),
            app,
            hospital,
            rival,
        }
    }

    async fn post(&self, path: &str, body: &Value, token: Option<&str>) -> reqwest::Response {
        let mut request = self.app.http.post(self.app.api(path)).json(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.expect("post")
    }

    async fn post_demand(&self, body: &Value) -> reqwest::Response {
        self.post("/api/v1/demands", body, None).await
    }

    async fn answer(&self, demand: &str, body: &Value, token: &str) -> reqwest::Response {
        self.post(&format!("/api/v1/demands/{demand}/answers"), body, Some(token))
            .await
    }

    async fn decide(&self, demand: &str, body: &Value) -> reqwest::Response {
        self.post(&format!("/api/v1/demands/{demand}/decision"), body, None)
            .await
    }

    /// Posts a week-long demand with a budget of 300 yuan, signed by `poster`; the board's answer.
    async fn post_open_demand(&self, poster: &KeyPair) -> Value {
        let document = signed(demand(&self.node, poster, 30_000, Duration::days(7)), poster);
        json_of(self.post_demand(&document).await, StatusCode::CREATED).await
    }

    /// `poster` accepts `answer` of demand `id`; the board's answer.
    async fn accept(&self, id: &str, poster: &KeyPair, answer: &str) -> Value {
        let document = signed(decision(&self.node, id, poster, Some(answer)), poster);
        json_of(self.decide(id, &document).await, StatusCode::OK).await
    }

    async fn log_size(&self) -> u64 {
        self.app.ctx.store.log_size().await.expect("log size")
    }
}

async fn json_of(response: reqwest::Response, status: StatusCode) -> Value {
    let text = format!("{:?}", response.url().path());
    assert_eq!(response.status(), status, "{text}");
    response.json().await.expect("json")
}

async fn a_demand_is_answered_accepted_and_ordered_and_its_receipt_names_it(backend: Backend) {
    let board = Board::open(backend).await;
    let poster = KeyPair::generate();
    let provider = KeyPair::generate();
    let before = board.log_size().await;
    let posted = board.post_open_demand(&poster).await;
    assert_eq!(posted["state"], "OPEN");
    assert_eq!(posted["kind"], "demand");
    let id = posted["id"].as_str().expect("id").to_owned();
    let (_, listed) = board.app.get_json("/api/v1/demands").await;
    assert_eq!(listed["items"][0]["id"], id.as_str(), "{listed}");
    assert_eq!(listed["items"][0]["title"]["zh"], "各区门诊量");

    let answered = json_of(
        board
            .answer(
                &id,
                &signed(
                    answer(&board.node, &id, &provider, "visits", &board.digest, 20_000),
                    &provider,
                ),
                &board.hospital,
            )
            .await,
        StatusCode::CREATED,
    )
    .await;
    let answer_id = answered["id"].as_str().expect("answer id").to_owned();
    let (_, detail) = board.app.get_json(&format!("/api/v1/demands/{id}")).await;
    assert_eq!(detail["state"], "ANSWERED");
    assert_eq!(detail["answerList"][0]["priceFen"], 20_000);

    // Only the poster accepts; then the answer's price is the order's.
    let accepted = board.accept(&id, &poster, &answer_id).await;
    assert_eq!(accepted["state"], "AWARDED");
    assert_eq!(accepted["acceptedAnswer"], answer_id.as_str());
    let late = KeyPair::generate();
    assert_problem(
        board
            .answer(
                &id,
                &signed(answer(&board.node, &id, &late, "visits", &board.digest, 10_000), &late),
                &board.hospital,
            )
            .await,
        StatusCode::CONFLICT,
        "demand-closed",
    )
    .await;

    let order_under = |buyer: &KeyPair, price: u64| {
        let mut document = order(&board.node, "visits", &board.digest, buyer);
        document["demand"] = json!(id);
        document["priceFen"] = json!(price);
        signed(document, buyer)
    };
    assert_problem(
        post_order(&board.app, &order_under(&poster, 50_000)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "order-outside-offer",
    )
    .await;
    let stranger = KeyPair::generate();
    assert_problem(
        post_order(&board.app, &order_under(&stranger, 20_000)).await,
        StatusCode::FORBIDDEN,
        "demand-not-yours",
    )
    .await;
    let placed = json_of(
        post_order(&board.app, &order_under(&poster, 20_000)).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(
        placed["state"], "AGREED",
        "an answer's order is agreed at once: {placed}"
    );
    assert_eq!(placed["agreement"]["order"]["priceFen"], 20_000);
    let (_, fulfilled) = board.app.get_json(&format!("/api/v1/demands/{id}")).await;
    assert_eq!(fulfilled["state"], "FULFILLED");
    assert_problem(
        post_order(&board.app, &order_under(&poster, 20_000)).await,
        StatusCode::CONFLICT,
        "demand-closed",
    )
    .await;

    let token = placed["accessToken"].as_str().expect("token");
    let order_id = placed["orderId"].as_str().expect("id");
    let bytes = board
        .app
        .download_with(
            &board.app.api("/api/v1/datasets/visits/versions/1/files/visits.csv"),
            token,
        )
        .await;
    assert_eq!(bytes.as_ref(), "科室,人次\n心内科,412\n".as_bytes());
    let listed = board.app.publisher_orders(&board.hospital).await;
    assert_eq!(
        listed[0]["demand"],
        id.as_str(),
        "the publisher sees the demand an order answers"
    );
    let given = receipts(&board.app, order_id, token).await;
    assert_eq!(
        given[0]["receipt"]["demand"],
        id.as_str(),
        "the receipt names the demand"
    );
    assert!(shulian::crypto::proof::verify_document(&given[0]["receipt"]).is_ok());
    // The demand, the answer, the acceptance, the order, its agreement and the receipt.
    assert_eq!(board.log_size().await, before + 6);
    board.app.stop().await;
}

/// The board searched as the catalog is (its index, analysis and ranking): Chinese words,
/// pinyin and a wanted field find a demand, the `kind` narrows to the operator's
/// challenges; the dataset search never returns a demand nor counts one, and the web
/// catalog's search page links to the demands its words find.
async fn demands_are_found_by_the_catalog_search_and_kept_apart_from_datasets(backend: Backend) {
    let board = Board::open(backend).await;
    let poster = KeyPair::generate();
    let posted = board.post_open_demand(&poster).await;
    let id = posted["id"].as_str().expect("id").to_owned();
    let mut challenge = demand(&board.node, &board.app.ctx.node.key, 90_000, Duration::days(30));
    challenge["kind"] = json!("challenge");
    challenge["awardFen"] = json!(500_000);
    challenge["title"] = json!({"zh": "城市停车泊位实时数据", "en": "Real-time parking occupancy"});
    // Its fields named by a Table Schema alone.
    challenge["wanted"] = json!({"schema": {"fields": [
        {"name": "泊位", "type": "string"},
        {"name": "占用率", "type": "number"}
    ]}});
    challenge["description"] = json!({"zh": "各停车场每五分钟的空余泊位"});
    let challenge = json_of(
        board.post_demand(&signed(challenge, &board.app.ctx.node.key)).await,
        StatusCode::CREATED,
    )
    .await;
    let challenge_id = challenge["id"].as_str().expect("id").to_owned();

    // The index follows the database's feed: wait (bounded) until both are in it.
    let app = &board.app;
    let search = |query: &str| {
        let path = format!("/api/v1/demands?{query}");
        async move { app.get_json(&path).await }
    };
    let mut found = Value::Null;
    for _ in 0..100 {
        found = search("q=%E5%81%9C%E8%BD%A6").await.1;
        if found["total"] == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(found["total"], 1, "停车 finds the challenge: {found}");
    assert_eq!(found["items"][0]["id"], challenge_id.as_str());
    assert_eq!(
        found["facets"],
        json!({"kind": [{"value": "challenge", "count": 1}]}),
        "{found}"
    );
    for (query, expected) in [
        ("q=%E9%97%A8%E8%AF%8A", id.as_str()), // 门诊, in the title
        ("q=menzhen", id.as_str()),            // its pinyin
        ("q=%E7%A7%91%E5%AE%A4", id.as_str()), // 科室, a field wanted
        ("q=parking&kind=challenge", challenge_id.as_str()),
        ("q=%E5%8D%A0%E7%94%A8%E7%8E%87", challenge_id.as_str()), // 占用率, named by its Table Schema
    ] {
        let (status, page) = search(query).await;
        assert_eq!(status, StatusCode::OK, "{query}: {page}");
        assert_eq!(page["total"], 1, "{query}: {page}");
        assert_eq!(page["items"][0]["id"], expected, "{query}");
    }
    let (_, none) = search("q=parking&kind=demand").await;
    assert_eq!(none["total"], 0, "the kind narrows: {none}");

    // The catalog's dataset search: datasets only, no kind facet.
    let (_, datasets) = board.app.get_json("/api/v1/datasets?q=%E7%A7%91%E5%AE%A4").await;
    assert!(
        datasets["items"]
            .as_array()
            .expect("items")
            .iter()
            .all(|item| item["id"] == "visits"),
        "{datasets}"
    );
    assert!(datasets["facets"].get("kind").is_none(), "{datasets}");
    let (_, everything) = board.app.get_json("/api/v1/datasets").await;
    assert_eq!(everything["total"], 1, "demands are not datasets: {everything}");

    let page = board.app.page_text("/search?q=%E9%97%A8%E8%AF%8A").await;
    assert!(
        page.contains("id=\"demands-matching\"") && page.contains("/demands?q=%E9%97%A8%E8%AF%8A"),
        "the search page links to the demands its words find"
    );
    let board_page = board.app.page_text("/demands?q=menzhen").await;
    assert!(
        board_page.contains(&format!("data-demand=\"{id}\"")),
        "the board searched"
    );
    assert!(!board_page.contains(&format!("data-demand=\"{challenge_id}\"")));
    board.app.stop().await;
}

/// An answer promising a delivery (a dataset not yet published): refused from a provider
/// naming another publisher's dataset, mixed with a published version, or due in the past;
/// accepted, it awards the demand, which no other version can be ordered under; once the
/// provider publishes the dataset, the poster orders that version at the answer's price
/// and the demand is fulfilled, the receipt naming it.
async fn a_promised_delivery_is_ordered_once_its_provider_publishes_it(backend: Backend) {
    let board = Board::open(backend).await;
    let poster = KeyPair::generate();
    let provider = KeyPair::generate();
    let posted = board.post_open_demand(&poster).await;
    let id = posted["id"].as_str().expect("id").to_owned();
    let promised = |dataset: &str, within: Duration| {
        signed(promise(&board.node, &id, &provider, dataset, within, 15_000), &provider)
    };
    assert_problem(
        board
            .answer(&id, &promised("visits", Duration::days(20)), &board.rival)
            .await,
        StatusCode::FORBIDDEN,
        "demand-not-yours",
    )
    .await;
    let mut both = promise(&board.node, &id, &provider, "visits", Duration::days(20), 15_000);
    both["version"] = json!(1);
    both["manifestDigest"] = json!(board.digest);
    for bad in [
        signed(both, &provider),
        promised("ward-beds", Duration::days(-1)),
        promised("ward-beds", Duration::days(400)),
    ] {
        assert_problem(
            board.answer(&id, &bad, &board.hospital).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "demand-malformed",
        )
        .await;
    }
    let answered = json_of(
        board
            .answer(&id, &promised("ward-beds", Duration::days(20)), &board.hospital)
            .await,
        StatusCode::CREATED,
    )
    .await;
    assert!(answered.get("version").is_none(), "{answered}");
    assert!(answered["deliverBy"].is_string(), "{answered}");
    let answer_id = answered["id"].as_str().expect("answer id").to_owned();
    let accepted = board.accept(&id, &poster, &answer_id).await;
    assert_eq!(accepted["state"], "AWARDED", "a promise is awarded until delivered");
    let (_, detail) = board.app.get_json(&format!("/api/v1/demands/{id}")).await;
    assert!(detail["answerList"][0].get("delivered").is_none(), "{detail}");

    let order_under = |dataset: &str, digest: &str| {
        let mut document = order(&board.node, dataset, digest, &poster);
        document["demand"] = json!(id);
        document["priceFen"] = json!(15_000);
        signed(document, &poster)
    };
    assert_problem(
        post_order(&board.app, &order_under("visits", &board.digest)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "demand-wrong-target",
    )
    .await;

    board
        .app
        .publish_files(
            &board.hospital,
            "ward-beds",
            metadata("ward-beds", "licensed"),
            &[("beds.csv", "text/csv", "病区,床位\n内科,40\n".as_bytes())],
        )
        .await;
    let (_, detail) = board.app.get_json(&format!("/api/v1/demands/{id}")).await;
    assert_eq!(detail["answerList"][0]["delivered"], 1, "{detail}");
    let (_, delivered) = board.app.get_json("/api/v1/datasets/ward-beds/versions/1").await;
    let digest = delivered["manifestDigest"].as_str().expect("digest");
    let placed = json_of(
        post_order(&board.app, &order_under("ward-beds", digest)).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(placed["state"], "AGREED", "{placed}");
    assert_eq!(placed["agreement"]["order"]["priceFen"], 15_000);
    let (_, fulfilled) = board.app.get_json(&format!("/api/v1/demands/{id}")).await;
    assert_eq!(fulfilled["state"], "FULFILLED");
    let token = placed["accessToken"].as_str().expect("token");
    let bytes = board
        .app
        .download_with(
            &board.app.api("/api/v1/datasets/ward-beds/versions/1/files/beds.csv"),
            token,
        )
        .await;
    assert_eq!(bytes.as_ref(), "病区,床位\n内科,40\n".as_bytes());
    let given = receipts(&board.app, placed["orderId"].as_str().expect("id"), token).await;
    assert_eq!(
        given[0]["receipt"]["demand"],
        id.as_str(),
        "the receipt names the demand"
    );
    board.app.stop().await;
}

async fn forged_late_and_closed_board_documents_change_nothing(backend: Backend) {
    let board = Board::open(backend).await;
    let poster = KeyPair::generate();
    let provider = KeyPair::generate();
    let other = KeyPair::generate();
    let before = board.log_size().await;

    // A demand naming one poster, signed by another; a challenge by a buyer's key; bad shapes.
    let named_poster = demand(&board.node, &poster, 30_000, Duration::days(7));
    assert_problem(
        board.post_demand(&signed(named_poster.clone(), &other)).await,
        StatusCode::BAD_REQUEST,
        "invalid-signature",
    )
    .await;
    let mut challenge = named_poster.clone();
    challenge["kind"] = json!("challenge");
    challenge["awardFen"] = json!(1_000_000);
    assert_problem(
        board.post_demand(&signed(challenge, &poster)).await,
        StatusCode::FORBIDDEN,
        "demand-not-yours",
    )
    .await;
    for (field, value) in [
        ("deadline", json!("2020-01-01T00:00:00Z")),
        ("wanted", json!({"fields": []})),
        ("contact", json!("a\u{7}b")),
        (
            "node",
            json!("did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"),
        ),
        ("budgetFen", json!(u64::MAX)),
    ] {
        let mut bad = named_poster.clone();
        bad[field] = value;
        let answer = board.post_demand(&signed(bad, &poster)).await;
        assert_eq!(answer.status(), StatusCode::UNPROCESSABLE_ENTITY, "{field}");
    }
    let mut stale = named_poster.clone();
    stale["created"] = json!((Utc::now() - Duration::hours(1)).to_rfc3339_opts(SecondsFormat::Secs, true));
    assert_problem(
        board.post_demand(&signed(stale, &poster)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "demand-stale",
    )
    .await;
    let good = signed(named_poster, &poster);
    assert_eq!(board.post_demand(&good).await.status(), StatusCode::CREATED);
    assert_problem(board.post_demand(&good).await, StatusCode::CONFLICT, "conflict").await;
    let id = board.app.get_json("/api/v1/demands").await.1["items"][0]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let after_post = board.log_size().await;
    assert_eq!(after_post, before + 1, "only the one good demand is logged");

    // Answers: signed by another than the provider named, over budget, another publisher's data.
    let offer = |price| answer(&board.node, &id, &provider, "visits", &board.digest, price);
    assert_problem(
        board.answer(&id, &signed(offer(20_000), &other), &board.hospital).await,
        StatusCode::BAD_REQUEST,
        "invalid-signature",
    )
    .await;
    assert_problem(
        board
            .answer(&id, &signed(offer(30_001), &provider), &board.hospital)
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "demand-wrong-target",
    )
    .await;
    assert_problem(
        board.answer(&id, &signed(offer(20_000), &provider), &board.rival).await,
        StatusCode::FORBIDDEN,
        "demand-not-yours",
    )
    .await;
    let anonymous = board
        .post(
            &format!("/api/v1/demands/{id}/answers"),
            &signed(offer(20_000), &provider),
            None,
        )
        .await;
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let answered = json_of(
        board
            .answer(&id, &signed(offer(20_000), &provider), &board.hospital)
            .await,
        StatusCode::CREATED,
    )
    .await;
    let answer_id = answered["id"].as_str().expect("id");

    // Decisions: by someone who is not the poster, or naming the poster but signed by another.
    assert_problem(
        board
            .decide(
                &id,
                &signed(decision(&board.node, &id, &other, Some(answer_id)), &other),
            )
            .await,
        StatusCode::FORBIDDEN,
        "demand-not-yours",
    )
    .await;
    assert_problem(
        board
            .decide(
                &id,
                &signed(decision(&board.node, &id, &poster, Some(answer_id)), &other),
            )
            .await,
        StatusCode::BAD_REQUEST,
        "invalid-signature",
    )
    .await;
    assert_eq!(board.log_size().await, after_post + 1, "only the good answer is logged");

    // Withdrawn: no answer, no acceptance afterwards.
    let withdrawn = json_of(
        board
            .decide(&id, &signed(decision(&board.node, &id, &poster, None), &poster))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(withdrawn["state"], "WITHDRAWN");
    assert_problem(
        board
            .answer(&id, &signed(offer(10_000), &provider), &board.hospital)
            .await,
        StatusCode::CONFLICT,
        "demand-closed",
    )
    .await;
    assert_problem(
        board
            .decide(
                &id,
                &signed(decision(&board.node, &id, &poster, Some(answer_id)), &poster),
            )
            .await,
        StatusCode::CONFLICT,
        "demand-closed",
    )
    .await;

    // Expired: past its deadline, a demand takes no answer.
    let brief = json_of(
        board
            .post_demand(&signed(
                demand(&board.node, &poster, 30_000, Duration::seconds(2)),
                &poster,
            ))
            .await,
        StatusCode::CREATED,
    )
    .await;
    let brief_id = brief["id"].as_str().expect("id");
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    let (_, shown) = board.app.get_json(&format!("/api/v1/demands/{brief_id}")).await;
    assert_eq!(shown["state"], "EXPIRED");
    let late = answer(&board.node, brief_id, &provider, "visits", &board.digest, 1);
    assert_problem(
        board.answer(brief_id, &signed(late, &provider), &board.hospital).await,
        StatusCode::CONFLICT,
        "demand-closed",
    )
    .await;
    assert_problem(
        board
            .app
            .http
            .get(board.app.api("/api/v1/demands?cursor=not-ours"))
            .send()
            .await
            .expect("list"),
        StatusCode::BAD_REQUEST,
        "invalid-request",
    )
    .await;
    board.app.stop().await;
}
