//! Turns SDK errors into `StoreError`s. Only the AWS error *code* is kept: messages can name
//! tables, ARNs or account ids, which must never reach a log line or an API answer.
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::CancellationReason;

use crate::aws::AwsFailure;
use crate::domain::ports::{ConflictKind, StoreError};

const TRANSIENT_CODES: &[&str] = &[
    "ThrottlingException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "InternalServerError",
    "ServiceUnavailable",
    "TransactionConflictException",
    "TransactionInProgressException",
    "LimitExceededException",
];

pub fn classify<E: ProvideErrorMetadata, R>(err: SdkError<E, R>) -> StoreError {
    match AwsFailure::of(&err) {
        AwsFailure::Service(code) => from_code(code.as_deref()),
        f @ AwsFailure::Build => StoreError::Permanent(f.reason()),
        f => StoreError::Transient(f.reason()),
    }
}

fn from_code(code: Option<&str>) -> StoreError {
    match code {
        Some("ConditionalCheckFailedException") => StoreError::Conflict(ConflictKind::WrongState),
        Some("ResourceNotFoundException") => StoreError::Permanent("table not found".into()),
        Some(c) if TRANSIENT_CODES.contains(&c) => StoreError::Transient(c.to_owned()),
        Some(c) => StoreError::Permanent(c.to_owned()),
        None => StoreError::Transient("unknown service error".into()),
    }
}

/// For a cancelled transaction: the index of the first action whose condition failed, if the
/// service said which. Other cancellation causes (conflicts, throttling) are transient.
pub fn classify_transaction<R>(
    err: SdkError<aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError, R>,
) -> Result<Option<usize>, StoreError> {
    use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError as E;
    if let SdkError::ServiceError(se) = &err
        && let E::TransactionCanceledException(tc) = se.err()
    {
        let reasons: &[CancellationReason] = tc.cancellation_reasons();
        if let Some(i) = reasons.iter().position(|r| r.code() == Some("ConditionalCheckFailed")) {
            return Ok(Some(i));
        }
        if reasons.is_empty() {
            // Some emulators omit the reasons; the caller re-reads to find out.
            return Ok(None);
        }
        return Err(StoreError::Transient("transaction cancelled".into()));
    }
    Err(classify(err))
}
