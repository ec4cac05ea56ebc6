//! `GET /payments`'s query: the page and the filters (`domain::search`), each checked with a
//! 422 naming it, and a combination no index serves answered 400 `unsupported_filter`.
use serde::Deserialize;
use utoipa::IntoParams;

use crate::domain::reference::MerchantReference;
use crate::domain::search::PaymentFilter;
use crate::domain::status::PaymentStatus;
use crate::http::error::{ApiError, FieldError};
use crate::http::request::{param, time};

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PaymentListQuery {
    /// Page size, 1 to 100 (default 20).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100, example = 20)]
    pub(super) limit: Option<String>,
    /// The `NextCursor` of the previous page (of the same filters); omit for the first page.
    pub(super) cursor: Option<String>,
    /// Only payments with this `MerchantReference` (yours, e.g. an order id).
    #[param(example = "order-10023")]
    reference: Option<String>,
    /// Only payments in this status now (`PENDING`, `PROCESSING`, `SUCCEEDED`, `DECLINED`, `FAILED`).
    #[param(example = "SUCCEEDED")]
    status: Option<String>,
    /// Only payments of this `CustomerID`.
    #[param(example = "cust-1")]
    customer: Option<String>,
    /// Only payments created at or after this time, ms since the epoch.
    #[param(value_type = Option<u64>, example = 1_767_225_600_000_u64)]
    created_gte: Option<String>,
    /// Only payments created before this time, ms since the epoch.
    #[param(value_type = Option<u64>, example = 1_769_904_000_000_u64)]
    created_lt: Option<String>,
}

impl PaymentListQuery {
    /// The filters asked for; every bad value named at once.
    pub fn filter(&self) -> Result<PaymentFilter, ApiError> {
        let mut errors = Vec::new();
        let reference = self.reference.as_deref().map(MerchantReference::parse);
        let reference = param(&mut errors, "reference", "invalid_format", reference, |e| e.to_string());
        let status = self.status.as_deref().map(str::parse::<PaymentStatus>);
        let status = param(&mut errors, "status", "invalid_format", status, |_| {
            "must be PENDING, PROCESSING, SUCCEEDED, DECLINED or FAILED".into()
        });
        let customer = self.customer.clone();
        if customer.as_deref().is_some_and(|c| c.is_empty() || c.chars().count() > 64) {
            errors.push(FieldError::new("customer", "invalid_format", "must be 1 to 64 characters"));
        }
        let created_gte = time(&mut errors, "created_gte", self.created_gte.as_deref());
        let created_lt = time(&mut errors, "created_lt", self.created_lt.as_deref());
        if !errors.is_empty() {
            return Err(ApiError::Validation(errors));
        }
        PaymentFilter::new(reference, status, customer, created_gte, created_lt)
            .map_err(|e| ApiError::BadRequest("unsupported_filter", e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(q: &str) -> Result<PaymentFilter, ApiError> {
        let uri: axum::http::Uri = format!("/payments?{q}").parse().unwrap();
        axum::extract::Query::<PaymentListQuery>::try_from_uri(&uri).unwrap().0.filter()
    }

    #[test]
    fn each_filter_is_read_and_checked() {
        let f = query("reference=order-1&created_gte=10&created_lt=20").unwrap();
        assert_eq!((f.created_gte, f.created_lt), (Some(10), Some(20)));
        assert!(query("status=SUCCEEDED").is_ok() && query("customer=c-1").is_ok() && query("").is_ok());
        let Err(ApiError::Validation(f)) = query("status=DONE&created_gte=yesterday") else { panic!("422") };
        assert_eq!(f.iter().map(|e| e.field.as_str()).collect::<Vec<_>>(), ["status", "created_gte"]);
        assert!(matches!(query("status=FAILED&customer=c"), Err(ApiError::BadRequest("unsupported_filter", _))));
        assert!(matches!(query("created_lt=10000000000000"), Err(ApiError::Validation(_))), "past 13 digits");
        assert!(query("created_lt=9999999999999").is_ok());
    }
}
