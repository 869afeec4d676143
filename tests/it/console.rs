//! The publisher console over real HTTP: signing in, the session cookie, decisions and
//! revocations through its forms, and forged posts of every form (no form token, another
//! session's, another origin's, no session, another publisher's), which change nothing.

use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION, ORIGIN, SET_COOKIE};
use serde_json::json;

use crate::helpers::{Backend, TestApp, metadata, place_test_order};
use crate::on_both_backends;
use shulian::domain::order::OrderState;

on_both_backends!(a_publisher_decides_and_revokes_in_the_console_and_forged_forms_change_nothing);

/// Publishes `reviewed` (licensed, decided by its publisher) for `publisher`.
pub async fn publish_reviewed(app: &TestApp, publisher: &str) {
    let mut reviewed = metadata("reviewed", "licensed");
    reviewed["offer"]["autoAccept"] = json!(false);
    app.publish_files(
        publisher,
        "reviewed",
        reviewed,
        &[("wards.csv", "text/csv", b"ward,beds\na,3\n")],
    )
    .await;
}

/// The value of the console's form token in a page.
fn form_token_in(page: &str) -> String {
    let marker = "name=\"form_token\" value=\"";
    let start = page.find(marker).unwrap_or_else(|| panic!("no form token in {page}")) + marker.len();
    page[start..].split('"').next().expect("value").to_owned()
}

async fn a_publisher_decides_and_revokes_in_the_console_and_forged_forms_change_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let hospital = app.publisher("hospital").await;
    let rival = app.publisher("rival").await;
    publish_reviewed(&app, &hospital).await;
    let first = place_test_order(&app, "reviewed").await;
    let second = place_test_order(&app, "reviewed").await;
    let (first, second) = (
        first["orderId"].as_str().expect("id").to_owned(),
        second["orderId"].as_str().expect("id").to_owned(),
    );
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let get = |cookie: Option<String>| {
        let mut request = http.get(app.api("/console"));
        if let Some(cookie) = cookie {
            request = request.header(COOKIE, cookie);
        }
        request.send()
    };
    let post = |path: String, cookie: Option<&str>, origin: Option<&str>, form: Vec<(&str, String)>| {
        let mut request = http.post(app.api(&path)).form(&form);
        if let Some(cookie) = cookie {
            request = request.header(COOKIE, format!("shulian_publisher={cookie}"));
        }
        if let Some(origin) = origin {
            request = request.header(ORIGIN, origin);
        }
        request.send()
    };
    let own = Some(app.url.as_str());

    let signing_in = get(None).await.expect("console");
    assert_eq!(signing_in.status(), StatusCode::OK);
    assert!(signing_in.text().await.expect("page").contains("id=\"sign-in\""));
    let refused = post(
        "/console/sign-in".into(),
        None,
        own,
        vec![("token", "shp_0000.wrong".into())],
    )
    .await
    .expect("sign in");
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert!(refused.headers().get(SET_COOKIE).is_none());
    let foreign_sign_in = post(
        "/console/sign-in".into(),
        None,
        Some("http://evil.example"),
        vec![("token", hospital.clone())],
    )
    .await
    .expect("sign in");
    assert_eq!(foreign_sign_in.status(), StatusCode::FORBIDDEN);
    assert!(foreign_sign_in.headers().get(SET_COOKIE).is_none());
    let signed = post("/console/sign-in".into(), None, own, vec![("token", hospital.clone())])
        .await
        .expect("sign in");
    assert_eq!(signed.status(), StatusCode::SEE_OTHER);
    assert_eq!(signed.headers()[LOCATION], "/console?done=signed-in");
    let cookie = signed.headers()[SET_COOKIE].to_str().expect("cookie").to_owned();
    for attribute in ["shulian_publisher=", "HttpOnly", "SameSite=Strict", "Path=/console"] {
        assert!(cookie.contains(attribute), "{cookie} lacks {attribute}");
    }
    assert!(
        !cookie.contains("Max-Age") && !cookie.contains("Expires") && !cookie.contains("Secure"),
        "a session cookie, Secure only over https: {cookie}"
    );

    let page = get(Some(format!("shulian_publisher={hospital}")))
        .await
        .expect("console")
        .text()
        .await
        .expect("page");
    assert!(page.contains(&first) && page.contains(&second), "both orders listed");
    let cached = get(Some(format!("shulian_publisher={hospital}")))
        .await
        .expect("console");
    assert_eq!(
        cached.headers()["cache-control"],
        "no-store",
        "the form token is kept by no cache"
    );
    assert!(page.contains("/datasets/reviewed"), "the publisher's dataset listed");
    let form_token = form_token_in(&page);
    let rival_page = get(Some(format!("shulian_publisher={rival}")))
        .await
        .expect("console")
        .text()
        .await
        .expect("page");
    assert!(!rival_page.contains(&first), "a publisher sees only its own orders");
    let rival_form_token = form_token_in(&rival_page);
    // The console's cookie opens the publishing API only with its session's form token in
    // a header (which no other site's page can send) and from this origin.
    let by_cookie = http
        .get(app.api("/api/v1/publisher/orders"))
        .header(COOKIE, format!("shulian_publisher={hospital}"))
        .send()
        .await
        .expect("api");
    assert_eq!(by_cookie.status(), StatusCode::FORBIDDEN);
    let probe = |form_token: Option<&str>, origin: Option<&str>| {
        let mut request = http
            .head(app.api(&format!("/console/api/v1/blobs/{}", "0".repeat(64))))
            .header(COOKIE, format!("shulian_publisher={hospital}"));
        if let Some(form_token) = form_token {
            request = request.header("Shulian-Form-Token", form_token);
        }
        if let Some(origin) = origin {
            request = request.header(ORIGIN, origin);
        }
        request.send()
    };
    for (attack, form_token, origin) in [
        ("no form token", None, own),
        ("another session's", Some(rival_form_token.as_str()), own),
        ("another origin", Some(form_token.as_str()), Some("http://evil.example")),
    ] {
        let status = probe(form_token, origin).await.expect("probe").status();
        assert_eq!(status, StatusCode::FORBIDDEN, "{attack}");
    }
    let held = probe(Some(&form_token), own).await.expect("probe");
    assert_eq!(
        held.status(),
        StatusCode::NOT_FOUND,
        "authenticated: the blob is not held"
    );

    let log_before = app.ctx.store.log_size().await.expect("log");
    let forms: [(String, Vec<(&str, String)>); 3] = [
        (
            format!("/console/orders/{first}/decision"),
            vec![("decision", "agree".into())],
        ),
        (
            format!("/console/orders/{second}/revocation"),
            vec![("reason", "x".into())],
        ),
        ("/console/sign-out".into(), vec![]),
    ];
    for (path, fields) in &forms {
        let with_token = |token: &str| {
            let mut fields = fields.clone();
            fields.push(("form_token", token.to_owned()));
            fields
        };
        let attempts = [
            ("no form token", Some(hospital.as_str()), own, fields.clone()),
            (
                "another session's form token",
                Some(hospital.as_str()),
                own,
                with_token(&rival_form_token),
            ),
            (
                "a made-up form token",
                Some(hospital.as_str()),
                own,
                with_token(&"0".repeat(64)),
            ),
            (
                "another origin",
                Some(hospital.as_str()),
                Some("http://evil.example"),
                with_token(&form_token),
            ),
            (
                "an opaque origin",
                Some(hospital.as_str()),
                Some("null"),
                with_token(&form_token),
            ),
            ("another session", Some(rival.as_str()), own, with_token(&form_token)),
        ];
        for (attack, cookie, origin, fields) in attempts {
            let answer = post(path.clone(), cookie, origin, fields).await.expect("post");
            assert!(
                answer.status().is_client_error(),
                "{attack} on {path}: {}",
                answer.status()
            );
            assert!(
                answer.headers().get(SET_COOKIE).is_none(),
                "{attack} on {path} touched the session"
            );
        }
        let signed_out = post(path.clone(), None, own, with_token(&form_token))
            .await
            .expect("post");
        assert!(
            signed_out.status() == StatusCode::SEE_OTHER && signed_out.headers()[LOCATION] == "/console",
            "without a session a form goes back to sign-in: {}",
            signed_out.status()
        );
    }
    // The rival, in its own session with its own form token, cannot decide another's order.
    let rival_decides = post(
        format!("/console/orders/{first}/decision"),
        Some(&rival),
        own,
        vec![("decision", "agree".into()), ("form_token", rival_form_token.clone())],
    )
    .await
    .expect("post");
    assert_eq!(rival_decides.status(), StatusCode::FORBIDDEN);
    for order in [&first, &second] {
        let stored = app.ctx.store.get_order(order).await.expect("order");
        assert_eq!(stored.state, OrderState::Requested, "a forged form changed {order}");
    }
    assert_eq!(
        app.ctx.store.log_size().await.expect("log"),
        log_before,
        "nothing logged"
    );

    let act = |path: String, fields: Vec<(&str, String)>| {
        let mut fields = fields;
        fields.push(("form_token", form_token.clone()));
        post(path, Some(&hospital), own, fields)
    };
    let agreed = act(
        format!("/console/orders/{first}/decision"),
        vec![("decision", "agree".into()), ("reason", String::new())],
    )
    .await
    .expect("agree");
    assert_eq!(agreed.headers()[LOCATION], "/console?done=agreed");
    let refused = act(
        format!("/console/orders/{second}/decision"),
        vec![("decision", "refuse".into()), ("reason", "用途不符".into())],
    )
    .await
    .expect("refuse");
    assert_eq!(refused.headers()[LOCATION], "/console?done=refused");
    assert_eq!(
        app.ctx.store.get_order(&first).await.expect("order").state,
        OrderState::Agreed
    );
    assert_eq!(
        app.ctx.store.get_order(&second).await.expect("order").state,
        OrderState::Terminated
    );
    let revoked = act(
        format!("/console/orders/{first}/revocation"),
        vec![("reason", "到期".into())],
    )
    .await
    .expect("revoke");
    assert_eq!(revoked.headers()[LOCATION], "/console?done=revoked");
    assert_eq!(
        app.ctx.store.get_order(&first).await.expect("order").state,
        OrderState::Terminated
    );
    assert_eq!(
        app.ctx.store.log_size().await.expect("log"),
        log_before + 3,
        "the agreement, the rejection and the revocation are logged"
    );
    let again = act(format!("/console/orders/{first}/revocation"), vec![])
        .await
        .expect("revoke");
    assert_eq!(again.status(), StatusCode::CONFLICT);
    let shown = get(Some(format!("shulian_publisher={hospital}")))
        .await
        .expect("console")
        .text()
        .await
        .expect("page");
    assert!(!shown.contains("/revocation\""), "no order left to revoke: {shown}");

    let out = act("/console/sign-out".into(), vec![]).await.expect("sign out");
    assert_eq!(out.headers()[LOCATION], "/console");
    let cleared = out.headers()[SET_COOKIE].to_str().expect("cookie");
    assert!(
        cleared.starts_with("shulian_publisher=;") && cleared.contains("Max-Age=0"),
        "{cleared}"
    );
    app.stop().await;
}
