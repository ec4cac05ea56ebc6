use clap::CommandFactory;

use super::*;

#[test]
fn each_worker_has_its_own_default_port() {
    let port =
        |binary: &WorkerBinary| binary.try_parse::<BankWorkerConfig, _, _>([binary.name]).unwrap().worker.http_port;
    assert_eq!((port(&PAYMENT_WORKER), port(&REFUND_WORKER)), (4446, 4447));
    let webhook = WEBHOOK_WORKER.try_parse::<WebhookWorkerConfig, _, _>(["webhook-worker"]).unwrap();
    assert_eq!(webhook.worker.http_port, 4449);
    let chosen = REFUND_WORKER.try_parse::<BankWorkerConfig, _, _>(["refund-worker", "--http-port", "9000"]).unwrap();
    assert_eq!(chosen.worker.http_port, 9000);
}

#[test]
fn defaults_match_the_documentation() {
    let c = PAYMENT_WORKER.try_parse::<BankWorkerConfig, _, _>(["payment-worker"]).unwrap().worker;
    assert_eq!((c.concurrency, c.wait_secs, c.receive_linger_ms), (32, 10, 50));
    assert_eq!((c.visibility_extend_secs, c.shutdown_grace_secs), (30, 20));
    assert_eq!((c.repair_interval_secs, c.repair_after_secs), (15, 60));
}

const SHARED: [&str; 13] = [
    "AWS_REGION",
    "AWS_ENDPOINT_URL",
    "DYNAMODB_TABLE",
    "PAYMENTS_QUEUE",
    "REFUNDS_QUEUE",
    "WEBHOOKS_QUEUE",
    "SETUP",
    "WORKER_CONCURRENCY",
    "WORKER_WAIT_SECS",
    "WORKER_HTTP_HOST",
    "WORKER_HTTP_PORT",
    "SHUTDOWN_GRACE_SECS",
    "VISIBILITY_EXTEND_SECS",
];
const BANK: [&str; 9] = [
    "AUTHORIZATION_VALIDITY_SECS",
    "BANK_URL",
    "BANK_TIMEOUT_MS",
    "BANK_RETRY_MIN_DELAY_MS",
    "BANK_RETRY_MAX_DELAY_MS",
    "BANK_MAX_ATTEMPTS",
    "BANK_KEY_TTL_SECS",
    "BANK_RESEND_MARGIN_SECS",
    "BANK_LATE_APPLY_MS",
];
const DELIVERY: [&str; 7] = [
    "WEBHOOK_ALLOW_PRIVATE_URLS",
    "WEBHOOK_TIMEOUT_MS",
    "WEBHOOK_RETRY_SCHEDULE",
    "WEBHOOK_CONCURRENCY",
    "WEBHOOK_ENDPOINT_CONCURRENCY",
    "WEBHOOK_MERCHANT_CONCURRENCY",
    "WEBHOOK_DISABLE_AFTER_SECS",
];

#[test]
fn help_lists_each_workers_own_variables_and_no_other_workers() {
    let bank = BankWorkerConfig::command().render_long_help().to_string();
    let webhook = WebhookWorkerConfig::command().render_long_help().to_string();
    for var in SHARED.iter().chain(&["REPAIR_INTERVAL_SECS", "REPAIR_AFTER_SECS", "CARD_ENCRYPTION_KEY"]) {
        assert!(bank.contains(var) && webhook.contains(var), "a worker's --help does not mention {var}");
    }
    for var in BANK {
        assert!(bank.contains(var), "payment-worker --help does not mention {var}");
        assert!(!webhook.contains(var), "webhook-worker takes {var}, which it never uses");
    }
    for var in DELIVERY {
        assert!(webhook.contains(var), "webhook-worker --help does not mention {var}");
        assert!(!bank.contains(var), "payment-worker takes {var}, which it never uses");
    }
}
