//! AWS clients. `AWS_ENDPOINT_URL` set means a local emulator: then dummy credentials are used
//! when none are given, so nothing ever reaches for real credentials or instance metadata.
use std::time::Duration;

use aws_config::stalled_stream_protection::StalledStreamProtectionConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig, retry::RetryConfig, timeout::TimeoutConfig};
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};

use crate::config::AwsArgs;
use crate::telemetry::aws::CountRequests;

pub async fn sdk_config(args: &AwsArgs) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(args.region.clone()))
        .retry_config(RetryConfig::standard().with_max_attempts(3))
        // A stalled answer is already cut by the attempt timeout below; the SDK's own stall
        // protection wraps every request and answer body to sample its throughput, CPU spent on
        // every call for nothing the timeout does not already bound.
        .stalled_stream_protection(StalledStreamProtectionConfig::disabled())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(2))
                .operation_attempt_timeout(Duration::from_secs(5))
                .operation_timeout(Duration::from_secs(15))
                .build(),
        );
    if let Some(endpoint) = &args.endpoint_url {
        loader = loader.endpoint_url(endpoint);
        // Dummy credentials only for the emulator on this machine: a VPC or FIPS endpoint of
        // real AWS takes the usual credential chain (the task's role).
        if args.is_development() && std::env::var_os("AWS_ACCESS_KEY_ID").is_none() {
            loader = loader.credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                "test", "test", None, None, "emulator",
            ));
        }
    }
    loader.load().await
}

#[derive(Clone)]
pub struct Clients {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub sqs: aws_sdk_sqs::Client,
}

/// Both clients count every request they send (`aws_requests_total`).
pub async fn clients(args: &AwsArgs) -> Clients {
    let conf = sdk_config(args).await;
    let mut dynamodb = aws_sdk_dynamodb::config::Builder::from(&conf).interceptor(CountRequests);
    if let Some(url) = dynamodb_endpoint(args, args.dynamodb_endpoint_url.clone()) {
        dynamodb = dynamodb.endpoint_url(url);
    }
    let dynamodb = dynamodb.build();
    let sqs = aws_sdk_sqs::config::Builder::from(&conf).interceptor(CountRequests).build();
    Clients { dynamodb: aws_sdk_dynamodb::Client::from_conf(dynamodb), sqs: aws_sdk_sqs::Client::from_conf(sqs) }
}

/// DynamoDB's own endpoint (`AWS_ENDPOINT_URL_DYNAMODB`, the SDK's own name for it), when it
/// overrides `AWS_ENDPOINT_URL`: on the emulator, a DynamoDB-only emulator beside MiniStack's
/// SQS. Without `AWS_ENDPOINT_URL` the SDK reads the variable by itself; with it, the explicit
/// endpoint would win, hence this.
fn dynamodb_endpoint(args: &AwsArgs, var: Option<String>) -> Option<String> {
    args.endpoint_url.as_ref()?;
    var.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

/// What an AWS SDK error says, kept to what is safe to log or classify: the service's error
/// code, or which transport step failed. Never its message, which can name tables, queues,
/// ARNs or account ids. Each adapter maps this to its own port's error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AwsFailure {
    /// The service answered with an error (its code, if it gave one).
    Service(Option<String>),
    /// No answer in time: the request may or may not have been applied.
    Timeout,
    /// The request could not be sent, or its connection failed.
    Dispatch,
    /// An answer came but could not be read.
    Unreadable,
    /// The request was never built (a bug on our side, not worth retrying).
    Build,
}

impl AwsFailure {
    pub fn of<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> Self {
        match err {
            SdkError::ServiceError(se) => Self::Service(se.err().code().map(str::to_owned)),
            SdkError::TimeoutError(_) => Self::Timeout,
            SdkError::DispatchFailure(_) => Self::Dispatch,
            SdkError::ResponseError(_) => Self::Unreadable,
            _ => Self::Build,
        }
    }

    /// A short reason for logs and errors: the code, or the transport step.
    pub fn reason(&self) -> String {
        match self {
            Self::Service(Some(code)) => code.clone(),
            Self::Service(None) => "unknown service error".into(),
            Self::Timeout => "timeout".into(),
            Self::Dispatch => "dispatch failure".into(),
            Self::Unreadable => "unreadable response".into(),
            Self::Build => "request could not be built".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Args {
        #[command(flatten)]
        aws: AwsArgs,
    }

    #[test]
    fn dynamodb_has_an_endpoint_of_its_own_only_on_the_emulator_and_only_when_given() {
        let emulator = Args::parse_from(["t", "--endpoint-url", "http://127.0.0.1:4566"]).aws;
        let dynoxide = Some("http://127.0.0.1:4596 ".to_owned());
        assert_eq!(dynamodb_endpoint(&emulator, dynoxide.clone()).as_deref(), Some("http://127.0.0.1:4596"));
        assert_eq!(dynamodb_endpoint(&emulator, Some(" ".into())), None, "blank: the emulator's");
        assert_eq!(dynamodb_endpoint(&emulator, None), None);
        // On real AWS the SDK reads the variable itself; nothing is forced here.
        let real = AwsArgs { endpoint_url: None, ..emulator };
        assert_eq!(dynamodb_endpoint(&real, dynoxide), None);
    }
}
