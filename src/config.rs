//! The node's configuration: defaults < `shulian.toml` < `SHULIAN_*` environment < flags.
//!
//! Loaded once at start-up into [`Config`]; nothing else reads the
//! environment. Secrets (a database password) are redacted wherever the
//! configuration is printed.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::domain::handle::HandlePrefix;

/// Settings a config file may hold; every one is optional there.
#[derive(Debug, Default, Deserialize, clap::Args)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "SHULIAN_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Address of the native DOIP listener (DOIP v2.0 over TLS) [default: none, not served].
    #[arg(long, env = "SHULIAN_DOIP_LISTEN")]
    pub doip_listen: Option<SocketAddr>,
    /// Directory for the embedded database, blobs and node key [default: ./data].
    #[arg(long, env = "SHULIAN_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Database URL, sqlite://… or postgres://… [default: sqlite://DATA_DIR/shulian.db].
    #[arg(long, env = "SHULIAN_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Blob store URL, file://…, s3://… or memory:// [default: file://DATA_DIR/blobs].
    #[arg(long, env = "SHULIAN_BLOB_URL")]
    pub blob_url: Option<String>,
    /// Base URL clients reach this node at [default: http://LISTEN].
    #[arg(long, env = "SHULIAN_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// The node's display name [default: shulian node].
    #[arg(long, env = "SHULIAN_NODE_NAME")]
    pub node_name: Option<String>,
    /// The node's Ed25519 key file, created on first start [default: DATA_DIR/node-key.json].
    #[arg(long, env = "SHULIAN_NODE_KEY_FILE")]
    pub node_key_file: Option<PathBuf>,
    /// The node's handle prefix, e.g. 86.1000.zs [default: sl. and 10 hex digits of the node key].
    #[arg(long, env = "SHULIAN_HANDLE_PREFIX")]
    pub handle_prefix: Option<String>,
    /// Largest accepted upload, in bytes [default: 17179869184 (16 GiB)].
    #[arg(long, env = "SHULIAN_MAX_UPLOAD_BYTES")]
    pub max_upload_bytes: Option<u64>,
    /// Time limit for API requests other than uploads and downloads, in seconds [default: 30].
    #[arg(long, env = "SHULIAN_REQUEST_TIMEOUT_SECS")]
    pub request_timeout_secs: Option<u64>,
    /// Log format, text or json [default: text].
    #[arg(long, env = "SHULIAN_LOG_FORMAT")]
    pub log_format: Option<LogFormat>,
    /// Directory of the demo catalog loaded by `serve --demo` [default: ./catalog].
    #[arg(long, env = "SHULIAN_CATALOG_DIR")]
    pub catalog_dir: Option<PathBuf>,
    /// Directory of this replica's search index, or `memory` [default: DATA_DIR/search].
    #[arg(long, env = "SHULIAN_SEARCH_INDEX")]
    pub search_index: Option<String>,
    /// Derive a Parquet copy of each published CSV file and list it in the manifest [default: true].
    #[arg(long, env = "SHULIAN_CSV_TO_PARQUET")]
    pub csv_to_parquet: Option<bool>,
    /// Most columns a table may have to be inspected [default: 1000].
    #[arg(long, env = "SHULIAN_TABLE_MAX_COLUMNS")]
    pub table_max_columns: Option<usize>,
    /// Time limit for inspecting one published file, seconds [default: 300].
    #[arg(long, env = "SHULIAN_TABLE_INSPECT_SECS")]
    pub table_inspect_secs: Option<u64>,
    /// Most rows one preview returns [default: 1000].
    #[arg(long, env = "SHULIAN_PREVIEW_MAX_ROWS")]
    pub preview_max_rows: Option<usize>,
    /// Most bytes of a file one preview may read [default: 67108864 (64 MiB)].
    #[arg(long, env = "SHULIAN_PREVIEW_MAX_READ_BYTES")]
    pub preview_max_read_bytes: Option<u64>,
    /// Most bytes of log entries one `GET /api/v1/log/entries` returns (at least one entry) [default: 1048576 (1 MiB)].
    #[arg(long, env = "SHULIAN_LOG_PAGE_MAX_BYTES")]
    pub log_page_max_bytes: Option<u64>,
    /// Writes (orders, acknowledgements, decisions, uploads, publishes) one client address, and
    /// one credential, may make per minute; 0 turns the limit off [default: 120].
    #[arg(long, env = "SHULIAN_WRITES_PER_MINUTE")]
    pub writes_per_minute: Option<u32>,
    /// Writes a client may make at once before the per-minute rate applies [default: 30].
    #[arg(long, env = "SHULIAN_WRITE_BURST")]
    pub write_burst: Option<u32>,
    /// Most open connections from one client address [default: 64].
    #[arg(long, env = "SHULIAN_MAX_CONNECTIONS_PER_ADDRESS")]
    pub max_connections_per_address: Option<usize>,
    /// Time a client has to send a request's headers, seconds [default: 10].
    #[arg(long, env = "SHULIAN_HEADER_READ_TIMEOUT_SECS")]
    pub header_read_timeout_secs: Option<u64>,
}

/// How request logs are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// The resolved configuration.
#[derive(Clone)]
pub struct Config {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Address of the native DOIP listener, if it is served.
    pub doip_listen: Option<SocketAddr>,
    /// Directory for embedded state.
    pub data_dir: PathBuf,
    /// Database URL (may hold a password: print with [`Config::redacted_database_url`]).
    pub database_url: String,
    /// Blob store URL.
    pub blob_url: String,
    /// Base URL clients reach this node at, without a trailing slash.
    pub public_url: String,
    /// The node's display name.
    pub node_name: String,
    /// The node key file.
    pub node_key_file: PathBuf,
    /// The handle prefix configured; `None`: derived from the node key.
    pub handle_prefix: Option<HandlePrefix>,
    /// Largest accepted upload in bytes.
    pub max_upload_bytes: u64,
    /// Whether published CSV files get a derived Parquet copy.
    pub csv_to_parquet: bool,
    /// Most columns an inspected table may have.
    pub table_max_columns: usize,
    /// Time limit for inspecting one published file, seconds.
    pub table_inspect_secs: u64,
    /// Most rows one preview returns.
    pub preview_max_rows: usize,
    /// Most bytes of a file one preview may read.
    pub preview_max_read_bytes: u64,
    /// Most bytes of log entries one page returns.
    pub log_page_max_bytes: u64,
    /// Writes per minute per client address and per credential (0: unlimited).
    pub writes_per_minute: u32,
    /// Writes allowed at once before the rate applies.
    pub write_burst: u32,
    /// Most open connections from one client address.
    pub max_connections_per_address: usize,
    /// Time a client has to send a request's headers, seconds.
    pub header_read_timeout_secs: u64,
    /// Start even when the node key and the database do not belong together (`serve --reinitialize`).
    pub reinitialize: bool,
    /// Time limit for API requests other than transfers, in seconds.
    pub request_timeout_secs: u64,
    /// Log format.
    pub log_format: LogFormat,
    /// Demo catalog directory.
    pub catalog_dir: PathBuf,
    /// Directory of this replica's search index; `None` keeps it in memory (rebuilt at each start).
    pub search_index: Option<PathBuf>,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Config")
            .field("listen", &self.listen)
            .field("doip_listen", &self.doip_listen)
            .field("data_dir", &self.data_dir)
            .field("database_url", &self.redacted_database_url())
            .field("blob_url", &self.blob_url)
            .field("public_url", &self.public_url)
            .field("node_name", &self.node_name)
            .field("node_key_file", &self.node_key_file)
            .field("handle_prefix", &self.handle_prefix)
            .field("max_upload_bytes", &self.max_upload_bytes)
            .field("request_timeout_secs", &self.request_timeout_secs)
            .field("log_format", &self.log_format)
            .field("catalog_dir", &self.catalog_dir)
            .field("search_index", &self.search_index)
            .field("csv_to_parquet", &self.csv_to_parquet)
            .field("table_max_columns", &self.table_max_columns)
            .field("table_inspect_secs", &self.table_inspect_secs)
            .field("preview_max_rows", &self.preview_max_rows)
            .field("preview_max_read_bytes", &self.preview_max_read_bytes)
            .field("log_page_max_bytes", &self.log_page_max_bytes)
            .field("writes_per_minute", &self.writes_per_minute)
            .field("write_burst", &self.write_burst)
            .field("max_connections_per_address", &self.max_connections_per_address)
            .field("header_read_timeout_secs", &self.header_read_timeout_secs)
            .field("reinitialize", &self.reinitialize)
            .finish()
    }
}

/// The default upload limit: 16 GiB.
pub const DEFAULT_MAX_UPLOAD_BYTES: u64 = 16 * 1024 * 1024 * 1024;

impl Config {
    /// Resolves settings: `flags` (which clap already merged with the environment) over `file` over defaults.
    pub fn resolve(flags: Settings, file: Settings) -> anyhow::Result<Self> {
        let listen = flags
            .listen
            .or(file.listen)
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080)));
        let data_dir = flags
            .data_dir
            .or(file.data_dir)
            .unwrap_or_else(|| PathBuf::from("./data"));
        let database_url = flags
            .database_url
            .or(file.database_url)
            .unwrap_or_else(|| format!("sqlite://{}", data_dir.join("shulian.db").display()));
        let blob_url = match flags.blob_url.or(file.blob_url) {
            Some(url) => url,
            None => file_url(&data_dir.join("blobs"))?,
        };
        let public_url = flags
            .public_url
            .or(file.public_url)
            .unwrap_or_else(|| format!("http://{listen}"))
            .trim_end_matches('/')
            .to_owned();
        url::Url::parse(&public_url).map_err(|error| anyhow::anyhow!("public_url {public_url:?}: {error}"))?;
        Ok(Self {
            listen,
            doip_listen: flags.doip_listen.or(file.doip_listen),
            handle_prefix: flags
                .handle_prefix
                .or(file.handle_prefix)
                .map(|prefix| prefix.parse())
                .transpose()?,
            node_key_file: flags
                .node_key_file
                .or(file.node_key_file)
                .unwrap_or_else(|| data_dir.join("node-key.json")),
            search_index: match flags.search_index.or(file.search_index).as_deref() {
                Some("memory") => None,
                Some(directory) => Some(PathBuf::from(directory)),
                None => Some(data_dir.join("search")),
            },
            data_dir,
            database_url,
            blob_url,
            public_url,
            node_name: flags
                .node_name
                .or(file.node_name)
                .unwrap_or_else(|| "shulian node".into()),
            max_upload_bytes: flags
                .max_upload_bytes
                .or(file.max_upload_bytes)
                .unwrap_or(DEFAULT_MAX_UPLOAD_BYTES),
            request_timeout_secs: flags.request_timeout_secs.or(file.request_timeout_secs).unwrap_or(30),
            log_format: flags.log_format.or(file.log_format).unwrap_or_default(),
            catalog_dir: flags
                .catalog_dir
                .or(file.catalog_dir)
                .unwrap_or_else(|| PathBuf::from("./catalog")),
            csv_to_parquet: flags.csv_to_parquet.or(file.csv_to_parquet).unwrap_or(true),
            table_max_columns: flags.table_max_columns.or(file.table_max_columns).unwrap_or(1_000),
            table_inspect_secs: flags.table_inspect_secs.or(file.table_inspect_secs).unwrap_or(300),
            preview_max_rows: flags.preview_max_rows.or(file.preview_max_rows).unwrap_or(1_000),
            preview_max_read_bytes: flags
                .preview_max_read_bytes
                .or(file.preview_max_read_bytes)
                .unwrap_or(64 << 20),
            log_page_max_bytes: flags.log_page_max_bytes.or(file.log_page_max_bytes).unwrap_or(1 << 20),
            writes_per_minute: flags.writes_per_minute.or(file.writes_per_minute).unwrap_or(120),
            write_burst: flags.write_burst.or(file.write_burst).unwrap_or(30).max(1),
            max_connections_per_address: flags
                .max_connections_per_address
                .or(file.max_connections_per_address)
                .unwrap_or(64)
                .max(1),
            header_read_timeout_secs: flags
                .header_read_timeout_secs
                .or(file.header_read_timeout_secs)
                .unwrap_or(10)
                .max(1),
            reinitialize: false,
        })
    }

    /// Loads `path` (or `./shulian.toml` when it exists) and resolves it under `flags`.
    pub fn load(flags: Settings, path: Option<&Path>) -> anyhow::Result<Self> {
        let default_path = Path::new("shulian.toml");
        let path = path.or_else(|| default_path.exists().then_some(default_path));
        let file = match path {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|error| anyhow::anyhow!("config file {}: {error}", path.display()))?;
                toml::from_str(&text).map_err(|error| anyhow::anyhow!("config file {}: {error}", path.display()))?
            }
            None => Settings::default(),
        };
        Self::resolve(flags, file)
    }

    /// The database URL with any password replaced by `***`.
    pub fn redacted_database_url(&self) -> String {
        match url::Url::parse(&self.database_url) {
            Ok(mut parsed) if parsed.password().is_some() => {
                let _ = parsed.set_password(Some("***"));
                parsed.to_string()
            }
            _ => self.database_url.clone(),
        }
    }

    /// Every setting as annotated TOML, as `shulian print-config` shows it.
    pub fn annotated_toml(&self) -> String {
        let quote = |text: &str| toml_string(text);
        let log_format = match self.log_format {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        };
        let lines = [
            (
                "address to listen on (default 127.0.0.1:8080)",
                format!("listen = {}", quote(&self.listen.to_string())),
            ),
            (
                "native DOIP listener, DOIP v2.0 over TLS with a self-signed certificate (default: not served)",
                match &self.doip_listen {
                    Some(address) => format!("doip_listen = {}", quote(&address.to_string())),
                    None => "# doip_listen = \"127.0.0.1:9000\"".to_owned(),
                },
            ),
            (
                "directory for the embedded database, blobs and key (default ./data)",
                format!("data_dir = {}", quote(&self.data_dir.display().to_string())),
            ),
            (
                "sqlite://… or postgres://… (default sqlite://DATA_DIR/shulian.db); password redacted",
                format!("database_url = {}", quote(&self.redacted_database_url())),
            ),
            (
                "file://…, s3://… or memory:// (default file://DATA_DIR/blobs); S3 settings from AWS_* variables",
                format!("blob_url = {}", quote(&self.blob_url)),
            ),
            (
                "base URL clients reach this node at (default http://LISTEN)",
                format!("public_url = {}", quote(&self.public_url)),
            ),
            (
                "display name (default \"shulian node\")",
                format!("node_name = {}", quote(&self.node_name)),
            ),
            (
                "Ed25519 key file, created on first start (default DATA_DIR/node-key.json)",
                format!("node_key_file = {}", quote(&self.node_key_file.display().to_string())),
            ),
            (
                "handle prefix of this node's dataset identifiers (default sl. and 10 hex digits of the node key)",
                match &self.handle_prefix {
                    Some(prefix) => format!("handle_prefix = {}", quote(prefix.as_str())),
                    None => "# handle_prefix = \"86.1000.zs\"".to_owned(),
                },
            ),
            (
                "largest accepted upload in bytes (default 17179869184 = 16 GiB)",
                format!("max_upload_bytes = {}", self.max_upload_bytes),
            ),
            (
                "time limit of API requests other than transfers, seconds (default 30)",
                format!("request_timeout_secs = {}", self.request_timeout_secs),
            ),
            (
                "text or json (default text)",
                format!("log_format = {}", quote(log_format)),
            ),
            (
                "demo catalog loaded by `serve --demo` (default ./catalog)",
                format!("catalog_dir = {}", quote(&self.catalog_dir.display().to_string())),
            ),
            (
                "this replica's search index directory, or \"memory\" (default DATA_DIR/search)",
                format!(
                    "search_index = {}",
                    quote(
                        &self
                            .search_index
                            .as_ref()
                            .map_or("memory".into(), |path| path.display().to_string())
                    )
                ),
            ),
            (
                "derive a Parquet copy of each published CSV file (default true)",
                format!("csv_to_parquet = {}", self.csv_to_parquet),
            ),
            (
                "most columns an inspected table may have (default 1000)",
                format!("table_max_columns = {}", self.table_max_columns),
            ),
            (
                "time limit for inspecting one published file, seconds (default 300)",
                format!("table_inspect_secs = {}", self.table_inspect_secs),
            ),
            (
                "most rows one preview returns (default 1000)",
                format!("preview_max_rows = {}", self.preview_max_rows),
            ),
            (
                "most bytes of a file one preview may read (default 67108864 = 64 MiB)",
                format!("preview_max_read_bytes = {}", self.preview_max_read_bytes),
            ),
            (
                "most bytes of log entries one page of GET /api/v1/log/entries holds, at least one entry (default 1048576 = 1 MiB)",
                format!("log_page_max_bytes = {}", self.log_page_max_bytes),
            ),
            (
                "writes (orders, acknowledgements, decisions, uploads, publishes) per minute per client address and per credential; 0 = off (default 120)",
                format!("writes_per_minute = {}", self.writes_per_minute),
            ),
            (
                "writes a client may make at once before the per-minute rate applies (default 30)",
                format!("write_burst = {}", self.write_burst),
            ),
            (
                "most open connections from one client address (default 64)",
                format!("max_connections_per_address = {}", self.max_connections_per_address),
            ),
            (
                "time a client has to send a request's headers, seconds (default 10)",
                format!("header_read_timeout_secs = {}", self.header_read_timeout_secs),
            ),
        ];
        let mut out =
            String::from("# shulian configuration: defaults < shulian.toml < SHULIAN_<NAME> environment < --flags\n");
        for (comment, line) in lines {
            out.push_str(&format!("\n# {comment}\n{line}\n"));
        }
        out
    }
}

fn toml_string(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_default()
}

fn file_url(path: &Path) -> anyhow::Result<String> {
    let absolute = std::path::absolute(path)?;
    url::Url::from_file_path(&absolute)
        .map(String::from)
        .map_err(|()| anyhow::anyhow!("cannot express {} as a file URL", absolute.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_beat_file_which_beats_defaults() {
        let file: Settings = toml::from_str("node_name = \"文件\"\nmax_upload_bytes = 10\n").expect("toml");
        let flags = Settings {
            node_name: Some("flag".into()),
            ..Settings::default()
        };
        let config = Config::resolve(flags, file).expect("config");
        assert_eq!(config.node_name, "flag");
        assert_eq!(config.max_upload_bytes, 10);
        assert_eq!(config.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(config.public_url, "http://127.0.0.1:8080");
        assert!(config.database_url.starts_with("sqlite://"));
    }

    #[test]
    fn passwords_never_print() {
        let flags = Settings {
            database_url: Some("postgres://app:s3cret@db/shulian".into()),
            ..Settings::default()
        };
        let config = Config::resolve(flags, Settings::default()).expect("config");
        assert!(!config.annotated_toml().contains("s3cret"));
        assert!(!format!("{config:?}").contains("s3cret"));
        let reparsed: Settings = toml::from_str(&config.annotated_toml()).expect("print-config output is valid TOML");
        assert_eq!(reparsed.node_name.as_deref(), Some("shulian node"));
    }

    #[test]
    fn unknown_settings_are_refused() {
        assert!(toml::from_str::<Settings>("lisen = \"x\"").is_err());
    }
}
