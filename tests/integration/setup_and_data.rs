//! SETUP is idempotent; card data never rests in clear in the table or on the queues.
use aws_sdk_sqs::types::QueueAttributeName;
use payment_platform::setup;
use serde_json::json;

use crate::support::app::{card_request, spawn_app, unique_aws_args};

#[tokio::test]
async fn setup_twice_creates_once_and_changes_nothing() {
    let aws = unique_aws_args();
    let clients = payment_platform::aws::clients(&aws).await;
    setup::run(&clients, &aws).await.expect("first SETUP");
    let before = clients.dynamodb.describe_table().table_name(&aws.table).send().await.unwrap();
    // A marker item must survive the second run: SETUP never deletes or recreates.
    clients
        .dynamodb
        .put_item()
        .table_name(&aws.table)
        .item("PK", aws_sdk_dynamodb::types::AttributeValue::S("MARKER".into()))
        .item("SK", aws_sdk_dynamodb::types::AttributeValue::S("MARKER".into()))
        .send()
        .await
        .unwrap();
    setup::run(&clients, &aws).await.expect("second SETUP");
    let after = clients.dynamodb.describe_table().table_name(&aws.table).send().await.unwrap();
    let t = after.table().unwrap();
    assert_eq!(before.table().unwrap().creation_date_time(), t.creation_date_time());
    let mut indexes: Vec<_> = t.global_secondary_indexes().iter().filter_map(|g| g.index_name()).collect();
    indexes.sort();
    assert_eq!(indexes, ["GSI1", "GSI2"]);
    let ttl = clients.dynamodb.describe_time_to_live().table_name(&aws.table).send().await.unwrap();
    assert_eq!(ttl.time_to_live_description().and_then(|d| d.attribute_name()), Some("ExpiresAt"));
    let items = clients.dynamodb.scan().table_name(&aws.table).send().await.unwrap();
    let keys: Vec<_> = items.items().iter().filter_map(|i| i.get("PK")?.as_s().ok().cloned()).collect();
    assert!(keys.contains(&"MARKER".to_owned()));
    assert!(
        keys.contains(&"MERCHANT#test@merchant".to_owned()) && keys.contains(&"MERCHANT#other@merchant".to_owned())
    );
    assert_eq!(keys.len(), 3, "two merchants seeded once each, plus the marker: {keys:?}");
    for queue in [&aws.payments_queue, &aws.refunds_queue] {
        let url = payment_platform::sqs::queue_url(&clients.sqs, queue).await.unwrap();
        let attrs = clients
            .sqs
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(QueueAttributeName::RedrivePolicy)
            .send()
            .await
            .unwrap();
        let policy = attrs.attributes().unwrap().get(&QueueAttributeName::RedrivePolicy).unwrap();
        assert!(policy.contains(&format!("{queue}-dlq")), "{policy}");
    }
}

#[tokio::test]
async fn no_card_number_or_cvv_in_clear_in_the_table_or_on_the_queues() {
    let app = spawn_app().await;
    let cards = ["4000000000009995", "1234123412341234", "4000000000000002"];
    for card in cards {
        let mut body = card_request(card, 1234);
        body["CardCVV"] = json!("9876");
        let id = app.create_ok(&body).await;
        assert_eq!(app.refund(&id, None, Some(&format!("r-{card}"))).await.status(), 202);
    }
    let items = format!("{:?}", app.scan().await);
    let mut messages = app.drain(&app.aws.payments_queue).await;
    messages.extend(app.drain(&app.aws.refunds_queue).await);
    assert_eq!(messages.len(), 6);
    let all = format!("{items}{}", messages.join("\n"));
    for card in cards {
        assert!(!all.contains(card), "card number {card} in clear");
        assert!(all.contains(&card[12..]), "last four digits are kept");
    }
    assert!(!all.contains("9876"), "CVV in clear");
    assert!(items.contains("CardSealed"), "the sealed card is stored for the worker");
}
