//! The webhook client, the adapter behind `WebhookSender`: Standard Webhooks signatures (`sign`) and
//! the HTTP sender that POSTs signed events to merchants' endpoints, refusing to connect anywhere
//! but public addresses unless told otherwise (`sender`). The body is `wire::event::webhook_body`.
pub mod sender;
pub mod sign;

pub use sender::HttpWebhookSender;
