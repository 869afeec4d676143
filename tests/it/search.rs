//! Search: Chinese and English, filters, facets, orders, stable cursors, bad queries — one suite, both backends.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, assert_problem, metadata, offer};
use crate::on_both_backends;
use crate::process::{NodeState, get_json, publish_answer};

on_both_backends!(
    chinese_and_english_queries_find_what_readers_expect,
    filters_facets_and_orders_work_together,
    cursor_pages_never_repeat_or_skip_while_datasets_are_added,
    bad_queries_get_results_or_a_clear_4xx,
    totals_and_facets_follow_publications_on_every_replica,
    replicas_build_their_index_from_the_database,
    an_index_from_another_database_is_rebuilt_not_served,
    the_search_feed_keeps_one_change_per_dataset,
);

/// (id, publisher, zh title, en title, zh description, keywords, access, licence, files)
type Entry = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static [&'static str],
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
);

const CATALOG: [Entry; 5] = [
    (
        "beijing-traffic",
        "beijing",
        "北京市交通流量监测",
        "Beijing traffic flow monitoring",
        "主要路口每小时车流量",
        &["交通", "traffic"],
        "open",
        "CC-BY-4.0",
        &[("flows.csv", "路口,车流量\n东直门,1832\n")],
    ),
    (
        "bus-routes",
        "shanghai",
        "公交线路与站点",
        "Bus routes and stops",
        "全市公交线路",
        &["交通", "公交"],
        "open",
        "CC0-1.0",
        &[("routes.json", "{\"routes\": []}")],
    ),
    (
        "hospital-visits",
        "health",
        "三甲医院门诊量",
        "Hospital outpatient visits",
        "按科室统计的门诊人次，医疗资源规划用",
        &["医疗", "healthcare"],
        "licensed",
        "LicenseRef-commercial",
        &[("visits.csv", "科室,人次\n心内科,412\n")],
    ),
    (
        "medical-insurance",
        "health",
        "医疗保险结算",
        "Medical insurance settlements",
        "医保结算汇总",
        &["医疗", "保险"],
        "open",
        "CC-BY-4.0",
        &[("claims.csv", "月份,金额\n2026-01,100\n")],
    ),
    (
        "air-quality",
        "shanghai",
        "上海空气质量日报",
        "Shanghai daily air quality",
        "各监测站每日 AQI；不含交通数据",
        &["环境"],
        "open",
        "CC-BY-4.0",
        &[("aqi.csv", "station,aqi\n静安,48\n")],
    ),
];

/// Publishes a catalog entry; returns its place in the search feed.
async fn publish_entry(app: &TestApp, tokens: &std::collections::HashMap<&str, String>, entry: &Entry) -> u64 {
    let (id, publisher, zh, en, description, keywords, access, license, files) = *entry;
    let mut metadata = json!({
        "title": {"zh": zh, "en": en},
        "description": {"zh": description},
        "keywords": keywords,
        "license": {"id": license},
        "access": access,
    });
    if access == "licensed" {
        metadata["offer"] = offer();
    }
    let listed: Vec<(&str, &str, &[u8])> = files
        .iter()
        .map(|(name, text)| {
            let media_type = if name.ends_with(".json") {
                "application/json"
            } else {
                "text/csv"
            };
            (*name, media_type, text.as_bytes())
        })
        .collect();
    let published = app.publish_files(&tokens[publisher], id, metadata, &listed).await;
    published["searchSequence"].as_u64().expect("searchSequence")
}

async fn catalog(app: &TestApp) -> std::collections::HashMap<&'static str, String> {
    let mut tokens = std::collections::HashMap::new();
    for publisher in ["beijing", "shanghai", "health"] {
        tokens.insert(publisher, app.publisher(publisher).await);
    }
    for entry in &CATALOG {
        publish_entry(app, &tokens, entry).await;
    }
    tokens
}

async fn search(app: &TestApp, query: &str) -> Value {
    let (status, page) = app.get_json(&format!("/api/v1/datasets?{query}")).await;
    assert_eq!(status, StatusCode::OK, "{query}: {page}");
    page
}

fn ids(page: &Value) -> Vec<&str> {
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|item| item["id"].as_str().expect("id"))
        .collect()
}

fn q(text: &str) -> String {
    format!(
        "q={}",
        url::form_urlencoded::byte_serialize(text.as_bytes()).collect::<String>()
    )
}

async fn chinese_and_english_queries_find_what_readers_expect(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    catalog(&app).await;
    let mut cases: Vec<(String, Vec<&str>)> = vec![
        // Two-character Chinese words, in titles, keywords and descriptions; the title match ranks first.
        (q("交通"), vec!["beijing-traffic", "bus-routes", "air-quality"]),
        (q("医疗"), vec!["medical-insurance", "hospital-visits"]),
        (q("保险"), vec!["medical-insurance"]),
        (q("车流量"), vec!["beijing-traffic"]),
        (q("门诊"), vec!["hospital-visits"]),
        // One character, wherever it stands: `量` ends the title 三甲医院门诊量 and the description
        // and a column of beijing-traffic (which also has it inside its title: ranked first), and
        // starts or ends pairs in the others.
        (q("量"), vec!["beijing-traffic", "hospital-visits", "air-quality"]),
        // English: case folded, stemmed, and the last word as a prefix.
        (q("Flows"), vec!["beijing-traffic"]),
        (q("monitor"), vec!["beijing-traffic"]),
        (q("traf"), vec!["beijing-traffic"]),
        (q("medical insur"), vec!["medical-insurance"]),
        // One typo in a word of five letters or more.
        (q("trafic"), vec!["beijing-traffic"]),
        (q("insurence"), vec!["medical-insurance"]),
        // Pinyin, whole or initials, alone or with Chinese.
        (q("jiaotong"), vec!["beijing-traffic", "bus-routes", "air-quality"]),
        (q("yiliao baoxian"), vec!["medical-insurance"]),
        (q("beijing 交通"), vec!["beijing-traffic"]),
        (q("mzl"), vec!["hospital-visits"]),
        (q("jt"), vec!["beijing-traffic", "bus-routes", "air-quality"]),
        // Mixed: every word must match.
        (q("交通 traffic"), vec!["beijing-traffic"]),
        (q("上海 air"), vec!["air-quality"]),
        // Column names of inspected tables, and publisher ids.
        (q("科室"), vec!["hospital-visits"]),
        (q("shanghai"), vec!["air-quality", "bus-routes"]),
        (q("不存在的词"), vec![]),
    ];
    cases.push((
        "".into(),
        CATALOG
            .iter()
            .map(|entry| entry.0)
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect(),
    ));
    for (query, expected) in cases {
        let page = search(&app, &query).await;
        assert_eq!(ids(&page), expected, "{query}");
        assert_eq!(page["total"], expected.len(), "{query}");
    }
    app.stop().await;
}

async fn filters_facets_and_orders_work_together(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    catalog(&app).await;
    let page = search(&app, &format!("{}&access=open", q("医疗"))).await;
    assert_eq!(ids(&page), ["medical-insurance"]);
    assert_eq!(ids(&search(&app, "format=JSON").await), ["bus-routes"]);
    assert_eq!(ids(&search(&app, "license=CC0-1.0").await), ["bus-routes"]);
    assert_eq!(
        ids(&search(&app, "publisher=health&access=licensed").await),
        ["hospital-visits"]
    );
    assert_eq!(
        ids(&search(&app, &format!("keyword={}", "%E4%BA%A4%E9%80%9A")).await),
        ["beijing-traffic", "bus-routes"]
    );
    assert_eq!(ids(&search(&app, "updatedSince=2999-01-01").await), Vec::<&str>::new());
    assert_eq!(search(&app, "updatedSince=2000-01-01T00:00:00Z").await["total"], 5);

    let faceted = search(&app, &q("交通")).await;
    let facets = &faceted["facets"];
    assert_eq!(facets["access"], json!([{"value": "open", "count": 3}]));
    assert_eq!(facets["keyword"][0], json!({"value": "交通", "count": 2}));
    assert!(
        facets["format"]
            .as_array()
            .expect("formats")
            .contains(&json!({"value": "CSV", "count": 2}))
    );
    assert_eq!(facets["publisher"][0], json!({"value": "shanghai", "count": 2}));

    // Most downloaded: download one file twice, another once.
    for path in [
        "beijing-traffic/versions/1/files/flows.csv",
        "beijing-traffic/versions/1/files/flows.csv",
        "air-quality/versions/1/files/aqi.csv",
    ] {
        let response = app.get(&format!("/api/v1/datasets/{path}")).await;
        assert_eq!(response.status(), StatusCode::OK);
        response.bytes().await.expect("body");
    }
    app.ctx.downloads.flush(&app.ctx).await.expect("flush");
    let popular = search(&app, "sort=downloads&limit=2").await;
    assert_eq!(ids(&popular), ["beijing-traffic", "air-quality"]);
    let newest = search(&app, "sort=newest&limit=1").await;
    assert_eq!(ids(&newest), ["air-quality"], "published last");
    app.stop().await;
}

async fn cursor_pages_never_repeat_or_skip_while_datasets_are_added(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let tokens = catalog(&app).await;
    for sort in ["relevance", "name", "newest"] {
        let before = search(&app, &format!("{}&sort={sort}&limit=100", q("交通"))).await;
        let expected: Vec<String> = ids(&before).into_iter().map(str::to_owned).collect();
        let mut seen: Vec<String> = Vec::new();
        let mut cursor: Option<String> = None;
        let mut added = 0;
        loop {
            let mut query = format!("{}&sort={sort}&limit=1", q("交通"));
            if let Some(cursor) = &cursor {
                query.push_str(&format!("&cursor={cursor}"));
            }
            let page = search(&app, &query).await;
            for id in ids(&page) {
                // Checked at once: a cursor that repeats may never reach the end.
                assert!(!seen.iter().any(|s| s == id), "{sort}: {id} was repeated: {seen:?}");
                seen.push(id.to_owned());
            }
            // A new matching dataset lands between every two pages.
            added += 1;
            let id: &'static str = Box::leak(format!("{sort}-added-{added}").into_boxed_str());
            let entry: Entry = (
                id,
                "beijing",
                "新增交通数据",
                "More traffic data",
                "交通",
                &["交通"],
                "open",
                "CC-BY-4.0",
                &[("x.csv", "a\n1\n")],
            );
            publish_entry(&app, &tokens, &entry).await;
            match page["nextCursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => break,
            }
        }
        for id in &expected {
            assert!(seen.contains(id), "{sort}: {id} was skipped: {seen:?}");
        }
    }
    app.stop().await;
}

async fn bad_queries_get_results_or_a_clear_4xx(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    catalog(&app).await;
    for text in [
        "'; DROP TABLE datasets; --",
        "\" OR 1=1",
        "交通 AND (医疗 OR *)",
        "title:交通^2 ~ NEAR/3",
        "%_%",
        "\\",
        "　",
    ] {
        let response = app.get(&format!("/api/v1/datasets?{}", q(text))).await;
        assert_eq!(response.status(), StatusCode::OK, "{text}");
    }
    let (_, still) = app.get_json("/api/v1/datasets").await;
    assert_eq!(still["total"], 5, "nothing was dropped");
    for (query, kind) in [
        (q(&"交".repeat(201)), "invalid-request"),
        ("q=%FF%FE".to_owned(), "invalid-request"),
        ("sort=bogus".to_owned(), "invalid-request"),
        ("cursor=nonsense".to_owned(), "invalid-request"),
        ("limit=0".to_owned(), "invalid-request"),
        ("updatedSince=yesterday".to_owned(), "invalid-request"),
        ("colour=red".to_owned(), "invalid-request"),
    ] {
        let response = app.get(&format!("/api/v1/datasets?{query}")).await;
        assert_problem(response, StatusCode::BAD_REQUEST, kind).await;
    }
    // A cursor of one order is refused under another.
    let page = search(&app, "sort=name&limit=1").await;
    let cursor = page["nextCursor"].as_str().expect("cursor");
    let crossed = app.get(&format!("/api/v1/datasets?sort=newest&cursor={cursor}")).await;
    assert_problem(crossed, StatusCode::BAD_REQUEST, "invalid-request").await;
    app.stop().await;
}

/// The number of matches carrying `value` of `facet` in a search answer.
fn facet_count(page: &Value, facet: &str, value: &str) -> u64 {
    page["facets"][facet]
        .as_array()
        .expect("facet")
        .iter()
        .find(|entry| entry["value"] == value)
        .map_or(0, |entry| entry["count"].as_u64().expect("count"))
}

async fn totals_and_facets_follow_publications_on_every_replica(backend: Backend) {
    let first = TestApp::spawn(backend.clone()).await;
    let tokens = catalog(&first).await;
    let second = first.replica(backend).await;
    let traffic = format!("{}&limit=1", q("交通"));
    for _ in 0..2 {
        // Asked twice, so the first replica answers the second time from what it already counted.
        let page = search(&first, &traffic).await;
        assert_eq!(
            (page["total"].as_u64(), facet_count(&page, "publisher", "beijing")),
            (Some(3), 1)
        );
        assert_eq!(search(&first, "").await["total"], 5);
    }
    let entry: Entry = (
        "beijing-parking",
        "beijing",
        "北京停车场交通数据",
        "Beijing parking",
        "停车",
        &["交通"],
        "open",
        "CC-BY-4.0",
        &[("p.csv", "a\n1\n")],
    );
    let sequence = publish_entry(&second, &tokens, &entry).await;
    let page = search(&second, &traffic).await;
    assert_eq!(page["total"], 4, "the publishing replica's next search shows it");
    // Another replica follows the feed; a search naming the publication waits for it there.
    let page = search(&first, &format!("{traffic}&indexed={sequence}")).await;
    assert_eq!(
        page["total"], 4,
        "a publication through another replica counts once applied"
    );
    assert_eq!(facet_count(&page, "publisher", "beijing"), 2);
    assert_eq!(
        facet_count(&page, "keyword", "交通"),
        3,
        "air-quality matches by its description, without the keyword"
    );
    let everything = search(&first, "").await;
    assert_eq!(everything["total"], 6);
    assert_eq!(facet_count(&everything, "access", "open"), 5);
    second.stop().await;
    first.stop().await;
}

async fn replicas_build_their_index_from_the_database(backend: Backend) {
    let first = TestApp::spawn(backend.clone()).await;
    catalog(&first).await;
    // As datasets published by a node before search documents were stored.
    first.tamper("UPDATE datasets SET search_document = ''").await;
    // New replicas (each with an empty index of its own) start together and build from the database.
    let replica = || first.replica(backend.clone());
    let (second, third) = tokio::join!(replica(), replica());
    for app in [&first, &second, &third] {
        let page = search(app, &q("交通")).await;
        assert_eq!(page["total"], 3, "{page}");
        assert_eq!(ids(&page)[0], "beijing-traffic");
    }
    third.stop().await;
    second.stop().await;
    first.stop().await;
}

/// An index left by another database (a node reinitialised on the same disk, a database
/// restored from an older backup) is ahead of this database's feed: the replica rebuilds
/// it, and never answers from it meanwhile (it would show datasets this node does not hold).
async fn an_index_from_another_database_is_rebuilt_not_served(backend: Backend) {
    let index = tempfile::tempdir().expect("tempdir");
    let http = reqwest::Client::new();
    let elsewhere = NodeState::new(&backend).await;
    let token = elsewhere.add_publisher("别处", "elsewhere").await;
    let mut node = elsewhere.start_on_index(NodeState::free_port(), index.path()).await;
    let mut sequence = 0;
    for dataset in ["elsewhere-a", "elsewhere-b", "elsewhere-c"] {
        let files = vec![("records.csv".to_owned(), format!("id\n{dataset}\n").into_bytes())];
        let (status, answer) = publish_answer(&http, &node.url, &token, dataset, "open", files)
            .await
            .expect("publish");
        assert_eq!(status, StatusCode::CREATED, "{answer}");
        sequence = answer["searchSequence"].as_u64().expect("searchSequence");
    }
    let page = get_json(
        &http,
        &format!("{}/api/v1/datasets?q=elsewhere&indexed={sequence}", node.url),
    )
    .await
    .expect("search");
    assert_eq!(page["total"], 3, "{page}");
    node.child.kill().await.expect("kill");

    let here = NodeState::new(&backend).await;
    let port = NodeState::free_port();
    let node = here.start_on_index(port, index.path()).await;
    let mut answered = false;
    for _ in 0..400 {
        let response = http
            .get(format!("{}/api/v1/datasets?q=elsewhere", node.url))
            .send()
            .await
            .expect("search");
        if response.status() == StatusCode::SERVICE_UNAVAILABLE {
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
            continue;
        }
        let page: Value = response.json().await.expect("json");
        assert_eq!(page["total"], 0, "another database's datasets were served: {page}");
        answered = true;
        break;
    }
    assert!(answered, "the rebuilt index never answered");
    let log = std::fs::read_to_string(here.data_dir.join(format!("node-{port}.log"))).expect("log");
    assert!(log.contains("ahead of this database's feed"), "{log}");
    let mut node = node;
    node.child.kill().await.expect("kill");
    elsewhere.drop_database(&backend).await;
    here.drop_database(&backend).await;
}

/// Every version published and every download counted is a change of the feed; it keeps
/// only each dataset's latest, so it grows with the catalog, not with its history, and a
/// replica following it still ends at each dataset's latest state.
async fn the_search_feed_keeps_one_change_per_dataset(backend: Backend) {
    let first = TestApp::spawn(backend.clone()).await;
    let second = first.replica(backend.clone()).await;
    let token = first.publisher("feeder").await;
    let mut sequence = 0;
    for (version, word) in ["alpha", "bravo", "charlie"].into_iter().enumerate() {
        let mut described = metadata("feed-kept", "open");
        described["title"]["en"] = json!(format!("Feed kept {word}"));
        let files = [("v.csv", "text/csv", format!("version\n{version}\n").into_bytes())];
        let files: Vec<(&str, &str, &[u8])> = files.iter().map(|(n, t, b)| (*n, *t, b.as_slice())).collect();
        let published = first.publish_files(&token, "feed-kept", described, &files).await;
        sequence = published["searchSequence"].as_u64().expect("searchSequence");
    }
    let changes = |sql: &'static str| first.count(sql);
    assert_eq!(
        changes("SELECT COUNT(*) FROM search_changes WHERE dataset_id = 'feed-kept'").await,
        1
    );
    assert_eq!(
        changes(
            "SELECT COUNT(*) FROM (SELECT dataset_id FROM search_changes GROUP BY dataset_id HAVING COUNT(*) > 1) repeated"
        )
        .await,
        0
    );
    let latest = search(&second, &format!("q=charlie&indexed={sequence}")).await;
    assert_eq!(ids(&latest), ["feed-kept"], "{latest}");
    let earlier = search(&second, &format!("q=alpha&indexed={sequence}")).await;
    assert_eq!(earlier["total"], 0, "{earlier}");
    second.stop().await;
    first.stop().await;
}
