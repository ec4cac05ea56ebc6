//! `terraform plan` of `infra/terraform` against an emulator of the test's own (which answers the
//! plan's few reads: the account, the default VPC and its subnets), for what must hold before
//! anything is applied: a public load balancer without a certificate does not plan; with one,
//! port 80 only redirects to HTTPS and 443 speaks TLS 1.2+ with HSTS; an internal one may serve
//! plain HTTP; each service gets only its own secrets; images are pinned and logs kept a year; the
//! dashboard gets its own host, a public Cognito client, its session key and no AWS permission;
//! each task's runtime threads follow its cpu units.
//! Also validates the example state backend (`infra/terraform/state-backend`). Skipped with a
//! warning where terraform or its provider is missing, as `infra_apply` is.
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Mutex;

use serde_json::{Value, json};

use super::infra_apply::{plugins, terraform_available};
use super::support::emulator::PrivateEmulator;

/// One plan at a time: each runs the AWS provider (a large process) on a 2-core machine.
static PLANS: Mutex<()> = Mutex::new(());

const CERTIFICATE: &str = "arn:aws:acm:us-east-1:000000000000:certificate/plan-test";

/// The default service sizes but the api's: 2 vCPU (2048 cpu units).
const SERVICES_API_2_VCPU: &str = r#"services={"api"={cpu=2048,memory=4096,min_tasks=2,max_tasks=10},"payment-worker"={cpu=256,memory=512,min_tasks=1,max_tasks=10},"refund-worker"={cpu=256,memory=512,min_tasks=1,max_tasks=4},"webhook-worker"={cpu=256,memory=512,min_tasks=1,max_tasks=4}}"#;

/// The message of the precondition on `aws_lb.api` (infra/terraform/network.tf).
const NO_TLS: &str = "A public load balancer (alb_internal = false) requires certificate_arn";

/// A scratch copy of infra/terraform whose provider talks to `emulator`, as
/// `localstack/infra-local.sh` prepares one, initialised with the local providers.
fn workspace(emulator: &PrivateEmulator, name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("terraform-plan-{name}-{}", emulator.port));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("infra/terraform");
    for entry in std::fs::read_dir(&source).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|x| x == "tf") {
            std::fs::copy(&path, dir.join(path.file_name().unwrap())).unwrap();
        }
    }
    let services = [
        "applicationautoscaling",
        "cloudwatch",
        "cloudwatchlogs",
        "cognitoidp",
        "dynamodb",
        "ec2",
        "ecr",
        "ecs",
        "elbv2",
        "iam",
        "kms",
        "s3",
        "secretsmanager",
        "sns",
        "sqs",
        "sts",
    ];
    let endpoints: String = services.iter().map(|s| format!("    {s} = \"{}\"\n", emulator.url)).collect();
    let provider = format!(
        "provider \"aws\" {{\n  access_key = \"test\"\n  secret_key = \"test\"\n  skip_credentials_validation = true\n  \
         skip_metadata_api_check = true\n  skip_requesting_account_id = true\n  endpoints {{\n{endpoints}  }}\n}}\n"
    );
    std::fs::write(dir.join("emulator_override.tf"), provider).unwrap();
    let init =
        terraform(&dir, &["init", "-backend=false", "-input=false", &format!("-plugin-dir={}", plugins().display())]);
    assert!(init.status.success(), "terraform init: {}", String::from_utf8_lossy(&init.stderr));
    dir
}

fn terraform(dir: &Path, args: &[&str]) -> Output {
    Command::new("terraform")
        .arg(format!("-chdir={}", dir.display()))
        .args(args)
        // The plan reads only the emulator its override names, never the one `make test` started.
        .env_remove("AWS_ENDPOINT_URL")
        .env("TF_IN_AUTOMATION", "1")
        .output()
        .expect("run terraform")
}

/// `terraform plan` with `vars` (`name=value`): the plan as JSON, or the error output.
fn plan(dir: &Path, vars: &[&str]) -> Result<Value, String> {
    let mut args = vec!["plan", "-input=false", "-no-color", "-lock=false", "-out=tfplan"];
    let flags: Vec<String> = vars.iter().map(|v| format!("-var={v}")).collect();
    args.extend(flags.iter().map(String::as_str));
    let out = terraform(dir, &args);
    if !out.status.success() {
        return Err(format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)));
    }
    let shown = terraform(dir, &["show", "-json", "tfplan"]);
    assert!(shown.status.success(), "terraform show: {}", String::from_utf8_lossy(&shown.stderr));
    Ok(serde_json::from_slice(&shown.stdout).expect("plan JSON"))
}

/// The planned values of the resource at `address`.
fn planned<'a>(plan: &'a Value, address: &str) -> &'a Value {
    let changes = plan["resource_changes"].as_array().expect("resource_changes");
    let change = changes.iter().find(|r| r["address"] == address);
    &change.unwrap_or_else(|| panic!("{address} is not in the plan"))["change"]["after"]
}

fn has(plan: &Value, address: &str) -> bool {
    plan["resource_changes"].as_array().unwrap().iter().any(|r| r["address"] == address)
}

/// Starts an emulator and a workspace, unless terraform is missing (then None, with a warning).
fn setup(name: &str) -> Option<(PrivateEmulator, PathBuf)> {
    if !terraform_available() {
        eprintln!(
            "warning: terraform or its providers ({}) missing; skipping the Terraform plan test",
            plugins().display()
        );
        return None;
    }
    let emulator = PrivateEmulator::start_with(&format!("plan-{name}"), "all");
    let dir = workspace(&emulator, name);
    Some((emulator, dir))
}

#[test]
fn terraform_plan_refuses_a_public_load_balancer_without_a_certificate() {
    let _one = PLANS.lock().unwrap_or_else(|e| e.into_inner());
    let Some((_emulator, dir)) = setup("no-tls") else { return };

    // The defaults are a public load balancer; no certificate given.
    let error = plan(&dir, &["image_tag=v1.0.0"]).expect_err("a public load balancer without TLS must not plan");
    assert!(error.contains("Resource precondition failed"), "{error}");
    assert!(error.contains(NO_TLS), "the refusal names what to set:\n{error}");
    assert!(error.contains("alb_internal = true"), "the refusal names the alternative:\n{error}");

    // Images are pinned and logs are kept a year: `latest` and 30 days are refused by name.
    let error = plan(&dir, &["image_tag=latest", &format!("certificate_arn={CERTIFICATE}"), "log_retention_days=30"])
        .expect_err("latest and a 30-day retention must not plan");
    assert!(error.contains("image_tag must be an immutable tag"), "{error}");
    assert!(error.contains("log_retention_days must keep logs at least a year"), "{error}");
    let error =
        plan(&dir, &["image_tag=v1", &format!("certificate_arn={CERTIFICATE}"), r#"image_tags={"api":"latest"}"#])
            .expect_err("a per-service latest must not plan");
    assert!(error.contains("Each of image_tags must be an immutable tag"), "{error}");
}

#[test]
fn terraform_plan_with_a_certificate_redirects_port_80_and_gives_each_service_only_its_secrets() {
    let _one = PLANS.lock().unwrap_or_else(|e| e.into_inner());
    let Some((_emulator, dir)) = setup("tls") else { return };

    let tls = plan(&dir, &["image_tag=v1.0.0", &format!("certificate_arn={CERTIFICATE}")])
        .unwrap_or_else(|e| panic!("a public load balancer with a certificate plans:\n{e}"));

    // Port 80: a 301 to https on 443 and nothing else.
    let http = planned(&tls, "aws_lb_listener.http");
    assert_eq!(http["port"], 80);
    let action = &http["default_action"][0];
    assert_eq!(action["type"], "redirect", "port 80 only redirects: {action}");
    let redirect = &action["redirect"][0];
    assert_eq!(
        (&redirect["protocol"], &redirect["port"], &redirect["status_code"]),
        (&json!("HTTPS"), &json!("443"), &json!("HTTP_301")),
        "{redirect}"
    );
    assert!(action["target_group_arn"].is_null(), "port 80 forwards nothing: {action}");

    // 443: the certificate, TLS 1.3/1.2 only, HSTS on every answer.
    let https = planned(&tls, "aws_lb_listener.https[0]");
    assert_eq!(https["protocol"], "HTTPS");
    assert_eq!(https["certificate_arn"], CERTIFICATE);
    assert_eq!(https["ssl_policy"], "ELBSecurityPolicy-TLS13-1-2-2021-06");
    assert_eq!(
        https["routing_http_response_strict_transport_security_header_value"],
        "max-age=31536000; includeSubDomains"
    );
    assert_eq!(planned(&tls, "aws_lb.api")["internal"], false);

    // Access logs to the created, encrypted bucket; a year of logs; immutable ECR tags.
    assert_eq!(planned(&tls, "aws_lb.api")["access_logs"][0]["enabled"], true);
    let sse = planned(&tls, "aws_s3_bucket_server_side_encryption_configuration.alb_logs[0]");
    assert_eq!(sse["rule"][0]["apply_server_side_encryption_by_default"][0]["sse_algorithm"], "AES256");
    assert!(has(&tls, "aws_s3_bucket_policy.alb_logs[0]"), "the ELB log-delivery bucket policy");
    assert_eq!(planned(&tls, "aws_cloudwatch_log_group.service[\"api\"]")["retention_in_days"], 365);
    assert_eq!(planned(&tls, "aws_ecr_repository.app[0]")["image_tag_mutability"], "IMMUTABLE");

    // Keys only where needed (CONTRACT.md section 6), with Cognito (the default): no JWT secret.
    let secrets = &tls["planned_values"]["outputs"]["service_secret_names"]["value"];
    assert_eq!(
        secrets,
        &json!({
            "api": ["CARD_ENCRYPTION_KEY", "WEBHOOK_SECRET_KEY", "IDEMPOTENCY_FINGERPRINT_KEY"],
            "payment-worker": ["CARD_ENCRYPTION_KEY"],
            "refund-worker": [],
            "webhook-worker": ["WEBHOOK_SECRET_KEY"],
        }),
        "the secrets each ECS service gets"
    );
    // Each service has its own execution role; the refund-worker's may read no secret at all.
    for service in ["api", "payment-worker", "refund-worker", "webhook-worker"] {
        assert!(has(&tls, &format!("aws_iam_role.execution[\"{service}\"]")), "{service}'s execution role");
    }
    assert!(
        !has(&tls, "aws_iam_role_policy.execution_secrets[\"refund-worker\"]"),
        "the refund-worker reads no secret"
    );

    // HS256 mode, an internal load balancer without a certificate, rotations under way: the api
    // gets JWT_SECRET_KEY and every *_OLD_KEYS goes with its key; port 80 then serves plain HTTP
    // inside the VPC (forward), and there is no 443.
    let digest = format!("sha256:{}", "ab".repeat(32));
    let tags = format!(r#"image_tags={{"webhook-worker":"{digest}"}}"#);
    let old = |name: &str| format!("arn:aws:secretsmanager:us-east-1:000000000000:secret:old-{name}");
    let internal = plan(
        &dir,
        &[
            "image_tag=v1.0.0",
            "image_repository=registry.example/payment-platform",
            &tags,
            "alb_internal=true",
            "cognito_enabled=false",
            "api_docs=true",
            &format!("card_encryption_old_keys_secret_arn={}", old("card")),
            &format!("webhook_secret_old_keys_secret_arn={}", old("webhook")),
            &format!("idempotency_fingerprint_old_keys_secret_arn={}", old("fingerprint")),
            &format!("jwt_old_secret_keys_secret_arn={}", old("jwt")),
            SERVICES_API_2_VCPU,
        ],
    )
    .unwrap_or_else(|e| panic!("an internal load balancer without a certificate plans:\n{e}"));
    assert_eq!(planned(&internal, "aws_lb.api")["internal"], true);
    assert_eq!(planned(&internal, "aws_lb_listener.http")["default_action"][0]["type"], "forward");
    assert!(!has(&internal, "aws_lb_listener.https[0]"), "no HTTPS listener without a certificate");
    // Each image pinned: a tag, or a digest referenced as <repository>@sha256:...
    let images = &internal["planned_values"]["outputs"]["service_images"]["value"];
    assert_eq!(images["api"], "registry.example/payment-platform:v1.0.0", "{images}");
    assert_eq!(images["webhook-worker"], format!("registry.example/payment-platform@{digest}"), "{images}");
    let secrets = &internal["planned_values"]["outputs"]["service_secret_names"]["value"];
    let names = |service: &str| {
        let mut names: Vec<&str> = secrets[service].as_array().unwrap().iter().map(|n| n.as_str().unwrap()).collect();
        names.sort_unstable();
        names
    };
    assert_eq!(
        names("api"),
        [
            "CARD_ENCRYPTION_KEY",
            "CARD_ENCRYPTION_OLD_KEYS",
            "IDEMPOTENCY_FINGERPRINT_KEY",
            "IDEMPOTENCY_FINGERPRINT_OLD_KEYS",
            "JWT_OLD_SECRET_KEYS",
            "JWT_SECRET_KEY",
            "WEBHOOK_SECRET_KEY",
            "WEBHOOK_SECRET_OLD_KEYS",
        ]
    );
    assert_eq!(names("payment-worker"), ["CARD_ENCRYPTION_KEY", "CARD_ENCRYPTION_OLD_KEYS"]);
    assert!(names("refund-worker").is_empty());
    assert_eq!(names("webhook-worker"), ["WEBHOOK_SECRET_KEY", "WEBHOOK_SECRET_OLD_KEYS"]);
    // One runtime thread per whole vCPU of the task, at least one: the api at 2 vCPU gets two.
    assert_eq!(
        internal["planned_values"]["outputs"]["service_worker_threads"]["value"],
        json!({ "api": 2, "payment-worker": 1, "refund-worker": 1, "webhook-worker": 1 })
    );
    assert_eq!(planned(&internal, "aws_ecs_task_definition.service[\"api\"]")["cpu"], "2048");
    // Which ARNs each execution role may read is known only at apply (the secrets are created
    // then): infra_apply holds each role to exactly its task's secrets.
}

#[test]
fn terraform_plan_serves_the_dashboard_on_its_own_host_without_aws_permissions() {
    let _one = PLANS.lock().unwrap_or_else(|e| e.into_inner());
    let Some((_emulator, dir)) = setup("dashboard") else { return };
    let certificate = format!("certificate_arn={CERTIFICATE}");

    // It calls the API at its public URL, whose host must be on the certificate (the load
    // balancer's DNS name is on none), and signs staff in at Cognito: without either, no plan.
    let error = plan(&dir, &["image_tag=v1.0.0", &certificate, "dashboard_host=dashboard.example.com"])
        .expect_err("a dashboard without base_url must not plan");
    assert!(error.contains("The dashboard (dashboard_host) calls the API over https"), "{error}");
    let error = plan(
        &dir,
        &[
            "image_tag=v1.0.0",
            &certificate,
            "dashboard_host=dashboard.example.com",
            "base_url=https://api.example.com",
            "cognito_enabled=false",
        ],
    )
    .expect_err("a dashboard without Cognito must not plan");
    assert!(error.contains("The dashboard (dashboard_host) signs staff in at the Cognito user pool"), "{error}");

    let dashboard = plan(
        &dir,
        &["image_tag=v1.0.0", &certificate, "dashboard_host=dashboard.example.com", "base_url=https://api.example.com"],
    )
    .unwrap_or_else(|e| panic!("a dashboard with its host, the API's URL and a certificate plans:\n{e}"));
    // Its own host on the HTTPS listener, its own target group.
    let rule = planned(&dashboard, "aws_lb_listener_rule.dashboard[0]");
    assert_eq!(rule["condition"][0]["host_header"][0]["values"], json!(["dashboard.example.com"]), "{rule}");
    assert!(has(&dashboard, "aws_lb_target_group.dashboard[0]"), "the dashboard's target group");
    // A public client: authorization code (with PKCE), back to <dashboard>/auth/callback.
    let client = planned(&dashboard, "aws_cognito_user_pool_client.dashboard[0]");
    assert_eq!(client["generate_secret"], false, "{client}");
    assert_eq!(client["allowed_oauth_flows"], json!(["code"]), "{client}");
    assert_eq!(client["callback_urls"], json!(["https://dashboard.example.com/auth/callback"]), "{client}");
    // Its session key alone; a task role with no policy; an execution role reading that key.
    let secrets = &dashboard["planned_values"]["outputs"]["service_secret_names"]["value"];
    assert_eq!(secrets["dashboard"], json!(["DASHBOARD_SESSION_KEY"]), "{secrets}");
    assert!(has(&dashboard, "aws_iam_role.task[\"dashboard\"]"), "the dashboard's task role");
    assert!(!has(&dashboard, "aws_iam_role_policy.task[\"dashboard\"]"), "the dashboard's task role grants nothing");
    assert!(has(&dashboard, "aws_iam_role_policy.execution_secrets[\"dashboard\"]"), "it reads its session key");
    assert_eq!(dashboard["planned_values"]["outputs"]["dashboard_url"]["value"], "https://dashboard.example.com");
}

#[test]
fn the_example_state_backend_validates() {
    let _one = PLANS.lock().unwrap_or_else(|e| e.into_inner());
    if !terraform_available() {
        eprintln!(
            "warning: terraform or its providers ({}) missing; skipping the state backend check",
            plugins().display()
        );
        return;
    }
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("terraform-state-backend");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("infra/terraform/state-backend");
    for entry in std::fs::read_dir(&source).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|x| x == "tf") {
            std::fs::copy(&path, dir.join(path.file_name().unwrap())).unwrap();
        }
    }
    let init =
        terraform(&dir, &["init", "-backend=false", "-input=false", &format!("-plugin-dir={}", plugins().display())]);
    assert!(init.status.success(), "terraform init: {}", String::from_utf8_lossy(&init.stderr));
    let validate = terraform(&dir, &["validate", "-no-color"]);
    assert!(validate.status.success(), "terraform validate: {}", String::from_utf8_lossy(&validate.stdout));

    // The example backend block is well-formed, formatted HCL with encryption under a KMS key
    // and locking (it is not initialised here: there is no bucket).
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("infra/terraform/backend.tf.example");
    let text = std::fs::read_to_string(&example).expect("infra/terraform/backend.tf.example");
    let mut fmt = Command::new("terraform")
        .args(["fmt", "-no-color", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run terraform fmt");
    std::io::Write::write_all(&mut fmt.stdin.take().unwrap(), text.as_bytes()).unwrap();
    let formatted = fmt.wait_with_output().unwrap();
    assert!(formatted.status.success(), "backend.tf.example: {}", String::from_utf8_lossy(&formatted.stderr));
    assert_eq!(
        String::from_utf8_lossy(&formatted.stdout),
        text,
        "backend.tf.example is formatted as terraform fmt does"
    );
    for needed in ["backend \"s3\"", "encrypt", "kms_key_id", "use_lockfile"] {
        assert!(text.contains(needed), "the example backend sets {needed}");
    }
}
