//! `infra/terraform` applied to an emulator of the test's own (`localstack/infra-local.sh`, the
//! same path as `make infra-local`): what it creates is compared field by field with what SETUP
//! creates, the services settle a payment and a refund on the Terraform-made table and queues,
//! each component's IAM policy is held to the AWS calls its process made (the dashboard's role
//! grants nothing), and everything is destroyed at the end. Skipped with a warning where terraform or its provider is missing.
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use aws_sdk_dynamodb::types::TableDescription;
use aws_sdk_sqs::types::QueueAttributeName;
use payment_platform::aws::Clients;
use payment_platform::config::AwsArgs;
use payment_platform::testing::process::tail;
use serde_json::Value;

use super::support::app::card_request;
use super::support::app::eventually;
use super::support::emulator::PrivateEmulator;
use super::support::receiver::{Behaviour, Receiver};
use super::support::system::{System, Worker};

pub(super) fn plugins() -> PathBuf {
    PathBuf::from(std::env::var("TF_PLUGIN_DIR").unwrap_or_else(|_| "/opt/tf-plugins".into()))
}

pub(super) fn terraform_available() -> bool {
    let tf = Command::new("terraform").arg("version").output().is_ok_and(|o| o.status.success());
    tf && plugins().is_dir()
}

/// What the emulator apply sets beside infra-local.sh's own variables: an image tag (there is no
/// default: images are pinned), a certificate (a public load balancer requires one; MiniStack
/// takes any ARN, so the HTTPS listener, its HSTS header and the port-80 redirect are applied as
/// in production), and no access logs (the emulator's provider has no S3 endpoint).
pub(super) const EMULATOR_VARS: [(&str, &str); 3] = [
    ("TF_VAR_image_tag", "emulator"),
    ("TF_VAR_certificate_arn", "arn:aws:acm:us-east-1:000000000000:certificate/emulator"),
    ("TF_VAR_alb_access_logs_enabled", "false"),
];

/// Runs `infra-local.sh <verb>` against `emulator`, with its state in `state`.
fn infra(verb: &str, emulator: &PrivateEmulator, state: &Path) -> Value {
    try_infra(verb, emulator, state).unwrap_or_else(|log| {
        panic!("infra-local.sh {verb} failed; {}, which ends:\n{}", log.display(), tail(&log, 40))
    })
}

fn try_infra(verb: &str, emulator: &PrivateEmulator, state: &Path) -> Result<Value, PathBuf> {
    let out = Command::new("bash")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/localstack/infra-local.sh"))
        .arg(verb)
        .env("EMULATOR_PORT", emulator.port.to_string())
        .env("INFRA_STATE", state)
        .env("TF_PLUGIN_DIR", plugins())
        .envs(EMULATOR_VARS)
        .output()
        .expect("run infra-local.sh");
    let log = state.with_extension(format!("{verb}.log"));
    std::fs::write(&log, &out.stderr).unwrap();
    if !out.status.success() {
        return Err(log);
    }
    Ok(serde_json::from_slice(&out.stdout).unwrap_or(Value::Null))
}

/// A fresh emulator with everything applied. MiniStack, a single process on a loaded machine,
/// now and then creates a resource and still fails the call, so Terraform's retry meets
/// "already exists": that is the emulator, not the Terraform, and one fresh try is allowed.
fn applied() -> (PrivateEmulator, PathBuf, Value) {
    let mut failed = None;
    for attempt in 1..=2 {
        let emulator = PrivateEmulator::start_with(&format!("terraform-{attempt}"), "all");
        let state = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("terraform-{}", emulator.port));
        match try_infra("apply", &emulator, &state) {
            Ok(outputs) => return (emulator, state, outputs),
            Err(log) => {
                eprintln!("warning: terraform apply attempt {attempt} failed on the emulator; see {}", log.display());
                failed = Some(log);
            }
        }
    }
    let log = failed.unwrap_or_default();
    panic!("infra-local.sh apply failed twice; {}, which ends:\n{}", log.display(), tail(&log, 40));
}

/// What SETUP and Terraform must agree on for a table (names aside).
async fn table_shape(clients: &Clients, table: &str) -> BTreeMap<&'static str, String> {
    let out = clients.dynamodb.describe_table().table_name(table).send().await.unwrap();
    let t: TableDescription = out.table.unwrap();
    let mut attrs: Vec<String> =
        t.attribute_definitions().iter().map(|a| format!("{}:{}", a.attribute_name(), a.attribute_type())).collect();
    attrs.sort();
    let keys = |k: &[aws_sdk_dynamodb::types::KeySchemaElement]| {
        k.iter().map(|e| format!("{}:{}", e.attribute_name(), e.key_type())).collect::<Vec<_>>().join(",")
    };
    let mut gsis: Vec<String> = t
        .global_secondary_indexes()
        .iter()
        .map(|g| {
            let p = g.projection();
            let mut non_key: Vec<String> = p.map(|p| p.non_key_attributes().to_vec()).unwrap_or_default();
            non_key.sort();
            format!(
                "{} [{}] {:?} {:?}",
                g.index_name().unwrap_or_default(),
                keys(g.key_schema()),
                p.and_then(|p| p.projection_type().cloned()),
                non_key
            )
        })
        .collect();
    gsis.sort();
    let ttl = clients.dynamodb.describe_time_to_live().table_name(table).send().await.unwrap();
    let ttl = ttl
        .time_to_live_description()
        .map(|d| (d.attribute_name().map(str::to_owned), d.time_to_live_status().cloned()));
    let stream = t.stream_specification().map(|s| (s.stream_enabled(), s.stream_view_type().cloned()));
    BTreeMap::from([
        ("keys", keys(t.key_schema())),
        ("attributes", attrs.join(",")),
        ("global secondary indexes", gsis.join(" | ")),
        ("billing", format!("{:?}", t.billing_mode_summary().and_then(|b| b.billing_mode().cloned()))),
        ("ttl", format!("{ttl:?}")),
        ("stream", format!("{stream:?}")),
    ])
}

/// What SETUP and Terraform must agree on for a queue and its DLQ.
async fn queue_shape(clients: &Clients, name: &str) -> BTreeMap<String, String> {
    let mut shape = BTreeMap::new();
    for (which, queue) in [("queue", name.to_owned()), ("dlq", format!("{name}-dlq"))] {
        let url = payment_platform::sqs::queue_url(&clients.sqs, &queue).await.unwrap();
        let out = clients.sqs.get_queue_attributes().queue_url(url).attribute_names(QueueAttributeName::All);
        let attrs = out.send().await.unwrap().attributes.unwrap_or_default();
        for name in [
            QueueAttributeName::VisibilityTimeout,
            QueueAttributeName::MessageRetentionPeriod,
            QueueAttributeName::ReceiveMessageWaitTimeSeconds,
            QueueAttributeName::DelaySeconds,
            QueueAttributeName::MaximumMessageSize,
        ] {
            shape.insert(format!("{which} {name}"), attrs.get(&name).cloned().unwrap_or_default());
        }
        let redrive: Option<Value> =
            attrs.get(&QueueAttributeName::RedrivePolicy).and_then(|r| serde_json::from_str(r).ok());
        let max_receives = redrive.map(|r| r["maxReceiveCount"].to_string());
        shape.insert(format!("{which} maxReceiveCount"), format!("{max_receives:?}"));
    }
    shape
}

/// `aws_requests_total` of one process, as IAM actions: `service:Operation`, batch calls as the
/// action that authorises them, and a transaction as the item writes it holds (`Put`, `Update`).
async fn actions_called(metrics_port: u16, transaction_writes: &[&str]) -> BTreeSet<String> {
    let text = super::support::metrics::scrape(metrics_port).await;
    let label = |line: &str, name: &str| {
        let start = line.find(&format!("{name}=\""))? + name.len() + 2;
        Some(line[start..start + line[start..].find('"')?].to_owned())
    };
    let mut actions = BTreeSet::new();
    for line in text.lines().filter(|l| l.starts_with("aws_requests_total{")) {
        let (Some(service), Some(op)) = (label(line, "aws_service"), label(line, "operation")) else { continue };
        let ops: Vec<String> = match op.as_str() {
            "TransactWriteItems" => transaction_writes.iter().map(|w| (*w).to_owned()).collect(),
            batch if batch.ends_with("Batch") => vec![batch.trim_end_matches("Batch").to_owned()],
            other => vec![other.to_owned()],
        };
        actions.extend(ops.into_iter().map(|o| format!("{service}:{o}")));
    }
    actions
}

/// The applied Terraform state's resources.
fn resources(state: &Path) -> Vec<Value> {
    let out = Command::new("terraform").arg(format!("-chdir={}", state.display())).args(["show", "-json"]).output();
    let shown: Value = serde_json::from_slice(&out.expect("terraform show").stdout).expect("state JSON");
    shown["values"]["root_module"]["resources"].as_array().cloned().unwrap_or_default()
}

/// Every action each component's policy grants, from the applied Terraform state.
fn granted(state: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let resources = resources(state);
    let mut by_component = BTreeMap::new();
    for r in resources.iter().filter(|r| r["type"] == "aws_iam_role_policy" && r["name"] == "task") {
        let component = r["index"].as_str().unwrap().to_owned();
        let policy: Value = serde_json::from_str(r["values"]["policy"].as_str().unwrap()).unwrap();
        let mut actions = BTreeSet::new();
        for statement in policy["Statement"].as_array().unwrap() {
            match &statement["Action"] {
                Value::String(a) => drop(actions.insert(a.clone())),
                Value::Array(list) => actions.extend(list.iter().filter_map(|a| a.as_str().map(str::to_owned))),
                _ => {}
            }
        }
        by_component.insert(component, actions.into_iter().filter(|a| !a.starts_with("kms:")).collect());
    }
    by_component
}

/// The indexes each component's policy lets it query, from the applied Terraform state.
fn queried_indexes(state: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut by_component = BTreeMap::new();
    for r in resources(state).iter().filter(|r| r["type"] == "aws_iam_role_policy" && r["name"] == "task") {
        let policy: Value = serde_json::from_str(r["values"]["policy"].as_str().unwrap()).unwrap();
        let mut indexes = BTreeSet::new();
        for statement in policy["Statement"].as_array().unwrap() {
            if !statement["Action"].to_string().contains("dynamodb:Query") {
                continue;
            }
            let arns = match &statement["Resource"] {
                Value::Array(list) => list.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
                other => vec![other.as_str().unwrap_or_default().to_owned()],
            };
            indexes.extend(arns.iter().filter_map(|a| a.split_once("/index/")).map(|(_, index)| index.to_owned()));
        }
        by_component.insert(r["index"].as_str().unwrap().to_owned(), indexes);
    }
    by_component
}

/// Per service, from the applied state: the secrets its task definition injects (environment
/// name and ARN), its execution role, the secrets that role may read, its cpu units and its
/// `TOKIO_WORKER_THREADS`.
struct Injected {
    secrets: BTreeMap<String, String>,
    execution_role: String,
    readable: BTreeSet<String>,
    cpu: u64,
    worker_threads: Option<String>,
}

fn injected(state: &Path) -> BTreeMap<String, Injected> {
    let resources = resources(state);
    let of = |kind: &str, name: &str| -> Vec<&Value> {
        resources.iter().filter(|r| r["type"] == kind && r["name"] == name).collect()
    };
    let role_names: BTreeMap<String, String> = of("aws_iam_role", "execution")
        .iter()
        .map(|r| (r["values"]["arn"].as_str().unwrap().to_owned(), r["values"]["name"].as_str().unwrap().to_owned()))
        .collect();
    let mut readable_by_role: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for r in of("aws_iam_role_policy", "execution_secrets") {
        let policy: Value = serde_json::from_str(r["values"]["policy"].as_str().unwrap()).unwrap();
        let arns = readable_by_role.entry(r["values"]["role"].as_str().unwrap().to_owned()).or_default();
        for statement in policy["Statement"].as_array().unwrap() {
            let action = match &statement["Action"] {
                Value::Array(list) if list.len() == 1 => list[0].clone(),
                other => other.clone(),
            };
            assert_eq!(action, "secretsmanager:GetSecretValue", "an execution role only reads secrets: {statement}");
            match &statement["Resource"] {
                Value::String(a) => drop(arns.insert(a.clone())),
                Value::Array(list) => arns.extend(list.iter().map(|a| a.as_str().unwrap().to_owned())),
                other => panic!("unexpected Resource {other}"),
            }
        }
    }
    let mut by_service = BTreeMap::new();
    for r in of("aws_ecs_task_definition", "service") {
        let service = r["index"].as_str().unwrap().to_owned();
        let containers: Value = serde_json::from_str(r["values"]["container_definitions"].as_str().unwrap()).unwrap();
        let secrets = containers[0]["secrets"].as_array().cloned().unwrap_or_default();
        let secrets = secrets
            .iter()
            .map(|s| (s["name"].as_str().unwrap().to_owned(), s["valueFrom"].as_str().unwrap().to_owned()))
            .collect();
        let execution_role = r["values"]["execution_role_arn"].as_str().unwrap().to_owned();
        let role_name = role_names.get(&execution_role).cloned().unwrap_or_default();
        let readable = readable_by_role.get(&role_name).cloned().unwrap_or_default();
        let cpu = r["values"]["cpu"].as_str().and_then(|c| c.parse().ok()).expect("the task's cpu units");
        let worker_threads = containers[0]["environment"]
            .as_array()
            .and_then(|env| env.iter().find(|e| e["name"] == "TOKIO_WORKER_THREADS"))
            .map(|e| e["value"].as_str().unwrap().to_owned());
        by_service.insert(service, Injected { secrets, execution_role, readable, cpu, worker_threads });
    }
    by_service
}

/// The AWS actions each component's code may call (src/dynamo, src/sqs, src/worker), as IAM
/// names. The policies must grant exactly these; the processes must call nothing else.
fn declared() -> BTreeMap<String, BTreeSet<String>> {
    // DeleteItem: a merchant deletes a webhook endpoint.
    let api = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query", "dynamodb:DeleteItem"];
    // Every change is a transaction: the record's update and its event's put.
    let worker = [
        "dynamodb:Query",
        "dynamodb:UpdateItem",
        "dynamodb:PutItem",
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:ChangeMessageVisibility",
    ];
    // GetItem: a lost claim on an event's deliveries is read to tell busy from settled.
    let webhook_worker = worker.iter().copied().chain(["dynamodb:GetItem"]).collect::<Vec<_>>();
    let common = ["sqs:GetQueueUrl", "sqs:SendMessage"];
    let set = |own: &[&str]| own.iter().chain(&common).map(|a| (*a).to_owned()).collect::<BTreeSet<_>>();
    BTreeMap::from([
        ("api".to_owned(), set(&api)),
        ("payment-worker".to_owned(), set(&worker)),
        ("refund-worker".to_owned(), set(&worker)),
        ("webhook-worker".to_owned(), set(&webhook_worker)),
    ])
}

#[tokio::test]
async fn terraform_applied_to_the_emulator_matches_setup_and_runs_the_services() {
    if !terraform_available() {
        eprintln!(
            "warning: terraform or its providers ({}) missing; skipping the Terraform apply test",
            plugins().display()
        );
        return;
    }
    let (emulator, state, outputs) = applied();
    let table = outputs["table_name"]["value"].as_str().expect("table_name output").to_owned();
    let queue_urls = &outputs["queue_urls"]["value"];
    let name_of = |url: &Value| url.as_str().unwrap().rsplit('/').next().unwrap().to_owned();
    let (payments, refunds) = (name_of(&queue_urls["payments"]), name_of(&queue_urls["refunds"]));
    let webhooks = name_of(&queue_urls["webhooks"]);

    // SETUP's own resources, on the same emulator, to compare with.
    let setup = AwsArgs {
        region: "us-east-1".into(),
        endpoint_url: Some(emulator.url.clone()),
        dynamodb_endpoint_url: None,
        table: "setup-table".into(),
        payments_queue: "setup-payments".into(),
        refunds_queue: "setup-refunds".into(),
        webhooks_queue: "setup-webhooks".into(),
        setup: true,
    };
    let clients = payment_platform::aws::clients(&setup).await;
    payment_platform::setup::run(&clients, &setup).await.expect("SETUP");
    assert_eq!(table_shape(&clients, &table).await, table_shape(&clients, &setup.table).await, "table");
    for (tf, ours) in
        [(&payments, &setup.payments_queue), (&refunds, &setup.refunds_queue), (&webhooks, &setup.webhooks_queue)]
    {
        assert_eq!(queue_shape(&clients, tf).await, queue_shape(&clients, ours).await, "queue {tf} vs {ours}");
    }

    // The services on Terraform's table and queues (SETUP only seeds the merchants there).
    let on_terraform =
        AwsArgs { table, payments_queue: payments, refunds_queue: refunds, webhooks_queue: webhooks, ..setup };
    let mut sys = System::start_on("terraform", on_terraform, &[], &[("WORKER_WAIT_SECS", "1")]).await;
    sys.with_webhooks(&[]).await;
    let receiver = Receiver::start(Behaviour::Ok).await;
    sys.app.endpoint(&receiver.url, &["payment.succeeded"]).await;
    let id = sys.app.create_ok(&card_request("4242424242424242", 2500)).await;
    assert_eq!(sys.settled(&id, Duration::from_secs(60)).await["Status"], "SUCCEEDED");
    assert_eq!(sys.app.refund(&id, Some(serde_json::json!({ "Amount": 1000 })), None).await.status(), 202);
    let refunded = sys.settled(&id, Duration::from_secs(60)).await;
    assert_eq!(
        (refunded["Refunds"][0]["Status"].as_str(), refunded["RefundedAmount"].as_u64()),
        (Some("SUCCEEDED"), Some(1000))
    );
    eventually(Duration::from_secs(60), "a webhook through Terraform's webhooks queue", || async {
        (!receiver.delivered().is_empty()).then_some(())
    })
    .await;

    // IAM: each role grants exactly what its component's code calls, and the processes called
    // nothing their role does not grant.
    let granted = granted(&state);
    assert_eq!(granted, declared(), "the task policies in infra/terraform/iam.tf against the code's calls");
    // The indexes too, by name: the API reads the merchant's lists; the workers the repair and
    // due-time index, and the webhook-worker the merchant's feed for a new endpoint's catch-up.
    let indexes = |names: &[&str]| names.iter().map(|n| (*n).to_owned()).collect::<BTreeSet<_>>();
    let wanted = BTreeMap::from([
        ("api".to_owned(), indexes(&["GSI1", "GSI3", "GSI4", "GSI5", "GSI6"])),
        ("payment-worker".to_owned(), indexes(&["GSI2"])),
        ("refund-worker".to_owned(), indexes(&["GSI2"])),
        ("webhook-worker".to_owned(), indexes(&["GSI1", "GSI2", "GSI3"])),
    ]);
    assert_eq!(queried_indexes(&state), wanted, "the indexes each role may query (infra/terraform/iam.tf)");
    let called = [
        ("api", actions_called(sys.api.admin_port, &["PutItem", "UpdateItem"]).await),
        ("payment-worker", actions_called(sys.payment_worker.port, &["PutItem", "UpdateItem"]).await),
        ("refund-worker", actions_called(sys.refund_worker.port, &["PutItem", "UpdateItem"]).await),
        ("webhook-worker", actions_called(sys.worker(Worker::Webhook).port, &["PutItem", "UpdateItem"]).await),
    ];
    for (component, actions) in called {
        let signature = if component == "api" { "sqs:SendMessage" } else { "sqs:ReceiveMessage" };
        assert!(actions.contains(signature), "{component}'s calls were measured: {actions:?}");
        let denied: Vec<_> = actions.difference(&granted[component]).collect();
        assert!(denied.is_empty(), "{component} called what its role does not grant: {denied:?}");
    }
    drop(sys);

    // Keys only where needed (CONTRACT.md section 6): each task gets its own secrets, and its
    // execution role (one per service) may read exactly those, so no task definition can be
    // started with another service's key. With Cognito (the default) no JWT secret is injected.
    let injected = injected(&state);
    let names = |service: &str| injected[service].secrets.keys().map(String::as_str).collect::<Vec<_>>();
    assert_eq!(names("api"), ["CARD_ENCRYPTION_KEY", "IDEMPOTENCY_FINGERPRINT_KEY", "WEBHOOK_SECRET_KEY"]);
    assert_eq!(names("payment-worker"), ["CARD_ENCRYPTION_KEY"]);
    assert_eq!(names("refund-worker"), Vec::<&str>::new());
    assert_eq!(names("webhook-worker"), ["WEBHOOK_SECRET_KEY"]);
    // The dashboard (infra-local.sh applies it, on a made-up host): its session key alone.
    assert_eq!(names("dashboard"), ["DASHBOARD_SESSION_KEY"]);
    let roles: BTreeSet<&str> = injected.values().map(|i| i.execution_role.as_str()).collect();
    assert_eq!(roles.len(), 5, "one execution role per service: {roles:?}");
    for (service, i) in &injected {
        let used: BTreeSet<String> = i.secrets.values().cloned().collect();
        assert_eq!(i.readable, used, "{service}'s execution role reads exactly its task's secrets");
    }
    // Each runtime gets a worker thread per whole vCPU of its task, at least one: the default
    // sizes are all under one vCPU.
    for (service, i) in &injected {
        let wanted = (i.cpu / 1024).max(1).to_string();
        assert_eq!(i.worker_threads.as_deref(), Some(wanted.as_str()), "{service}'s worker threads at {} cpu", i.cpu);
    }
    assert_eq!(injected["api"].worker_threads.as_deref(), Some("1"), "the api's 512 cpu units: one thread");
    let card_key_arn = outputs["card_encryption_key_secret_arn"]["value"].as_str().unwrap();
    assert!(
        !injected["webhook-worker"].readable.iter().any(|arn| arn == card_key_arn),
        "the webhook-worker's execution role cannot read the card key"
    );

    // The dashboard makes no AWS call: it has a task role of its own, with no policy, inline
    // (`granted` above has no entry for it) or attached.
    let applied = resources(&state);
    assert!(
        applied.iter().any(|r| r["type"] == "aws_iam_role" && r["name"] == "task" && r["index"] == "dashboard"),
        "the dashboard's task role"
    );
    let on_dashboard_task_role: Vec<&Value> = applied
        .iter()
        .filter(|r| r["type"] == "aws_iam_role_policy" || r["type"] == "aws_iam_role_policy_attachment")
        .filter(|r| r["values"]["role"].as_str().is_some_and(|role| role.ends_with("-dashboard-task")))
        .collect();
    assert!(on_dashboard_task_role.is_empty(), "the dashboard's task role grants nothing: {on_dashboard_task_role:?}");

    // Port 80 redirects to the HTTPS listener, which sends HSTS (applied with a certificate).
    let listeners: BTreeMap<String, Value> = resources(&state)
        .into_iter()
        .filter(|r| r["type"] == "aws_lb_listener")
        .map(|r| (r["address"].as_str().unwrap().to_owned(), r["values"].clone()))
        .collect();
    assert_eq!(listeners["aws_lb_listener.http"]["default_action"][0]["type"], "redirect");
    assert_eq!(
        listeners["aws_lb_listener.https[0]"]["routing_http_response_strict_transport_security_header_value"],
        "max-age=31536000; includeSubDomains"
    );

    infra("destroy", &emulator, &state);
    let gone =
        clients.dynamodb.describe_table().table_name(outputs["table_name"]["value"].as_str().unwrap()).send().await;
    assert!(gone.is_err(), "destroy removes the table");
}
