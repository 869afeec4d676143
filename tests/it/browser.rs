//! End to end in a real headless Chromium (driven over WebDriver by
//! chromedriver): search in Chinese, open a dataset, see its preview table,
//! download an open file and check its sha256; from another origin, search,
//! read a byte range of a Parquet file and an order's receipts. Screenshots of every page are
//! saved under `target/e2e-screenshots/`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, place_test_order, sha256_hex};
use crate::on_both_backends;
use crate::vectors::fixtures;
use crate::web::{FLOWS, market};

on_both_backends!(
    a_reader_searches_previews_and_downloads_in_a_browser,
    the_browser_signs_byte_for_byte_as_the_node_and_orders_with_its_own_key,
    a_buyer_orders_downloads_acknowledges_and_takes_evidence_in_the_browser,
    a_publisher_works_in_the_console_and_another_origin_cannot,
    a_demand_posted_in_the_browser_is_answered_accepted_and_ordered
);

/// chromedriver and Chromium, when installed; CI must have them.
fn browser() -> Option<(String, String)> {
    let chromedriver = std::env::var("SHULIAN_TEST_CHROMEDRIVER").ok().or_else(|| {
        Path::new("/usr/bin/chromedriver")
            .exists()
            .then(|| "/usr/bin/chromedriver".into())
    });
    let chromium = std::env::var("SHULIAN_TEST_CHROMIUM").ok().or_else(|| {
        Path::new("/usr/bin/chromium")
            .exists()
            .then(|| "/usr/bin/chromium".into())
    });
    match (chromedriver, chromium) {
        (Some(driver), Some(chromium)) => Some((driver, chromium)),
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("CI must run the browser test: install chromium and chromium-driver")
        }
        _ => {
            eprintln!("chromium or chromedriver is missing: skipping the browser test");
            None
        }
    }
}

struct Session {
    http: reqwest::Client,
    base: String,
    driver: tokio::process::Child,
}

impl Session {
    async fn start(driver: &str, chromium: &str, downloads: &Path) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("port")
            .local_addr()
            .expect("addr")
            .port();
        let driver = tokio::process::Command::new(driver)
            .arg(format!("--port={port}"))
            .kill_on_drop(true)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let http = reqwest::Client::new();
        let root = format!("http://127.0.0.1:{port}");
        for _ in 0..100 {
            if http.get(format!("{root}/status")).send().await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,1000", "--lang=zh-CN"],
                "prefs": {
                    "download.default_directory": downloads,
                    "download.prompt_for_download": false,
                    "intl.accept_languages": "zh-CN,zh",
                },
            },
        }}});
        let created: Value = http
            .post(format!("{root}/session"))
            .json(&capabilities)
            .send()
            .await
            .expect("session")
            .json()
            .await
            .expect("json");
        let id = created["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {created}"))
            .to_owned();
        Self {
            http,
            base: format!("{root}/session/{id}"),
            driver,
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let answer: Value = request.send().await.expect("webdriver").json().await.expect("json");
        assert!(answer["value"].get("error").is_none(), "{path}: {answer}");
        answer["value"].clone()
    }

    async fn open(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", Some(json!({"url": url})))
            .await;
    }

    async fn find(&self, css: &str) -> String {
        self.find_within(css, Duration::from_secs(5)).await
    }

    /// Finds an element that may take up to `wait` to appear.
    async fn find_within(&self, css: &str, wait: Duration) -> String {
        let deadline = tokio::time::Instant::now() + wait;
        while tokio::time::Instant::now() < deadline {
            let found: Value = self
                .http
                .post(format!("{}/element", self.base))
                .json(&json!({"using": "css selector", "value": css}))
                .send()
                .await
                .expect("find")
                .json()
                .await
                .expect("json");
            // An element reference is an object of one member, keyed by the W3C element identifier.
            let reference = found["value"]
                .as_object()
                .filter(|object| !object.contains_key("error"));
            if let Some(id) = reference
                .and_then(|object| object.values().next())
                .and_then(Value::as_str)
            {
                return id.to_owned();
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let page = self.call(reqwest::Method::GET, "/source", None).await;
        panic!(
            "no element {css} in {}",
            page.as_str().unwrap_or_default().chars().take(1500).collect::<String>()
        );
    }

    async fn text(&self, element: &str) -> String {
        self.call(reqwest::Method::GET, &format!("/element/{element}/text"), None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    async fn current_url(&self) -> String {
        self.call(reqwest::Method::GET, "/url", None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Waits until the browser has navigated to a URL containing `part` (the old page's
    /// elements stay findable until it has).
    async fn wait_for_url(&self, part: &str) {
        let mut url = String::new();
        for _ in 0..50 {
            url = self.current_url().await;
            if url.contains(part) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the browser stayed at {url}, expected a URL containing {part}");
    }

    async fn screenshot(&self, name: &str) {
        let png = self.call(reqwest::Method::GET, "/screenshot", None).await;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(png.as_str().expect("png"))
            .expect("base64");
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/e2e-screenshots");
        std::fs::create_dir_all(&dir).expect("screenshot dir");
        std::fs::write(dir.join(format!("{name}.png")), bytes).expect("screenshot saved");
    }

    /// Runs a script in the page and returns its value.
    async fn script(&self, script: &str) -> Value {
        self.call(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({"script": script, "args": []})),
        )
        .await
    }

    /// Runs an asynchronous script in the page (it calls its last argument with its
    /// result) and returns that result.
    async fn script_async(&self, script: &str, args: Value) -> Value {
        self.call(
            reqwest::Method::POST,
            "/execute/async",
            Some(json!({"script": script, "args": args})),
        )
        .await
    }

    /// Presses and releases one key (a WebDriver key code such as Tab `\u{E004}`).
    async fn press(&self, key: &str) {
        let keys = json!([{"type": "keyDown", "value": key}, {"type": "keyUp", "value": key}]);
        self.call(
            reqwest::Method::POST,
            "/actions",
            Some(json!({"actions": [{"type": "key", "id": "keyboard", "actions": keys}]})),
        )
        .await;
    }

    /// The page shown fits a phone's width without sideways scrolling, and every form field
    /// in it is labelled.
    async fn check_fits_and_labelled(&self, page: &str) {
        let fits = self
            .script("return document.documentElement.scrollWidth <= window.innerWidth;")
            .await;
        assert_eq!(fits, json!(true), "{page} scrolls sideways on a phone");
        let unlabelled = self
            .script(
                "return [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]\
                 .filter(e => e.labels.length === 0 && !e.getAttribute('aria-label')).map(e => e.outerHTML);",
            )
            .await;
        assert_eq!(unlabelled, json!([]), "{page} has unlabelled fields");
    }

    /// Narrows the window to a phone's width.
    async fn phone_width(&self) {
        self.call(
            reqwest::Method::POST,
            "/window/rect",
            Some(json!({"width": 390, "height": 844})),
        )
        .await;
    }

    /// Types `text` into an element (WebDriver key codes such as Enter `\u{E007}` included).
    async fn type_into(&self, element: &str, text: &str) {
        self.call(
            reqwest::Method::POST,
            &format!("/element/{element}/value"),
            Some(json!({"text": text})),
        )
        .await;
    }

    /// Clicks an element.
    async fn click(&self, element: &str) {
        self.call(
            reqwest::Method::POST,
            &format!("/element/{element}/click"),
            Some(json!({})),
        )
        .await;
    }

    /// Presses Tab until the element with `id` has the focus.
    async fn tab_to(&self, id: &str) {
        for _ in 0..40 {
            self.press("\u{E004}").await;
            if self.script("return document.activeElement.id;").await == id {
                return;
            }
        }
        panic!("Tab never reaches #{id}");
    }

    /// Serves a page of another origin (another portal's, with no policy of the node's),
    /// opens it, and returns its origin.
    async fn open_other_origin(&self) -> String {
        let portal = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("portal port");
        let origin = format!("http://{}", portal.local_addr().expect("address"));
        let page = axum::Router::new().route(
            "/",
            axum::routing::get(|| async {
                axum::response::Html("<!doctype html><title>portal</title><main>portal</main>")
            }),
        );
        tokio::spawn(async move { axum::serve(portal, page).await });
        self.open(&origin).await;
        self.find("main").await;
        origin
    }

    async fn close(mut self) {
        let _ = self.http.delete(&self.base).send().await;
        let _ = self.driver.kill().await;
    }
}

async fn a_reader_searches_previews_and_downloads_in_a_browser(backend: Backend) {
    let Some((driver, chromium)) = browser() else { return };
    let label = backend.name();
    let app = TestApp::spawn(backend).await;
    market(&app).await;
    let flows = FLOWS.as_bytes();

    let downloads = tempfile::tempdir().expect("downloads");
    let browser = Session::start(&driver, &chromium, downloads.path()).await;
    browser.open(&app.url).await;
    browser.screenshot(&format!("{label}-1-home")).await;
    let search_box = browser.find("input#q").await;
    browser
        .call(
            reqwest::Method::POST,
            &format!("/element/{search_box}/value"),
            Some(json!({"text": "北京交通"})),
        )
        .await;
    let submit = browser.find("form.search button[type=submit]").await;
    browser
        .call(
            reqwest::Method::POST,
            &format!("/element/{submit}/click"),
            Some(json!({})),
        )
        .await;
    browser.wait_for_url("/search?q=").await;
    let first = browser.find("article.card h3 a").await;
    assert_eq!(browser.text(&first).await, "北京市交通流量");
    browser.screenshot(&format!("{label}-2-search")).await;

    browser
        .call(
            reqwest::Method::POST,
            &format!("/element/{first}/click"),
            Some(json!({})),
        )
        .await;
    let preview = browser.find("table.preview").await;
    let shown = browser.text(&preview).await;
    assert!(shown.contains("东直门") && shown.contains("2410"), "{shown}");
    browser.screenshot(&format!("{label}-3-dataset")).await;

    let download = browser.find("a[download]").await;
    browser
        .call(
            reqwest::Method::POST,
            &format!("/element/{download}/click"),
            Some(json!({})),
        )
        .await;
    let saved = downloads.path().join("flows.csv");
    for _ in 0..100 {
        if saved.exists() && std::fs::read(&saved).is_ok_and(|bytes| bytes.len() == flows.len()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let bytes = std::fs::read(&saved).expect("the browser saved the file");
    assert_eq!(
        sha256_hex(&bytes),
        sha256_hex(flows),
        "the downloaded file's sha256 matches"
    );
    let page_shows = browser.text(&browser.find("span.hash").await).await;
    assert_eq!(page_shows, sha256_hex(flows), "the page shows that sha256");

    browser.open(&format!("{}/datasets/visits", app.url)).await;
    browser.find("pre code").await;
    browser.screenshot(&format!("{label}-4-licensed")).await;

    // On a phone's width, by keyboard alone: every page fits without sideways scrolling,
    // every form field is labelled, and the search box is reachable with Tab.
    browser.phone_width().await;
    for (page, name) in [
        ("/", "home"),
        ("/search?q=%E4%BA%A4%E9%80%9A", "search"),
        ("/datasets/traffic", "dataset"),
        ("/datasets/visits", "licensed"),
    ] {
        browser.open(&format!("{}{page}", app.url)).await;
        browser.find("main").await;
        browser.check_fits_and_labelled(page).await;
        browser.screenshot(&format!("{label}-phone-{name}")).await;
    }
    browser.open(&app.url).await;
    browser.find("input#q").await;
    browser.tab_to("q").await;
    browser
        .call(
            reqwest::Method::POST,
            &format!("/element/{}/value", browser.find("input#q").await),
            Some(json!({"text": "交通\u{E007}"})),
        )
        .await;
    browser.wait_for_url("/search?q=").await;
    browser.find("article.card h3 a").await;
    browser.open(&format!("{}/node?lang=en", app.url)).await;
    browser.find("main h1").await;
    browser.screenshot(&format!("{label}-5-node-en")).await;
    browser.open(&format!("{}/publishers/city", app.url)).await;
    browser.find("article.card").await;
    browser.screenshot(&format!("{label}-6-publisher")).await;

    // A page of another origin (another portal's, or DuckDB-WASM's, with no policy of the
    // node's): it searches, reads a byte range of an open Parquet file with the headers a
    // range reader needs, and reads an order's receipts with a bearer token, no cookies.
    let (_, version) = app.get_json("/api/v1/datasets/traffic/versions/1").await;
    let parquet = version["files"]
        .as_array()
        .and_then(|files| {
            files
                .iter()
                .find(|file| file["mediaType"] == "application/vnd.apache.parquet")
        })
        .and_then(|file| file["name"].as_str())
        .unwrap_or_else(|| panic!("a Parquet copy of the CSV: {version}"))
        .to_owned();
    let placed = place_test_order(&app, "visits").await;
    let other_origin = browser.open_other_origin().await;
    let answers = browser
        .script_async(
            "const [node, parquet, order, token, done] = arguments;
             (async () => {
               const search = await fetch(`${node}/api/v1/datasets?q=traffic`);
               const found = await search.json();
               const range = await fetch(`${node}/api/v1/datasets/traffic/versions/1/files/${parquet}`,
                                         {headers: {Range: 'bytes=0-3'}});
               const magic = String.fromCharCode(...new Uint8Array(await range.arrayBuffer()));
               const receipts = await fetch(`${node}/api/v1/orders/${order}/receipts`,
                                            {headers: {Authorization: `Bearer ${token}`}});
               done({origin: location.origin, total: found.total, rangeStatus: range.status, magic,
                     contentRange: range.headers.get('Content-Range'), etag: range.headers.get('ETag'),
                     digest: range.headers.get('Repr-Digest'), receipts: receipts.status});
             })().catch(error => done({error: String(error)}));",
            json!([app.url, parquet, placed["orderId"], placed["accessToken"]]),
        )
        .await;
    assert_eq!(answers["origin"], other_origin.as_str(), "{answers}");
    assert_eq!(answers["total"], 1, "{answers}");
    assert_eq!(answers["rangeStatus"], 206, "{answers}");
    assert_eq!(answers["magic"], "PAR1", "{answers}");
    assert!(
        answers["contentRange"]
            .as_str()
            .is_some_and(|range| range.starts_with("bytes 0-3/")),
        "{answers}"
    );
    assert!(
        answers["etag"].is_string() && answers["digest"].is_string(),
        "exposed: {answers}"
    );
    assert_eq!(answers["receipts"], 200, "{answers}");
    browser.close().await;
    app.stop().await;
}

/// Writes `value` as JSON into `dir`; its path.
fn work_file(dir: &tempfile::TempDir, name: &str, value: &Value) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, serde_json::to_vec_pretty(value).expect("json")).expect("write");
    path
}

/// The page's signing script (`/static/sign.js`, loaded under the pages' CSP) against
/// the node: the RFC 8785 vectors canonicalized as published, the W3C eddsa-jcs-2022
/// example signed to the very proof value it gives, and an order signed with a key
/// WebCrypto generated that the node verifies, countersigns and logs.
async fn the_browser_signs_byte_for_byte_as_the_node_and_orders_with_its_own_key(backend: Backend) {
    let Some((driver, chromium)) = browser() else { return };
    let app = TestApp::spawn(backend).await;
    let token = app.publisher("clinic-pub").await;
    let published = app
        .publish(&token, "clinic", "licensed", &[("wards.csv", b"ward,beds\na,3\n")])
        .await;
    assert!(published.status().is_success());
    let downloads = tempfile::tempdir().expect("downloads");
    let browser = Session::start(&driver, &chromium, downloads.path()).await;
    browser.open(&format!("{}/node", app.url)).await;
    let loaded = browser
        .script_async(
            "const done = arguments[arguments.length - 1];
             const script = document.createElement('script');
             script.src = '/static/sign.js';
             script.onload = () => done(typeof window.shulianSigning);
             script.onerror = () => done('refused');
             document.head.appendChild(script);",
            json!([]),
        )
        .await;
    assert_eq!(loaded, "object", "the script loads under the page's CSP");

    let jcs = fixtures().join("jcs");
    let mut names = Vec::new();
    let mut inputs = Vec::new();
    for entry in std::fs::read_dir(jcs.join("input")).expect("inputs") {
        let path = entry.expect("entry").path();
        names.push(path.file_name().expect("name").to_owned());
        inputs.push(std::fs::read_to_string(&path).expect("input"));
    }
    let outputs = browser
        .script_async(
            "const [inputs, done] = arguments;
             try { done(inputs.map(text => shulianSigning.canonicalize(JSON.parse(text)))); }
             catch (error) { done(String(error)); }",
            json!([inputs]),
        )
        .await;
    assert!(names.len() >= 6);
    for (name, output) in names.iter().zip(outputs.as_array().expect("outputs")) {
        let expected = std::fs::read_to_string(jcs.join("output").join(name)).expect("output");
        assert_eq!(output.as_str(), Some(expected.as_str()), "vector {name:?}");
    }

    // SHA-256 fed in pieces (how the console hashes files larger than memory): the same
    // digest as sha2's for lengths around every padding boundary, fed in uneven pieces.
    let lengths: Vec<usize> = vec![0, 1, 3, 55, 56, 63, 64, 65, 119, 120, 127, 128, 1000, 100_003];
    let digests = browser
        .script_async(
            "const [lengths, done] = arguments;
             done(lengths.map(length => {
               const bytes = Uint8Array.from({ length }, (_, i) => (i * 31 + 7) & 255);
               const hasher = shulianSigning.sha256Stream();
               for (let at = 0, piece = 1; at < length; at += piece, piece = piece * 3 % 97 + 1) {
                 hasher.update(bytes.subarray(at, Math.min(at + piece, length)));
               }
               return shulianSigning.hex(hasher.digest());
             }));",
            json!([lengths]),
        )
        .await;
    for (length, digest) in lengths.iter().zip(digests.as_array().expect("digests")) {
        let bytes: Vec<u8> = (0..*length).map(|i| ((i * 31 + 7) & 255) as u8).collect();
        assert_eq!(digest.as_str(), Some(sha256_hex(&bytes).as_str()), "{length} bytes");
    }

    // The W3C example, signed in the browser from its key pair: the same proof, byte for byte.
    let vectors = fixtures().join("eddsa-jcs-2022");
    let pair: Value =
        serde_json::from_slice(&std::fs::read(vectors.join("keyPair.json")).expect("pair")).expect("json");
    let multibase = |name: &str| {
        let text = pair[name].as_str().expect("multibase");
        bs58::decode(&text[1..]).into_vec().expect("base58")[2..].to_vec()
    };
    let signed: Value =
        serde_json::from_slice(&std::fs::read(vectors.join("signedJCS.json")).expect("vector")).expect("json");
    let mut unsigned = signed.clone();
    unsigned.as_object_mut().expect("object").remove("proof");
    let sign_in_browser = |method: Value| {
        browser.script_async(
            "const [seed, publicKey, document, created, method, done] = arguments;
             shulianSigning.importSeed(new Uint8Array(seed), new Uint8Array(publicKey))
               .then(key => shulianSigning.signDocument(document, key, created, method))
               .then(done, error => done(String(error)));",
            json!([
                multibase("privateKeyMultibase"),
                multibase("publicKeyMultibase"),
                unsigned,
                signed["proof"]["created"],
                method
            ]),
        )
    };
    let canonical = |value: &Value| shulian::crypto::canonical::canonicalize(value).expect("canonical");
    let as_specified = sign_in_browser(signed["proof"]["verificationMethod"].clone()).await;
    assert_eq!(
        canonical(&as_specified),
        canonical(&signed),
        "the browser's proof is the specification's"
    );
    // As the node signs (the key named by its did:key): the same bytes as the node's signer.
    let key = shulian::crypto::KeyPair::load(&vectors.join("keyPair.json")).expect("the Multikey pair loads");
    let created = chrono::DateTime::parse_from_rfc3339(signed["proof"]["created"].as_str().expect("created"))
        .expect("time")
        .with_timezone(&chrono::Utc);
    let by_node = shulian::crypto::sign_document(unsigned.clone(), &key, created).expect("signed");
    assert_eq!(
        canonical(&sign_in_browser(Value::Null).await),
        canonical(&by_node),
        "the browser signs as the node does"
    );

    // Key files: the one the vector's pair makes signs as the node does; a key the browser
    // made saves as a file the CLI loads (same DID, same signatures); mismatched halves fail.
    let key_files = browser
        .script_async(
            "const [file, document, created, done] = arguments;
             (async () => {
               const S = shulianSigning;
               const fromFile = await S.signDocument(document, await S.importKeyFile(file), created);
               const made = await S.generateKey();
               const saved = await S.exportKeyFile(made);
               const madeSigned = await S.signDocument(document, made, created);
               const other = await S.exportKeyFile(await S.generateKey());
               const mismatch = await S.importKeyFile({publicKeyMultibase: other.publicKeyMultibase,
                 privateKeyMultibase: saved.privateKeyMultibase}).then(() => 'accepted', String);
               done({fromFile, saved, did: S.didKey(made.publicKey), madeSigned, mismatch});
             })().catch(error => done({error: String(error)}));",
            json!([pair, unsigned, signed["proof"]["created"]]),
        )
        .await;
    assert_eq!(canonical(&key_files["fromFile"]), canonical(&by_node), "{key_files}");
    let saved = work_file(&downloads, "browser-key.json", &key_files["saved"]);
    let loaded = shulian::crypto::KeyPair::load(&saved).expect("the CLI loads the browser's key file");
    assert_eq!(key_files["did"], loaded.did().to_string());
    assert_eq!(
        canonical(&key_files["madeSigned"]),
        canonical(&shulian::crypto::sign_document(unsigned.clone(), &loaded, created).expect("signed")),
        "the browser's key signs as the CLI signs with it"
    );
    assert!(
        key_files["mismatch"]
            .as_str()
            .is_some_and(|refusal| refusal.contains("not its private key")),
        "{key_files}"
    );

    // An order signed with a key the browser generated: the node verifies and agrees.
    let placed = browser
        .script_async(
            "const done = arguments[arguments.length - 1];
             (async () => {
               const S = shulianSigning;
               const key = await S.generateKey();
               const node = await (await fetch('/.well-known/shulian-node')).json();
               const version = await (await fetch('/api/v1/datasets/clinic/versions/1')).json();
               const offer = version.manifest.metadata.offer;
               const licence = Array.from(await S.sha256(offer.licenseText), b => b.toString(16).padStart(2, '0')).join('');
               const nonce = Array.from(crypto.getRandomValues(new Uint8Array(16)), b => b.toString(16).padStart(2, '0')).join('');
               const order = await S.signDocument({
                 type: 'ShulianOrder', node: node.id, dataset: 'clinic', version: version.version,
                 manifestDigest: version.manifestDigest, purpose: offer.purposes[0],
                 validityDays: offer.maxValidityDays, maxDownloads: offer.maxDownloads, priceFen: offer.priceFen,
                 licenseSha256: 'sha256:' + licence, buyer: S.didKey(key.publicKey), nonce, created: S.timestamp(),
               }, key, S.timestamp());
               const answer = await fetch('/api/v1/orders', {method: 'POST',
                 headers: {'Content-Type': 'application/json'}, body: JSON.stringify(order)});
               done({status: answer.status, answer: await answer.json(), order});
             })().catch(error => done({error: String(error)}));",
            json!([]),
        )
        .await;
    assert_eq!(placed["status"], 201, "{placed}");
    assert_eq!(placed["answer"]["state"], "AGREED", "{placed}");
    let buyer = shulian::crypto::proof::verify_document(&placed["order"]).expect("the node's verifier accepts it");
    assert_eq!(placed["order"]["buyer"], buyer.to_string());
    browser.close().await;
    app.stop().await;
}

/// Waits until the browser has saved `name` into `dir` (its partial download renamed); its bytes.
async fn saved_download(dir: &Path, name: &str) -> Vec<u8> {
    let path = dir.join(name);
    for _ in 0..100 {
        if let Ok(bytes) = std::fs::read(&path) {
            return bytes;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let present: Vec<_> = std::fs::read_dir(dir)
        .expect("downloads")
        .flatten()
        .map(|entry| entry.file_name())
        .collect();
    panic!("the browser saved no {name}: {present:?}");
}

/// The buyer's whole path in a browser, by keyboard where a person would type: on the demo
/// catalog's licensed dataset's page the order is signed with a key the browser makes and agreed; on
/// "My orders" the file downloads (checked against the manifest), its receipt is
/// acknowledged with the buyer's signature, and the evidence saved is what `shulian
/// verify` accepts offline, files included. The key saved from the page is the order's
/// buyer for the CLI. An order the publisher must decide shows as awaiting, then as agreed
/// once decided. The token never appears in an address or a cookie, and a page of another
/// origin finds none of the buyer's keys or orders. Phone and desktop widths.
async fn a_buyer_orders_downloads_acknowledges_and_takes_evidence_in_the_browser(backend: Backend) {
    let Some((driver, chromium)) = browser() else { return };
    let label = backend.name();
    let app = TestApp::spawn(backend).await;
    // The demo catalog's licensed dataset, as a newcomer finds it.
    shulian::service::demo::load_demo_catalog(&app.ctx, &app.config.catalog_dir)
        .await
        .expect("demo loads");
    let clinic = app.publisher("clinic").await;
    let mut reviewed = crate::helpers::metadata("reviewed", "licensed");
    reviewed["offer"]["autoAccept"] = json!(false);
    app.publish_files(
        &clinic,
        "reviewed",
        reviewed,
        &[("wards.csv", "text/csv", b"ward,beds\na,3\n")],
    )
    .await;
    let downloads = tempfile::tempdir().expect("downloads");
    let browser = Session::start(&driver, &chromium, downloads.path()).await;

    // Order by keyboard alone: Tab to the button, Enter.
    browser
        .open(&format!("{}/datasets/hospital-outpatient-visits", app.url))
        .await;
    browser.find("form#order-form:not([hidden])").await;
    browser
        .check_fits_and_labelled("/datasets/hospital-outpatient-visits")
        .await;
    browser.tab_to("order-submit").await;
    browser.press("\u{E007}").await;
    let see_orders = browser.find("#see-orders").await;
    let said = browser.text(&browser.find("#order-status").await).await;
    assert!(said.contains("订单已生效"), "{said}");
    browser.screenshot(&format!("{label}-7-ordered")).await;
    browser.click(&see_orders).await;
    browser.wait_for_url("/orders").await;

    let download = browser
        .find("article.order button.download[data-file='visits.csv']:not([disabled])")
        .await;
    browser.screenshot(&format!("{label}-8-my-orders")).await;
    browser.click(&download).await;
    let visits =
        std::fs::read(app.config.catalog_dir.join("hospital-outpatient-visits/visits.csv")).expect("demo file");
    assert_eq!(saved_download(downloads.path(), "visits.csv").await, visits);
    let acknowledge = browser.find("article.order ul.receipts button.acknowledge").await;
    browser.click(&acknowledge).await;
    browser.find("article.order ul.receipts span.acknowledged").await;
    let evidence_button = browser.find("article.order button.evidence:not([disabled])").await;
    browser.click(&evidence_button).await;
    let evidence: Value =
        serde_json::from_slice(&saved_download(downloads.path(), "evidence.json").await).expect("evidence is JSON");
    assert_eq!(evidence["receipts"].as_array().map(Vec::len), Some(1), "{evidence}");
    assert_eq!(
        evidence["acknowledgements"].as_array().map(Vec::len),
        Some(1),
        "{evidence}"
    );
    let files = tempfile::tempdir().expect("files");
    std::fs::copy(downloads.path().join("visits.csv"), files.path().join("visits.csv")).expect("copy");
    let bundle = downloads.path().join("evidence.json");
    let verified = crate::cli::json(
        &crate::cli::shulian(&[
            "verify",
            bundle.to_str().expect("utf-8"),
            "--files",
            files.path().to_str().expect("utf-8"),
            "--json",
        ])
        .await,
    );
    assert_eq!(
        (verified["receipts"].as_u64(), verified["files"].as_u64()),
        (Some(1), Some(1))
    );
    let orders = app
        .ctx
        .store
        .publisher_orders(&shulian::service::demo::DEMO_PUBLISHER.parse().expect("id"))
        .await
        .expect("orders");
    assert_eq!(orders.len(), 1);
    assert_eq!(evidence["order"]["buyer"], orders[0].buyer.as_str());

    // The key file saved from the page is the order's buyer for the CLI.
    browser.click(&browser.find("#save-key:not([disabled])").await).await;
    saved_download(downloads.path(), "buyer-key.json").await;
    let key = shulian::crypto::KeyPair::load(&downloads.path().join("buyer-key.json")).expect("the CLI loads it");
    assert_eq!(key.did().to_string(), orders[0].buyer);

    // An order the publisher decides: awaiting, then agreed on the orders page.
    browser.open(&format!("{}/datasets/reviewed", app.url)).await;
    let submit = browser.find("form#order-form:not([hidden]) #order-submit").await;
    browser.click(&submit).await;
    browser.find("#see-orders").await;
    let said = browser.text(&browser.find("#order-status").await).await;
    assert!(said.contains("等待发布方决定"), "{said}");
    browser.open(&format!("{}/orders", app.url)).await;
    browser.find("article.order span.state[data-state='REQUESTED']").await;
    let requested = app
        .ctx
        .store
        .publisher_orders(&"clinic".parse().expect("id"))
        .await
        .expect("orders");
    let decided = app
        .http
        .post(app.api(&format!("/api/v1/orders/{}/decision", requested[0].id)))
        .bearer_auth(&clinic)
        .json(&json!({"accept": true}))
        .send()
        .await
        .expect("decision");
    assert!(decided.status().is_success());
    browser.open(&format!("{}/orders", app.url)).await;
    browser
        .find("article.order span.state[data-state='AGREED'] ~ code")
        .await;
    browser
        .find("article.order button.download[data-file='wards.csv']:not([disabled])")
        .await;
    let states = browser
        .script("return [...document.querySelectorAll('article.order span.state')].map(e => e.dataset.state);")
        .await;
    assert_eq!(states, json!(["AGREED", "AGREED"]), "both orders agreed now");

    // The token stays out of addresses and cookies.
    let leaked = browser
        .script(
            "return [document.cookie, location.href, ...performance.getEntriesByType('resource').map(e => e.name)]\
             .filter(text => text.includes('sho_'));",
        )
        .await;
    assert_eq!(leaked, json!([]), "an order token in an address or a cookie");

    // On a phone's width the orders page fits and its fields are labelled.
    browser.phone_width().await;
    for page in ["/datasets/hospital-outpatient-visits", "/orders"] {
        browser.open(&format!("{}{page}", app.url)).await;
        browser.find("main h1").await;
        browser.find("#order-unavailable[hidden]").await;
        browser.check_fits_and_labelled(page).await;
    }
    browser.find("article.order button.download").await;
    browser.screenshot(&format!("{label}-phone-my-orders")).await;

    // Another origin: the buyer's store there is another, empty one.
    browser.open_other_origin().await;
    let seen = browser
        .script_async(
            "const done = arguments[arguments.length - 1];
             const opening = indexedDB.open('shulian-buyer');
             opening.onsuccess = () => done([...opening.result.objectStoreNames]);
             opening.onerror = () => done(String(opening.error));",
            json!([]),
        )
        .await;
    assert_eq!(
        seen,
        json!([]),
        "another origin reads none of the buyer's keys or orders"
    );
    browser.close().await;
    app.stop().await;
}

/// The publisher console in a browser: sign in by keyboard (token typed, Enter), agree to a
/// requested order, revoke it; publish a new version from files chosen in the page (a 50 MB
/// file and a small one, hashed in the browser, sent with progress), and again after a
/// reload, when the file the node holds is not sent; then a page of another origin posts a revocation form to
/// the console with the publisher signed in (loopback ports are one site, so the cookie
/// goes with it): refused, and the order stays as it was. At phone width the console fits
/// and its fields are labelled.
async fn a_publisher_works_in_the_console_and_another_origin_cannot(backend: Backend) {
    let Some((driver, chromium)) = browser() else { return };
    let label = backend.name();
    let app = TestApp::spawn(backend).await;
    let hospital = app.publisher("hospital").await;
    crate::console::publish_reviewed(&app, &hospital).await;
    let first = place_test_order(&app, "reviewed").await["orderId"]
        .as_str()
        .expect("id")
        .to_owned();
    let second = place_test_order(&app, "reviewed").await["orderId"]
        .as_str()
        .expect("id")
        .to_owned();
    let downloads = tempfile::tempdir().expect("downloads");
    let browser = Session::start(&driver, &chromium, downloads.path()).await;

    browser.open(&format!("{}/console", app.url)).await;
    browser.tab_to("publisher-token").await;
    browser
        .type_into(&browser.find("#publisher-token").await, &format!("{hospital}\u{E007}"))
        .await;
    browser.wait_for_url("done=signed-in").await;
    let cookie_seen = browser.script("return document.cookie;").await;
    assert_eq!(cookie_seen, json!(""), "the page's scripts cannot read the session");
    browser.screenshot(&format!("{label}-9-console")).await;
    let agree = browser
        .find(&format!("article[data-order='{first}'] button.agree"))
        .await;
    browser.click(&agree).await;
    browser.wait_for_url("done=agreed").await;
    browser
        .find(&format!(
            "article[data-order='{first}'][data-state='AGREED'] button.revoke"
        ))
        .await;
    let reason = browser.find(&format!("#reason-{first}")).await;
    browser.type_into(&reason, "合同到期").await;
    browser
        .click(
            &browser
                .find(&format!("article[data-order='{first}'] button.revoke"))
                .await,
        )
        .await;
    browser.wait_for_url("done=revoked").await;
    browser
        .find(&format!("article[data-order='{first}'][data-state='TERMINATED']"))
        .await;
    let stored = app.ctx.store.get_order(&first).await.expect("order");
    assert_eq!(stored.state, shulian::domain::order::OrderState::Terminated);

    let chosen = tempfile::tempdir().expect("chosen files");
    // Bytes that never repeat a part (a content-addressed part would be found held).
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let big: Vec<u8> = (0..50u32 << 20)
        .map(|_| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 56) as u8
        })
        .collect();
    let (big_path, small_path) = (chosen.path().join("big.bin"), chosen.path().join("wards.csv"));
    std::fs::write(&big_path, &big).expect("big file");
    std::fs::write(&small_path, b"ward,beds\nb,5\n").expect("small file");
    // An earlier attempt was interrupted after the big file's first three 8 MiB parts.
    for part in big.chunks(8 << 20).take(3) {
        assert!(app.upload(&hospital, part).await.status().is_success());
    }
    let (said, counts) = publish_in_console(&browser, &app, &[&big_path, &small_path], 2).await;
    assert!(said.contains("已发布版本 2"), "{said}");
    assert_eq!(counts[0], 2, "both files sent: {counts}");
    assert_eq!(
        (counts[3].as_u64(), counts[4].as_u64()),
        (Some(4), Some(3)),
        "only the parts the node lacked are sent: {counts}"
    );
    assert_eq!(
        counts[2],
        (50u64 << 20) - (24 << 20) + 14,
        "upload progress reported every byte sent: {counts}"
    );
    browser.screenshot(&format!("{label}-10-published")).await;
    let (_, version) = app.get_json("/api/v1/datasets/reviewed/versions/2").await;
    let listed = version["files"].as_array().expect("files");
    let big_entry = listed
        .iter()
        .find(|file| file["name"] == "big.bin")
        .expect("big.bin published");
    assert_eq!(big_entry["sha256"], sha256_hex(&big));
    assert_eq!(big_entry["size"], 50u64 << 20);
    std::fs::write(&small_path, b"ward,beds\nb,6\n").expect("changed file");
    let (_, counts) = publish_in_console(&browser, &app, &[&big_path, &small_path], 3).await;
    assert_eq!(
        (counts[0].as_u64(), counts[1].as_u64()),
        (Some(1), Some(1)),
        "the held file is not sent again"
    );

    // A new licensed dataset, its metadata and terms typed in the page, its files a folder's.
    let folder = chosen.path().join("census");
    std::fs::create_dir_all(folder.join("2024")).expect("folder");
    std::fs::write(folder.join("2024").join("wards.csv"), b"ward,beds\nc,9\n").expect("file");
    std::fs::write(folder.join("readme.txt"), "病区普查".as_bytes()).expect("file");
    browser.open(&format!("{}/console", app.url)).await;
    browser
        .script(
            "const choose = (id, value) => { const field = document.getElementById(id);
               field.value = value; field.dispatchEvent(new Event('change')); };
             choose('publish-dataset', ''); choose('new-access', 'licensed'); return true;",
        )
        .await;
    for (field, text) in [
        ("new-id", "ward-census"),
        ("new-title-zh", "病区普查"),
        ("new-keywords", "医疗，病床"),
        ("new-price", "12.5"),
        ("new-purposes", "研究, planning"),
        ("new-license-text", "仅限研究使用"),
    ] {
        browser.type_into(&browser.find(&format!("#{field}")).await, text).await;
    }
    let folder_input = browser.find("#publish-folder").await;
    browser.type_into(&folder_input, folder.to_str().expect("utf-8")).await;
    browser.screenshot(&format!("{label}-10-new-dataset")).await;
    let (said, counts) = submit_publish(&browser, 1).await;
    assert!(said.contains("已发布版本 1"), "{said}");
    assert_eq!(counts[0], 2, "both files sent: {counts}");
    let (status, created) = app.get_json("/api/v1/datasets/ward-census/versions/1").await;
    assert_eq!(status, 200, "{created}");
    let mut names: Vec<_> = created["files"]
        .as_array()
        .expect("files")
        .iter()
        .map(|file| file["name"].as_str().expect("name").to_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["2024/wards.csv", "2024/wards.parquet", "readme.txt"],
        "a folder's files by their path in it (and the node's Parquet copy of the table)"
    );
    let metadata = &created["manifest"]["metadata"];
    assert_eq!(metadata["title"], json!({"zh": "病区普查"}));
    assert_eq!(metadata["keywords"], json!(["医疗", "病床"]));
    assert_eq!(metadata["access"], "licensed");
    assert_eq!(metadata["offer"]["priceFen"], 1250);
    assert_eq!(metadata["offer"]["purposes"], json!(["研究", "planning"]));
    assert_eq!(metadata["offer"]["autoAccept"], true);
    let (_, dataset) = app.get_json("/api/v1/datasets/ward-census").await;
    assert_eq!(dataset["publisher"], "hospital", "{dataset}");

    // Another origin posts a form at the console while the publisher is signed in.
    browser.open_other_origin().await;
    browser
        .script(&format!(
            "const form = document.createElement('form');
             form.method = 'post';
             form.action = '{}/console/orders/{second}/decision';
             for (const [name, value] of [['decision', 'agree'], ['form_token', '{}']]) {{
               const field = document.createElement('input');
               field.type = 'hidden'; field.name = name; field.value = value; form.append(field);
             }}
             document.body.append(form);
             form.submit();
             return true;",
            app.url,
            "0".repeat(64)
        ))
        .await;
    browser.wait_for_url("/console/orders/").await;
    let shown = browser.text(&browser.find("main h1").await).await;
    assert!(shown.starts_with("403"), "the forged form is refused: {shown}");
    let untouched = app.ctx.store.get_order(&second).await.expect("order");
    assert_eq!(untouched.state, shulian::domain::order::OrderState::Requested);

    browser.phone_width().await;
    browser.open(&format!("{}/console", app.url)).await;
    browser
        .find(&format!("article[data-order='{second}'] button.agree"))
        .await;
    browser.check_fits_and_labelled("/console").await;
    browser.screenshot(&format!("{label}-phone-console")).await;
    browser.close().await;
    app.stop().await;
}

/// Publishes version `version` of the console's chosen dataset from `paths` in the signed-in
/// console; what the page said, and [files sent, files held, bytes the upload progress reported,
/// parts sent, parts the node held].
async fn publish_in_console(browser: &Session, app: &TestApp, paths: &[&Path], version: u32) -> (String, Value) {
    browser.open(&format!("{}/console", app.url)).await;
    let input = browser.find("form#publish-form:not([hidden]) #publish-files").await;
    let paths: Vec<_> = paths.iter().map(|path| path.to_str().expect("utf-8")).collect();
    browser.type_into(&input, &paths.join("\n")).await;
    submit_publish(browser, version).await
}

/// Submits the console's publish form by keyboard (Tab to the button, Enter) and waits for
/// version `version`; what the page said, and its counts as [`publish_in_console`] gives them.
async fn submit_publish(browser: &Session, version: u32) -> (String, Value) {
    browser.tab_to("publish-submit").await;
    browser.press("\u{E007}").await;
    let mut shown = Value::Null;
    for _ in 0..1200 {
        shown = browser
            .script(
                "const s = document.getElementById('publish-status');
                 return {version: Number(s.dataset.version), failed: s.classList.contains('error'), text: s.textContent,
                         counts: [Number(s.dataset.sent), Number(s.dataset.held), Number(s.dataset.bytesSent),
                                  Number(s.dataset.partsSent), Number(s.dataset.partsHeld)]};",
            )
            .await;
        if shown["version"] == version || shown["failed"] == true {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(shown["version"], version, "the page did not publish: {shown}");
    (
        shown["text"].as_str().unwrap_or_default().to_owned(),
        shown["counts"].clone(),
    )
}

/// Sends the console's answer form `form` and waits until the page says it was answered.
async fn send_answer(provider: &Session, form: &str) {
    provider
        .click(&provider.find(&format!("{form} button.answer")).await)
        .await;
    let answered = provider.find(&format!("{form} .answer-status")).await;
    for _ in 0..50 {
        if !provider.text(&answered).await.contains("正在") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(provider.text(&answered).await, "已应答。");
}

/// The demand board in browsers: a buyer posts a demand (signed with the browser's key);
/// a provider, in another browser, answers it from the console with a licensed dataset
/// (signed with that browser's key); the buyer accepts the
/// answer on the demand's page and orders it there at the answer's price; the order is
/// agreed at once, its file downloads on "My orders", and the receipt names the demand.
async fn a_demand_posted_in_the_browser_is_answered_accepted_and_ordered(backend: Backend) {
    let Some((driver, chromium)) = browser() else { return };
    let label = backend.name();
    let app = TestApp::spawn(backend).await;
    let clinic = app.publisher("clinic").await;
    crate::console::publish_reviewed(&app, &clinic).await;
    let downloads = tempfile::tempdir().expect("downloads");
    let browser = Session::start(&driver, &chromium, downloads.path()).await;

    browser.open(&format!("{}/demands", app.url)).await;
    browser.find("form#demand-form:not([hidden])").await;
    browser.check_fits_and_labelled("/demands").await;
    let deadline = (chrono::Utc::now() + chrono::Duration::days(7))
        .format("%Y-%m-%d")
        .to_string();
    // A date field takes the date's digits as a person types them in the page's locale.
    browser
        .script(&format!(
            "document.getElementById('demand-deadline').value = '{deadline}'; return true;"
        ))
        .await;
    for (field, text) in [
        ("demand-title", "病床使用数据"),
        ("demand-description", "各病区床位数"),
        ("demand-fields", "病区，床位"),
        ("demand-budget", "300"),
        ("demand-contact", "buyer@example.com"),
    ] {
        browser.type_into(&browser.find(&format!("#{field}")).await, text).await;
    }
    browser.click(&browser.find("#demand-submit").await).await;
    browser.wait_for_url("/demands/").await;
    let url = browser.current_url().await;
    let id = url.rsplit('/').next().expect("id").to_owned();
    let (_, posted) = app.get_json(&format!("/api/v1/demands/{id}")).await;
    assert_eq!(posted["state"], "OPEN", "{posted}");
    assert_eq!(posted["budgetFen"], 30_000);
    assert_eq!(posted["document"]["wanted"]["fields"], json!(["病区", "床位"]));
    let poster = posted["poster"].as_str().expect("poster").to_owned();
    browser.screenshot(&format!("{label}-11-demand")).await;

    // The provider, in a browser of its own: signs in to the console and answers with its
    // licensed dataset, under the budget, signing with that browser's key.
    let provider_downloads = tempfile::tempdir().expect("downloads");
    let provider = Session::start(&driver, &chromium, provider_downloads.path()).await;
    provider.open(&format!("{}/console", app.url)).await;
    provider
        .type_into(&provider.find("#publisher-token").await, &format!("{clinic}\u{E007}"))
        .await;
    provider.wait_for_url("done=signed-in").await;
    let form = format!("form.answer-form[data-demand='{id}']:not([hidden])");
    provider.find(&form).await;
    provider.check_fits_and_labelled("/console").await;
    provider
        .type_into(&provider.find(&format!("#answer-price-{id}")).await, "200")
        .await;
    provider
        .type_into(&provider.find(&format!("#answer-note-{id}")).await, "病区床位日报")
        .await;
    send_answer(&provider, &form).await;
    provider.screenshot(&format!("{label}-13-answered")).await;
    // A second answer promises a delivery: a dataset still to be published, by a date.
    provider.open(&format!("{}/console", app.url)).await;
    provider.find(&form).await;
    let due = (chrono::Utc::now() + chrono::Duration::days(10))
        .format("%Y-%m-%d")
        .to_string();
    provider
        .script(&format!(
            "const choice = document.getElementById('answer-version-{id}');
             choice.value = ''; choice.dispatchEvent(new Event('change'));
             document.getElementById('promise-date-{id}').value = '{due}'; return true;"
        ))
        .await;
    for (field, text) in [
        ("promise-dataset", "ward-beds-daily"),
        ("promise-fields", "病区，床位，日期"),
        ("answer-price", "150"),
    ] {
        provider
            .type_into(&provider.find(&format!("#{field}-{id}")).await, text)
            .await;
    }
    send_answer(&provider, &form).await;
    provider.close().await;
    let (_, with_answer) = app.get_json(&format!("/api/v1/demands/{id}")).await;
    let answer = &with_answer["answerList"][0];
    assert_eq!(
        (answer["dataset"].as_str(), answer["priceFen"].as_u64()),
        (Some("reviewed"), Some(20_000))
    );
    assert_ne!(
        answer["provider"],
        poster.as_str(),
        "the provider's browser has a key of its own"
    );
    let promised = &with_answer["answerList"][1];
    assert_eq!(promised["dataset"], "ward-beds-daily", "{with_answer}");
    assert_eq!(promised["priceFen"], 15_000);
    assert_eq!(promised["deliverBy"], format!("{due}T23:59:59Z"));
    assert_eq!(
        promised["document"]["promise"]["fields"],
        json!(["病区", "床位", "日期"])
    );

    browser.open(&url).await;
    let accept = browser
        .find("#poster-actions:not([hidden]) ~ section article.answer button.accept-answer:not([hidden])")
        .await;
    browser.click(&accept).await;
    browser.find("span.state[data-state='AWARDED']").await;
    let submit = browser
        .find("#poster-actions form#order-form:not([hidden]) #order-submit")
        .await;
    browser.screenshot(&format!("{label}-12-awarded")).await;
    browser.click(&submit).await;
    browser.find("#see-orders").await;
    let said = browser.text(&browser.find("#order-status").await).await;
    assert!(said.contains("订单已生效"), "{said}");
    let (_, fulfilled) = app.get_json(&format!("/api/v1/demands/{id}")).await;
    assert_eq!(fulfilled["state"], "FULFILLED");

    browser.open(&format!("{}/orders", app.url)).await;
    let download = browser
        .find("article.order button.download[data-file='wards.csv']:not([disabled])")
        .await;
    browser.click(&download).await;
    assert_eq!(saved_download(downloads.path(), "wards.csv").await, b"ward,beds\na,3\n");
    browser.find("article.order ul.receipts li").await;
    browser
        .find(&format!("article.order a.demand[href='/demands/{id}']"))
        .await;
    let orders = app
        .ctx
        .store
        .publisher_orders(&"clinic".parse().expect("id"))
        .await
        .expect("orders");
    assert_eq!((orders.len(), orders[0].buyer.as_str()), (1, poster.as_str()));
    let order: Value = serde_json::from_str(&orders[0].order).expect("order");
    assert_eq!(
        (order["demand"].as_str(), order["priceFen"].as_u64()),
        (Some(id.as_str()), Some(20_000))
    );
    let receipts = app.ctx.store.order_receipts(&orders[0].id).await.expect("receipts");
    let receipt: Value = serde_json::from_str(&receipts[0].1).expect("receipt");
    assert_eq!(receipt["demand"], id.as_str(), "the receipt names the demand");

    browser.phone_width().await;
    browser.open(&url).await;
    browser.find("main h1").await;
    browser.check_fits_and_labelled(&url).await;
    browser.screenshot(&format!("{label}-phone-demand")).await;
    browser.close().await;
    app.stop().await;
}
