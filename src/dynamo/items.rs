//! Mapping between domain records and DynamoDB items.
use super::attrs::{Item, ItemBuilder, get_n, get_parsed, get_s, n, opt_n, opt_s, s};
use super::keys::*;
use crate::domain::card::SealedCard;
use crate::domain::ids::{MerchantId, PaymentId, RefundId};
use crate::domain::money::{Amount, Currency};
use crate::domain::payment::{NewPayment, NewRefund, Payment, Refund};
use crate::domain::ports::StoreError;
use crate::domain::status::{PaymentStatus, RefundStatus};

pub const STATUS: &str = "Status";
pub const CARD: &str = "CardSealed";
pub const UPDATED_AT: &str = "UpdatedAt";
pub const REFUNDABLE_LEFT: &str = "RefundableLeft";
pub const REFUNDED_AMOUNT: &str = "RefundedAmount";

pub fn new_payment_item(p: &NewPayment) -> Item {
    let id = p.id.to_string();
    ItemBuilder::new()
        .set(PK, s(payment_pk(p.id)))
        .set(SK, s(PAYMENT_SK))
        .set("PaymentID", s(&id))
        .set("MerchantID", s(p.merchant_id.as_str()))
        .set("CustomerID", s(&p.customer_id))
        .opt("CustomerName", p.customer_name.as_deref().map(s))
        .set("Price", n(p.amount.get()))
        .set("Currency", s(p.currency.as_str()))
        .set(STATUS, s(PaymentStatus::Pending.as_str()))
        .set("CardLast4", s(&p.card_last4))
        .set(CARD, s(&p.sealed_card.0))
        .set("CreatedAt", n(p.created_at_ms))
        .set(UPDATED_AT, n(p.created_at_ms))
        .set(REFUNDED_AMOUNT, n(0))
        .set(REFUNDABLE_LEFT, n(p.amount.get()))
        .set(GSI1PK, s(merchant_pk(&p.merchant_id)))
        .set(GSI1SK, s(list_sort_key(p.created_at_ms, p.id)))
        .set(GSI2PK, s(repair_pk(RepairKind::Payment, &id)))
        .set(GSI2SK, s(repair_sk(p.created_at_ms, &id)))
        .build()
}

pub fn new_refund_item(r: &NewRefund) -> Item {
    let id = r.id.to_string();
    ItemBuilder::new()
        .set(PK, s(payment_pk(r.payment_id)))
        .set(SK, s(refund_sk(r.id)))
        .set("RefundID", s(&id))
        .set("PaymentID", s(r.payment_id.to_string()))
        .set("MerchantID", s(r.merchant_id.as_str()))
        .set("Amount", n(r.amount.get()))
        .set("Currency", s(r.currency.as_str()))
        .set(STATUS, s(RefundStatus::Pending.as_str()))
        .set("CreatedAt", n(r.created_at_ms))
        .set(UPDATED_AT, n(r.created_at_ms))
        .set(GSI2PK, s(repair_pk(RepairKind::Refund, &id)))
        .set(GSI2SK, s(repair_sk(r.created_at_ms, &id)))
        .build()
}

fn amount(item: &Item, name: &str) -> Result<Amount, StoreError> {
    Amount::parse(i128::from(get_n(item, name)?))
        .map_err(|_| StoreError::Permanent(format!("stored item has a bad {name}")))
}

pub fn payment_from_item(item: &Item) -> Result<Payment, StoreError> {
    Ok(Payment {
        id: get_parsed(item, "PaymentID", PaymentId::parse)?,
        merchant_id: get_parsed(item, "MerchantID", MerchantId::parse)?,
        customer_id: get_s(item, "CustomerID")?.to_owned(),
        customer_name: opt_s(item, "CustomerName").map(str::to_owned),
        amount: amount(item, "Price")?,
        currency: get_parsed(item, "Currency", Currency::parse)?,
        status: get_parsed(item, STATUS, str::parse::<PaymentStatus>)?,
        reason: opt_s(item, "Reason").map(str::to_owned),
        card_last4: get_s(item, "CardLast4")?.to_owned(),
        sealed_card: opt_s(item, CARD).map(|c| SealedCard(c.to_owned())),
        bank_charge_id: opt_s(item, "BankChargeID").map(str::to_owned),
        created_at_ms: get_n(item, "CreatedAt")?,
        updated_at_ms: get_n(item, UPDATED_AT)?,
        refunded_amount: get_n(item, REFUNDED_AMOUNT)?,
        refundable_left: get_n(item, REFUNDABLE_LEFT)?,
        refund_timestamp_ms: opt_n(item, "RefundTimestamp")?,
    })
}

pub fn refund_from_item(item: &Item) -> Result<Refund, StoreError> {
    Ok(Refund {
        id: get_parsed(item, "RefundID", RefundId::parse)?,
        payment_id: get_parsed(item, "PaymentID", PaymentId::parse)?,
        merchant_id: get_parsed(item, "MerchantID", MerchantId::parse)?,
        amount: amount(item, "Amount")?,
        currency: get_parsed(item, "Currency", Currency::parse)?,
        status: get_parsed(item, STATUS, str::parse::<RefundStatus>)?,
        reason: opt_s(item, "Reason").map(str::to_owned),
        bank_refund_id: opt_s(item, "BankRefundID").map(str::to_owned),
        created_at_ms: get_n(item, "CreatedAt")?,
        updated_at_ms: get_n(item, UPDATED_AT)?,
    })
}
