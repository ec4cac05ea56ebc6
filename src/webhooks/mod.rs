//! The webhook adapter: Standard Webhooks signatures (`sign`) and the HTTP sender that POSTs
//! signed events to merchants' endpoints, refusing to connect anywhere but public addresses
//! unless told otherwise (`sender`).
pub mod sender;
pub mod sign;

pub use sender::HttpWebhookSender;
