//! The Delta Sharing protocol over the catalog: tables, their versions and their change data feed.
//!
//! Mapping: a **share** is a publisher, a **schema** is one of its datasets, a
//! **table** is a Parquet file of a dataset version (a CSV file is shared
//! through the Parquet copy the node derived from it), named after the file
//! without its extension, `/` and `.` becoming `_`. A table's **version** is
//! the dataset version.
//!
//! Two kinds of recipients: anyone holding the public open-data profile sees
//! every open dataset; the holder of an order's profile (its token) sees the
//! ordered version of that one dataset. Files are handed out as URLs readers
//! fetch without credentials: open files at their public address, licensed
//! files through short-lived tickets the node signs, so each read is still a
//! delivery under the order and yields its receipts.

use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::catalog::{file_url, not_found};
use super::tables::{self, table_format};
use super::{Context, accounts, deliveries, grants, search};
use crate::crypto::ticket;
use crate::domain::SearchFilter;
use crate::domain::{AccessClass, DatasetId, Facet, FileEntry, FileName, PublisherId, ReadSessionId, VersionNumber};
use crate::error::AppError;
use crate::store::{DatasetFilter, OrderGrant, VersionRecord, VersionSummary};
use crate::tabular::{TableFormat, TableProfile};

/// The bearer token of the public open-data profile; it grants nothing an anonymous download does not.
pub const OPEN_DATA_TOKEN: &str = "shulian-open-data";

/// Where the protocol is served, below the node's public URL.
pub const SHARING_PATH: &str = "/delta-sharing";

/// How long a licensed file URL stays valid (never past the agreement).
const TICKET_LIFETIME_MINUTES: i64 = 60;

/// A Delta Sharing profile file (`*.share`).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SharingProfile {
    /// Always 1.
    pub share_credentials_version: u32,
    /// The sharing server's URL.
    pub endpoint: String,
    /// The recipient's bearer token.
    pub bearer_token: String,
    /// When the token stops working, if it does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expiration_time: Option<String>,
}

/// The profile for `token`, expiring at `until`.
pub fn profile(ctx: &Context, token: &str, until: Option<DateTime<Utc>>) -> SharingProfile {
    SharingProfile {
        share_credentials_version: 1,
        endpoint: format!("{}{SHARING_PATH}", ctx.node.public_url),
        bearer_token: token.to_owned(),
        expiration_time: until.map(|until| until.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
    }
}

/// Who is asking.
#[derive(Debug, Clone)]
pub enum Recipient {
    /// The holder of the public open-data profile.
    Public,
    /// The holder of an order's token.
    Buyer {
        /// The order's grant (boxed: a recipient is passed around by value, mostly public).
        grant: Box<OrderGrant>,
        /// The token's id, named in the tickets issued to it.
        token_id: String,
    },
}

/// Identifies the recipient from its bearer token.
pub async fn recipient(ctx: &Context, bearer: Option<&str>) -> Result<Recipient, AppError> {
    match bearer {
        None => Err(AppError::Unauthorized),
        Some(OPEN_DATA_TOKEN) => Ok(Recipient::Public),
        Some(token) => {
            let (token_id, _) =
                accounts::split_token(token, grants::ORDER_TOKEN_PREFIX).ok_or(AppError::Unauthorized)?;
            let token_id = token_id.to_owned();
            let grant = grants::grant_in_force(ctx, token).await?;
            Ok(Recipient::Buyer {
                grant: Box::new(grant),
                token_id,
            })
        }
    }
}

/// A table as listings show it.
#[derive(Debug, Clone, Serialize)]
pub struct TableName {
    /// The table.
    pub name: String,
    /// Its schema (dataset).
    pub schema: String,
    /// Its share (publisher).
    pub share: String,
}

/// The shares (publishers) a recipient sees, sorted.
pub async fn shares(ctx: &Context, recipient: &Recipient) -> Result<Vec<String>, AppError> {
    let mut shares: Vec<String> = match recipient {
        // The publisher facet of the open datasets: one grouped query, not a walk over the catalog.
        Recipient::Public => {
            let open = search::SearchRequest {
                filters: vec![SearchFilter::facet(Facet::Access, AccessClass::Open.as_str())],
                ..Default::default()
            };
            let (_, counts) = search::summary(ctx, &open).await?;
            counts
                .into_iter()
                .filter(|count| count.facet == Facet::Publisher)
                .map(|count| count.value)
                .collect()
        }
        Recipient::Buyer { grant, .. } => {
            let (summary, _) = ctx
                .store
                .get_dataset(&grant.dataset)
                .await
                .map_err(|e| not_found(e, &grant.dataset))?;
            vec![summary.publisher.to_string()]
        }
    };
    shares.sort();
    Ok(shares)
}

/// The schemas (datasets) of a share a recipient sees, sorted.
pub async fn schemas(ctx: &Context, recipient: &Recipient, share: &str) -> Result<Vec<String>, AppError> {
    let publisher = known_share(ctx, recipient, share).await?;
    Ok(match recipient {
        Recipient::Public => open_datasets(ctx, publisher)
            .await?
            .iter()
            .map(ToString::to_string)
            .collect(),
        Recipient::Buyer { grant, .. } => vec![grant.dataset.to_string()],
    })
}

/// The tables of one schema, or of every schema of the share.
pub async fn tables(
    ctx: &Context,
    recipient: &Recipient,
    share: &str,
    schema: Option<&str>,
) -> Result<Vec<TableName>, AppError> {
    let datasets = match schema {
        Some(schema) => vec![schema.to_owned()],
        None => schemas(ctx, recipient, share).await?,
    };
    let mut listed = Vec::new();
    for dataset in datasets {
        let shared = shared_dataset(ctx, share, &dataset).await?;
        let record = resolve(ctx, recipient, &shared, TableVersion::Newest).await?;
        for table in version_tables(ctx, &record).await? {
            listed.push(TableName {
                name: table.name,
                schema: dataset.clone(),
                share: share.to_owned(),
            });
        }
    }
    Ok(listed)
}

/// A moment in a table's history that a request names by time.
#[derive(Debug, Clone, Copy)]
pub enum TimeTravel {
    /// The table as of this time: its newest version published at or before it.
    AsOf(DateTime<Utc>),
    /// The first version published at or after this time.
    Since(DateTime<Utc>),
}

impl TimeTravel {
    /// Parses a protocol timestamp (ISO 8601 with its offset, e.g. `2026-01-02T03:04:05Z`).
    ///
    /// PROTOCOL.md's own format, `yyyy-[m]m-[d]d hh:mm:ss[.f...]` without an offset, is
    /// read in the server's time zone, which for this node is UTC.
    pub fn parse(field: &str, text: &str, wrap: fn(DateTime<Utc>) -> Self) -> Result<Self, AppError> {
        DateTime::parse_from_rfc3339(text)
            .map(|time| time.with_timezone(&Utc))
            .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f").map(|time| time.and_utc()))
            .map(wrap)
            .map_err(|_| {
                AppError::InvalidRequest(format!(
                    "{field}: {text:?} is neither an ISO 8601 time with its offset nor yyyy-mm-dd hh:mm:ss (UTC)"
                ))
            })
    }
}

/// Which version of a table a request asks for.
#[derive(Debug, Clone, Copy)]
pub enum TableVersion {
    /// The newest the recipient may read.
    Newest,
    /// This number.
    Number(u32),
    /// The one a time names.
    At(TimeTravel),
}

/// The version of `schema` that `when` names among its `versions` (newest first): a
/// dataset version is a table version, published at its publication time.
fn version_at(schema: &str, versions: &[VersionSummary], when: TimeTravel) -> Result<VersionNumber, AppError> {
    let found = match when {
        TimeTravel::AsOf(time) => versions.iter().find(|version| version.published_at <= time),
        TimeTravel::Since(time) => versions.iter().rev().find(|version| version.published_at >= time),
    };
    found.map(|version| version.version).ok_or_else(|| {
        AppError::InvalidRequest(match when {
            TimeTravel::AsOf(time) => format!("timestamp: {schema} had no version yet at {time}"),
            TimeTravel::Since(time) => format!("startingTimestamp: {schema} has no version since {time}"),
        })
    })
}

/// A shared table of one version.
#[derive(Debug, Clone)]
pub struct SharedTable {
    /// Its name.
    pub name: String,
    /// The Parquet file holding it.
    pub file: FileEntry,
    /// What inspection found.
    pub profile: TableProfile,
}

/// A table at a version, ready to describe or read.
#[derive(Debug, Clone)]
pub struct TableAtVersion {
    /// The dataset (the schema).
    pub dataset: DatasetId,
    /// The dataset version.
    pub version: VersionNumber,
    /// A stable id of the table across versions.
    pub id: String,
    /// The table.
    pub table: SharedTable,
    /// The Spark schema string.
    pub schema_string: String,
    /// When the version was published: the table version's commit time.
    pub published_at: DateTime<Utc>,
}

/// Finds a table at the version asked for, within what the recipient may read.
pub async fn table(
    ctx: &Context,
    recipient: &Recipient,
    share: &str,
    schema: &str,
    name: &str,
    asked: TableVersion,
) -> Result<TableAtVersion, AppError> {
    let shared = shared_dataset(ctx, share, schema).await?;
    table_in(ctx, recipient, &shared, name, asked).await
}

/// [`table`] in a dataset already read.
async fn table_in(
    ctx: &Context,
    recipient: &Recipient,
    shared: &SharedDataset<'_>,
    name: &str,
    asked: TableVersion,
) -> Result<TableAtVersion, AppError> {
    let record = resolve(ctx, recipient, shared, asked).await?;
    let table = named_table(ctx, &record, name).await?.ok_or_else(|| {
        AppError::NotFound(format!(
            "no table {name} in {}.{} version {}",
            shared.share, shared.schema, record.summary.version
        ))
    })?;
    // An order whose downloads of the file are used up is refused here, with the reason,
    // rather than handed file URLs that would all be refused.
    if let Recipient::Buyer { grant, .. } = recipient {
        deliveries::ensure_downloads_left(ctx, grant, &table.file, &ReadSessionId::generate()).await?;
    }
    let schema_string = table.profile.spark_schema.clone().ok_or_else(|| {
        AppError::NotFound(format!(
            "table {} has column types Delta Sharing cannot describe",
            table.name
        ))
    })?;
    Ok(TableAtVersion {
        dataset: shared.dataset.clone(),
        version: record.summary.version,
        id: table_id(shared.dataset.as_str(), &table.name),
        table,
        schema_string,
        published_at: record.summary.published_at,
    })
}

/// Most versions one change request spans: each is read and its table found.
pub const MAX_CHANGE_VERSIONS: usize = 100;

/// What a data change file does to the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    /// The file joined the table: its rows were inserted.
    Add,
    /// The file left the table: its rows were deleted.
    Remove,
}

/// One data change file of a change request.
#[derive(Debug, Clone)]
pub struct TableChange {
    /// Added or removed.
    pub kind: ChangeKind,
    /// The table version the change belongs to.
    pub version: VersionNumber,
    /// When that version was published: the change's commit time.
    pub published_at: DateTime<Utc>,
    /// The version holding the file (for a removal, the one before `version`).
    pub file_version: VersionNumber,
    /// The file.
    pub table: SharedTable,
}

/// The changes of a table over a range of versions.
#[derive(Debug, Clone)]
pub struct TableChanges {
    /// The table at the range's last version; its metadata describes every change.
    pub last: TableAtVersion,
    /// The range's first version.
    pub first: VersionNumber,
    /// The data change files, in version order.
    pub changes: Vec<TableChange>,
}

/// The change data feed of a table from `start` to `end`, both inclusive (`end` newest
/// when not given). A dataset version is a table version whose file replaces the
/// previous version's, so a version whose file differs from its predecessor's removes
/// that file and adds its own. A buyer's history is the one version the order covers,
/// whose file it adds. The range must keep one schema: the answer has one metadata line.
pub async fn changes(
    ctx: &Context,
    recipient: &Recipient,
    share: &str,
    schema: &str,
    name: &str,
    start: TableVersion,
    end: TableVersion,
) -> Result<TableChanges, AppError> {
    let shared = shared_dataset(ctx, share, schema).await?;
    let (dataset, versions) = (&shared.dataset, &shared.versions);
    let newest = versions
        .first()
        .map(|version| version.version)
        .ok_or_else(|| AppError::NotFound(format!("no schema {schema} in share {share}")))?;
    let bound = |asked: TableVersion, field: &str| match asked {
        TableVersion::Newest => Err(AppError::InvalidRequest(format!(
            "{field}Version or {field}Timestamp is required"
        ))),
        TableVersion::Number(number) => Ok(VersionNumber::try_from(number)?),
        TableVersion::At(when) => version_at(schema, versions, when),
    };
    let first = bound(start, "starting")?;
    let last = match (end, recipient) {
        (TableVersion::Newest, Recipient::Public) => newest,
        (TableVersion::Newest, Recipient::Buyer { grant, .. }) => grant.version,
        (asked, _) => bound(asked, "ending")?,
    };
    if last > newest {
        return Err(AppError::InvalidRequest(format!(
            "endingVersion: {schema} has no version {last}; its newest is {newest}"
        )));
    }
    if first > last {
        return Err(AppError::InvalidRequest(format!(
            "the range starts at version {first}, after its end, version {last}"
        )));
    }
    if let Recipient::Buyer { grant, .. } = recipient
        && (first, last) != (grant.version, grant.version)
    {
        return Err(AppError::Forbidden(format!(
            "the order covers version {} of {dataset} only: ask for the changes from and to it",
            grant.version
        )));
    }
    // Oldest first; the version before the range is read too, for what the first one replaced.
    let spanned: Vec<&VersionSummary> = versions
        .iter()
        .rev()
        .skip_while(|version| version.version < first)
        .take_while(|version| version.version <= last)
        .collect();
    if spanned.len() > MAX_CHANGE_VERSIONS {
        return Err(AppError::InvalidRequest(format!(
            "the range spans {} versions; ask for at most {MAX_CHANGE_VERSIONS} at a time",
            spanned.len()
        )));
    }
    let described = table_in(ctx, recipient, &shared, name, TableVersion::Number(last.get())).await?;
    if let Recipient::Buyer { .. } = recipient {
        let change = TableChange {
            kind: ChangeKind::Add,
            version: last,
            published_at: described.published_at,
            file_version: last,
            table: described.table.clone(),
        };
        return Ok(TableChanges {
            last: described,
            first,
            changes: vec![change],
        });
    }
    // Every file of the answer is read with the last version's schema.
    let one_schema = |version: VersionNumber, table: Option<SharedTable>| match table {
        Some(table) if table.profile.spark_schema.as_deref() != Some(described.schema_string.as_str()) => {
            Err(AppError::InvalidRequest(format!(
                "table {name} has other columns at version {version} than at {last}: ask for a range with one schema"
            )))
        }
        table => Ok(table.map(|table| (version, table))),
    };
    let mut previous = match versions.iter().find(|version| version.version < first) {
        Some(before) => one_schema(
            before.version,
            public_table_at(ctx, dataset, before.version, name).await?,
        )?,
        None => None,
    };
    let mut changes = Vec::new();
    for version in spanned {
        let current = one_schema(
            version.version,
            public_table_at(ctx, dataset, version.version, name).await?,
        )?;
        let replaced = match (&previous, &current) {
            (Some((_, old)), Some((_, new))) => old.file.sha256 != new.file.sha256,
            _ => true,
        };
        if replaced {
            let at = |kind, file_version, table: &SharedTable| TableChange {
                kind,
                version: version.version,
                published_at: version.published_at,
                file_version,
                table: table.clone(),
            };
            if let Some((old_version, old)) = &previous {
                changes.push(at(ChangeKind::Remove, *old_version, old));
            }
            if let Some((new_version, new)) = &current {
                changes.push(at(ChangeKind::Add, *new_version, new));
            }
        }
        previous = current;
    }
    Ok(TableChanges {
        last: described,
        first,
        changes,
    })
}

/// The table `name` of one version of an open dataset, if that version has it; a
/// licensed version is refused, since the public profile reads open data only.
async fn public_table_at(
    ctx: &Context,
    dataset: &DatasetId,
    version: VersionNumber,
    name: &str,
) -> Result<Option<SharedTable>, AppError> {
    let record = ctx
        .store
        .get_version(dataset, Some(version))
        .await
        .map_err(|e| not_found(e, dataset))?;
    open_only(dataset, &record)?;
    named_table(ctx, &record, name).await
}

/// One file line of a query answer.
#[derive(Debug, Clone)]
pub struct SharedFile {
    /// Where a reader fetches it without credentials.
    pub url: String,
    /// A stable id: its sha256.
    pub id: String,
    /// Its size in bytes.
    pub size: u64,
    /// Its rows.
    pub rows: u64,
    /// When `url` stops working, for licensed files.
    pub expires: Option<DateTime<Utc>>,
}

/// The file of a table: its public URL for open data, a ticket URL for a buyer.
pub fn file_of(
    ctx: &Context,
    recipient: &Recipient,
    dataset: &DatasetId,
    version: VersionNumber,
    table: &SharedTable,
) -> Result<SharedFile, AppError> {
    let entry = &table.file;
    let (url, expires) = match recipient {
        Recipient::Public => (file_url(&ctx.node.public_url, dataset, version, &entry.name), None),
        Recipient::Buyer { grant, token_id } => {
            let mut expires = Utc::now() + Duration::minutes(TICKET_LIFETIME_MINUTES);
            if let Some(until) = grant.valid_until {
                expires = expires.min(until);
            }
            let claims = json!({
                "token": token_id,
                "dataset": dataset,
                "version": version.get(),
                "file": entry.name.as_str(),
                "expires": expires.timestamp(),
                "session": ReadSessionId::generate(),
            });
            let ticket = ticket::issue(&claims, &ctx.node.key).map_err(anyhow::Error::from)?;
            (
                format!("{}{SHARING_PATH}/files/{ticket}", ctx.node.public_url),
                Some(expires),
            )
        }
    };
    Ok(SharedFile {
        url,
        id: entry.sha256.to_string(),
        size: entry.size,
        rows: table.profile.rows,
        expires,
    })
}

/// A file a ticket names, with the order it is delivered under.
#[derive(Debug, Clone)]
pub struct TicketedFile {
    /// The dataset.
    pub dataset: DatasetId,
    /// The version.
    pub version: VersionNumber,
    /// The file.
    pub name: FileName,
    /// The order.
    pub grant: OrderGrant,
    /// The read session the ticket opened.
    pub session: ReadSessionId,
}

/// Accepts a ticket the node issued and has not expired.
pub async fn redeem(ctx: &Context, ticket_text: &str) -> Result<TicketedFile, AppError> {
    let refused = || AppError::Forbidden("this file URL is invalid or has expired; query the table again".into());
    let claims = ticket::accept(ticket_text, &ctx.node.key.public()).ok_or_else(refused)?;
    let expires = claims["expires"].as_i64().ok_or_else(refused)?;
    if Utc::now().timestamp() >= expires {
        return Err(refused());
    }
    let text = |field: &str| claims[field].as_str().map(str::to_owned).ok_or_else(refused);
    let version = claims["version"]
        .as_u64()
        .and_then(|v| u32::try_from(v).ok())
        .and_then(|v| VersionNumber::try_from(v).ok())
        .ok_or_else(refused)?;
    Ok(TicketedFile {
        dataset: text("dataset")?.parse()?,
        version,
        name: text("file")?.parse()?,
        grant: grants::grant_by_token_id(ctx, &text("token")?).await?,
        session: text("session")?.parse().map_err(|_| refused())?,
    })
}

/// The publisher behind a share the recipient may see.
async fn known_share(ctx: &Context, recipient: &Recipient, share: &str) -> Result<PublisherId, AppError> {
    let missing = || AppError::NotFound(format!("no share {share}"));
    let publisher: PublisherId = share.to_lowercase().parse().map_err(|_| missing())?;
    let known = match recipient {
        Recipient::Public => {
            let open = DatasetFilter {
                publisher: Some(publisher.clone()),
                access: Some(AccessClass::Open),
                keyword: None,
            };
            !ctx.store.list_datasets(&open, None, 1).await?.is_empty()
        }
        Recipient::Buyer { .. } => shares(ctx, recipient)
            .await?
            .iter()
            .any(|known| known == publisher.as_str()),
    };
    if known { Ok(publisher) } else { Err(missing()) }
}

/// A dataset a share's schema names, read once per request, with the names it was asked by.
struct SharedDataset<'a> {
    share: &'a str,
    schema: &'a str,
    dataset: DatasetId,
    /// Its versions, newest first.
    versions: Vec<VersionSummary>,
}

/// The dataset a share's schema names (names are case-insensitive), with its versions.
async fn shared_dataset<'a>(ctx: &Context, share: &'a str, schema: &'a str) -> Result<SharedDataset<'a>, AppError> {
    let missing = || AppError::NotFound(format!("no schema {schema} in share {share}"));
    let dataset: DatasetId = schema.to_lowercase().parse().map_err(|_| missing())?;
    let (summary, versions) = ctx.store.get_dataset(&dataset).await.map_err(|_| missing())?;
    if summary.publisher.as_str() != share.to_lowercase() {
        return Err(missing());
    }
    Ok(SharedDataset {
        share,
        schema,
        dataset,
        versions,
    })
}

/// The version of `shared` a recipient reads when it asks for `asked`.
async fn resolve(
    ctx: &Context,
    recipient: &Recipient,
    shared: &SharedDataset<'_>,
    asked: TableVersion,
) -> Result<VersionRecord, AppError> {
    let dataset = &shared.dataset;
    let version = match asked {
        TableVersion::Newest => None,
        TableVersion::Number(number) => Some(VersionNumber::try_from(number)?),
        TableVersion::At(when) => Some(version_at(shared.schema, &shared.versions, when)?),
    };
    let version = match recipient {
        Recipient::Public => version,
        Recipient::Buyer { grant, .. } if grant.dataset != *dataset => {
            return Err(AppError::NotFound(format!(
                "no schema {} in share {}",
                shared.schema, shared.share
            )));
        }
        Recipient::Buyer { grant, .. } => match version {
            Some(asked) if asked != grant.version => {
                return Err(AppError::Forbidden(format!(
                    "the order covers version {} of {dataset}, not version {asked}",
                    grant.version
                )));
            }
            _ => Some(grant.version),
        },
    };
    let record = ctx
        .store
        .get_version(dataset, version)
        .await
        .map_err(|e| not_found(e, dataset))?;
    if matches!(recipient, Recipient::Public) {
        open_only(dataset, &record)?;
    }
    Ok(record)
}

/// Refuses a licensed version: the public profile reads open data only.
fn open_only(dataset: &DatasetId, record: &VersionRecord) -> Result<(), AppError> {
    if record.summary.access == AccessClass::Open {
        Ok(())
    } else {
        Err(AppError::Licensed {
            dataset: dataset.to_string(),
        })
    }
}

/// The table of a version that `name` names (case-insensitively, as the protocol asks).
async fn named_table(ctx: &Context, record: &VersionRecord, name: &str) -> Result<Option<SharedTable>, AppError> {
    let name = name.to_lowercase();
    Ok(version_tables(ctx, record)
        .await?
        .into_iter()
        .find(|table| table.name.to_lowercase() == name))
}

/// The Parquet tables of a version, by name; a name two files would share goes to the first.
async fn version_tables(ctx: &Context, record: &VersionRecord) -> Result<Vec<SharedTable>, AppError> {
    let mut found: Vec<SharedTable> = Vec::new();
    for file in &record.files {
        if table_format(&file.media_type) != Some(TableFormat::Parquet) {
            continue;
        }
        let Ok(profile) = tables::inspection(ctx, &file.sha256, TableFormat::Parquet).await? else {
            continue;
        };
        let name = table_name(&file.name);
        if profile.spark_schema.is_some() && found.iter().all(|table| table.name != name) {
            found.push(SharedTable {
                name,
                file: file.clone(),
                profile,
            });
        }
    }
    Ok(found)
}

/// The open datasets of a publisher, sorted.
async fn open_datasets(ctx: &Context, publisher: PublisherId) -> Result<Vec<DatasetId>, AppError> {
    let filter = DatasetFilter {
        publisher: Some(publisher),
        access: Some(AccessClass::Open),
        keyword: None,
    };
    let mut found = Vec::new();
    let mut after: Option<DatasetId> = None;
    loop {
        let page = ctx.store.list_datasets(&filter, after.as_ref(), 500).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.id.clone());
        found.extend(page.into_iter().map(|summary| summary.id));
    }
    Ok(found)
}

/// `data/flows.parquet` → `data_flows`.
fn table_name(file: &FileName) -> String {
    let text = file.as_str();
    let stem = text.strip_suffix(".parquet").unwrap_or(text);
    stem.chars()
        .map(|c| if c == '/' || c == '.' { '_' } else { c })
        .collect()
}

/// A UUID-shaped id of `dataset`.`table`, the same in every version.
fn table_id(dataset: &str, table: &str) -> String {
    let digest = Sha256::digest(format!("{dataset}/{table}").as_bytes());
    let hex = hex::encode(&digest[..16]);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// Statistics of a file line, as the JSON text the protocol carries.
pub fn file_stats(file: &SharedFile) -> String {
    json!({"numRecords": file.rows}).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_urls_are_safe() {
        let name: FileName = "data/2024.flows.parquet".parse().expect("name");
        assert_eq!(table_name(&name), "data_2024_flows");
        let chinese: FileName = "交通 流量.parquet".parse().expect("name");
        let version = VersionNumber::try_from(3u32).expect("version");
        assert_eq!(
            file_url("http://n", &"d".parse().expect("id"), version, &chinese),
            "http://n/api/v1/datasets/d/versions/3/files/%E4%BA%A4%E9%80%9A%20%E6%B5%81%E9%87%8F.parquet"
        );
        assert_eq!(table_id("d", "t"), table_id("d", "t"));
        assert_eq!(table_id("d", "t").len(), 36);
    }
}
