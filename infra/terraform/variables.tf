# Every variable but image_tag has a default. Two more things a plan needs: the image tag to run
# (immutable: a tag other than `latest`, or a digest), and a certificate_arn unless the load balancer
# is internal (a public one refuses to plan without TLS: network.tf). The names of the table and
# the queues default to what the binaries default to (src/config); tests/integration/infra_names.rs
# checks that they, the keys and the indexes agree with what SETUP creates.

variable "region" {
  description = "AWS region (AWS_REGION of every task)."
  type        = string
  default     = "us-east-1"
}

variable "name_prefix" {
  description = "Prefix of every resource name that is not fixed by the application."
  type        = string
  default     = "payment-platform"
}

variable "tags" {
  description = "Extra tags on every resource."
  type        = map(string)
  default     = {}
}

# --- Data ---------------------------------------------------------------------------------------

variable "table_name" {
  description = "DynamoDB table (DYNAMODB_TABLE)."
  type        = string
  default     = "payment-platform-table"
}

variable "payments_queue_name" {
  description = "Payments queue (PAYMENTS_QUEUE); its DLQ is <name>-dlq."
  type        = string
  default     = "payment-platform-payments"
}

variable "refunds_queue_name" {
  description = "Refunds queue (REFUNDS_QUEUE); its DLQ is <name>-dlq."
  type        = string
  default     = "payment-platform-refunds"
}

variable "webhooks_queue_name" {
  description = "Webhooks queue (WEBHOOKS_QUEUE), the webhook-worker's; its DLQ is <name>-dlq. Every service sends to it."
  type        = string
  default     = "payment-platform-webhooks"
}

variable "kms_key_arn" {
  description = "Customer managed KMS key for the table and the queues. null: the AWS managed key for DynamoDB and SQS-managed SSE for the queues."
  type        = string
  default     = null
}

variable "table_deletion_protection" {
  description = "Refuse to delete the table (turn off only to tear an environment down)."
  type        = bool
  default     = true
}

# --- Images -------------------------------------------------------------------------------------

variable "image_repository" {
  description = "Repository URL of the image built from the top-level Dockerfile (it holds every binary), without a tag or digest. null: an ECR repository is created, with immutable tags."
  type        = string
  default     = null

  validation {
    condition     = var.image_repository == null || !can(regex("(@|:[^/]*$)", coalesce(var.image_repository, "-")))
    error_message = "image_repository is the repository alone (e.g. 123456789012.dkr.ecr.eu-west-1.amazonaws.com/payment-platform): put the tag or digest in image_tag."
  }
}

# Images are pinned: a tag is a name pushed once (the created ECR repository refuses to overwrite
# one), a digest cannot move at all. `latest` (or no tag) would let a push change what a task
# restarted by ECS runs, without a deployment or a record of it.
variable "image_tag" {
  description = "Image every service runs: an immutable tag (a version or commit id, never `latest`) or a digest `sha256:<64 hex>` (the image is then referenced as <repository>@sha256:...). No default: set it to what you pushed."
  type        = string

  validation {
    condition     = can(regex("^(sha256:[0-9a-f]{64}|[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})$", var.image_tag)) && lower(var.image_tag) != "latest"
    error_message = "image_tag must be an immutable tag (letters, digits, _ . -; not `latest`) or a digest sha256:<64 lowercase hex>."
  }
}

variable "image_tags" {
  description = "Per-service overrides of image_tag (same rules: an immutable tag or sha256:<digest>), keyed by service (api, payment-worker, refund-worker, webhook-worker, dashboard)."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for t in values(var.image_tags) : can(regex("^(sha256:[0-9a-f]{64}|[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})$", t)) && lower(t) != "latest"])
    error_message = "Each of image_tags must be an immutable tag (letters, digits, _ . -; not `latest`) or a digest sha256:<64 lowercase hex>."
  }

  validation {
    condition     = length(setsubtract(keys(var.image_tags), ["api", "payment-worker", "refund-worker", "webhook-worker", "dashboard"])) == 0
    error_message = "image_tags keys are services: api, payment-worker, refund-worker, webhook-worker, dashboard."
  }
}

variable "cpu_architecture" {
  description = "X86_64 or ARM64: the architecture the image was built for."
  type        = string
  default     = "X86_64"
}

# --- Network ------------------------------------------------------------------------------------

variable "vpc_id" {
  description = "VPC of the load balancer and the tasks. null: the account's default VPC."
  type        = string
  default     = null
}

variable "public_subnet_ids" {
  description = "Subnets of the load balancer. null: every subnet of the VPC."
  type        = list(string)
  default     = null
}

variable "private_subnet_ids" {
  description = "Subnets of the tasks (they need a route to ECR, CloudWatch, DynamoDB, SQS, Secrets Manager, the bank, for the API Cognito's JWKS on cognito-idp.<region>.amazonaws.com, and for the webhook-worker merchants' webhook endpoints: HTTPS to any public address). null: every subnet of the VPC."
  type        = list(string)
  default     = null
}

variable "assign_public_ip" {
  description = "Give tasks a public IP (needed in subnets without a NAT gateway or VPC endpoints). null: true only when private_subnet_ids is null."
  type        = bool
  default     = null
}

variable "alb_internal" {
  description = "Make the load balancer internal (reachable inside the VPC only). A public one (false) requires certificate_arn."
  type        = bool
  default     = false
}

variable "alb_ingress_cidrs" {
  description = "Who may reach the load balancer."
  type        = list(string)
  default     = ["0.0.0.0/0"]
}

variable "certificate_arn" {
  description = "ACM certificate for HTTPS on 443; port 80 then only redirects to it (301). Required when the load balancer is public (alb_internal = false). null: HTTP on 80 only, allowed for an internal load balancer alone."
  type        = string
  default     = null
}

variable "metrics_ingress_cidrs" {
  description = "Who may scrape GET /metrics on the tasks directly (api ADMIN_PORT 4448, workers WORKER_HTTP_PORT 4446), e.g. the VPC CIDR of a Prometheus. The API's public port 4444 and the load balancer never serve /metrics."
  type        = list(string)
  default     = []
}

variable "alb_access_logs_enabled" {
  description = "Write the load balancer's access logs to S3 (alb_access_logs_bucket, or a bucket created for them). false only where S3 cannot be used: the local emulator apply, whose provider has no S3 endpoint."
  type        = bool
  default     = true
}

variable "alb_access_logs_bucket" {
  description = "Existing S3 bucket for the load balancer's access logs (SSE-S3 encrypted, with the ELB log-delivery bucket policy for this region). null: a bucket <name_prefix>-alb-logs-<account id> is created with both."
  type        = string
  default     = null
}

# --- Services -----------------------------------------------------------------------------------

variable "services" {
  description = "Size and task count bounds of each service (Fargate cpu units and MiB)."
  type = map(object({
    cpu       = number
    memory    = number
    min_tasks = number
    max_tasks = number
  }))
  default = {
    "api"            = { cpu = 512, memory = 1024, min_tasks = 2, max_tasks = 10 }
    "payment-worker" = { cpu = 256, memory = 512, min_tasks = 1, max_tasks = 10 }
    "refund-worker"  = { cpu = 256, memory = 512, min_tasks = 1, max_tasks = 4 }
    "webhook-worker" = { cpu = 256, memory = 512, min_tasks = 1, max_tasks = 4 }
  }

  validation {
    condition     = length(setsubtract(["api", "payment-worker", "refund-worker", "webhook-worker"], keys(var.services))) == 0
    error_message = "services must have the keys api, payment-worker, refund-worker and webhook-worker."
  }

  validation {
    condition     = alltrue([for s in values(var.services) : s.min_tasks >= 1 && s.max_tasks >= s.min_tasks])
    error_message = "Each service needs 1 <= min_tasks <= max_tasks (a worker's backlog per task divides by its running tasks)."
  }
}

variable "autoscaling_enabled" {
  description = "Create the Application Auto Scaling targets and policies. false only where that API does not exist (the local emulator, make infra-local): the services then keep their desired count."
  type        = bool
  default     = true
}

variable "api_requests_per_target" {
  description = "API target tracking: ALB requests per task per minute."
  type        = number
  default     = 1000
}

variable "api_cpu_target" {
  description = "API target tracking: average CPU utilisation, percent."
  type        = number
  default     = 60
}

variable "worker_backlog_per_task_target" {
  description = "Worker target tracking: (visible + in-flight messages) / running tasks. Keep it below WORKER_CONCURRENCY (about 3/4 of it): each task works on at most that many at once."
  type        = number
  default     = 24
}

variable "worker_concurrency" {
  description = "WORKER_CONCURRENCY: messages one worker task works on at once."
  type        = number
  default     = 32
}

# --- Application settings -----------------------------------------------------------------------

variable "bank_url" {
  description = "BANK_URL: the acquiring bank the workers call. The default is the code's and reaches nothing on ECS: set it."
  type        = string
  default     = "http://127.0.0.1:4445"
}

variable "bank_timeout_ms" {
  description = "BANK_TIMEOUT_MS: timeout of one bank attempt."
  type        = number
  default     = 2000
}

variable "bank_max_attempts" {
  description = "BANK_MAX_ATTEMPTS: attempts per bank call before the message is left for redelivery."
  type        = number
  default     = 8
}

variable "bank_key_ttl_secs" {
  description = "BANK_KEY_TTL_SECS: how long the acquirer remembers an idempotency key after its first use (its documented retention, or less); the workers never send a request again past it (less BANK_RESEND_MARGIN_SECS, 3600)."
  type        = number
  default     = 86400
}

variable "bank_late_apply_ms" {
  description = "BANK_LATE_APPLY_MS: the longest the acquirer may take to apply a request it received (its documented bound, or more); once this has passed since the last attempt, \"nothing applied\" is final and the payment or refund ends FAILED bank_unavailable."
  type        = number
  default     = 60000
}

variable "authorization_validity_secs" {
  description = "AUTHORIZATION_VALIDITY_SECS: how long a manual-capture payment's authorization is kept (at most the acquirer's own hold); past it a capture is refused and the payment ends."
  type        = number
  default     = 604800
}

variable "webhook_timeout_ms" {
  description = "WEBHOOK_TIMEOUT_MS: limit of one webhook delivery attempt (100 to 60000)."
  type        = number
  default     = 15000
}

variable "webhook_retry_schedule" {
  description = "WEBHOOK_RETRY_SCHEDULE: delays between a delivery's attempts (ms, s, m, h); the delivery fails after the last."
  type        = string
  default     = "5s,5m,30m,2h,5h,10h,10h"
}

variable "webhook_concurrency" {
  description = "WEBHOOK_CONCURRENCY: delivery attempts in flight at once per webhook-worker task (1 to 1000)."
  type        = number
  default     = 64
}

variable "webhook_endpoint_concurrency" {
  description = "WEBHOOK_ENDPOINT_CONCURRENCY: attempts in flight at once to one endpoint per webhook-worker task (1 to 100); one merchant endpoint sees at most max_tasks times this."
  type        = number
  default     = 4
}

variable "webhook_disable_after_secs" {
  description = "WEBHOOK_DISABLE_AFTER_SECS: an endpoint failing without a success this long is disabled."
  type        = number
  default     = 432000
}

variable "repair_interval_secs" {
  description = "REPAIR_INTERVAL_SECS: seconds between two repair passes."
  type        = number
  default     = 15
}

variable "repair_after_secs" {
  description = "REPAIR_AFTER_SECS: a non-final record untouched this long is re-enqueued."
  type        = number
  default     = 60
}

variable "shutdown_grace_secs" {
  description = "SHUTDOWN_GRACE_SECS: on SIGTERM, how long in-flight jobs may finish (the container's stopTimeout is 10 s more, at most 120)."
  type        = number
  default     = 20
}

variable "base_url" {
  description = "BASE_URL: the API's public URL. null: http://<load balancer DNS name>."
  type        = string
  default     = null
}

variable "jwt_issuer" {
  description = "JWT_ISSUER of the HS256 tokens (cognito_enabled = false only; with Cognito it is the user pool's issuer URL)."
  type        = string
  default     = "payment-platform"
}

variable "jwt_audience" {
  description = "JWT_AUDIENCE of the HS256 tokens (cognito_enabled = false only; Cognito access tokens carry no aud, none is checked)."
  type        = string
  default     = "payment-platform-api"
}

variable "token_ttl_secs" {
  description = "TOKEN_TTL_SECS: lifetime of the tokens GET /token issues (cognito_enabled = false only)."
  type        = number
  default     = 3600
}

variable "token_issuance" {
  description = "TOKEN_ISSUANCE: serve the development GET /token (cognito_enabled = false only; with Cognito it is always false). Off in production."
  type        = bool
  default     = false
}

variable "merchant_id" {
  description = "MERCHANT_ID: the merchant GET /token issues for (cognito_enabled = false only)."
  type        = string
  default     = "test@merchant"
}

variable "merchant_cache_secs" {
  description = "MERCHANT_CACHE_SECS: how long each API task remembers a merchant's registration (or its absence, or Disabled); onboarding and disabling take effect within it."
  type        = number
  default     = 60

  validation {
    condition     = var.merchant_cache_secs >= 0 && floor(var.merchant_cache_secs) == var.merchant_cache_secs
    error_message = "merchant_cache_secs must be a whole number of seconds, 0 or more."
  }
}

variable "rate_limit_reads_per_sec" {
  description = "RATE_LIMIT_READS_PER_SEC: GET requests per second per merchant AND PER API TASK (burst of one second's worth); 0 = no limit. With N tasks a merchant gets up to N times this: set it to the merchant allowance / the task count (docs/OPERATIONS.md, Rate limits)."
  type        = number
  default     = 300

  validation {
    condition     = var.rate_limit_reads_per_sec >= 0 && floor(var.rate_limit_reads_per_sec) == var.rate_limit_reads_per_sec
    error_message = "rate_limit_reads_per_sec must be a whole number, 0 (no limit) or more."
  }
}

variable "rate_limit_writes_per_sec" {
  description = "RATE_LIMIT_WRITES_PER_SEC: writes (POST, PATCH...) per second per merchant AND PER API TASK (burst of one second's worth); 0 = no limit. Sized like rate_limit_reads_per_sec."
  type        = number
  default     = 100

  validation {
    condition     = var.rate_limit_writes_per_sec >= 0 && floor(var.rate_limit_writes_per_sec) == var.rate_limit_writes_per_sec
    error_message = "rate_limit_writes_per_sec must be a whole number, 0 (no limit) or more."
  }
}

variable "api_docs" {
  description = "API_DOCS: serve Swagger UI and GET /openapi.json on the API. Off in production."
  type        = bool
  default     = false
}

# Each key goes only to the services that use it (ecs.tf, `service_secrets`), and each service's
# execution role may read only its own (iam.tf). The old-keys secrets hold previous keys, comma
# separated, during a rotation; give the ARN of a whole secret (no JSON key suffix).
variable "card_encryption_old_keys_secret_arn" {
  description = "Secrets Manager secret holding CARD_ENCRYPTION_OLD_KEYS (comma-separated previous card keys) during a key rotation; given to the api and the payment-worker. null: not set."
  type        = string
  default     = null
}

variable "webhook_secret_old_keys_secret_arn" {
  description = "Secrets Manager secret holding WEBHOOK_SECRET_OLD_KEYS (comma-separated previous webhook-secret keys) during a key rotation; given to the api and the webhook-worker. null: not set."
  type        = string
  default     = null
}

variable "idempotency_fingerprint_old_keys_secret_arn" {
  description = "Secrets Manager secret holding IDEMPOTENCY_FINGERPRINT_OLD_KEYS (comma-separated previous fingerprint keys, still matched) during a key rotation; given to the api alone. null: not set."
  type        = string
  default     = null
}

variable "jwt_old_secret_keys_secret_arn" {
  description = "Secrets Manager secret holding JWT_OLD_SECRET_KEYS (comma-separated previous JWT secrets, still accepted) during a rotation (cognito_enabled = false only). null: not set."
  type        = string
  default     = null
}

variable "rust_log" {
  description = "RUST_LOG of every task."
  type        = string
  default     = "info"
}

variable "otel_exporter_otlp_endpoint" {
  description = "OTEL_EXPORTER_OTLP_ENDPOINT (OTLP/HTTP, e.g. http://collector:4318). Empty: traces are not exported."
  type        = string
  default     = ""
}

variable "log_retention_days" {
  description = "CloudWatch Logs retention of the services' logs, days: at least a year (PCI DSS 10.5.1), one of CloudWatch's values 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653, or 0 (never expire). Also how long the created access-log bucket keeps the load balancer's logs."
  type        = number
  default     = 365

  validation {
    condition     = contains([0, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must keep logs at least a year (PCI DSS 10.5.1): 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653, or 0 (never expire)."
  }
}

# --- Identity (identity.tf) ---------------------------------------------------------------------

variable "cognito_enabled" {
  description = "true: a Cognito user pool issues the API's tokens (client credentials, one app client per merchant; the merchant id is the client id). false: HS256 tokens signed with the JWT_SECRET_KEY secret, as before."
  type        = bool
  default     = true
}

variable "merchants" {
  description = "Merchants, by a stable key (the app client is named <name_prefix>-<key>): display_name goes in the merchant's PROFILE item; disabled = true refuses it (PROFILE Disabled = true, and its client gets no new tokens). Never remove or rename a key: that deletes the client, and a new one is a new merchant id. Example: { acme = { display_name = \"Acme Ltd\" } }."
  type = map(object({
    display_name = string
    disabled     = optional(bool, false)
  }))
  default = {}

  validation {
    condition     = alltrue([for k in keys(var.merchants) : can(regex("^[A-Za-z0-9][A-Za-z0-9_.@+=,-]{0,63}$", k))])
    error_message = "merchants keys: 1 to 64 of letters, digits and _.@+=,- (they become app client names)."
  }

  validation {
    condition     = alltrue([for m in values(var.merchants) : trimspace(m.display_name) != ""])
    error_message = "Each merchant needs a display_name."
  }
}

variable "merchant_token_validity_minutes" {
  description = "Lifetime of a merchant's access token (minutes, 5 to 1440). It bounds how long a token obtained with a leaked secret keeps working after the secret is deleted."
  type        = number
  default     = 60

  validation {
    condition     = var.merchant_token_validity_minutes >= 5 && var.merchant_token_validity_minutes <= 1440
    error_message = "merchant_token_validity_minutes must be between 5 and 1440."
  }
}

variable "cognito_domain_prefix" {
  description = "Prefix of the hosted domain serving the token endpoint (<prefix>.auth.<region>.amazoncognito.com); unique within the region across all AWS accounts; lowercase letters, digits, hyphens, and not containing aws, amazon or cognito. null: <name_prefix>-<account id>."
  type        = string
  default     = null

  validation {
    condition     = var.cognito_domain_prefix == null || can(regex("^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$", var.cognito_domain_prefix))
    error_message = "cognito_domain_prefix: lowercase letters, digits and hyphens, at most 63, not starting or ending with a hyphen."
  }
}

variable "cognito_deletion_protection" {
  description = "Refuse to delete the user pool (every merchant's client id, so every merchant id, lives in it; turn off only to tear an environment down)."
  type        = bool
  default     = true
}

# --- Dashboard (dashboard.tf) -------------------------------------------------------------------

variable "dashboard_host" {
  description = "Host name of the staff dashboard (e.g. dashboard.pay.example.com): a DNS name pointing at the load balancer and covered by certificate_arn. The load balancer sends the requests for this host to the dashboard service; its URL is https://<dashboard_host>. null: no dashboard (no service, app client, sign-in trigger or secret). Needs cognito_enabled and certificate_arn."
  type        = string
  default     = null

  validation {
    condition     = var.dashboard_host == null || can(regex("^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z]{2,63}$", coalesce(var.dashboard_host, "-")))
    error_message = "dashboard_host is a lowercase DNS name alone (dashboard.pay.example.com): no scheme, port or path."
  }
}

variable "dashboard_desired_count" {
  description = "Dashboard tasks at creation, and the fewest autoscaling keeps."
  type        = number
  default     = 2

  validation {
    condition     = var.dashboard_desired_count >= 1 && floor(var.dashboard_desired_count) == var.dashboard_desired_count
    error_message = "dashboard_desired_count must be a whole number, 1 or more."
  }
}

variable "dashboard_max_count" {
  description = "The most dashboard tasks autoscaling runs (at least dashboard_desired_count)."
  type        = number
  default     = 4
}

variable "dashboard_cpu" {
  description = "Fargate cpu units of a dashboard task."
  type        = number
  default     = 256
}

variable "dashboard_memory" {
  description = "Fargate memory (MiB) of a dashboard task."
  type        = number
  default     = 512
}

variable "dashboard_requests_per_target" {
  description = "Dashboard target tracking: ALB requests per task per minute (beside api_cpu_target on CPU)."
  type        = number
  default     = 300
}

variable "dashboard_api_url" {
  description = "DASHBOARD_API_URL: where the dashboard calls the API, https on port 443 only (it sends the users' tokens; its security group lets nothing else out). null: base_url, the API's public URL, through this load balancer (so alb_ingress_cidrs must admit the tasks' outbound addresses, e.g. the NAT gateways' IPs). With a dashboard, base_url or this must be set: the load balancer's own DNS name is not on the certificate."
  type        = string
  default     = null

  validation {
    condition     = var.dashboard_api_url == null || startswith(coalesce(var.dashboard_api_url, "-"), "https://")
    error_message = "dashboard_api_url must be an https URL: the dashboard sends the signed-in users' tokens to it."
  }
}

variable "dashboard_mfa" {
  description = "Multi-factor sign-in of the staff (the pool's users): ON (every user sets up an authenticator app, TOTP, at first sign-in) or OPTIONAL. Applies only with a dashboard; machine tokens (client credentials) are not affected."
  type        = string
  default     = "ON"

  validation {
    condition     = contains(["ON", "OPTIONAL"], var.dashboard_mfa)
    error_message = "dashboard_mfa is ON or OPTIONAL."
  }
}

variable "dashboard_session_hours" {
  description = "How long a staff sign-in lasts: the refresh token's lifetime in hours (1 to 24); the access token lives 60 minutes within it. Past it the user signs in again."
  type        = number
  default     = 12

  validation {
    condition     = var.dashboard_session_hours >= 1 && var.dashboard_session_hours <= 24 && floor(var.dashboard_session_hours) == var.dashboard_session_hours
    error_message = "dashboard_session_hours must be a whole number from 1 to 24."
  }
}

variable "dashboard_session_old_keys_secret_arn" {
  description = "Secrets Manager secret holding DASHBOARD_SESSION_OLD_KEYS (comma-separated previous session keys, still opening sessions) during a rotation; given to the dashboard alone. null: not set."
  type        = string
  default     = null
}

# --- Alarms -------------------------------------------------------------------------------------

variable "alarm_sns_topic_arn" {
  description = "SNS topic the alarms notify. null: a topic is created."
  type        = string
  default     = null
}

variable "alarm_email" {
  description = "E-mail subscribed to the created alarm topic. null: no subscription."
  type        = string
  default     = null
}

variable "queue_age_alarm_seconds" {
  description = "Alarm when the oldest message of a work queue is older than this."
  type        = number
  default     = 300
}

variable "webhooks_queue_age_alarm_seconds" {
  description = "Alarm when the oldest message of the webhooks queue is older than this. Keep it above 900: a delivery retry can wait in the queue up to SQS's longest delay, 15 minutes."
  type        = number
  default     = 900
}

variable "stuck_alarm_minutes" {
  description = "Stuck-records alarm: window over which repaired records are summed."
  type        = number
  default     = 15
}

variable "stuck_alarm_threshold" {
  description = "Stuck-records alarm: fire when more records than this were repaired in the window."
  type        = number
  default     = 0
}

variable "metrics_namespace" {
  description = "CloudWatch namespace of the metrics derived from the logs."
  type        = string
  default     = "PaymentPlatform"
}

variable "webhook_undelivered_alarm_seconds" {
  description = "Alarm when an event is still undelivered after this long: past the whole retry schedule (about 27.6 h by default), it is stuck."
  type        = number
  default     = 100800
}

variable "webhook_lateness_alarm_seconds" {
  description = "Alarm when a webhook delivery is this far past its due time: the webhook worker or its sweep is behind."
  type        = number
  default     = 300
}
