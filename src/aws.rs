//! AWS clients. `AWS_ENDPOINT_URL` set means a local emulator: then dummy credentials are used
//! when none are given, so nothing ever reaches for real credentials or instance metadata.
use std::time::Duration;

use aws_config::{BehaviorVersion, Region, SdkConfig, retry::RetryConfig, timeout::TimeoutConfig};

use crate::config::AwsArgs;
use crate::telemetry::aws::CountRequests;

pub async fn sdk_config(args: &AwsArgs) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(args.region.clone()))
        .retry_config(RetryConfig::standard().with_max_attempts(3))
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(2))
                .operation_attempt_timeout(Duration::from_secs(5))
                .operation_timeout(Duration::from_secs(15))
                .build(),
        );
    if let Some(endpoint) = &args.endpoint_url {
        loader = loader.endpoint_url(endpoint);
        if std::env::var_os("AWS_ACCESS_KEY_ID").is_none() {
            loader = loader.credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                "test", "test", None, None, "emulator",
            ));
        }
    }
    loader.load().await
}

pub struct Clients {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub sqs: aws_sdk_sqs::Client,
}

/// Both clients count every request they send (`aws_requests_total`).
pub async fn clients(args: &AwsArgs) -> Clients {
    let conf = sdk_config(args).await;
    let dynamodb = aws_sdk_dynamodb::config::Builder::from(&conf).interceptor(CountRequests).build();
    let sqs = aws_sdk_sqs::config::Builder::from(&conf).interceptor(CountRequests).build();
    Clients { dynamodb: aws_sdk_dynamodb::Client::from_conf(dynamodb), sqs: aws_sdk_sqs::Client::from_conf(sqs) }
}
