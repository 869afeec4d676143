//! The web catalog: both languages, search, dataset pages with previews, licensed pages, escaping, 404s.

use reqwest::StatusCode;
use reqwest::header::{ACCEPT, ACCEPT_LANGUAGE, CONTENT_TYPE, SET_COOKIE};
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, metadata, sha256_hex};
use crate::on_both_backends;

on_both_backends!(
    pages_speak_chinese_first_and_english_on_request,
    search_and_dataset_pages_show_what_the_api_knows,
    licensed_pages_offer_an_order_and_no_download,
    user_text_is_escaped_and_unknown_pages_are_404,
    dataset_pages_embed_schema_org_and_link_their_other_forms,
);

/// The open table of the test market.
pub const FLOWS: &str = "路口,车流量\n东直门,1832\n国贸桥,2410\n";

/// An open dataset `traffic` (publisher `city`, `flows.csv`) and a licensed one, `visits`.
pub async fn market(app: &TestApp) {
    let mut traffic = metadata("traffic", "open");
    traffic["title"] = json!({"zh": "北京市交通流量", "en": "Beijing traffic flow"});
    let mut visits = metadata("visits", "licensed");
    visits["title"] = json!({"zh": "医院门诊量", "en": "Hospital visits"});
    publish_market(app, FLOWS, traffic, visits).await;
}

/// Publishes the open `traffic` (publisher `city`, `flows` as `flows.csv`) and the licensed
/// `visits` (publisher `hospital`, `visits.csv`) with the metadata given.
pub async fn publish_market(app: &TestApp, flows: &str, traffic: Value, visits: Value) {
    let city = app.publisher("city").await;
    app.publish_files(
        &city,
        "traffic",
        traffic,
        &[("flows.csv", "text/csv", flows.as_bytes())],
    )
    .await;
    let hospital = app.publisher("hospital").await;
    let visits_csv = "科室,人次\n心内科,412\n".as_bytes();
    app.publish_files(&hospital, "visits", visits, &[("visits.csv", "text/csv", visits_csv)])
        .await;
}

async fn page(app: &TestApp, path: &str, language: Option<&str>) -> (StatusCode, String) {
    let mut request = app.http.get(app.api(path)).header(ACCEPT, "text/html");
    if let Some(language) = language {
        request = request.header(ACCEPT_LANGUAGE, language);
    }
    let response = request.send().await.expect("page");
    let status = response.status();
    if status == StatusCode::OK {
        assert!(
            response.headers()[CONTENT_TYPE]
                .to_str()
                .expect("type")
                .starts_with("text/html")
        );
    }
    (status, response.text().await.expect("html"))
}

async fn pages_speak_chinese_first_and_english_on_request(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    market(&app).await;
    for path in [
        "/",
        "/search?q=%E4%BA%A4%E9%80%9A",
        "/datasets/traffic",
        "/publishers/city",
        "/node",
    ] {
        let (status, zh) = page(&app, path, None).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert!(
            zh.contains("lang=\"zh-Hans\"") && zh.contains("数联网数据目录"),
            "{path}"
        );
        let (_, en) = page(&app, path, Some("en-US,en;q=0.9")).await;
        assert!(en.contains("lang=\"en\"") && en.contains("Data catalog"), "{path}");
        assert!(!en.contains("首页"), "{path}: an untranslated interface word");
    }
    let (_, home) = page(&app, "/", None).await;
    assert!(home.contains("北京市交通流量"), "newest datasets are listed");
    let toggled = app.http.get(app.api("/?lang=en")).send().await.expect("toggle");
    assert!(
        toggled.headers()[SET_COOKIE]
            .to_str()
            .expect("cookie")
            .starts_with("lang=en")
    );
    let remembered = app
        .http
        .get(app.api("/node"))
        .header("cookie", "lang=en")
        .send()
        .await
        .expect("page");
    assert!(remembered.text().await.expect("html").contains("Node identity"));
    let style = app.get("/static/style.css").await;
    assert_eq!(style.headers()[CONTENT_TYPE], "text/css; charset=utf-8");
    app.stop().await;
}

async fn search_and_dataset_pages_show_what_the_api_knows(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    market(&app).await;
    let (_, results) = page(&app, "/search?q=%E5%8C%97%E4%BA%AC", None).await;
    assert!(results.contains("href=\"/datasets/traffic\""));
    assert!(!results.contains("href=\"/datasets/visits\""));
    assert!(
        results.contains("<mark>北京</mark>"),
        "what the query found is highlighted"
    );
    assert!(
        results.contains("/search?q=%E5%8C%97%E4%BA%AC&amp;keyword="),
        "facet links keep the query"
    );
    let (_, empty) = page(&app, "/search?q=%E4%B8%8D%E5%AD%98%E5%9C%A8", None).await;
    assert!(empty.contains("没有找到匹配的数据集"));
    let (_, filtered) = page(&app, "/search?access=licensed", None).await;
    assert!(filtered.contains("/datasets/visits") && !filtered.contains("/datasets/traffic\""));

    let (_, dataset) = page(&app, "/datasets/traffic", None).await;
    assert!(dataset.contains(&sha256_hex(FLOWS.as_bytes())), "sha256 shown");
    assert!(
        dataset.contains("data-copy=\"") && dataset.contains("/api/v1/datasets/traffic/versions/1/files/flows.csv")
    );
    assert!(dataset.contains("<table class=\"preview\">") && dataset.contains("东直门") && dataset.contains("2410"));
    assert!(dataset.contains("车流量") && dataset.contains("long"), "schema");
    app.stop().await;
}

async fn licensed_pages_offer_an_order_and_no_download(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    market(&app).await;
    let (status, licensed) = page(&app, "/datasets/visits", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        !licensed.contains("/files/visits.csv\""),
        "no download link for licensed data"
    );
    assert!(licensed.contains("shulian order visits@1"));
    assert!(licensed.contains("¥500.00") && licensed.contains("城市规划"));
    assert!(
        !licensed.contains("<table class=\"preview\">"),
        "no rows without an order or a free sample"
    );
    assert!(licensed.contains("授权数据的行需订购后查看"));
    app.stop().await;
}

async fn user_text_is_escaped_and_unknown_pages_are_404(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.publisher("p").await;
    let mut hostile = metadata("hostile", "open");
    hostile["title"] = json!({"zh": "<script>alert('标题')</script>"});
    hostile["description"] = json!({"en": "\"><img src=x onerror=alert(1)>"});
    let csv = "<b>列</b>,x\n<script>1</script>,2\n";
    app.publish_files(&token, "hostile", hostile, &[("t.csv", "text/csv", csv.as_bytes())])
        .await;
    for path in ["/datasets/hostile", "/search?q=script", "/"] {
        let (_, html) = page(&app, path, None).await;
        assert!(!html.contains("<script>alert"), "{path}");
        assert!(!html.contains("<img src=x"), "{path}");
        assert!(!html.contains("<b>列</b>"), "{path}");
    }
    let (_, found) = page(&app, "/search?q=script", None).await;
    assert!(
        found.contains("&lt;<mark>script</mark>&gt;alert"),
        "a highlighted match is escaped like the rest"
    );
    let (_, html) = page(&app, "/datasets/hostile", None).await;
    assert!(html.contains("&lt;script&gt;alert"));
    // The structured data block carries the title too, and cannot be closed by it.
    assert_eq!(
        html.matches("</script>").count(),
        2,
        "the data block and the script file only"
    );
    let structured = structured_data(&html);
    assert_eq!(structured["name"], "<script>alert('标题')</script>");
    for path in [
        "/datasets/nope",
        "/publishers/nobody",
        "/no/such/page",
        "/datasets/NOT%20AN%20ID",
    ] {
        let (status, html) = page(&app, path, Some("en")).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert!(html.contains("Page not found"), "{path}");
    }
    let api = app.get("/no/such/endpoint").await;
    assert_eq!(api.headers()[CONTENT_TYPE], "application/problem+json");
    app.stop().await;
}

/// The schema.org JSON-LD a page embeds.
fn structured_data(html: &str) -> Value {
    let start = html
        .find(r#"<script type="application/ld+json">"#)
        .expect("structured data")
        + 35;
    let end = start + html[start..].find("</script>").expect("end");
    serde_json::from_str(&html[start..end]).expect("JSON-LD")
}

async fn dataset_pages_embed_schema_org_and_link_their_other_forms(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    market(&app).await;
    let (_, html) = page(&app, "/datasets/traffic", None).await;
    let dataset = structured_data(&html);
    assert_eq!(dataset["@context"], "https://schema.org");
    assert_eq!(dataset["@type"], "Dataset");
    assert_eq!(dataset["name"], "北京市交通流量");
    assert_eq!(dataset["isAccessibleForFree"], true);
    assert_eq!(dataset["license"], "https://spdx.org/licenses/CC-BY-4.0");
    assert_eq!(dataset["creator"]["@type"], "Organization");
    let download = &dataset["distribution"][0];
    assert_eq!(download["@type"], "DataDownload");
    assert_eq!(download["encodingFormat"], "text/csv");
    let url = download["contentUrl"].as_str().expect("contentUrl");
    assert_eq!(
        app.http
            .get(url)
            .send()
            .await
            .expect("file")
            .text()
            .await
            .expect("text"),
        FLOWS
    );
    assert!(html.contains(
        r#"<link rel="alternate" type="application/ld+json" title="DCAT" href="/api/v1/datasets/traffic/dcat.jsonld">"#
    ));
    assert!(html.contains(r#"href="/api/v1/datasets/traffic/versions/1/datapackage.json""#));
    let (_, licensed) = page(&app, "/datasets/visits", None).await;
    assert_eq!(structured_data(&licensed)["isAccessibleForFree"], false);
}
