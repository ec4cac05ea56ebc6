//! The bench's one error type; `bin/bench.rs` turns it into an exit status.
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("AWS_ENDPOINT_URL is not set: the bench runs only against a local emulator (use `make bench`)")]
    NoEmulator,
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{name} exited ({status}) before it answered; see {}", log.display())]
    Exited { name: String, status: String, log: PathBuf },
    #[error("{name} not healthy after {secs} s; see {}", log.display())]
    NotHealthy { name: String, secs: u64, log: PathBuf },
    #[error("HTTP request failed: {0}")]
    Http(#[from] reqwest::Error),
    #[error("SETUP of the bench's table and queues failed: {0}")]
    Setup(#[from] payment_platform::setup::SetupError),
    #[error("{op} failed: {code}")]
    Aws { op: &'static str, code: String },
    #[error("{0}")]
    Unexpected(String),
    #[error("stopped by {name}; the processes it started are stopped too")]
    Stopped { name: &'static str, signal: u8 },
}

impl BenchError {
    pub fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io { what: what.into(), source }
    }
}

/// The error code of an SDK error (never its message: messages can carry URLs and account ids).
pub fn aws_code<E, R>(err: &aws_sdk_dynamodb::error::SdkError<E, R>) -> String
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
{
    payment_platform::aws::AwsFailure::of(err).reason()
}
