//! The routes that are not a resource of a merchant: liveness and development token issuance.
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::auth::scopes::Scopes;
use super::error::{ApiError, ErrorEnvelope, FieldError, ServerErrors, doc};
use super::openapi::{TAG_AUTH, TAG_SERVICE};
use super::request::invalid_query;
use crate::domain::ids::MerchantId;

/// The API is up.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "PascalCase")]
#[schema(as = ServiceStatus)]
pub struct StatusBody {
    #[schema(example = "OK")]
    status: &'static str,
    #[schema(example = "api")]
    service: &'static str,
    #[schema(example = "0.1.0")]
    version: &'static str,
}

/// A bearer token for `Authorization: Bearer <AuthenticationToken>`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "PascalCase")]
#[schema(as = Token)]
pub struct TokenBody {
    /// An HS256 JWT naming the merchant.
    authentication_token: String,
    /// When it expires, ms since the epoch.
    authentication_token_expiry: u64,
    #[schema(example = "Bearer")]
    token_type: &'static str,
    #[serde(rename = "MerchantID")]
    #[schema(example = "test@merchant")]
    merchant_id: String,
}

/// Liveness: the API process answers (it checks no dependency).
#[utoipa::path(get, path = "/status", tag = TAG_SERVICE,
    responses(
        (status = 200, description = "The API is up.", body = StatusBody),
        (status = 503, description = doc::TIMEOUT, body = ErrorEnvelope,
            headers(("Retry-After" = u32, description = "Seconds to wait before retrying."))),
    ))]
pub async fn status() -> Json<StatusBody> {
    Json(status_body())
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TokenQuery {
    /// Another seeded merchant to issue the token for (default: `MERCHANT_ID`).
    #[param(example = "other@merchant")]
    merchant: Option<String>,
    /// The scopes the token grants, space-separated (default: all of `payments.read`,
    /// `payments.write` and `webhooks.manage`).
    #[param(example = "payments.read")]
    scope: Option<String>,
}

/// A bearer token (development token issuance).
///
/// For `MERCHANT_ID`, or with `?merchant=` for another seeded merchant. Switched off in
/// production (`TOKEN_ISSUANCE=false`). No authentication.
#[utoipa::path(get, path = "/token", tag = TAG_AUTH, params(TokenQuery),
    responses(
        (status = 200, description = "A token valid for `TOKEN_TTL_SECS`.", body = TokenBody),
        (status = 400, description = "`invalid_query`: the query string cannot be read.", body = ErrorEnvelope),
        (status = 404, description = "`token_issuance_disabled`: token issuance is switched off.", body = ErrorEnvelope),
        (status = 422, description = "`validation_failed`: `Fields` names `merchant` with code `unknown_merchant`, \
            or `scope` with code `unknown_scope`.",
            body = ErrorEnvelope),
        ServerErrors,
    ))]
pub async fn token(
    State(state): State<AppState>,
    query: Result<Query<TokenQuery>, QueryRejection>,
) -> Result<Json<TokenBody>, ApiError> {
    let super::auth::Verifier::Hs256(issuer) = &state.auth.verifier else {
        return Err(ApiError::TokenIssuanceDisabled);
    };
    if !state.settings.token_issuance {
        return Err(ApiError::TokenIssuanceDisabled);
    }
    let Query(q) = query.map_err(|_| invalid_query())?;
    let merchant = match q.merchant {
        None => state.settings.default_merchant.clone(),
        Some(m) => {
            let m = MerchantId::parse(&m).map_err(|_| unknown_merchant())?;
            if !state.services.is_merchant(&m).await? {
                return Err(unknown_merchant());
            }
            m
        }
    };
    let scopes = match q.scope.as_deref().map(str::trim) {
        None | Some("") => Scopes::ALL,
        Some(claim) => {
            let scopes = Scopes::parse(claim);
            if scopes.claim().split(' ').count() != claim.split_ascii_whitespace().count() || scopes == Scopes::NONE {
                return Err(ApiError::Validation(vec![FieldError::new(
                    "scope",
                    "unknown_scope",
                    "must name payments.read, payments.write or webhooks.manage, space-separated",
                )]));
            }
            scopes
        }
    };
    let issued = issuer.issue(&merchant, scopes, state.services.clock.now_ms());
    Ok(Json(token_body(issued.token, issued.expires_at_ms, merchant.to_string())))
}

fn unknown_merchant() -> ApiError {
    ApiError::Validation(vec![FieldError::new("merchant", "unknown_merchant", "is not a known merchant")])
}

fn status_body() -> StatusBody {
    StatusBody { status: "OK", service: "api", version: env!("CARGO_PKG_VERSION") }
}

fn token_body(token: String, expires_at_ms: u64, merchant: String) -> TokenBody {
    TokenBody {
        authentication_token: token,
        authentication_token_expiry: expires_at_ms,
        token_type: "Bearer",
        merchant_id: merchant,
    }
}
