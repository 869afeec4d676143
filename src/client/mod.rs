//! Clients of a node's HTTP API, as the `publish` and `get` commands use them.
//!
//! Failures carry the node's problem+json `type` and `detail`, so a person
//! or script sees why the node refused.

pub mod demand;
pub mod evidence;
pub mod fetch;
pub mod get;
pub mod order;
pub mod publish;
pub mod resolve;

use std::time::Duration;

use anyhow::Context as _;
use serde::de::DeserializeOwned;

use crate::domain::Sha256Digest;

/// A node's API, reached over HTTP.
#[derive(Clone)]
pub struct NodeClient {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
    log_tiles: Option<String>,
    /// Largest body read whole (`get_bytes`, `get_json`), when bounded.
    max_body: Option<usize>,
}

impl NodeClient {
    /// A client of the node at `base` (e.g. `http://127.0.0.1:8080`), with an optional bearer token.
    pub fn new(base: &str, token: Option<String>) -> anyhow::Result<Self> {
        url::Url::parse(base).with_context(|| format!("node URL {base:?}"))?;
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .tcp_nodelay(true)
            .build()?;
        Ok(Self {
            http,
            base: base.trim_end_matches('/').to_owned(),
            token,
            log_tiles: None,
            max_body: None,
        })
    }

    /// A client of another node that a node itself reads from (a peer): every request
    /// must finish within `timeout`, follows no redirect, and no body read whole may
    /// exceed `max_body` bytes, so a peer cannot hold or exhaust the node reading it.
    pub fn for_peer(base: &str, timeout: Duration, max_body: usize) -> anyhow::Result<Self> {
        url::Url::parse(base).with_context(|| format!("peer URL {base:?}"))?;
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .tcp_nodelay(true)
            .build()?;
        Ok(Self {
            http,
            base: base.trim_end_matches('/').to_owned(),
            token: None,
            log_tiles: None,
            max_body: Some(max_body),
        })
    }

    /// Reads the log's checkpoint and proofs from C2SP `tlog-tiles` at `url` (the node's
    /// `/log`, or any mirror or cache of it) instead of the node's JSON proof API.
    pub fn with_log_tiles(mut self, url: Option<&str>) -> anyhow::Result<Self> {
        if let Some(url) = url {
            url::Url::parse(url).with_context(|| format!("log tiles URL {url:?}"))?;
            self.log_tiles = Some(url.trim_end_matches('/').to_owned());
        }
        Ok(self)
    }

    /// Where the log's tiles are read from, when they are.
    pub fn log_tiles(&self) -> Option<&str> {
        self.log_tiles.as_deref()
    }

    /// GETs the bytes at an absolute URL (a tile, a checkpoint), failing on any other status.
    pub async fn get_bytes(&self, url: &str) -> anyhow::Result<bytes::Bytes> {
        let response = self.http.get(url).send().await?;
        self.read_body(expect_success(response).await?).await
    }

    /// POSTs a text body to an API path; answers the status, content type and body (read
    /// within this client's bound), whatever the status.
    pub async fn post_text(
        &self,
        path: &str,
        body: String,
    ) -> anyhow::Result<(reqwest::StatusCode, String, bytes::Bytes)> {
        let response = self
            .request(reqwest::Method::POST, path)
            .header(reqwest::header::CONTENT_TYPE, "text/plain; charset=utf-8")
            .body(body)
            .send()
            .await?;
        let status = response.status();
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        Ok((status, content_type, self.read_body(response).await?))
    }

    /// A response's whole body, within this client's bound if it has one.
    async fn read_body(&self, response: reqwest::Response) -> anyhow::Result<bytes::Bytes> {
        let Some(max_body) = self.max_body else {
            return Ok(response.bytes().await?);
        };
        let url = response.url().to_string();
        let mut body = bytes::BytesMut::new();
        let mut chunks = response.bytes_stream();
        while let Some(chunk) = futures::StreamExt::next(&mut chunks).await {
            let chunk = chunk?;
            anyhow::ensure!(
                body.len() + chunk.len() <= max_body,
                "{url} answered more than {max_body} bytes"
            );
            body.extend_from_slice(&chunk);
        }
        Ok(body.freeze())
    }

    /// The absolute URL of an API path.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A request with the bearer token attached when there is one.
    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let builder = self.http.request(method, self.url(path));
        match &self.token {
            Some(token) => builder.bearer_auth(token),
            None => builder,
        }
    }

    /// The read session this client reads a licensed file in, when it holds a token.
    ///
    /// Derived from the token and the file's digest, so that every run of
    /// `get` or `fetch` with the same token resumes the same session: a cut-off
    /// download completes without spending another of the order's downloads.
    pub fn read_session(&self, file: &Sha256Digest) -> Option<String> {
        use sha2::Digest as _;
        let token = self.token.as_ref()?;
        let digest = sha2::Sha256::new()
            .chain_update(b"shulian-read-session\n")
            .chain_update(token.as_bytes())
            .chain_update(b"\n")
            .chain_update(file.as_bytes())
            .finalize();
        Some(hex::encode(&digest[..16]))
    }

    /// The node's identity from `/.well-known/shulian-node`: its DID and its log's origin.
    pub async fn remote_node(&self) -> anyhow::Result<RemoteNode> {
        #[derive(serde::Deserialize)]
        struct Description {
            id: String,
            log: LogDescription,
        }
        #[derive(serde::Deserialize)]
        struct LogDescription {
            origin: String,
        }
        let description: Description = self.get_json("/.well-known/shulian-node").await?;
        Ok(RemoteNode {
            did: description.id.parse()?,
            log_origin: description.log.origin,
        })
    }

    /// GETs a JSON document.
    pub async fn get_json<T: DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        let response = self.request(reqwest::Method::GET, path).send().await?;
        let body = self.read_body(expect_success(response).await?).await?;
        serde_json::from_slice(&body).with_context(|| format!("{path}: not the JSON expected"))
    }
}

/// Who a node says it is; every signature it makes is checked against `did`.
pub struct RemoteNode {
    /// The node's `did:key`.
    pub did: crate::crypto::Did,
    /// Its transparency log's origin (the checkpoint key's name).
    pub log_origin: String,
}

/// Passes a successful response through; turns a failure into an error naming the node's problem.
pub async fn expect_success(response: reqwest::Response) -> anyhow::Result<reqwest::Response> {
    if response.status().is_success() {
        return Ok(response);
    }
    let status = response.status();
    let url = response.url().path().to_owned();
    let body: serde_json::Value = response.json().await.unwrap_or_default();
    let kind = body["type"]
        .as_str()
        .unwrap_or("unknown")
        .trim_start_matches("urn:shulian:problem:");
    let detail = body["detail"].as_str().unwrap_or("no detail");
    anyhow::bail!("{url}: {status} {kind}: {detail}")
}

/// A progress bar for `total` bytes, hidden when not wanted.
pub fn byte_progress(
    bars: &indicatif::MultiProgress,
    total: u64,
    label: &str,
    visible: bool,
) -> indicatif::ProgressBar {
    if !visible {
        return indicatif::ProgressBar::hidden();
    }
    let bar = bars.add(indicatif::ProgressBar::new(total));
    let style =
        indicatif::ProgressStyle::with_template("{msg:24!} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {eta}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> ");
    bar.set_style(style);
    bar.set_message(label.to_owned());
    bar
}

/// SHA-256 of a local file, read in large blocks off the async threads.
pub async fn hash_file(
    path: &std::path::Path,
    bar: &indicatif::ProgressBar,
) -> anyhow::Result<crate::domain::Sha256Digest> {
    use sha2::Digest as _;
    use std::io::Read as _;
    let path = path.to_owned();
    let bar = bar.clone();
    tokio::task::spawn_blocking(move || {
        let mut file = std::fs::File::open(&path).with_context(|| format!("{}", path.display()))?;
        let mut hasher = sha2::Sha256::new();
        let mut buffer = vec![0u8; 1024 * 1024];
        loop {
            let read = file.read(&mut buffer)?;
            if read == 0 {
                break;
            }
            hasher.update(&buffer[..read]);
            bar.inc(read as u64);
        }
        Ok(crate::domain::Sha256Digest::from_bytes(hasher.finalize().into()))
    })
    .await?
}
