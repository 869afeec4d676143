//! The publisher console: sign in with the publisher token, see the publisher's datasets
//! and orders, decide requested orders and revoke agreements, through the same services
//! as the API (each decision signed by the node and logged).
//!
//! The token is kept in a session cookie that page scripts cannot read (`HttpOnly`),
//! other sites never send (`SameSite=Strict`), only the console receives (`Path=/console`)
//! and, where the node is reached over https, travels encrypted (`Secure`). Every form the
//! console posts carries a token derived from the cookie's and is refused when the browser
//! says it comes from another origin; the console's script reaches its copies of the
//! publishing routes (`/console/api/…`) with that token in a header, which is the only way
//! a cookie authenticates anything (see [`AuthenticatedPublisher`](crate::http::extract::AuthenticatedPublisher)).

use axum::Router;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::{Markup, html};
use serde::Deserialize;

use super::i18n::{Lang, Text};
use super::pages::{self, access_badge};
use super::respond;
use crate::domain::PublisherId;
use crate::domain::order::OrderState;
use crate::error::AppError;
use crate::http::extract::{CONSOLE_COOKIE, console_token, same_origin};
use crate::service::demands::{self, BoardQuery, DemandView};
use crate::service::orders::{self, Decision};
use crate::service::{Context, accounts};

/// The console's address, and the only path its cookie is sent to.
const CONSOLE: &str = "/console";

/// The console's routes.
pub fn routes() -> Router<Context> {
    Router::new()
        .route(CONSOLE, get(console))
        .route("/console/sign-in", post(sign_in))
        .route("/console/sign-out", post(sign_out))
        .route("/console/orders/{order}/decision", post(decide))
        .route("/console/orders/{order}/revocation", post(revoke))
}

/// The console's query: the language, and which action just succeeded.
#[derive(Debug, Default, Deserialize)]
struct ConsoleQuery {
    lang: Option<String>,
    done: Option<String>,
}

/// What an action that succeeded says when the console shows again.
fn done_text(done: &str) -> Option<Text> {
    match done {
        "signed-in" => Some(Text::DoneSignedIn),
        "agreed" => Some(Text::DoneAgreed),
        "refused" => Some(Text::DoneRefused),
        "revoked" => Some(Text::DoneRevoked),
        _ => None,
    }
}

/// The signed-in publisher and its token; `None` without a cookie or with one whose token
/// no longer authenticates.
async fn signed_in<'a>(ctx: &Context, headers: &'a HeaderMap) -> Result<Option<(PublisherId, &'a str)>, AppError> {
    let Some(token) = console_token(headers) else {
        return Ok(None);
    };
    match accounts::authenticate_publisher(ctx.store.as_ref(), token).await {
        Ok(publisher) => Ok(Some((publisher, token))),
        Err(AppError::Unauthorized) => Ok(None),
        Err(other) => Err(other),
    }
}

/// The `Set-Cookie` value that keeps `token` for the browser's session, or (`None`) ends it.
fn session_cookie(ctx: &Context, token: Option<&str>) -> Result<HeaderValue, AppError> {
    let secure = if ctx.node.public_url.starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    let value = match token {
        Some(token) => format!("{CONSOLE_COOKIE}={token}; Path={CONSOLE}; HttpOnly; SameSite=Strict{secure}"),
        None => format!("{CONSOLE_COOKIE}=; Path={CONSOLE}; HttpOnly; SameSite=Strict; Max-Age=0{secure}"),
    };
    HeaderValue::from_str(&value).map_err(|_| AppError::Unauthorized)
}

/// The publisher a console form acts for: signed in, posted from this origin, carrying
/// the form token of the session. A post without a session goes back to sign-in.
async fn form_publisher(ctx: &Context, headers: &HeaderMap, form_token: &str) -> Result<Option<PublisherId>, AppError> {
    if !same_origin(&ctx.node.public_url, headers) {
        return Err(AppError::Forbidden(
            "a console form must be posted from this node's pages".into(),
        ));
    }
    let Some((publisher, token)) = signed_in(ctx, headers).await? else {
        return Ok(None);
    };
    if !accounts::form_token_matches(token, form_token) {
        return Err(AppError::Forbidden(
            "the form is not this session's: reload the console".into(),
        ));
    }
    Ok(Some(publisher))
}

/// After a form: the console again, saying what was done (303, so a reload repeats nothing).
fn back_to_console(done: &str) -> Response {
    Redirect::to(&format!("{CONSOLE}?done={done}")).into_response()
}

async fn console(State(ctx): State<Context>, Query(query): Query<ConsoleQuery>, headers: HeaderMap) -> Response {
    let lang = Lang::choose(query.lang.as_deref(), &headers);
    let rendered = async {
        match signed_in(&ctx, &headers).await? {
            None => Ok(sign_in_page(lang, None)),
            Some((publisher, token)) => {
                let done = query.done.as_deref().and_then(done_text);
                console_page(&ctx, lang, &publisher, &accounts::form_token(token), done).await
            }
        }
    }
    .await;
    let mut response = respond(&ctx, lang, rendered, query.lang.is_some());
    // The page holds the session's form token: no cache keeps it.
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The sign-in form.
#[derive(Deserialize)]
struct SignIn {
    token: String,
}

async fn sign_in(
    State(ctx): State<Context>,
    headers: HeaderMap,
    form: Result<Form<SignIn>, FormRejection>,
) -> Response {
    let lang = Lang::choose(None, &headers);
    let outcome = async {
        if !same_origin(&ctx.node.public_url, &headers) {
            return Err(AppError::Forbidden(
                "a console form must be posted from this node's pages".into(),
            ));
        }
        let Form(form) = form.map_err(|rejection| AppError::InvalidRequest(rejection.body_text()))?;
        let token = form.token.trim();
        accounts::authenticate_publisher(ctx.store.as_ref(), token).await?;
        let mut response = back_to_console("signed-in");
        response
            .headers_mut()
            .insert(header::SET_COOKIE, session_cookie(&ctx, Some(token))?);
        Ok(response)
    }
    .await;
    match outcome {
        Ok(response) => response,
        Err(AppError::Unauthorized) => {
            let mut response = respond(&ctx, lang, Ok(sign_in_page(lang, Some(Text::SignInRefused))), false);
            *response.status_mut() = StatusCode::UNAUTHORIZED;
            response
        }
        Err(error) => respond(&ctx, lang, Err(error), false),
    }
}

/// A console form: every one carries the session's form token.
trait ConsoleForm {
    fn form_token(&self) -> &str;
}

/// Runs a console form's `action` for the publisher it acts for (see [`form_publisher`]);
/// without a session the browser goes back to sign-in, and a refusal is an error page.
async fn run_form<T, F, Fut>(
    ctx: &Context,
    headers: &HeaderMap,
    form: Result<Form<T>, FormRejection>,
    action: F,
) -> Response
where
    T: ConsoleForm,
    F: FnOnce(PublisherId, T) -> Fut,
    Fut: Future<Output = Result<Response, AppError>>,
{
    let outcome = async {
        let Form(form) = form.map_err(|rejection| AppError::InvalidRequest(rejection.body_text()))?;
        match form_publisher(ctx, headers, form.form_token()).await? {
            Some(publisher) => action(publisher, form).await,
            None => Ok(Redirect::to(CONSOLE).into_response()),
        }
    }
    .await;
    outcome.unwrap_or_else(|error| respond(ctx, Lang::choose(None, headers), Err(error), false))
}

/// A form that carries only the session's form token.
#[derive(Deserialize)]
struct SessionForm {
    form_token: String,
}

impl ConsoleForm for SessionForm {
    fn form_token(&self) -> &str {
        &self.form_token
    }
}

async fn sign_out(
    State(ctx): State<Context>,
    headers: HeaderMap,
    form: Result<Form<SessionForm>, FormRejection>,
) -> Response {
    run_form(&ctx, &headers, form, |_, _| async {
        let mut response = Redirect::to(CONSOLE).into_response();
        response
            .headers_mut()
            .insert(header::SET_COOKIE, session_cookie(&ctx, None)?);
        Ok(response)
    })
    .await
}

/// The decision form: which button was pressed, and why.
#[derive(Deserialize)]
struct DecisionForm {
    form_token: String,
    decision: String,
    #[serde(default)]
    reason: String,
}

impl ConsoleForm for DecisionForm {
    fn form_token(&self) -> &str {
        &self.form_token
    }
}

/// A reason as the service takes it: none when left blank.
fn given(reason: String) -> Option<String> {
    Some(reason).filter(|reason| !reason.trim().is_empty())
}

async fn decide(
    State(ctx): State<Context>,
    Path(order): Path<String>,
    headers: HeaderMap,
    form: Result<Form<DecisionForm>, FormRejection>,
) -> Response {
    let (ctx, order) = (&ctx, &order);
    run_form(ctx, &headers, form, move |publisher, form| async move {
        let accept = match form.decision.as_str() {
            "agree" => true,
            "refuse" => false,
            _ => return Err(AppError::InvalidRequest("decision: agree or refuse".into())),
        };
        let decision = Decision {
            accept,
            reason: given(form.reason),
        };
        orders::decide(ctx, &publisher, order, decision).await?;
        Ok(back_to_console(if accept { "agreed" } else { "refused" }))
    })
    .await
}

/// The revocation form.
#[derive(Deserialize)]
struct RevocationForm {
    form_token: String,
    #[serde(default)]
    reason: String,
}

impl ConsoleForm for RevocationForm {
    fn form_token(&self) -> &str {
        &self.form_token
    }
}

async fn revoke(
    State(ctx): State<Context>,
    Path(order): Path<String>,
    headers: HeaderMap,
    form: Result<Form<RevocationForm>, FormRejection>,
) -> Response {
    let (ctx, order) = (&ctx, &order);
    run_form(ctx, &headers, form, move |publisher, form| async move {
        orders::revoke(ctx, &publisher, order, given(form.reason)).await?;
        Ok(back_to_console("revoked"))
    })
    .await
}

fn sign_in_page(lang: Lang, refused: Option<Text>) -> Markup {
    let body = html! {
        h1 { (lang.t(Text::Console)) }
        form.card #sign-in method="post" action="/console/sign-in" {
            @if let Some(refused) = refused { p.error role="alert" { (lang.t(refused)) } }
            p.field {
                label for="publisher-token" { (lang.t(Text::PublisherToken)) }
                input #publisher-token type="password" name="token" autocomplete="off" required;
            }
            p.meta { (lang.t(Text::SignInHelp)) }
            button #sign-in-submit type="submit" { (lang.t(Text::SignIn)) }
        }
    };
    pages::layout(lang, lang.t(Text::Console), body)
}

/// The metadata of a dataset published for the first time (shown by the console's script
/// when "new dataset" is chosen; disabled, and so not validated, otherwise), and the terms
/// of its offer when it is licensed.
fn new_dataset_fields(lang: Lang) -> Markup {
    let field = |id: &str, text: Text, input: Markup| {
        html! { p.field { label for=(id) { (lang.t(text)) } (input) } }
    };
    html! {
        fieldset #new-dataset hidden disabled {
            legend { (lang.t(Text::NewDataset)) }
            p.meta { (lang.t(Text::NewDatasetHelp)) }
            (field("new-id", Text::DatasetIdField, html! {
                input #new-id name="newId" type="text" required maxlength="64" pattern="[a-z0-9][a-z0-9_\\-]{0,63}" autocomplete="off";
            }))
            (field("new-title-zh", Text::TitleZh, html! { input #new-title-zh name="newTitleZh" type="text" maxlength="200"; }))
            (field("new-title-en", Text::TitleEn, html! { input #new-title-en name="newTitleEn" type="text" maxlength="200"; }))
            (field("new-description-zh", Text::DescriptionZh, html! { textarea #new-description-zh name="newDescriptionZh" rows="3" maxlength="20000" {} }))
            (field("new-description-en", Text::DescriptionEn, html! { textarea #new-description-en name="newDescriptionEn" rows="3" maxlength="20000" {} }))
            (field("new-keywords", Text::KeywordsField, html! { input #new-keywords name="newKeywords" type="text"; }))
            (field("new-license", Text::LicenseField, html! { input #new-license name="newLicense" type="text" required value="CC-BY-4.0" maxlength="200"; }))
            (field("new-access", Text::Access, html! {
                select #new-access name="newAccess" {
                    option value="open" { (lang.t(Text::Open)) }
                    option value="licensed" { (lang.t(Text::Licensed)) }
                }
            }))
            fieldset #new-offer hidden disabled {
                legend { (lang.t(Text::OfferTerms)) }
                (field("new-price", Text::PriceYuan, html! { input #new-price name="newPrice" type="number" min="0" step="0.01" required; }))
                (field("new-purposes", Text::PurposesField, html! { input #new-purposes name="newPurposes" type="text" required; }))
                (field("new-validity", Text::LongestValidity, html! { input #new-validity name="newValidity" type="number" min="1" max="3650" value="365" required; }))
                (field("new-downloads", Text::MostDownloads, html! { input #new-downloads name="newDownloads" type="number" min="1" max="10000" value="5" required; }))
                (field("new-license-text", Text::LicenseTextField, html! { textarea #new-license-text name="newLicenseText" rows="3" required maxlength="50000" {} }))
                p.field.check {
                    input #new-auto-accept name="newAutoAccept" type="checkbox" checked;
                    " "
                    label for="new-auto-accept" { (lang.t(Text::AutoAccept)) }
                }
            }
        }
    }
}

/// The hidden field every console form carries.
fn form_token_field(form_token: &str) -> Markup {
    html! { input type="hidden" name="form_token" value=(form_token); }
}

async fn console_page(
    ctx: &Context,
    lang: Lang,
    publisher: &PublisherId,
    form_token: &str,
    done: Option<Text>,
) -> Result<Markup, AppError> {
    let datasets = pages::publisher_datasets(ctx, publisher).await?;
    let orders = orders::publisher_orders(ctx, publisher).await?;
    // The newest demands still taking answers, to answer with the publisher's data.
    let open_demands: Vec<DemandView> = demands::list(ctx, BoardQuery::default())
        .await?
        .items
        .into_iter()
        .filter(|demand| demand.state.is_open())
        .collect();
    let when = |time: chrono::DateTime<chrono::Utc>| time.format("%Y-%m-%d %H:%M UTC").to_string();
    let body = html! {
        h1 { (lang.t(Text::Console)) ": " (publisher) }
        @if let Some(done) = done { p.card.done role="status" { (lang.t(done)) } }
        form #sign-out method="post" action="/console/sign-out" {
            (form_token_field(form_token))
            button type="submit" { (lang.t(Text::SignOut)) }
        }
        section {
            h2 { (lang.t(Text::Datasets)) " (" (datasets.total) ")" }
            div.scroll { table {
                thead { tr { th { (lang.t(Text::Datasets)) } th { (lang.t(Text::Access)) } th { (lang.t(Text::Updated)) } } }
                tbody { @for item in &datasets.items { tr {
                    td { a href={ "/datasets/" (item.id) } { (item.metadata.title.preferred(lang.english())) } br; small { (item.id) } }
                    td { (access_badge(lang, item.metadata.access)) }
                    td { (when(item.updated_at)) }
                } } }
            } }
        }
        section.card #publish {
            h2 { (lang.t(Text::PublishVersion)) }
            p.meta { (lang.t(Text::PublishHelp)) }
            p.meta #publish-unavailable { (lang.t(Text::NeedsScript)) }
            // Shown by the console's script; its words are the form's data, in the page's language.
            form #publish-form hidden data-form-token=(form_token)
                data-hashing=(lang.t(Text::Hashing)) data-uploading=(lang.t(Text::Uploading))
                data-held=(lang.t(Text::AlreadyHeld)) data-publishing=(lang.t(Text::Publishing))
                data-published=(lang.t(Text::PublishedVersion)) data-failed=(lang.t(Text::Failed))
                data-sent-label=(lang.t(Text::FilesSent)) data-held-label=(lang.t(Text::FilesHeld))
                data-no-files=(lang.t(Text::NoFilesChosen)) {
                p.field {
                    label for="publish-dataset" { (lang.t(Text::Datasets)) }
                    select #publish-dataset name="target" {
                        @for item in &datasets.items { option value=(item.id) { (item.id) } }
                        option value="" { (lang.t(Text::NewDataset)) }
                    }
                }
                (new_dataset_fields(lang))
                p.field {
                    label for="publish-files" { (lang.t(Text::Files)) }
                    input #publish-files type="file" name="files" multiple;
                }
                p.field {
                    label for="publish-folder" { (lang.t(Text::ChooseFolder)) }
                    input #publish-folder type="file" name="folder" webkitdirectory;
                }
                button #publish-submit type="submit" { (lang.t(Text::Publish)) }
                " "
                progress #publish-progress max="1" value="0" hidden aria-label=(lang.t(Text::Uploading)) {}
                p #publish-status role="status" aria-live="polite" {}
            }
        }
        @if !datasets.items.is_empty() && !open_demands.is_empty() {
            section #answer-demands {
                h2 { (lang.t(Text::OpenDemands)) }
                p.meta { (lang.t(Text::AnswerHelp)) }
                @for demand in &open_demands {
                    // Shown by the console's script, which signs the answer with this browser's key.
                    form.card.answer-form hidden data-demand=(demand.id) data-form-token=(form_token) {
                        h3 { a href={ "/demands/" (demand.id) } { (demand.title.preferred(lang.english())) } }
                        p.meta { (lang.t(Text::Budget)) " " (pages::yuan(demand.budget_fen))
                            " · " (lang.t(Text::Deadline)) " " (demand.deadline.format("%Y-%m-%d")) }
                        @let field = |name: &str| format!("{name}-{}", demand.id);
                        p.field {
                            label for=(field("answer-version")) { (lang.t(Text::AnswerWith)) }
                            select.answer-version id=(field("answer-version")) name="version" {
                                @for item in &datasets.items {
                                    option value={ (item.id) "@" (item.latest_version) } { (item.id) " · " (lang.t(Text::Version)) " " (item.latest_version) }
                                }
                                option value="" { (lang.t(Text::PromiseInstead)) }
                            }
                        }
                        // Shown (and enabled, so validated) by the script when a promise is chosen.
                        fieldset.promise hidden disabled {
                            legend { (lang.t(Text::PromiseInstead)) }
                            p.field {
                                label for=(field("promise-dataset")) { (lang.t(Text::PromiseDataset)) }
                                input id=(field("promise-dataset")) name="promiseDataset" type="text" required maxlength="64"
                                    pattern="[a-z0-9][a-z0-9_\\-]{0,63}" autocomplete="off";
                            }
                            p.field {
                                label for=(field("promise-fields")) { (lang.t(Text::WantedFields)) }
                                input id=(field("promise-fields")) name="promiseFields" type="text" required;
                            }
                            p.field {
                                label for=(field("promise-date")) { (lang.t(Text::DeliverBy)) }
                                input id=(field("promise-date")) name="promiseDate" type="date" required;
                            }
                        }
                        p.field {
                            label for=(field("answer-price")) { (lang.t(Text::PriceYuan)) }
                            input id=(field("answer-price")) name="price" type="number" min="0" step="0.01"
                                max=(pages::yuan_amount(demand.budget_fen)) required;
                        }
                        p.field {
                            label for=(field("answer-note")) { (lang.t(Text::Note)) }
                            input id=(field("answer-note")) name="note" type="text" maxlength="1000";
                        }
                        button.answer type="submit" { (lang.t(Text::SignAndAnswer)) }
                        p.answer-status role="status" aria-live="polite" {}
                    }
                }
            }
        }
        section #orders {
            h2 { (lang.t(Text::Orders)) }
            @if orders.is_empty() { p.empty { (lang.t(Text::NoOrdersYet)) } }
            @for order in &orders {
                article.card.console-order data-order=(order.id) data-state=(order.state.as_str()) {
                    h3 { a href={ "/datasets/" (order.dataset) "?version=" (order.version) } { (order.dataset) } " · " (lang.t(Text::Version)) " " (order.version) }
                    dl {
                        dt { (lang.t(Text::State)) } dd.state { (lang.order_state(order.state)) }
                        dt { (lang.t(Text::Buyer)) } dd { code { (order.buyer) } }
                        dt { (lang.t(Text::Received)) } dd { (when(order.created_at)) }
                        @if let Some(until) = order.valid_until { dt { (lang.t(Text::Validity)) } dd { (when(until)) } }
                        dt { (lang.t(Text::Deliveries)) } dd { (order.completed_deliveries) " / " (order.max_downloads) " " (lang.t(Text::DownloadsAllowed)) }
                        dt { (lang.t(Text::Refusals)) } dd { (order.refusals) }
                        @if let Some(demand) = &order.demand {
                            dt { (lang.t(Text::DemandBoard)) } dd { a.demand href={ "/demands/" (demand) } { (demand) } }
                        }
                    }
                    @let reason_id = format!("reason-{}", order.id);
                    @match order.state {
                        OrderState::Requested => {
                            form.decision method="post" action={ "/console/orders/" (order.id) "/decision" } {
                                (form_token_field(form_token))
                                p.field {
                                    label for=(reason_id) { (lang.t(Text::Reason)) }
                                    input id=(reason_id) type="text" name="reason" maxlength="1000";
                                }
                                button.agree type="submit" name="decision" value="agree" { (lang.t(Text::Agree)) } " "
                                button.refuse type="submit" name="decision" value="refuse" { (lang.t(Text::Refuse)) }
                            }
                        }
                        OrderState::Agreed => {
                            form.revocation method="post" action={ "/console/orders/" (order.id) "/revocation" } {
                                (form_token_field(form_token))
                                p.field {
                                    label for=(reason_id) { (lang.t(Text::Reason)) }
                                    input id=(reason_id) type="text" name="reason" maxlength="1000";
                                }
                                button.revoke type="submit" { (lang.t(Text::Revoke)) }
                            }
                        }
                        OrderState::Terminated => {}
                    }
                }
            }
        }
    };
    let head = html! {
        (pages::market_head(lang)?)
        script src="/static/console.js" defer {}
    };
    Ok(pages::layout_with_head(lang, lang.t(Text::Console), head, body))
}
