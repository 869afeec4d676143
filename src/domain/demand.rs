//! The demand board (需求广场 / 揭榜挂帅): what buyers want, what providers answer, and
//! the rules those signed documents must satisfy.
//!
//! A poster signs a [`DemandDocument`] (a buyer's demand, or a challenge the node's
//! operator signs with the node's own key); providers answer with an [`AnswerDocument`]
//! naming a published version and a price within the budget; the poster accepts one
//! answer or withdraws the demand with a [`PosterDecision`]. Every document is logged.
//! An accepted answer is ordered through the normal order path under the answer's price,
//! and the order's receipts name the demand.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::order::{ORDER_FRESHNESS, valid_nonce};
use super::{DatasetId, LocalizedText, Sha256Digest, VersionNumber};

/// The `type` of a demand.
pub const DEMAND_TYPE: &str = "ShulianDemand";
/// The `type` of a provider's answer to a demand.
pub const ANSWER_TYPE: &str = "ShulianDemandAnswer";
/// The `type` of a poster's acceptance of one answer.
pub const ACCEPTANCE_TYPE: &str = "ShulianDemandAcceptance";
/// The `type` of a poster's withdrawal of a demand.
pub const WITHDRAWAL_TYPE: &str = "ShulianDemandWithdrawal";
/// The furthest a demand's deadline may be.
pub const LONGEST_DEADLINE: Duration = Duration::days(366);

/// A buyer's demand, or a challenge (揭榜挂帅) the node's operator posts with an award.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DemandKind {
    /// Anyone with a key wants data (需求).
    Demand,
    /// The operator posts a challenge with an award (揭榜挂帅); signed with the node's key.
    Challenge,
}

impl DemandKind {
    /// The kind's name as stored and served.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Demand => "demand",
            Self::Challenge => "challenge",
        }
    }
}

impl std::str::FromStr for DemandKind {
    type Err = DemandRefusal;

    fn from_str(text: &str) -> Result<Self, DemandRefusal> {
        match text {
            "demand" => Ok(Self::Demand),
            "challenge" => Ok(Self::Challenge),
            _ => Err(DemandRefusal::Malformed(format!("unknown demand kind {text:?}"))),
        }
    }
}

/// Where a demand stands; in the order states' style.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DemandState {
    /// Posted, no answer yet.
    Open,
    /// At least one provider answered.
    Answered,
    /// The poster accepted an answer; awaiting its order.
    Awarded,
    /// The accepted answer was ordered (and agreed), or was open data.
    Fulfilled,
    /// The deadline passed before an answer was accepted.
    Expired,
    /// The poster withdrew it.
    Withdrawn,
}

impl DemandState {
    /// The state's name as stored and served.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "OPEN",
            Self::Answered => "ANSWERED",
            Self::Awarded => "AWARDED",
            Self::Fulfilled => "FULFILLED",
            Self::Expired => "EXPIRED",
            Self::Withdrawn => "WITHDRAWN",
        }
    }

    /// Whether providers may still answer and the poster may still accept or withdraw.
    pub fn is_open(self) -> bool {
        matches!(self, Self::Open | Self::Answered)
    }

    /// The state a stored one shows at `now`: an open demand past its deadline has expired.
    pub fn at(self, deadline: DateTime<Utc>, now: DateTime<Utc>) -> Self {
        if self.is_open() && deadline <= now {
            Self::Expired
        } else {
            self
        }
    }
}

impl std::str::FromStr for DemandState {
    type Err = DemandRefusal;

    fn from_str(text: &str) -> Result<Self, DemandRefusal> {
        [
            Self::Open,
            Self::Answered,
            Self::Awarded,
            Self::Fulfilled,
            Self::Expired,
            Self::Withdrawn,
        ]
        .into_iter()
        .find(|state| state.as_str() == text)
        .ok_or_else(|| DemandRefusal::Malformed(format!("unknown demand state {text:?}")))
    }
}

/// The data a demand asks for: named fields and, optionally, a Frictionless Table Schema.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Wanted {
    /// The fields (columns) wanted, 1 to 100 names; may be left out when the Table
    /// Schema names them.
    #[serde(default)]
    pub fields: Vec<String>,
    /// A Table Schema describing them, if the poster has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub schema: Option<serde_json::Value>,
}

impl Wanted {
    /// The names of the fields wanted: those listed, else those the Table Schema names.
    pub fn names(&self) -> Vec<String> {
        if !self.fields.is_empty() {
            return self.fields.clone();
        }
        let schema_fields = self.schema.as_ref().and_then(|schema| schema["fields"].as_array());
        schema_fields
            .into_iter()
            .flatten()
            .filter_map(|field| field["name"].as_str().map(str::to_owned))
            .collect()
    }
}

/// A demand as its poster signed it (the `proof` is checked separately).
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DemandDocument {
    /// Always [`DEMAND_TYPE`].
    #[serde(rename = "type")]
    pub document_type: String,
    /// The DID of the node it is posted at.
    pub node: String,
    /// A demand or a challenge.
    pub kind: DemandKind,
    /// What is wanted, in a line.
    pub title: LocalizedText,
    /// What is wanted, in full.
    #[serde(default)]
    pub description: LocalizedText,
    /// The data wanted.
    pub wanted: Wanted,
    /// The most the poster pays, in fen.
    pub budget_fen: u64,
    /// A challenge's award, in fen.
    #[serde(default)]
    pub award_fen: Option<u64>,
    /// When answers stop.
    pub deadline: DateTime<Utc>,
    /// How to reach the poster.
    pub contact: String,
    /// The poster's `did:key`; the demand must be signed by this key.
    pub poster: String,
    /// A value the poster never used before (as an order's nonce).
    pub nonce: String,
    /// When the poster made it.
    pub created: DateTime<Utc>,
    /// The poster's Data Integrity proof.
    pub proof: serde_json::Value,
}

/// A delivery a provider promises: the fields it will hold (and, optionally, their Table
/// Schema), published as a version of the answer's dataset by a date.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Promise {
    /// The fields (columns) the delivery will hold, 1 to 100 names.
    pub fields: Vec<String>,
    /// A Table Schema describing them.
    #[serde(default)]
    pub schema: Option<serde_json::Value>,
    /// The date the version will be published by.
    pub deliver_by: DateTime<Utc>,
}

/// A provider's answer: a published version (`version` and `manifestDigest`) or a promised
/// delivery (`promise`), at a price within the budget.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AnswerDocument {
    /// Always [`ANSWER_TYPE`].
    #[serde(rename = "type")]
    pub document_type: String,
    /// The DID of the node the demand is at.
    pub node: String,
    /// The demand answered.
    pub demand: String,
    /// The provider's `did:key`; the answer must be signed by this key.
    pub provider: String,
    /// The dataset offered (for a promise, the dataset the delivery will be published as).
    pub dataset: DatasetId,
    /// Its published version offered.
    #[serde(default)]
    pub version: Option<VersionNumber>,
    /// Digest of that version's signed manifest, `sha256:<hex>`.
    #[serde(default)]
    pub manifest_digest: Option<Sha256Digest>,
    /// The delivery promised instead of a published version.
    #[serde(default)]
    pub promise: Option<Promise>,
    /// The price asked, within the demand's budget.
    pub price_fen: u64,
    /// A word from the provider.
    #[serde(default)]
    pub note: String,
    /// A value the provider never used before.
    pub nonce: String,
    /// When the provider made it.
    pub created: DateTime<Utc>,
    /// The provider's Data Integrity proof.
    pub proof: serde_json::Value,
}

/// The poster's acceptance of one answer, or withdrawal of the demand.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PosterDecision {
    /// [`ACCEPTANCE_TYPE`] or [`WITHDRAWAL_TYPE`].
    #[serde(rename = "type")]
    pub document_type: String,
    /// The DID of the node the demand is at.
    pub node: String,
    /// The demand.
    pub demand: String,
    /// The answer accepted (an acceptance only).
    #[serde(default)]
    pub answer: Option<String>,
    /// The poster's `did:key`; the decision must be signed by this key.
    pub poster: String,
    /// When the poster made it.
    pub created: DateTime<Utc>,
    /// The poster's Data Integrity proof.
    pub proof: serde_json::Value,
}

/// Why a demand, answer or decision was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DemandRefusal {
    /// Not a well-formed document of its kind.
    #[error("malformed: {0}")]
    Malformed(String),
    /// Addressed to another node, demand or version.
    #[error("it does not match this node's board: {0}")]
    WrongTarget(String),
    /// Made too long ago or in the future.
    #[error("made too long ago or in the future; sign a fresh one")]
    Stale,
    /// The demand no longer takes answers or decisions.
    #[error("the demand is {0}")]
    Closed(&'static str),
    /// Signed by someone who may not make it.
    #[error("{0}")]
    NotYours(String),
}

/// Longest title, per language.
const MAX_TITLE_CHARS: usize = 200;
/// Longest description, per language.
const MAX_DESCRIPTION_CHARS: usize = 5000;
/// Longest contact, note or field name.
const MAX_LINE_CHARS: usize = 200;
/// Most fields wanted.
const MAX_FIELDS: usize = 100;
/// The largest amount of money a document names, in fen.
const MAX_FEN: u64 = 1_000_000_000_000_000;

/// Whether `text` has at most `max` characters, none of them control characters other
/// than line breaks (allowed only where `multiline`).
fn printable(text: &str, max: usize, multiline: bool) -> bool {
    text.chars().count() <= max
        && !text
            .chars()
            .any(|c| c.is_control() && !(multiline && (c == '\n' || c == '\r')))
}

/// Whether `fields` names 1 to 100 fields, each 1 to 200 printable characters.
fn valid_fields(fields: &[String]) -> bool {
    !fields.is_empty()
        && fields.len() <= MAX_FIELDS
        && fields
            .iter()
            .all(|field| !field.trim().is_empty() && printable(field, MAX_LINE_CHARS, false))
}

/// The checks every signed board document shares: its type, node and time.
fn check_common(
    document_type: &str,
    expected_types: &[&str],
    node: &str,
    context_node: &str,
    created: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), DemandRefusal> {
    if !expected_types.contains(&document_type) {
        return Err(DemandRefusal::Malformed(format!(
            "type must be {}",
            expected_types.join(" or ")
        )));
    }
    if node != context_node {
        return Err(DemandRefusal::WrongTarget("it is addressed to another node".into()));
    }
    if (created - now).abs() > ORDER_FRESHNESS {
        return Err(DemandRefusal::Stale);
    }
    Ok(())
}

impl DemandDocument {
    /// Checks the demand's shape and terms; `node` is this node's DID (a challenge's poster).
    pub fn check(&self, node: &str, now: DateTime<Utc>) -> Result<(), DemandRefusal> {
        let malformed = |why: &str| Err(DemandRefusal::Malformed(why.to_owned()));
        check_common(&self.document_type, &[DEMAND_TYPE], &self.node, node, self.created, now)?;
        if !valid_nonce(&self.nonce) {
            return malformed("nonce must be 16 to 64 characters of A-Z a-z 0-9 - _");
        }
        let title = [&self.title.zh, &self.title.en];
        if title
            .iter()
            .all(|text| text.as_deref().is_none_or(|t| t.trim().is_empty()))
            || title
                .iter()
                .flat_map(|text| text.as_deref())
                .any(|t| !printable(t, MAX_TITLE_CHARS, false))
        {
            return malformed("title: 1 to 200 printable characters in zh, en or both");
        }
        if [&self.description.zh, &self.description.en]
            .iter()
            .flat_map(|text| text.as_deref())
            .any(|t| !printable(t, MAX_DESCRIPTION_CHARS, true))
        {
            return malformed("description: at most 5000 characters per language");
        }
        if !valid_fields(&self.wanted.names()) {
            return malformed(
                "wanted: 1 to 100 field names of 1 to 200 printable characters, in fields or in the Table Schema's fields",
            );
        }
        if self.contact.trim().is_empty() || !printable(&self.contact, MAX_LINE_CHARS, false) {
            return malformed("contact: 1 to 200 printable characters");
        }
        if self.deadline <= now || self.deadline > now + LONGEST_DEADLINE {
            return malformed("deadline: in the future, within a year");
        }
        if self.budget_fen > MAX_FEN || self.award_fen.is_some_and(|award| award > MAX_FEN) {
            return malformed("budgetFen and awardFen: at most 10^15 fen");
        }
        match (self.kind, self.award_fen) {
            (DemandKind::Demand, None) => Ok(()),
            (DemandKind::Demand, Some(_)) => malformed("only a challenge carries an award"),
            (DemandKind::Challenge, None) => malformed("a challenge carries awardFen"),
            (DemandKind::Challenge, Some(_)) if self.poster != node => Err(DemandRefusal::NotYours(
                "a challenge is posted by the node's operator, signed with the node's key".into(),
            )),
            (DemandKind::Challenge, Some(_)) => Ok(()),
        }
    }
}

/// What an answer is checked against: the demand and the version it names.
pub struct AnswerContext<'a> {
    /// This node's DID.
    pub node: &'a str,
    /// The demand's id.
    pub demand: &'a str,
    /// Where the demand stands now.
    pub state: DemandState,
    /// Its budget.
    pub budget_fen: u64,
    /// The digest of the named version's signed manifest; `None` when the answer names no version.
    pub published: Option<&'a Sha256Digest>,
    /// The node's clock.
    pub now: DateTime<Utc>,
}

impl AnswerDocument {
    /// Checks the answer against the demand and the version it names.
    pub fn check(&self, context: &AnswerContext<'_>) -> Result<(), DemandRefusal> {
        check_common(
            &self.document_type,
            &[ANSWER_TYPE],
            &self.node,
            context.node,
            self.created,
            context.now,
        )?;
        if !valid_nonce(&self.nonce) {
            return Err(DemandRefusal::Malformed(
                "nonce must be 16 to 64 characters of A-Z a-z 0-9 - _".into(),
            ));
        }
        if !printable(&self.note, MAX_LINE_CHARS * 5, true) {
            return Err(DemandRefusal::Malformed("note: at most 1000 characters".into()));
        }
        if self.demand != context.demand {
            return Err(DemandRefusal::WrongTarget("it answers another demand".into()));
        }
        if !context.state.is_open() {
            return Err(DemandRefusal::Closed(context.state.as_str()));
        }
        match (&self.version, &self.manifest_digest, &self.promise) {
            (Some(_), Some(digest), None) => {
                if context.published != Some(digest) {
                    return Err(DemandRefusal::WrongTarget(
                        "the manifest digest is not the named version's".into(),
                    ));
                }
            }
            (None, None, Some(promise)) => {
                if !valid_fields(&promise.fields) {
                    return Err(DemandRefusal::Malformed(
                        "promise.fields: 1 to 100 names of 1 to 200 printable characters".into(),
                    ));
                }
                if promise.deliver_by <= context.now || promise.deliver_by > context.now + LONGEST_DEADLINE {
                    return Err(DemandRefusal::Malformed(
                        "promise.deliverBy: in the future, within a year".into(),
                    ));
                }
            }
            _ => {
                return Err(DemandRefusal::Malformed(
                    "an answer offers a published version (version and manifestDigest) or a promise, not both".into(),
                ));
            }
        }
        if self.price_fen > context.budget_fen {
            return Err(DemandRefusal::WrongTarget(format!(
                "the price is over the budget of {} fen",
                context.budget_fen
            )));
        }
        Ok(())
    }
}

impl PosterDecision {
    /// Checks a decision on `demand` (posted by `poster`, standing at `state`).
    pub fn check(
        &self,
        node: &str,
        demand: &str,
        poster: &str,
        state: DemandState,
        now: DateTime<Utc>,
    ) -> Result<(), DemandRefusal> {
        check_common(
            &self.document_type,
            &[ACCEPTANCE_TYPE, WITHDRAWAL_TYPE],
            &self.node,
            node,
            self.created,
            now,
        )?;
        if self.demand != demand {
            return Err(DemandRefusal::WrongTarget("it decides another demand".into()));
        }
        if self.poster != poster {
            return Err(DemandRefusal::NotYours("only the demand's poster decides it".into()));
        }
        if (self.document_type == ACCEPTANCE_TYPE) != self.answer.is_some() {
            return Err(DemandRefusal::Malformed(
                "an acceptance names one answer; a withdrawal none".into(),
            ));
        }
        if !state.is_open() {
            return Err(DemandRefusal::Closed(state.as_str()));
        }
        Ok(())
    }
}

/// Fen of an amount of yuan written with at most two decimals (`300`, `12.5`, `0.01`).
pub fn fen_from_yuan(text: &str) -> Option<u64> {
    let (whole, cents) = text.trim().split_once('.').unwrap_or((text.trim(), ""));
    if whole.is_empty() || cents.len() > 2 || !(whole.chars().chain(cents.chars())).all(|c| c.is_ascii_digit()) {
        return None;
    }
    let cents = format!("{cents:0<2}").parse::<u64>().ok()?;
    whole.parse::<u64>().ok()?.checked_mul(100)?.checked_add(cents)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_open_demand_past_its_deadline_shows_expired_and_a_decided_one_does_not() {
        let now = Utc::now();
        let past = now - Duration::minutes(1);
        assert_eq!(DemandState::Answered.at(past, now), DemandState::Expired);
        assert_eq!(DemandState::Open.at(now + Duration::days(1), now), DemandState::Open);
        assert_eq!(DemandState::Fulfilled.at(past, now), DemandState::Fulfilled);
        for state in [DemandState::Open, DemandState::Withdrawn, DemandState::Expired] {
            assert_eq!(state.as_str().parse::<DemandState>(), Ok(state));
        }
        assert!("CLOSED".parse::<DemandState>().is_err());
    }

    #[test]
    fn yuan_are_read_to_the_fen_and_nothing_else_is() {
        assert_eq!(fen_from_yuan("300"), Some(30_000));
        assert_eq!(fen_from_yuan("12.5"), Some(1_250));
        assert_eq!(fen_from_yuan("0.01"), Some(1));
        for bad in ["", ".5", "1.234", "-1", "1e3", "十", "99999999999999999999"] {
            assert_eq!(fen_from_yuan(bad), None, "{bad}");
        }
    }

    #[test]
    fn texts_with_control_characters_are_refused_and_line_breaks_only_where_allowed() {
        assert!(printable("数据\n说明", 10, true));
        assert!(!printable("数据\n说明", 10, false));
        assert!(!printable("a\u{7}", 10, true));
        assert!(!printable("abc", 2, true));
    }
}
