//! What every operation of the OpenAPI document shares, stated once: the
//! shapes of path and query parameters, and the problem responses the
//! node's middleware and extractors give on any route (bad input, missing
//! credentials, oversized bodies, rate limits, time limits).
//!
//! Handlers document their own successes and the refusals particular to them.

use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, RefOr, Schema};

/// Adds the problem responses and parameter shapes every operation shares.
pub struct CommonResponses;

/// The media type of every error body.
const PROBLEM: &str = "application/problem+json";

impl utoipa::Modify for CommonResponses {
    fn modify(&self, openapi: &mut OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                (&mut item.get, false),
                (&mut item.head, false),
                (&mut item.post, true),
                (&mut item.put, true),
            ];
            for (operation, writes) in operations {
                if let Some(operation) = operation.as_mut() {
                    shape_parameters(operation);
                    add_common_responses(operation, writes);
                }
            }
        }
    }
}

/// Patterns and ranges of the parameters whose names mean the same everywhere.
fn shape_parameters(operation: &mut Operation) {
    for parameter in operation.parameters.iter_mut().flatten() {
        let schema = match (&parameter.parameter_in, parameter.name.as_str()) {
            (ParameterIn::Path, "dataset" | "publisher") => text(Some("^[a-z0-9][a-z0-9_-]{0,63}$"), 1, 64),
            (ParameterIn::Path, "version") => text(Some("^([1-9][0-9]{0,8}|latest)$"), 1, 9),
            (ParameterIn::Path, "sha256") => text(Some("^[0-9a-f]{64}$"), 64, 64),
            (ParameterIn::Path, "order") => text(Some("^[0-9a-f-]{36}$"), 36, 36),
            (ParameterIn::Path, "name") => text(None, 1, 255),
            (ParameterIn::Query, "limit") => integer(1, 100),
            (ParameterIn::Query, "start" | "end" | "index" | "size" | "from" | "to") => {
                integer(0, 9_007_199_254_740_991)
            }
            (ParameterIn::Query, "offset") => integer(0, 9_007_199_254_740_991),
            _ => continue,
        };
        parameter.schema = Some(RefOr::T(schema));
    }
}

fn text(pattern: Option<&str>, min: usize, max: usize) -> Schema {
    Schema::Object(
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(pattern)
            .min_length(Some(min))
            .max_length(Some(max))
            .build(),
    )
}

fn integer(min: u64, max: u64) -> Schema {
    Schema::Object(
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .minimum(Some(min as f64))
            .maximum(Some(max as f64))
            .build(),
    )
}

fn add_common_responses(operation: &mut Operation, writes: bool) {
    let has_input = operation.parameters.as_ref().is_some_and(|p| !p.is_empty()) || operation.request_body.is_some();
    let has_path = operation
        .parameters
        .iter()
        .flatten()
        .any(|p| matches!(p.parameter_in, ParameterIn::Path));
    let secured = operation.security.as_ref().is_some_and(|s| !s.is_empty());
    let mut common = vec![("503", "the node's time limit passed, or a dependency is unavailable")];
    if has_input {
        common.push(("400", "malformed input"));
    }
    if has_path {
        common.push(("404", "nothing at this address"));
    }
    if secured {
        common.push(("401", "missing or invalid bearer token"));
        common.push(("403", "the token does not cover this resource"));
    }
    if writes {
        common.push(("429", "too many writes from this client or credential; see Retry-After"));
        if operation.request_body.is_some() {
            common.push(("413", "the body is larger than this operation accepts"));
        }
    }
    let responses = &mut operation.responses.responses;
    for (status, description) in common {
        responses
            .entry(status.to_owned())
            .or_insert_with(|| RefOr::T(ResponseBuilder::new().description(description).build()));
    }
    // Every error is problem+json, whoever documented it.
    for (status, response) in responses.iter_mut() {
        if let RefOr::T(response) = response
            && (status.starts_with('4') || status.starts_with('5'))
            && response.content.is_empty()
        {
            response.content.insert(
                PROBLEM.to_owned(),
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("Problem")))
                    .build(),
            );
        }
    }
}

/// An RFC 9457 problem document, as every error response carries it.
#[derive(serde::Serialize, utoipa::ToSchema)]
#[schema(as = Problem)]
pub struct ProblemDocument {
    /// `urn:shulian:problem:<kind>`: what went wrong, stable for clients to branch on.
    #[serde(rename = "type")]
    pub kind: String,
    /// The HTTP status's reason phrase.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// What went wrong, for a person.
    pub detail: String,
}
