//! The demand board's pages (需求广场 / 揭榜挂帅): the board with a form to post a demand,
//! and a demand's page with its answers. Posting, accepting, withdrawing and ordering an
//! accepted answer are signed in the page with the buyer's key (the market's script);
//! the pages themselves read through the same service as the API.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use maud::{Markup, html};
use serde::Deserialize;

use super::i18n::{Lang, Text};
use super::pages::{self, market_head, order_fields, yuan};
use super::respond;
use crate::domain::AccessClass;
use crate::domain::demand::{DemandKind, DemandState};
use crate::error::AppError;
use crate::service::demands::{self, BoardQuery, DemandView, PeerDemandView};
use crate::service::{Context, catalog};

/// The board's routes.
pub fn routes() -> Router<Context> {
    Router::new()
        .route("/demands", get(board))
        .route("/demands/{demand}", get(demand))
}

/// The board's query: the language, the words searched for, the kind and the page.
#[derive(Debug, Default, Deserialize)]
struct BoardForm {
    lang: Option<String>,
    q: Option<String>,
    cursor: Option<String>,
    kind: Option<String>,
}

async fn board(State(ctx): State<Context>, Query(query): Query<BoardForm>, headers: HeaderMap) -> Response {
    let lang = Lang::choose(query.lang.as_deref(), &headers);
    let rendered = async {
        let kind = query
            .kind
            .as_deref()
            .filter(|kind| !kind.is_empty())
            .map(str::parse::<DemandKind>)
            .transpose()
            .map_err(|error| AppError::InvalidRequest(error.to_string()))?;
        let board = BoardQuery {
            text: query.q.as_deref().map(str::trim).filter(|q| !q.is_empty()),
            kind,
            cursor: query.cursor.as_deref().filter(|c| !c.is_empty()),
            limit: None,
        };
        board_page(&ctx, lang, board).await
    }
    .await;
    respond(&ctx, lang, rendered, query.lang.is_some())
}

/// A demand's page query.
#[derive(Debug, Default, Deserialize)]
struct LangOnly {
    lang: Option<String>,
}

async fn demand(
    State(ctx): State<Context>,
    Path(id): Path<String>,
    Query(query): Query<LangOnly>,
    headers: HeaderMap,
) -> Response {
    let lang = Lang::choose(query.lang.as_deref(), &headers);
    let rendered = demand_page(&ctx, lang, &id).await;
    respond(&ctx, lang, rendered, query.lang.is_some())
}

fn kind_badge(lang: Lang, kind: DemandKind) -> Markup {
    match kind {
        DemandKind::Demand => html! { span.badge.open { (lang.t(Text::KindDemand)) } },
        DemandKind::Challenge => html! { span.badge.licensed { (lang.t(Text::KindChallenge)) } },
    }
}

fn state_label(lang: Lang, state: DemandState) -> &'static str {
    lang.t(match state {
        DemandState::Open => Text::DemandOpen,
        DemandState::Answered => Text::DemandAnswered,
        DemandState::Awarded => Text::DemandAwarded,
        DemandState::Fulfilled => Text::DemandFulfilled,
        DemandState::Expired => Text::DemandExpired,
        DemandState::Withdrawn => Text::DemandWithdrawn,
    })
}

/// A demand's facts in one line: kind, state, budget (and award), deadline.
fn facts(lang: Lang, demand: &DemandView) -> Markup {
    html! {
        p.meta {
            (kind_badge(lang, demand.kind)) " "
            span.state data-state=(demand.state.as_str()) { (state_label(lang, demand.state)) }
            " · " (lang.t(Text::Budget)) " " (yuan(demand.budget_fen))
            @if let Some(award) = demand.document["awardFen"].as_u64() { " · " (lang.t(Text::Award)) " " (yuan(award)) }
            " · " (lang.t(Text::Deadline)) " " (demand.deadline.format("%Y-%m-%d %H:%M UTC"))
            " · " (demand.answers) " " (lang.t(Text::Answers))
        }
    }
}

/// The board's address: searching for `q` when given, of `kind` when given, from `cursor` when given.
pub(super) fn board_url(q: Option<&str>, kind: Option<DemandKind>, cursor: Option<&str>) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    if let Some(q) = q {
        query.append_pair("q", q);
    }
    if let Some(kind) = kind {
        query.append_pair("kind", kind.as_str());
    }
    if let Some(cursor) = cursor {
        query.append_pair("cursor", cursor);
    }
    format!("/demands?{}", query.finish())
}

async fn board_page(ctx: &Context, lang: Lang, board: BoardQuery<'_>) -> Result<Markup, AppError> {
    let (q, kind) = (board.text, board.kind);
    let browsing = q.is_none() && board.cursor.is_none();
    let page = demands::list(ctx, board).await?;
    // The first page of the board also shows what the peers' boards hold (answered there).
    let at_peers: Vec<PeerDemandView> = match browsing {
        true => demands::at_peers(ctx)
            .await?
            .into_iter()
            .filter(|demand| kind.is_none_or(|kind| demand.kind == kind))
            .collect(),
        false => Vec::new(),
    };
    let tabs = [
        (None, Text::AllDemands),
        (Some(DemandKind::Demand), Text::KindDemand),
        (Some(DemandKind::Challenge), Text::KindChallenge),
    ];
    let body = html! {
        h1 { (lang.t(Text::DemandBoard)) }
        p.meta { (lang.t(Text::DemandBoardHelp)) }
        section.card {
            h2 { (lang.t(Text::PostDemand)) }
            p.meta #order-unavailable { (lang.t(Text::NeedsScript)) }
            form #demand-form hidden data-lang=(if lang.english() { "en" } else { "zh" }) {
                p.field {
                    label for="demand-title" { (lang.t(Text::DemandTitle)) }
                    input #demand-title name="title" type="text" maxlength="200" required;
                }
                p.field {
                    label for="demand-description" { (lang.t(Text::DemandDescription)) }
                    textarea #demand-description name="description" rows="3" maxlength="5000" {}
                }
                p.field {
                    label for="demand-fields" { (lang.t(Text::WantedFields)) }
                    input #demand-fields name="fields" type="text" required;
                }
                p.field {
                    label for="demand-budget" { (lang.t(Text::BudgetYuan)) }
                    input #demand-budget name="budget" type="number" min="0" step="0.01" required;
                }
                p.field {
                    label for="demand-deadline" { (lang.t(Text::Deadline)) }
                    input #demand-deadline name="deadline" type="date" required;
                }
                p.field {
                    label for="demand-contact" { (lang.t(Text::Contact)) }
                    input #demand-contact name="contact" type="text" maxlength="200" required;
                }
                button #demand-submit type="submit" { (lang.t(Text::SignAndPost)) }
                p #demand-status role="status" aria-live="polite" {}
            }
        }
        nav.kinds aria-label=(lang.t(Text::DemandBoard)) {
            @for (tab, label) in tabs {
                a href=(board_url(q, tab, None)) aria-current=[(tab == kind).then_some("true")] { (lang.t(label)) } " "
            }
        }
        form.search action="/demands" method="get" role="search" {
            label.visually-hidden for="demand-q" { (lang.t(Text::SearchDemands)) }
            input #demand-q type="search" name="q" value=(q.unwrap_or_default()) placeholder=(lang.t(Text::SearchDemands));
            @if let Some(kind) = kind { input type="hidden" name="kind" value=(kind.as_str()); }
            button type="submit" { (lang.t(Text::Search)) }
        }
        @if let Some(total) = page.total { p.meta #demand-total { (total) " " (lang.t(Text::Results)) } }
        @if page.items.is_empty() { p.empty { (lang.t(Text::NoDemands)) } }
        @for item in &page.items {
            article.card.demand data-demand=(item.id) {
                h2 { a href={ "/demands/" (item.id) } { (item.title.preferred(lang.english())) } }
                (facts(lang, item))
            }
        }
        @if let Some(next) = &page.next_cursor {
            nav { a.button href=(board_url(q, kind, Some(next))) rel="next" { (lang.t(Text::NextPage)) } }
        }
        @if !at_peers.is_empty() {
            section #peer-demands {
                h2 { (lang.t(Text::PeerDemands)) }
                p.meta { (lang.t(Text::PeerDemandsHelp)) }
                @for demand in &at_peers {
                    article.card.demand data-peer-demand=(demand.id) {
                        h3 { a href=(demand.url) rel="external" { (demand.title.preferred(lang.english())) } }
                        p.meta {
                            (kind_badge(lang, demand.kind)) " "
                            span.state data-state=(demand.state.as_str()) { (state_label(lang, demand.state)) }
                            " · " (lang.t(Text::Budget)) " " (yuan(demand.budget_fen))
                            " · " (lang.t(Text::Deadline)) " " (demand.deadline.format("%Y-%m-%d"))
                            " · " (lang.t(Text::HostedAt)) " " a href=(demand.node_url) rel="external" { (demand.node_name) }
                        }
                    }
                }
            }
        }
    };
    Ok(pages::layout_with_head(
        lang,
        lang.t(Text::DemandBoard),
        market_head(lang)?,
        body,
    ))
}

async fn demand_page(ctx: &Context, lang: Lang, id: &str) -> Result<Markup, AppError> {
    let detail = demands::get(ctx, id).await?;
    let demand = &detail.demand;
    let text = |field: &str| {
        serde_json::from_value::<crate::domain::LocalizedText>(demand.document[field].clone())
            .unwrap_or_default()
            .preferred(lang.english())
            .to_owned()
    };
    let fields = serde_json::from_value::<crate::domain::demand::Wanted>(demand.document["wanted"].clone())
        .map(|wanted| wanted.names())
        .unwrap_or_default();
    // An awarded demand of licensed data: the poster orders the accepted answer here.
    let award = match (&demand.accepted_answer, demand.state) {
        (Some(answer_id), DemandState::Awarded) => {
            let answer = detail.answer_list.iter().find(|answer| answer.id == *answer_id);
            // A promised delivery is ordered once delivered.
            match answer.and_then(|answer| Some((answer, answer.version.or(answer.delivered)?))) {
                Some((answer, number)) => {
                    let version = catalog::get_version(ctx, &answer.dataset, Some(number)).await?;
                    let metadata = &catalog::get_dataset(ctx, &answer.dataset).await?.dataset.metadata;
                    (version.entry.access == AccessClass::Licensed)
                        .then(|| {
                            metadata
                                .offer
                                .clone()
                                .map(|offer| (answer, version.entry.version, offer, metadata.title.clone()))
                        })
                        .flatten()
                }
                None => None,
            }
        }
        _ => None,
    };
    let body = html! {
        article {
            h1 { (text("title")) }
            (facts(lang, demand))
            p { (text("description")) }
            p { (lang.t(Text::FieldsWanted)) ": " @for field in &fields { span.tag { (field) } } }
            dl {
                dt { (lang.t(Text::Contact)) } dd { (demand.document["contact"].as_str().unwrap_or_default()) }
                dt { (lang.t(Text::Poster)) } dd { code { (demand.poster) } }
            }
            // Shown by the market's script to the poster (the browser holding the poster's key).
            section.card #poster-actions hidden data-poster=(demand.poster) data-demand=(demand.id)
                data-open=(demand.state.is_open()) {
                @if demand.state.is_open() {
                    button #withdraw-demand type="button" { (lang.t(Text::Withdraw)) }
                }
                @if let Some((answer, version, offer, title)) = &award {
                    form #order-form hidden data-dataset=(answer.dataset) data-version=(version)
                        data-title=(title.preferred(lang.english())) data-demand=(demand.id) data-price=(answer.price_fen) {
                        h3 { (lang.t(Text::OrderAtAnswer)) " " (yuan(answer.price_fen)) }
                        (order_fields(lang, offer))
                    }
                }
                p #demand-status role="status" aria-live="polite" {}
            }
            section {
                h2 { (lang.t(Text::AnswersHeading)) }
                @if detail.answer_list.is_empty() { p.empty { (lang.t(Text::NoAnswers)) } }
                @for answer in &detail.answer_list {
                    @let accepted = demand.accepted_answer.as_deref() == Some(answer.id.as_str());
                    article.card.answer data-answer=(answer.id) data-accepted=(accepted) {
                        h3 {
                            @match answer.version.or(answer.delivered) {
                                Some(version) => {
                                    a href={ "/datasets/" (answer.dataset) "?version=" (version) } { (answer.dataset) }
                                    " · " (lang.t(Text::Version)) " " (version)
                                }
                                None => { (answer.dataset) }
                            }
                            " · " (yuan(answer.price_fen))
                        }
                        @if let Some(deliver_by) = answer.deliver_by {
                            p.promise {
                                (lang.t(Text::PromisedBy)) " " (deliver_by.format("%Y-%m-%d"))
                                @if answer.delivered.is_none() && accepted { " · " (lang.t(Text::AwaitingDelivery)) }
                                br;
                                (lang.t(Text::FieldsPromised)) ": "
                                @for field in answer.document["promise"]["fields"].as_array().into_iter().flatten() {
                                    span.tag { (field.as_str().unwrap_or_default()) } " "
                                }
                            }
                        }
                        p.meta { (lang.t(Text::Provider)) " " a href={ "/publishers/" (answer.publisher) } { (answer.publisher) }
                            " · " code { (answer.provider) } }
                        @if let Some(note) = answer.document["note"].as_str().filter(|note| !note.is_empty()) { p { (note) } }
                        @if accepted { p { strong { (state_label(lang, DemandState::Awarded)) } } }
                        button.accept-answer type="button" hidden data-answer=(answer.id) { (lang.t(Text::AcceptAnswer)) }
                    }
                }
            }
        }
    };
    Ok(pages::layout_with_head(lang, &text("title"), market_head(lang)?, body))
}
