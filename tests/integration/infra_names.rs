//! Terraform (`infra/terraform`) declares the table and queues that SETUP creates: the same
//! names, keys, indexes, TTL attribute and queue settings. Expected values come from the code's
//! own constants and clap defaults, so renaming an index (or a queue default) in only one of the
//! two places fails here. Reads the `.tf` files as text; needs no emulator.
use clap::CommandFactory;
use payment_platform::config::{ApiConfig, BankWorkerConfig, DashboardConfig, WebhookWorkerConfig};
use payment_platform::dynamo::keys::{PK, SK, TTL_ATTRIBUTE};
use payment_platform::dynamo::setup::{BILLING_MODE, INDEXES};
use payment_platform::sqs::setup::{
    DLQ_RETENTION_SECS, MAX_RECEIVE_COUNT, RECEIVE_WAIT_SECS, VISIBILITY_TIMEOUT_SECS, dlq_name,
};

/// Every `.tf` file of `infra/terraform`, concatenated.
fn terraform() -> String {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("infra/terraform");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "tf"))
        .collect();
    files.sort();
    files.iter().map(|p| std::fs::read_to_string(p).unwrap()).collect::<Vec<_>>().join("\n")
}

/// The bodies of every block whose opening line reads `header` (whitespace collapsed, so
/// `terraform fmt` alignment does not matter), e.g. `ttl {` or `queues = {`.
fn blocks<'a>(text: &'a str, header: &str) -> Vec<&'a str> {
    let mut found = Vec::new();
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let line_start = offset;
        offset += line.len();
        if line.split_whitespace().collect::<Vec<_>>().join(" ") != header {
            continue;
        }
        let body = line_start + line.rfind('{').expect("a header ends with {") + 1;
        let mut depth = 1;
        for (i, c) in text[body..].char_indices() {
            depth += match c {
                '{' => 1,
                '}' => -1,
                _ => 0,
            };
            if depth == 0 {
                found.push(&text[body..body + i]);
                break;
            }
        }
    }
    found
}

fn block<'a>(text: &'a str, header: &str) -> &'a str {
    match blocks(text, header).as_slice() {
        [one] => one,
        other => panic!("expected one `{header}` in infra/terraform, found {}", other.len()),
    }
}

/// The value of `key = value` at the top level of a block body, quotes removed.
fn attr(body: &str, key: &str) -> String {
    let mut depth = 0i32;
    for line in body.lines() {
        let trimmed = line.trim();
        let value = trimmed.strip_prefix(key).and_then(|rest| rest.trim_start().strip_prefix('='));
        match value {
            Some(value) if depth == 0 => return value.trim().trim_matches('"').to_owned(),
            _ => depth += trimmed.matches('{').count() as i32 - trimmed.matches('}').count() as i32,
        }
    }
    panic!("no top-level `{key} = ...` in block:\n{body}")
}

/// The clap default of the API's argument `id` (not the environment: `make test` sets some).
fn default_of(id: &str) -> String {
    let command = ApiConfig::command();
    let arg = command.get_arguments().find(|a| a.get_id() == id).unwrap_or_else(|| panic!("no argument {id}"));
    arg.get_default_values()[0].to_str().unwrap().to_owned()
}

fn variable_default(tf: &str, name: &str) -> String {
    attr(block(tf, &format!("variable \"{name}\" {{")), "default")
}

#[test]
fn terraform_declares_the_table_that_setup_creates() {
    let tf = terraform();
    assert_eq!(variable_default(&tf, "table_name"), default_of("table"));
    let table = block(&tf, r#"resource "aws_dynamodb_table" "main" {"#);
    assert_eq!(attr(table, "name"), "var.table_name");
    assert_eq!(attr(table, "billing_mode"), BILLING_MODE.as_str());
    assert_eq!((attr(table, "hash_key"), attr(table, "range_key")), (PK.to_owned(), SK.to_owned()));

    let mut declared: Vec<_> =
        blocks(table, "attribute {").iter().map(|a| (attr(a, "name"), attr(a, "type"))).collect();
    let mut expected: Vec<_> = [PK, SK]
        .into_iter()
        .chain(INDEXES.iter().flat_map(|i| [i.hash_key, i.range_key]))
        .map(|n| (n.to_owned(), "S".to_owned()))
        .collect();
    declared.sort();
    expected.sort();
    assert_eq!(declared, expected, "attribute definitions");

    let mut indexes: Vec<_> = blocks(table, "global_secondary_index {")
        .iter()
        .map(|g| [attr(g, "name"), attr(g, "hash_key"), attr(g, "range_key"), attr(g, "projection_type")])
        .collect();
    let mut expected: Vec<_> =
        INDEXES.iter().map(|i| [i.name, i.hash_key, i.range_key, i.projection.as_str()].map(str::to_owned)).collect();
    indexes.sort();
    expected.sort();
    assert_eq!(indexes, expected, "global secondary indexes (name, hash key, range key, projection)");

    let ttl = block(table, "ttl {");
    assert_eq!((attr(ttl, "attribute_name"), attr(ttl, "enabled")), (TTL_ATTRIBUTE.to_owned(), "true".to_owned()));

    // IAM grants name indexes by ARN (`<table arn>/index/<name>`): each must be one that exists.
    // Comment lines are skipped: they may mention the ARN's shape without granting anything.
    let code: String = tf.lines().filter(|l| !l.trim_start().starts_with('#')).collect::<Vec<_>>().join("\n");
    let granted: Vec<&str> = code
        .split("/index/")
        .skip(1)
        .map(|rest| rest.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-')).next().unwrap())
        .collect();
    assert!(!granted.is_empty(), "no index ARN in the IAM policies");
    for name in granted {
        assert!(INDEXES.iter().any(|i| i.name == name), "IAM grants index {name}, which SETUP does not create");
    }
}

#[test]
fn terraform_declares_the_queues_that_setup_creates() {
    let tf = terraform();
    assert_eq!(variable_default(&tf, "payments_queue_name"), default_of("payments_queue"));
    assert_eq!(variable_default(&tf, "refunds_queue_name"), default_of("refunds_queue"));
    let queues = block(&tf, "queues = {");
    assert_eq!(attr(queues, "payments"), "var.payments_queue_name");
    assert_eq!(attr(queues, "refunds"), "var.refunds_queue_name");

    let dlq = block(&tf, r#"resource "aws_sqs_queue" "dlq" {"#);
    assert_eq!(attr(dlq, "name"), dlq_name("${each.value}"));
    assert_eq!(attr(dlq, "message_retention_seconds"), DLQ_RETENTION_SECS.to_string());

    let main = block(&tf, r#"resource "aws_sqs_queue" "main" {"#);
    assert_eq!(attr(main, "name"), "each.value");
    assert_eq!(attr(main, "visibility_timeout_seconds"), VISIBILITY_TIMEOUT_SECS.to_string());
    assert_eq!(attr(main, "receive_wait_time_seconds"), RECEIVE_WAIT_SECS.to_string());
    let redrive = block(main, "redrive_policy = jsonencode({");
    assert_eq!(attr(redrive, "maxReceiveCount"), MAX_RECEIVE_COUNT.to_string());
    assert_eq!(attr(redrive, "deadLetterTargetArn"), "aws_sqs_queue.dlq[each.key].arn");
}

#[test]
fn ecs_sets_only_variables_the_binaries_read_and_never_the_emulator_endpoint() {
    let tf = terraform();
    let mut known: Vec<String> =
        [ApiConfig::command(), BankWorkerConfig::command(), WebhookWorkerConfig::command(), DashboardConfig::command()]
            .iter()
            .flat_map(|c| c.get_arguments().filter_map(|a| a.get_env()).map(|e| e.to_str().unwrap().to_owned()))
            .collect();
    // Read outside clap: the log set-up and the OpenTelemetry exporter (src/telemetry), and
    // tokio's runtime (`#[tokio::main]`) its worker threads.
    known.extend(["LOG_FORMAT", "RUST_LOG", "OTEL_EXPORTER_OTLP_ENDPOINT", "TOKIO_WORKER_THREADS"].map(String::from));
    let set: Vec<&str> = tf.split("{ name = \"").skip(1).map(|rest| rest.split('"').next().unwrap()).collect();
    let required = ["AWS_REGION", "DYNAMODB_TABLE", "PAYMENTS_QUEUE", "REFUNDS_QUEUE", "BANK_URL"];
    let secrets = [
        "JWT_SECRET_KEY",
        "CARD_ENCRYPTION_KEY",
        "WEBHOOK_SECRET_KEY",
        "IDEMPOTENCY_FINGERPRINT_KEY",
        "DASHBOARD_SESSION_KEY",
    ];
    for name in required.into_iter().chain(secrets).chain(["API_DOCS", "TOKIO_WORKER_THREADS"]) {
        assert!(set.contains(&name), "ECS does not set {name}");
    }
    for name in set {
        assert!(known.iter().any(|k| k == name), "ECS sets {name}, which no binary reads");
        assert_ne!(name, "AWS_ENDPOINT_URL", "production must talk to real AWS");
    }
}
