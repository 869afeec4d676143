//! `shulian demand`: post a demand on a node's board (需求广场), signed with the poster's
//! key; with an award, a challenge (揭榜挂帅), which the node accepts only signed with its
//! own key, so its operator posts challenges with the node's key file.

use anyhow::Context as _;
use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use serde_json::{Value, json};

use super::{NodeClient, expect_success};
use crate::crypto::{KeyPair, sign_document};
use crate::domain::demand::{DEMAND_TYPE, fen_from_yuan};

/// What the poster wants.
pub struct DemandRequest {
    /// What data is wanted, in a line (in Chinese, English or both: `zh`, `en`).
    pub title: (Option<String>, Option<String>),
    /// More about it.
    pub description: Option<String>,
    /// The fields wanted.
    pub fields: Vec<String>,
    /// The budget, in yuan (`300`, `12.50`).
    pub budget: String,
    /// A challenge's award, in yuan; none for a buyer's demand.
    pub award: Option<String>,
    /// When answers stop: a date (its end, UTC) or an RFC 3339 time.
    pub deadline: String,
    /// How to reach the poster.
    pub contact: String,
}

/// The end of `text`'s day (a date) or the time it names (RFC 3339).
fn deadline_of(text: &str) -> anyhow::Result<DateTime<Utc>> {
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        let end = date.and_hms_opt(23, 59, 59).context("a date")?;
        return Ok(end.and_utc());
    }
    Ok(DateTime::parse_from_rfc3339(text)
        .with_context(|| format!("--deadline {text:?}: a date (2026-12-31) or an RFC 3339 time"))?
        .with_timezone(&Utc))
}

/// Signs and posts a demand; the node's answer (the demand as the board shows it).
pub async fn post_demand(client: &NodeClient, key: &KeyPair, request: &DemandRequest) -> anyhow::Result<Value> {
    let node = client.remote_node().await?.did;
    let money = |what: &str, text: &str| {
        fen_from_yuan(text).with_context(|| format!("--{what} {text:?}: an amount of yuan with at most two decimals"))
    };
    let now = Utc::now();
    let time = |at: DateTime<Utc>| at.to_rfc3339_opts(SecondsFormat::Secs, true);
    let mut unsigned = json!({
        "type": DEMAND_TYPE,
        "node": node,
        "kind": if request.award.is_some() { "challenge" } else { "demand" },
        "title": {},
        "description": {},
        "wanted": {"fields": request.fields},
        "budgetFen": money("budget", &request.budget)?,
        "deadline": time(deadline_of(&request.deadline)?),
        "contact": request.contact,
        "poster": key.did(),
        "nonce": uuid::Uuid::new_v4().simple().to_string(),
        "created": time(now),
    });
    for (language, text) in [("zh", &request.title.0), ("en", &request.title.1)] {
        if let Some(text) = text {
            unsigned["title"][language] = json!(text);
        }
    }
    if let Some(description) = &request.description {
        // In the language of the title given first.
        let language = if request.title.0.is_some() { "zh" } else { "en" };
        unsigned["description"][language] = json!(description);
    }
    if let Some(award) = &request.award {
        unsigned["awardFen"] = json!(money("award", award)?);
    }
    let signed = sign_document(unsigned, key, now)?;
    let response = client
        .request(reqwest::Method::POST, "/api/v1/demands")
        .json(&signed)
        .send()
        .await?;
    Ok(expect_success(response).await?.json().await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deadline_is_a_day_or_a_time() {
        assert_eq!(
            deadline_of("2026-12-31").expect("date").to_rfc3339(),
            "2026-12-31T23:59:59+00:00"
        );
        assert_eq!(
            deadline_of("2026-12-31T08:00:00+08:00").expect("time").to_rfc3339(),
            "2026-12-31T00:00:00+00:00"
        );
        assert!(deadline_of("next week").is_err());
    }
}
