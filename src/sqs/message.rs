//! The queue message: ids only. Card data never travels on the queue; the worker opens it from
//! the record, so a message leaked from a DLQ reveals nothing.
use serde::{Deserialize, Serialize};

use crate::domain::events::EventId;
use crate::domain::ids::{MerchantId, PaymentId, RefundId};
use crate::domain::ports::Job;
use crate::domain::webhooks::EndpointId;

#[derive(Serialize, Deserialize)]
#[serde(tag = "Kind", deny_unknown_fields)]
enum Message {
    #[serde(rename = "charge")]
    Charge {
        #[serde(rename = "PaymentID")]
        payment_id: PaymentId,
    },
    #[serde(rename = "refund")]
    Refund {
        #[serde(rename = "PaymentID")]
        payment_id: PaymentId,
        #[serde(rename = "RefundID")]
        refund_id: RefundId,
    },
    #[serde(rename = "deliver")]
    Deliver {
        #[serde(rename = "EventID")]
        event_id: String,
    },
    #[serde(rename = "catch-up")]
    CatchUp {
        #[serde(rename = "MerchantID")]
        merchant_id: String,
        #[serde(rename = "WebhookEndpointID")]
        endpoint_id: String,
    },
}

pub fn encode(job: &Job) -> String {
    let msg = match job {
        Job::Charge { payment_id } => Message::Charge { payment_id: *payment_id },
        Job::Refund { payment_id, refund_id } => Message::Refund { payment_id: *payment_id, refund_id: *refund_id },
        Job::Deliver { event } => Message::Deliver { event_id: event.to_string() },
        Job::CatchUp { merchant, endpoint } => {
            Message::CatchUp { merchant_id: merchant.to_string(), endpoint_id: endpoint.to_string() }
        }
    };
    serde_json::to_string(&msg).expect("message serialises")
}

/// `None` for a body that is not one of ours: a poison message.
pub fn decode(body: &str) -> Option<Job> {
    Some(match serde_json::from_str(body).ok()? {
        Message::Charge { payment_id } => Job::Charge { payment_id },
        Message::Refund { payment_id, refund_id } => Job::Refund { payment_id, refund_id },
        Message::Deliver { event_id } => Job::Deliver { event: EventId::parse(&event_id)? },
        Message::CatchUp { merchant_id, endpoint_id } => {
            Job::CatchUp { merchant: MerchantId::parse(&merchant_id).ok()?, endpoint: EndpointId::parse(&endpoint_id)? }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_round_trip() {
        let jobs = [
            Job::Charge { payment_id: PaymentId::new() },
            Job::Refund { payment_id: PaymentId::new(), refund_id: RefundId::new() },
            Job::Deliver { event: EventId { payment_id: PaymentId::new(), version: 3 } },
            Job::CatchUp { merchant: MerchantId::parse("test@merchant").unwrap(), endpoint: EndpointId::new() },
        ];
        for job in jobs {
            assert_eq!(decode(&encode(&job)), Some(job.clone()));
        }
    }

    #[test]
    fn foreign_bodies_are_poison() {
        assert_eq!(decode("hello"), None);
        assert_eq!(decode(r#"{"Kind":"charge","PaymentID":"not-a-uuid"}"#), None);
        assert_eq!(decode(r#"{"Kind":"deliver","EventID":"evt_x_1"}"#), None);
        assert_eq!(decode(r#"{"Kind":"catch-up","MerchantID":"m","WebhookEndpointID":"we_1"}"#), None);
        assert_eq!(decode(r#"{"Kind":"catch-up","MerchantID":"","WebhookEndpointID":"we_0123"}"#), None);
        assert_eq!(decode(r#"{"Kind":"wire","PaymentID":"8c4e5b7e-58d4-4bde-9d4e-8f4f0c7c2a11"}"#), None);
    }
}
