//! The `shulian` command line: parse, then run one subcommand.
//!
//! Every command that prints a result takes `--json`; failures go to stderr
//! and exit non-zero.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use serde::Serialize;

use crate::app::{App, shutdown_signal};
use crate::blobs::BlobStore;
use crate::client::{NodeClient, demand, evidence, fetch, get, order, publish, resolve};
use crate::config::{Config, LogFormat, Settings};
use crate::crypto::{Did, KeyPair};
use crate::domain::PublisherId;
use crate::service::{accounts, audit, demo, gc, network};
use crate::store;

/// shulian (数联): a node of the Internet of Data.
#[derive(Parser)]
#[command(name = "shulian", version, about)]
pub struct Cli {
    /// Configuration file [default: ./shulian.toml when it exists].
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the node.
    Serve {
        #[command(flatten)]
        settings: Settings,
        /// Publish the demo catalog (CATALOG_DIR) on start; unchanged datasets are left as they are.
        #[arg(long)]
        demo: bool,
        /// Start even though the node key and the database do not belong together (a missing
        /// database under an existing key, a missing or different key over an existing log),
        /// recording the key as the node's identity from now on.
        #[arg(long)]
        reinitialize: bool,
    },
    /// Print every setting with its value and default, as TOML.
    PrintConfig {
        #[command(flatten)]
        settings: Settings,
    },
    /// Administer the node's database directly.
    Admin {
        #[command(subcommand)]
        action: AdminCommand,
    },
    /// Delete blobs no version references (idempotent).
    Gc {
        #[command(flatten)]
        settings: Settings,
        /// Leave objects younger than this alone (e.g. 30m, 1h, 2d).
        #[arg(long, default_value = "1h", value_parser = parse_duration)]
        grace: Duration,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Check the database against the log and the signatures; non-zero exit on any inconsistency.
    Audit {
        #[command(flatten)]
        settings: Settings,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Publish a Data Package folder as the next version of its dataset.
    Publish {
        /// Folder holding datapackage.json and the files it lists.
        dir: PathBuf,
        /// The node's base URL.
        #[arg(long, env = "SHULIAN_NODE")]
        node: String,
        /// A publisher token from `shulian admin add-publisher`.
        #[arg(long, env = "SHULIAN_TOKEN", hide_env_values = true)]
        token: String,
        /// Files larger than this many MiB go in parts of this size, so an interrupted
        /// upload resumes inside them [default: 64].
        #[arg(long)]
        part_mib: Option<u64>,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Download a version of an open dataset, resuming and verifying every file.
    Get {
        /// DATASET or DATASET@VERSION at --node; or an identifier [hdl:]PREFIX/DATASET[@VERSION],
        /// which --node resolves and which is downloaded from the node holding it, once that
        /// node proves to be the one the resolver knows.
        target: String,
        /// The node's base URL.
        #[arg(long, env = "SHULIAN_NODE")]
        node: String,
        /// Where to put the files [default: ./DATASET].
        #[arg(long)]
        out: Option<PathBuf>,
        /// Read the log's checkpoint and proofs from C2SP tiles at this URL (the node's
        /// `/log`, or a mirror of it) instead of its JSON proof API.
        #[arg(long)]
        log_tiles: Option<String>,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Download an agreed order's files, acknowledge its receipts and save the evidence bundle.
    Fetch {
        /// The order folder written by `shulian order`, or the order id (folder ./order-ID).
        order: String,
        /// The buyer's key file.
        #[arg(long)]
        key: PathBuf,
        /// The node's base URL [default: the node the order folder says it was placed at].
        #[arg(long, env = "SHULIAN_NODE")]
        node: Option<String>,
        /// Where to put the files and evidence.json.
        #[arg(long)]
        out: PathBuf,
        /// Read the log's checkpoint and proofs from C2SP tiles at this URL (the node's
        /// `/log`, or a mirror of it) instead of its JSON proof API.
        #[arg(long)]
        log_tiles: Option<String>,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Verify an evidence bundle offline: signatures, receipts' log inclusion, files' sha256.
    Verify {
        /// The evidence.json written by `shulian fetch`.
        bundle: PathBuf,
        /// Check the delivered files in this folder against their receipts.
        #[arg(long)]
        files: Option<PathBuf>,
        /// Also prove the node's current log extends an earlier checkpoint.
        #[arg(long)]
        node: Option<String>,
        /// The earlier checkpoint (a saved note) [default: the bundle's].
        #[arg(long, requires = "node")]
        since: Option<PathBuf>,
        /// Read the log's checkpoint and proofs from C2SP tiles at this URL (the node's
        /// `/log`, or a mirror of it) instead of its JSON proof API.
        #[arg(long, requires = "node")]
        log_tiles: Option<String>,
        /// A witness trusted to have checked the node shows everyone one log: its cosigner
        /// key (`witness.verifierKey` of its /.well-known/shulian-node). Repeatable.
        #[arg(long = "witness", value_name = "KEY")]
        witnesses: Vec<String>,
        /// How many of the witnesses given must have cosigned the bundle's checkpoint
        /// [default: all of them].
        #[arg(long, requires = "witnesses")]
        min_witnesses: Option<usize>,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Make an Ed25519 key; its did:key is the buyer's identity.
    Keygen {
        /// Where to write the key (W3C Multikey JSON, mode 0600); never overwritten.
        #[arg(long)]
        out: PathBuf,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Post a demand on a node's board (需求广场), signed with KEY; with --award, a
    /// challenge (揭榜挂帅), which the node takes only signed with its own key file.
    Demand {
        /// The poster's key file from `shulian keygen` (for a challenge: the node's key file).
        #[arg(long)]
        key: PathBuf,
        /// What data is wanted, in Chinese.
        #[arg(long)]
        title: Option<String>,
        /// What data is wanted, in English.
        #[arg(long)]
        title_en: Option<String>,
        /// More about it (in the title's language).
        #[arg(long)]
        description: Option<String>,
        /// A field wanted (repeat for each).
        #[arg(long = "field", required = true)]
        fields: Vec<String>,
        /// The budget in yuan, e.g. 300 or 12.50.
        #[arg(long)]
        budget: String,
        /// A challenge's award in yuan.
        #[arg(long)]
        award: Option<String>,
        /// When answers stop: a date (its end, UTC) or an RFC 3339 time.
        #[arg(long)]
        deadline: String,
        /// How to reach the poster.
        #[arg(long)]
        contact: String,
        /// The node's base URL.
        #[arg(long, env = "SHULIAN_NODE")]
        node: String,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Order a licensed dataset version: sign an order inside its offer and place it.
    Order {
        /// DATASET or DATASET@VERSION at --node; or an identifier [hdl:]PREFIX/DATASET[@VERSION],
        /// which --node resolves (its own, or a peer's it harvested) and which is ordered at
        /// the node holding it, once that node proves to be the one the resolver knows.
        target: String,
        /// The buyer's key file from `shulian keygen`.
        #[arg(long)]
        key: PathBuf,
        /// The purpose, one of the offer's.
        #[arg(long)]
        purpose: String,
        /// The node's base URL.
        #[arg(long, env = "SHULIAN_NODE")]
        node: String,
        /// Days of validity [default: the offer's maximum].
        #[arg(long)]
        days: Option<u32>,
        /// Downloads per file [default: the offer's maximum].
        #[arg(long)]
        downloads: Option<u32>,
        /// Where to save the order, agreement and token [default: ./order-ID].
        #[arg(long)]
        out: Option<PathBuf>,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create a publisher; its token is the last line printed.
    AddPublisher {
        /// Display name, e.g. 北京市交通委员会.
        name: String,
        /// Publisher id [default: derived from NAME, or random when NAME is not Latin].
        #[arg(long)]
        id: Option<String>,
        #[command(flatten)]
        settings: Settings,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Add a peer node by its base URL, pinned to the key that signs its description
    /// (or contact a known peer again, which must still show its pinned key).
    AddPeer {
        /// The peer's base URL, e.g. https://city-node.example.
        url: String,
        /// The DID to pin [default: the one that signs the peer's description now].
        #[arg(long)]
        did: Option<String>,
        /// Also ask the peer to witness this node's log: to cosign its checkpoints, which
        /// the node then serves with them (C2SP tlog-witness).
        #[arg(long)]
        witness: bool,
        #[command(flatten)]
        settings: Settings,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Contact every peer now and harvest its catalog (a serving node does so every 5 minutes).
    CheckPeers {
        #[command(flatten)]
        settings: Settings,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Forget a peer node, its pinned key and what was harvested from it.
    RemovePeer {
        /// The peer's base URL, as added.
        url: String,
        #[command(flatten)]
        settings: Settings,
    },
}

/// The configuration and database of an operator command that works on the store directly.
async fn open_database(
    settings: Settings,
    config_file: Option<&std::path::Path>,
) -> anyhow::Result<(Config, std::sync::Arc<dyn store::Store>)> {
    init_logging(LogFormat::Text, "warn");
    let config = Config::load(settings, config_file)?;
    let store = store::connect(&config.database_url).await?;
    Ok((config, store))
}

/// Runs the parsed command; the exit code says whether it succeeded.
pub async fn run(cli: Cli) -> ExitCode {
    match dispatch(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn dispatch(cli: Cli) -> anyhow::Result<()> {
    let config_file = cli.config.as_deref();
    match cli.command {
        Command::Serve {
            settings,
            demo,
            reinitialize,
        } => {
            let mut config = Config::load(settings, config_file)?;
            config.reinitialize = reinitialize;
            init_logging(config.log_format, "info");
            serve(&config, demo).await
        }
        Command::PrintConfig { settings } => {
            print!("{}", Config::load(settings, config_file)?.annotated_toml());
            Ok(())
        }
        Command::Admin {
            action:
                AdminCommand::AddPeer {
                    url,
                    did,
                    witness,
                    settings,
                    json,
                },
        } => {
            let (_, store) = open_database(settings, config_file).await?;
            let did: Option<Did> = did.map(|did| did.parse()).transpose()?;
            let peer = network::add_peer(store.as_ref(), &url, did.as_ref(), witness).await?;
            print_result(json, &peer, || {
                let witnessing = if peer.witnesses_us {
                    ", witnessing this node's log"
                } else {
                    ""
                };
                format!("peer {} ({}) pinned to {}{witnessing}", peer.url, peer.name, peer.did)
            })
        }
        Command::Admin {
            action: AdminCommand::CheckPeers { settings, json },
        } => {
            let (_, store) = open_database(settings, config_file).await?;
            let peers = network::check_peers(store.as_ref()).await?;
            print_result(json, &peers, || {
                peers
                    .iter()
                    .map(|peer| match &peer.last_error {
                        Some(error) => format!("{} ({}): {error}", peer.url, peer.did),
                        None => match peer.harvested_through {
                            Some(through) => format!("{} ({}): ok, harvested through {through}", peer.url, peer.did),
                            None => format!("{} ({}): ok, its catalog is empty", peer.url, peer.did),
                        },
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            })
        }
        Command::Admin {
            action: AdminCommand::RemovePeer { url, settings },
        } => {
            let (_, store) = open_database(settings, config_file).await?;
            network::remove_peer(store.as_ref(), &url).await?;
            println!("peer {url} removed");
            Ok(())
        }
        Command::Admin {
            action:
                AdminCommand::AddPublisher {
                    name,
                    id,
                    settings,
                    json,
                },
        } => {
            let (_, store) = open_database(settings, config_file).await?;
            let id = match id {
                Some(id) => id.parse()?,
                None => id_from_name(&name),
            };
            let (publisher, token) = accounts::add_publisher(store.as_ref(), id, &name).await?;
            #[derive(Serialize)]
            struct Created<'a> {
                id: &'a str,
                name: &'a str,
                token: &'a str,
            }
            let created = Created {
                id: publisher.id.as_str(),
                name: &publisher.name,
                token: &token,
            };
            print_result(json, &created, || {
                format!(
                    "created publisher {} ({})\ntoken (shown once, keep it secret):\n{token}",
                    publisher.id, publisher.name
                )
            })
        }
        Command::Gc { settings, grace, json } => {
            let (config, store) = open_database(settings, config_file).await?;
            let blobs = BlobStore::open(&config.blob_url)?;
            let report = gc::collect_garbage(store.as_ref(), &blobs, grace).await?;
            print_result(json, &report, || {
                format!(
                    "removed {} unreferenced blobs and {} abandoned uploads; kept {} blobs",
                    report.removed_blobs, report.removed_staging, report.kept_blobs
                )
            })
        }
        Command::Audit { settings, json } => {
            let (config, store) = open_database(settings, config_file).await?;
            let node = KeyPair::load(&config.node_key_file)?.public().did();
            let report = audit::audit(store.as_ref(), &node).await?;
            print_result(json, &report, || {
                let mut lines = report.problems.clone();
                lines.push(format!(
                    "checked {} log entries and {} copies: {} problems",
                    report.entries_checked,
                    report.copies_checked,
                    report.problems.len()
                ));
                lines.join("\n")
            })?;
            if report.problems.is_empty() {
                Ok(())
            } else {
                anyhow::bail!("the audit found {} problems", report.problems.len())
            }
        }
        Command::Publish {
            dir,
            node,
            token,
            part_mib,
            json,
        } => {
            init_logging(LogFormat::Text, "warn");
            let client = NodeClient::new(&node, Some(token))?;
            let part_bytes = part_mib.map_or(publish::DEFAULT_PART_BYTES, |mib| mib.saturating_mul(1 << 20));
            let report = publish::publish_folder(&client, &dir, part_bytes, !json).await?;
            print_result(json, &report, || {
                let verb = if report.created { "published" } else { "unchanged:" };
                format!(
                    "{verb} {} version {} ({} files uploaded, {} already on the node)",
                    report.dataset, report.version, report.uploaded_files, report.skipped_files
                )
            })
        }
        Command::Fetch {
            order,
            key,
            node,
            out,
            log_tiles,
            json,
        } => {
            init_logging(LogFormat::Text, "warn");
            let key = KeyPair::load(&key)?;
            let folder = fetch::order_folder(&order);
            let node = match node {
                Some(node) => node,
                None => fetch::order_node(&folder)?,
            };
            let report = fetch::fetch(&node, log_tiles.as_deref(), &folder, &key, &out, !json).await?;
            print_result(json, &report, || {
                format!(
                    "fetched {} files of order {}; {} receipts, {} acknowledged; evidence in {}",
                    report.files.len(),
                    report.order_id,
                    report.receipts,
                    report.acknowledged,
                    report.evidence.display()
                )
            })
        }
        Command::Verify {
            bundle,
            files,
            node,
            since,
            log_tiles,
            witnesses,
            min_witnesses,
            json,
        } => {
            init_logging(LogFormat::Text, "warn");
            let witnesses = evidence::WitnessPolicy::new(&witnesses, min_witnesses)?;
            let evidence: evidence::Evidence = serde_json::from_slice(&std::fs::read(&bundle)?)?;
            let client = node
                .as_deref()
                .map(|url| NodeClient::new(url, None)?.with_log_tiles(log_tiles.as_deref()))
                .transpose()?;
            let since = since.map(std::fs::read_to_string).transpose()?;
            let consistency = client.as_ref().map(|node| evidence::ConsistencyCheck { node, since });
            let verified = evidence::verify(&evidence, files.as_deref(), consistency, &witnesses).await?;
            print_result(json, &verified, || {
                let consistency = verified
                    .consistent_to
                    .map(|size| format!("; the node's log (size {size}) extends it"))
                    .unwrap_or_default();
                let witnessed = match verified.witnessed_by.len() {
                    0 => String::new(),
                    count => format!("; cosigned by {count} trusted witnesses"),
                };
                format!(
                    "verified: {} receipts under checkpoint size {}, {} files{consistency}{witnessed}",
                    verified.receipts, verified.checkpoint_size, verified.files
                )
            })
        }
        Command::Keygen { out, json } => {
            let key = KeyPair::generate();
            key.save(&out)?;
            let did = key.did();
            print_result(json, &serde_json::json!({"did": did, "keyFile": out}), || {
                format!("wrote {}\n{did}", out.display())
            })
        }
        Command::Demand {
            key,
            title,
            title_en,
            description,
            fields,
            budget,
            award,
            deadline,
            contact,
            node,
            json,
        } => {
            init_logging(LogFormat::Text, "warn");
            anyhow::ensure!(title.is_some() || title_en.is_some(), "give --title or --title-en");
            let key = KeyPair::load(&key)?;
            let request = demand::DemandRequest {
                title: (title, title_en),
                description,
                fields,
                budget,
                award,
                deadline,
                contact,
            };
            let posted = demand::post_demand(&NodeClient::new(&node, None)?, &key, &request).await?;
            print_result(json, &posted, || {
                let id = posted["id"].as_str().unwrap_or_default();
                format!(
                    "{} {id} is {}: {}/demands/{id}\n{id}",
                    posted["kind"].as_str().unwrap_or("demand"),
                    posted["state"].as_str().unwrap_or_default(),
                    node.trim_end_matches('/'),
                )
            })
        }
        Command::Order {
            target,
            key,
            purpose,
            node,
            days,
            downloads,
            out,
            json,
        } => {
            init_logging(LogFormat::Text, "warn");
            let key = KeyPair::load(&key)?;
            let located = resolve::locate(&target, &node).await?;
            let request = order::OrderRequest {
                dataset: located.dataset,
                version: located.version,
                purpose,
                validity_days: days,
                max_downloads: downloads,
                holder: located.holder,
            };
            let report = order::place_order(&located.client, &key, &request, out.as_deref()).await?;
            print_result(json, &report, || {
                format!(
                    "order {} is {} ({} version {} at {}); order, agreement and token saved in {}\n{}",
                    report.order_id,
                    report.state,
                    report.dataset,
                    report.version,
                    report.node,
                    report.out.display(),
                    report.order_id
                )
            })
        }
        Command::Get {
            target,
            node,
            out,
            log_tiles,
            json,
        } => {
            init_logging(LogFormat::Text, "warn");
            let located = resolve::locate(&target, &node).await?;
            let out = out.unwrap_or_else(|| PathBuf::from(located.dataset.as_str()));
            let client = located.client.with_log_tiles(log_tiles.as_deref())?;
            let holder = located.holder.as_ref();
            let report = get::get_version(&client, &located.dataset, located.version, holder, &out, !json).await?;
            print_result(json, &report, || {
                let lines: Vec<String> = report
                    .files
                    .iter()
                    .map(|file| format!("{}  {}", file.sha256, report.out.join(&file.name).display()))
                    .collect();
                format!(
                    "{}\nverified {} files of {} version {}",
                    lines.join("\n"),
                    report.files.len(),
                    report.dataset,
                    report.version
                )
            })
        }
    }
}

async fn serve(config: &Config, load_demo: bool) -> anyhow::Result<()> {
    let app = App::build(config).await?;
    if load_demo {
        let count = demo::load_demo_catalog(app.context(), &config.catalog_dir).await?;
        tracing::info!(datasets = count, dir = %config.catalog_dir.display(), "demo catalog loaded");
    }
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    let doip = match config.doip_listen {
        Some(address) => {
            let doip_listener = tokio::net::TcpListener::bind(address).await?;
            let host = url::Url::parse(&config.public_url)?
                .host_str()
                .unwrap_or("localhost")
                .to_owned();
            let tls = crate::doip::self_signed_acceptor(&host)?;
            tracing::info!(listen = %doip_listener.local_addr()?, "DOIP served over TLS");
            Some(tokio::spawn(crate::doip::serve(
                doip_listener,
                app.context().clone(),
                tls,
            )))
        }
        None => None,
    };
    tracing::info!(
        listen = %listener.local_addr()?,
        node = %app.context().node.key.did(),
        database = %config.redacted_database_url(),
        blobs = %config.blob_url,
        "shulian node serving"
    );
    app.serve(listener, shutdown_signal()).await?;
    if let Some(doip) = doip {
        doip.abort();
    }
    Ok(())
}

fn print_result<T: Serialize>(json: bool, value: &T, human: impl FnOnce() -> String) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(value)?);
    } else {
        println!("{}", human());
    }
    Ok(())
}

fn init_logging(format: LogFormat, default_level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

/// A publisher id from a display name: its Latin letters and digits, else a random id.
fn id_from_name(name: &str) -> PublisherId {
    let slug: String = name
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect::<String>()
        .split('-')
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join("-");
    slug.parse().unwrap_or_else(|_| {
        let random = uuid::Uuid::new_v4().simple().to_string();
        format!("pub-{}", &random[..8])
            .parse()
            .unwrap_or_else(|_| unreachable!("a hex suffix is a valid id"))
    })
}

/// Parses `90s`, `30m`, `1h`, `2d` (a bare number is seconds).
fn parse_duration(text: &str) -> Result<Duration, String> {
    let (number, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len()));
    let value: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration like 30m or 1h"))?;
    let seconds = match unit {
        "" | "s" => value,
        "m" => value * 60,
        "h" => value * 3600,
        "d" => value * 86400,
        _ => return Err(format!("unknown unit {unit:?}: use s, m, h or d")),
    };
    Ok(Duration::from_secs(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_ids_parse() {
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert!(parse_duration("1w").is_err());
        assert!(parse_duration("h").is_err());
        assert_eq!(id_from_name("Beijing Transport 委员会").as_str(), "beijing-transport");
        assert!(id_from_name("北京市交通委").as_str().starts_with("pub-"));
    }

    #[test]
    fn the_command_line_is_well_formed() {
        use clap::CommandFactory as _;
        Cli::command().debug_assert();
    }
}
