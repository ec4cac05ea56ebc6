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
    assert_eq!(indexes, ["GSI1", "GSI2", "GSI3", "GSI4", "GSI5", "GSI6"]);
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
    // As a value of its own (a string or a number attribute, a JSON value): four digits alone would
    // also match inside a timestamp or an id now and then.
    assert!(!all.contains("\"9876\""), "CVV in clear");
    assert!(items.contains("CardSealed"), "the sealed card is stored for the worker");
}

/// A table made before the event log (GSI1 and GSI2 only, payments without `Version`): SETUP
/// adds the missing index, and an old payment's next change is its version 1.
#[tokio::test]
async fn setup_adds_the_index_an_older_table_lacks_and_its_payments_keep_working() {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType,
        ScalarAttributeType,
    };
    let aws = unique_aws_args();
    let clients = payment_platform::aws::clients(&aws).await;
    let key = |n: &str, k: KeyType| KeySchemaElement::builder().attribute_name(n).key_type(k).build().unwrap();
    let attr = |n: &str| {
        AttributeDefinition::builder().attribute_name(n).attribute_type(ScalarAttributeType::S).build().unwrap()
    };
    let gsi = |n: &str, p: ProjectionType| {
        GlobalSecondaryIndex::builder()
            .index_name(n)
            .key_schema(key(&format!("{n}PK"), KeyType::Hash))
            .key_schema(key(&format!("{n}SK"), KeyType::Range))
            .projection(Projection::builder().projection_type(p).build())
            .build()
            .unwrap()
    };
    clients
        .dynamodb
        .create_table()
        .table_name(&aws.table)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key("PK", KeyType::Hash))
        .key_schema(key("SK", KeyType::Range))
        .set_attribute_definitions(Some(["PK", "SK", "GSI1PK", "GSI1SK", "GSI2PK", "GSI2SK"].map(attr).to_vec()))
        .global_secondary_indexes(gsi("GSI1", ProjectionType::All))
        .global_secondary_indexes(gsi("GSI2", ProjectionType::KeysOnly))
        .send()
        .await
        .expect("the old table");
    setup::run(&clients, &aws).await.expect("SETUP on the old table");
    let t = clients.dynamodb.describe_table().table_name(&aws.table).send().await.unwrap();
    let mut indexes: Vec<_> =
        t.table().unwrap().global_secondary_indexes().iter().filter_map(|g| g.index_name()).collect();
    indexes.sort();
    assert_eq!(indexes, ["GSI1", "GSI2", "GSI3", "GSI4", "GSI5", "GSI6"]);

    // A payment as written before versions: no `Version`, no event.
    use payment_platform::domain::change::{Change, Transition};
    use payment_platform::domain::events::{Actor, Cause, EventType};
    use payment_platform::domain::ports::{Events, Payments};
    use payment_platform::dynamo::DynamoStore;
    let store = DynamoStore::new(clients.dynamodb.clone(), aws.table.clone());
    let new = payment_platform::domain::payment::NewPayment {
        id: payment_platform::domain::ids::PaymentId::new(),
        merchant_id: payment_platform::domain::ids::MerchantId::parse("test@merchant").unwrap(),
        customer_id: "old".into(),
        customer_name: None,
        amount: payment_platform::domain::money::Amount::parse(100).unwrap(),
        currency: payment_platform::domain::money::Currency::parse("EUR").unwrap(),
        card_last4: "4242".into(),
        sealed_card: payment_platform::domain::card::SealedCard("v1.x.y".into()),
        created_at_ms: 1_800_000_000_000,
        tags: Default::default(),
        capture_method: Default::default(),
    };
    let cause = || Cause::new(Actor::PaymentWorker, None);
    store.commit(&Change::payment_created(&new, cause()), None).await.unwrap();
    let pk = aws_sdk_dynamodb::types::AttributeValue::S(format!("PAY#{}", new.id));
    let sk = |v: &str| aws_sdk_dynamodb::types::AttributeValue::S(v.into());
    let db = &clients.dynamodb;
    let strip = db.update_item().table_name(&aws.table).key("PK", pk.clone()).key("SK", sk("PAYMENT"));
    strip.update_expression("REMOVE Version").send().await.unwrap();
    let event = db.delete_item().table_name(&aws.table).key("PK", pk).key("SK", sk("EVENT#0000000001"));
    event.send().await.unwrap();
    let old = store.get_payment(new.id).await.unwrap().unwrap();
    assert_eq!(old.payment.version, 0);
    let started = old.apply(Transition::PaymentProcessing, 1_800_000_000_001, cause()).unwrap();
    store.commit(&started, None).await.expect("an old payment takes its first versioned change");
    let events = store.payment_events(new.id, 10, None).await.unwrap().events;
    assert_eq!(events.iter().map(|e| (e.version, e.kind)).collect::<Vec<_>>(), [(1, EventType::PaymentProcessing)]);
    assert_eq!(store.get_payment(new.id).await.unwrap().unwrap().payment.version, 1);
}
