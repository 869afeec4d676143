//! The demand board (需求广场 / 揭榜挂帅): posting a demand, answering it with a published
//! version or a promised delivery, and the poster's acceptance or withdrawal; every document signed by its
//! maker, checked, recorded and logged. An accepted answer of licensed data is then
//! ordered through the normal order path under the answer's price
//! ([`awarded_price`]); its receipts name the demand.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Context;
use super::catalog::manifest_metadata;
use super::search::{self, SearchRequest};
use super::transparency::logged;
use crate::crypto::canonical;
use crate::domain::EntryKind;
use crate::domain::demand::{
    ACCEPTANCE_TYPE, AnswerContext, AnswerDocument, DemandDocument, DemandKind, DemandRefusal, DemandState,
    PosterDecision,
};
use crate::domain::{AccessClass, DatasetId, Facet, LocalizedText, PublisherId, VersionNumber};
use crate::error::AppError;
use crate::search::SearchKey;
use crate::store::{AnswerRecord, BoardWrite, DemandDecision, DemandRecord, NewAnswer, NewDemand, StoreError};

/// A demand on the board (as a peer's harvest reads it too).
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DemandView {
    /// Its id.
    pub id: String,
    /// A demand or a challenge.
    pub kind: DemandKind,
    /// Where it stands now.
    pub state: DemandState,
    /// The poster's DID.
    pub poster: String,
    /// What is wanted, in a line.
    pub title: LocalizedText,
    /// Its budget, in fen.
    pub budget_fen: u64,
    /// When answers stop.
    pub deadline: DateTime<Utc>,
    /// How many answers it has.
    pub answers: u64,
    /// The accepted answer, once awarded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accepted_answer: Option<String>,
    /// When it was posted.
    pub created_at: DateTime<Utc>,
    /// The poster-signed demand, with the description, the data wanted and the contact.
    #[schema(value_type = Object)]
    pub document: Value,
}

/// A provider's answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AnswerView {
    /// Its id.
    pub id: String,
    /// The provider's DID.
    pub provider: String,
    /// The publisher answering.
    #[schema(value_type = String)]
    pub publisher: PublisherId,
    /// The dataset offered.
    #[schema(value_type = String)]
    pub dataset: DatasetId,
    /// Its published version; absent for a promised delivery.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<u32>)]
    pub version: Option<VersionNumber>,
    /// For a promised delivery, the date it is promised by.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deliver_by: Option<DateTime<Utc>>,
    /// For a promised delivery the poster accepted, the version delivered: the first one
    /// the answering publisher published after the answer. Absent until there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<u32>)]
    pub delivered: Option<VersionNumber>,
    /// The price asked, in fen.
    pub price_fen: u64,
    /// When it arrived.
    pub created_at: DateTime<Utc>,
    /// The provider-signed answer.
    #[schema(value_type = Object)]
    pub document: Value,
}

/// A demand with its answers.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DemandDetail {
    /// The demand.
    #[serde(flatten)]
    pub demand: DemandView,
    /// Its answers, oldest first.
    pub answer_list: Vec<AnswerView>,
}

/// A page of the board, newest first.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DemandPage {
    /// The demands.
    pub items: Vec<DemandView>,
    /// For a search, the demands matching in all.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
    /// For a search, how many of the matches are of each kind: `{"kind": [{"value": "demand", "count": 2}]}`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schema(value_type = Object)]
    pub facets: BTreeMap<String, Vec<Value>>,
    /// Pass as `cursor` for the next page; absent on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// A demand posted at a peer node, as harvested: answered and accepted there.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PeerDemandView {
    /// The peer's id for it.
    pub id: String,
    /// The peer's base URL.
    pub node_url: String,
    /// The peer's name.
    pub node_name: String,
    /// Its page at the peer, where providers answer it.
    pub url: String,
    /// A demand or a challenge.
    pub kind: DemandKind,
    /// Where it stood when last harvested (an open one past its deadline shows expired).
    pub state: DemandState,
    /// What is wanted, in a line.
    pub title: LocalizedText,
    /// Its budget, in fen.
    pub budget_fen: u64,
    /// When answers stop.
    pub deadline: DateTime<Utc>,
    /// When the peer received it.
    pub created_at: DateTime<Utc>,
    /// The poster-signed demand (its signature verified by this node).
    #[schema(value_type = Object)]
    pub document: Value,
}

/// Demands listed from peers, at most.
const PEER_DEMANDS: u32 = 50;

/// The newest demands harvested from this node's peers (see `federation::harvest_demands`).
pub async fn at_peers(ctx: &Context) -> Result<Vec<PeerDemandView>, AppError> {
    let now = Utc::now();
    ctx.store
        .remote_demands(PEER_DEMANDS)
        .await?
        .into_iter()
        .map(|record| {
            let document = parse(&record.demand.document)?;
            let demand: DemandDocument = serde_json::from_value(document.clone()).map_err(anyhow::Error::from)?;
            Ok(PeerDemandView {
                url: format!("{}/demands/{}", record.peer_url, record.demand.id),
                id: record.demand.id,
                node_url: record.peer_url,
                node_name: record.peer_name,
                kind: record.demand.kind,
                state: record.demand.state.at(demand.deadline, now),
                title: demand.title,
                budget_fen: demand.budget_fen,
                deadline: demand.deadline,
                created_at: record.demand.created_at,
                document,
            })
        })
        .collect()
}

/// Which part of the board to read.
#[derive(Debug, Default)]
pub struct BoardQuery<'a> {
    /// Words to search for (the catalog's search, best match first); all demands, newest
    /// first, when absent or blank.
    pub text: Option<&'a str>,
    /// Only demands of this kind.
    pub kind: Option<DemandKind>,
    /// The `nextCursor` of the page before.
    pub cursor: Option<&'a str>,
    /// Demands per page.
    pub limit: Option<u32>,
}

/// Demands a page holds by default, and at most.
const PAGE_SIZE: u32 = 50;

fn parse(text: &str) -> Result<Value, AppError> {
    Ok(canonical::parse_strict(text.as_bytes()).map_err(anyhow::Error::from)?)
}

fn demand_view(record: DemandRecord, now: DateTime<Utc>) -> Result<DemandView, AppError> {
    let document = parse(&record.document)?;
    let title = serde_json::from_value(document["title"].clone()).map_err(anyhow::Error::from)?;
    Ok(DemandView {
        state: record.state.at(record.deadline, now),
        id: record.id,
        kind: record.kind,
        poster: record.poster,
        title,
        budget_fen: record.budget_fen,
        deadline: record.deadline,
        answers: record.answers,
        accepted_answer: record.accepted_answer,
        created_at: record.created_at,
        document,
    })
}

fn answer_view(record: AnswerRecord, delivered: Option<VersionNumber>) -> Result<AnswerView, AppError> {
    let document = parse(&record.document)?;
    let deliver_by = document["promise"]["deliverBy"]
        .as_str()
        .map(DateTime::parse_from_rfc3339)
        .transpose()
        .map_err(anyhow::Error::from)?
        .map(|time| time.with_timezone(&Utc));
    Ok(AnswerView {
        document,
        deliver_by,
        delivered,
        id: record.id,
        provider: record.provider,
        publisher: record.publisher,
        dataset: record.dataset,
        version: record.version,
        price_fen: record.price_fen,
        created_at: record.created_at,
    })
}

/// The version a promised delivery was delivered as: the first version of the answer's
/// dataset its publisher published after the answer, if any. `None` for an answer that
/// named a published version.
async fn delivered_version(ctx: &Context, answer: &AnswerRecord) -> Result<Option<VersionNumber>, AppError> {
    if answer.version.is_some() {
        return Ok(None);
    }
    let (dataset, versions) = match ctx.store.get_dataset(&answer.dataset).await {
        Ok(found) => found,
        Err(StoreError::NotFound) => return Ok(None),
        Err(other) => return Err(other.into()),
    };
    if dataset.publisher != answer.publisher {
        return Ok(None);
    }
    Ok(versions
        .iter()
        .filter(|version| version.published_at > answer.created_at)
        .map(|version| version.version)
        .min())
}

fn canonical_text(document: &Value) -> Result<String, AppError> {
    Ok(canonical::canonicalize(document).map_err(anyhow::Error::from)?)
}

/// A stored demand, or `NotFound`.
async fn stored_demand(ctx: &Context, id: &str) -> Result<DemandRecord, AppError> {
    ctx.store.get_demand(id).await.map_err(|error| match error {
        StoreError::NotFound => AppError::NotFound(format!("no demand {id}")),
        other => other.into(),
    })
}

/// A stored answer, or `NotFound`.
async fn stored_answer(ctx: &Context, id: &str) -> Result<AnswerRecord, AppError> {
    ctx.store.get_answer(id).await.map_err(|error| match error {
        StoreError::NotFound => AppError::NotFound(format!("no answer {id}")),
        other => other.into(),
    })
}

/// A board write's `Conflict` (a nonce used before, a demand closed meanwhile) as the caller sees it.
fn board_conflict(error: StoreError) -> AppError {
    match error {
        StoreError::Conflict(why) => AppError::Conflict(why),
        other => other.into(),
    }
}

/// Posts a signed demand (or, signed with the node's key, a challenge).
pub async fn post_demand(ctx: &Context, body: &[u8]) -> Result<DemandView, AppError> {
    let (document, signer) = super::signed_document(body, "demand")?;
    let demand: DemandDocument = serde_json::from_value(document.clone())
        .map_err(|error| AppError::DemandRefused(DemandRefusal::Malformed(error.to_string())))?;
    if demand.poster != signer.as_str() {
        return Err(AppError::InvalidSignature(
            "the demand is not signed by the poster it names".into(),
        ));
    }
    let now = Utc::now();
    demand.check(ctx.node.key.did().as_str(), now)?;
    let new = NewDemand {
        id: uuid::Uuid::new_v4().to_string(),
        kind: demand.kind,
        poster: demand.poster.clone(),
        nonce: demand.nonce.clone(),
        document: logged(EntryKind::Demand, canonical_text(&document)?),
        budget_fen: demand.budget_fen,
        deadline: demand.deadline,
        created_at: now,
    };
    let id = new.id.clone();
    ctx.sequencer
        .board(BoardWrite::Post(new))
        .await
        .map_err(board_conflict)?;
    tracing::info!(demand = %id, kind = demand.kind.as_str(), "demand posted");
    demand_view(stored_demand(ctx, &id).await?, now)
}

/// Records a provider's signed answer to a demand, for `publisher`, whose dataset it names.
pub async fn answer(
    ctx: &Context,
    publisher: &PublisherId,
    demand_id: &str,
    body: &[u8],
) -> Result<AnswerView, AppError> {
    let (document, signer) = super::signed_document(body, "answer")?;
    let answer: AnswerDocument = serde_json::from_value(document.clone())
        .map_err(|error| AppError::DemandRefused(DemandRefusal::Malformed(error.to_string())))?;
    if answer.provider != signer.as_str() {
        return Err(AppError::InvalidSignature(
            "the answer is not signed by the provider it names".into(),
        ));
    }
    let demand = stored_demand(ctx, demand_id).await?;
    let published = match answer.version {
        Some(number) => Some(
            ctx.store
                .get_version(&answer.dataset, Some(number))
                .await
                .map_err(|error| match error {
                    StoreError::NotFound => AppError::NotFound(format!("no version {number} of {}", answer.dataset)),
                    other => other.into(),
                })?
                .summary
                .manifest_digest,
        ),
        None => None,
    };
    // A promise may name a dataset still to be published; one that exists must be the provider's.
    let owner = match ctx.store.get_dataset(&answer.dataset).await {
        Ok((dataset, _)) => Some(dataset.publisher),
        Err(StoreError::NotFound) if published.is_none() => None,
        Err(other) => return Err(other.into()),
    };
    if owner.is_some_and(|owner| owner != *publisher) {
        return Err(AppError::DemandRefused(DemandRefusal::NotYours(
            "a provider answers with its own publisher's datasets".into(),
        )));
    }
    let now = Utc::now();
    answer.check(&AnswerContext {
        node: ctx.node.key.did().as_str(),
        demand: demand_id,
        state: demand.state.at(demand.deadline, now),
        budget_fen: demand.budget_fen,
        published: published.as_ref(),
        now,
    })?;
    let new = NewAnswer {
        id: uuid::Uuid::new_v4().to_string(),
        demand_id: demand_id.to_owned(),
        provider: answer.provider.clone(),
        nonce: answer.nonce.clone(),
        publisher: publisher.clone(),
        dataset: answer.dataset.clone(),
        version: answer.version,
        price_fen: answer.price_fen,
        document: logged(EntryKind::Answer, canonical_text(&document)?),
        created_at: now,
    };
    let id = new.id.clone();
    ctx.sequencer
        .board(BoardWrite::Answer(new))
        .await
        .map_err(board_conflict)?;
    tracing::info!(demand = %demand_id, answer = %id, "demand answered");
    answer_view(stored_answer(ctx, &id).await?, None)
}

/// Records the poster's signed acceptance of one answer, or withdrawal of the demand. An
/// accepted answer of open data fulfils the demand at once; one of licensed data awards it,
/// and the poster's order under the answer's price fulfils it.
pub async fn decide(ctx: &Context, demand_id: &str, body: &[u8]) -> Result<DemandView, AppError> {
    let (document, signer) = super::signed_document(body, "decision")?;
    let decision: PosterDecision = serde_json::from_value(document.clone())
        .map_err(|error| AppError::DemandRefused(DemandRefusal::Malformed(error.to_string())))?;
    if decision.poster != signer.as_str() {
        return Err(AppError::InvalidSignature(
            "the decision is not signed by the poster it names".into(),
        ));
    }
    let demand = stored_demand(ctx, demand_id).await?;
    let now = Utc::now();
    decision.check(
        ctx.node.key.did().as_str(),
        demand_id,
        &demand.poster,
        demand.state.at(demand.deadline, now),
        now,
    )?;
    let to = match &decision.answer {
        None => DemandState::Withdrawn,
        Some(answer_id) => {
            let answer = stored_answer(ctx, answer_id).await?;
            if answer.demand_id != demand_id {
                return Err(AppError::DemandRefused(DemandRefusal::WrongTarget(
                    "the answer is to another demand".into(),
                )));
            }
            match answer.version {
                // A promised delivery is ordered once it is published.
                None => DemandState::Awarded,
                Some(number) => {
                    let version = ctx.store.get_version(&answer.dataset, Some(number)).await?;
                    match manifest_metadata(&version)?.access {
                        AccessClass::Open => DemandState::Fulfilled,
                        AccessClass::Licensed => DemandState::Awarded,
                    }
                }
            }
        }
    };
    let kind = if decision.document_type == ACCEPTANCE_TYPE {
        EntryKind::Acceptance
    } else {
        EntryKind::Withdrawal
    };
    let change = DemandDecision {
        demand_id: demand_id.to_owned(),
        to,
        accepted_answer: decision.answer.clone(),
        document: logged(kind, canonical_text(&document)?),
        at: now,
    };
    ctx.sequencer
        .board(BoardWrite::Decide(change))
        .await
        .map_err(board_conflict)?;
    tracing::info!(demand = %demand_id, state = to.as_str(), "demand decided");
    demand_view(stored_demand(ctx, demand_id).await?, now)
}

/// The board (its demands of `kind`, when given), newest first or, for a search, best
/// match first; a page at a time.
pub async fn list(ctx: &Context, query: BoardQuery<'_>) -> Result<DemandPage, AppError> {
    let limit = query.limit.unwrap_or(PAGE_SIZE);
    if limit == 0 || limit > PAGE_SIZE {
        return Err(AppError::InvalidRequest(format!("limit: 1 to {PAGE_SIZE}")));
    }
    let now = Utc::now();
    if let Some(text) = query.text.filter(|text| !text.trim().is_empty()) {
        let request = SearchRequest {
            text: Some(text.to_owned()),
            cursor: query.cursor.map(str::to_owned),
            limit: Some(limit),
            ..SearchRequest::default()
        };
        let found = search::find_demands(ctx, request, query.kind).await?;
        let mut items = Vec::with_capacity(found.keys.len());
        for key in &found.keys {
            let SearchKey::Demand(id) = key else { continue };
            match ctx.store.get_demand(id).await {
                Ok(record) => items.push(demand_view(record, now)?),
                // Indexed but gone since: left out, as the index will soon leave it out.
                Err(StoreError::NotFound) => {}
                Err(other) => return Err(other.into()),
            }
        }
        return Ok(DemandPage {
            items,
            total: Some(found.total),
            facets: search::facets_of(found.facets, &[Facet::Kind]),
            next_cursor: found.next_cursor,
        });
    }
    let before = query.cursor.map(decode_cursor).transpose()?;
    let records = ctx.store.demands_page(query.kind, before, limit).await?;
    let next_cursor = (records.len() == limit as usize)
        .then(|| records.last().map(|last| encode_cursor(last.created_at, &last.id)))
        .flatten();
    Ok(DemandPage {
        items: records
            .into_iter()
            .map(|record| demand_view(record, now))
            .collect::<Result<_, _>>()?,
        total: None,
        facets: BTreeMap::new(),
        next_cursor,
    })
}

fn encode_cursor(time: DateTime<Utc>, id: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}|{id}", time.to_rfc3339()))
}

fn decode_cursor(cursor: &str) -> Result<(DateTime<Utc>, String), AppError> {
    let refused = || AppError::InvalidRequest("cursor: not one this node gave".into());
    let text = String::from_utf8(URL_SAFE_NO_PAD.decode(cursor).map_err(|_| refused())?).map_err(|_| refused())?;
    let (time, id) = text.split_once('|').ok_or_else(refused)?;
    let time = DateTime::parse_from_rfc3339(time).map_err(|_| refused())?;
    Ok((time.with_timezone(&Utc), id.to_owned()))
}

/// A demand with its answers.
pub async fn get(ctx: &Context, id: &str) -> Result<DemandDetail, AppError> {
    let demand = stored_demand(ctx, id).await?;
    let mut answer_list = Vec::new();
    for answer in ctx.store.demand_answers(id).await? {
        let accepted = demand.accepted_answer.as_deref() == Some(answer.id.as_str());
        let delivered = match accepted {
            true => delivered_version(ctx, &answer).await?,
            false => None,
        };
        answer_list.push(answer_view(answer, delivered)?);
    }
    Ok(DemandDetail {
        demand: demand_view(demand, Utc::now())?,
        answer_list,
    })
}

/// The price an order taking up `demand_id` pays: the accepted answer's, when the demand is
/// awarded, the order is its poster's and names the answered version.
pub(super) async fn awarded_price(
    ctx: &Context,
    demand_id: &str,
    buyer: &str,
    dataset: &DatasetId,
    version: VersionNumber,
) -> Result<u64, AppError> {
    let demand = stored_demand(ctx, demand_id).await?;
    if demand.state != DemandState::Awarded {
        return Err(AppError::DemandRefused(DemandRefusal::Closed(demand.state.as_str())));
    }
    if demand.poster != buyer {
        return Err(AppError::DemandRefused(DemandRefusal::NotYours(
            "only the demand's poster orders its accepted answer".into(),
        )));
    }
    let answer_id = demand.accepted_answer.as_deref().unwrap_or_default();
    let answer = stored_answer(ctx, answer_id).await?;
    let offered = match answer.version {
        Some(number) => Some(number),
        None => delivered_version(ctx, &answer).await?,
    };
    if answer.dataset != *dataset || offered != Some(version) {
        return Err(AppError::DemandRefused(DemandRefusal::WrongTarget(
            "the order is for another version than the accepted answer's (or its promised delivery's)".into(),
        )));
    }
    Ok(answer.price_fen)
}
