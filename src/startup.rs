//! Why a binary could not start: one error for the API and the workers, whose start-ups share
//! most of their steps (SETUP, secrets, keys, queue URLs). Each message says what to fix.
use std::net::SocketAddr;

use crate::bank_client::BankClientError;
use crate::config::MissingSecret;
use crate::domain::ports::QueueError;
use crate::setup::SetupError;
use crate::vault::KeyError;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Setup(#[from] SetupError),
    #[error(transparent)]
    Secret(#[from] MissingSecret),
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(transparent)]
    Bank(#[from] BankClientError),
    #[error("resolving queue URLs failed ({0}); run with SETUP=true to create the queues and their DLQs")]
    Queues(#[from] QueueError),
    #[error("MERCHANT_ID is not a valid merchant id")]
    Merchant,
    #[error("binding {addr} failed")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("the health endpoint failed")]
    Health(#[source] std::io::Error),
}
