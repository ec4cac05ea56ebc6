# Every variable has a default, so `terraform plan` works as is. The names of the table and the
# queues default to what the binaries default to (src/config.rs); tests/integration/infra_names.rs
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
  description = "Repository URL of the image built from the top-level Dockerfile (it holds every binary). null: an ECR repository is created."
  type        = string
  default     = null
}

variable "image_tag" {
  description = "Image tag every service runs."
  type        = string
  default     = "latest"
}

variable "image_tags" {
  description = "Per-service image tag overrides, keyed by service (api, payment-worker, refund-worker)."
  type        = map(string)
  default     = {}
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
  description = "Subnets of the tasks (they need a route to ECR, CloudWatch, DynamoDB, SQS, Secrets Manager and the bank). null: every subnet of the VPC."
  type        = list(string)
  default     = null
}

variable "assign_public_ip" {
  description = "Give tasks a public IP (needed in subnets without a NAT gateway or VPC endpoints). null: true only when private_subnet_ids is null."
  type        = bool
  default     = null
}

variable "alb_internal" {
  description = "Make the load balancer internal."
  type        = bool
  default     = false
}

variable "alb_ingress_cidrs" {
  description = "Who may reach the load balancer."
  type        = list(string)
  default     = ["0.0.0.0/0"]
}

variable "certificate_arn" {
  description = "ACM certificate for HTTPS on 443 (HTTP then redirects). null: HTTP on 80 only."
  type        = string
  default     = null
}

variable "metrics_ingress_cidrs" {
  description = "Who may scrape GET /metrics on the tasks directly (api ADMIN_PORT 4448, workers WORKER_HTTP_PORT 4446), e.g. the VPC CIDR of a Prometheus. The API's public port 4444 and the load balancer never serve /metrics."
  type        = list(string)
  default     = []
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
  }

  validation {
    condition     = length(setsubtract(["api", "payment-worker", "refund-worker"], keys(var.services))) == 0
    error_message = "services must have the keys api, payment-worker and refund-worker."
  }

  validation {
    condition     = alltrue([for s in values(var.services) : s.min_tasks >= 1 && s.max_tasks >= s.min_tasks])
    error_message = "Each service needs 1 <= min_tasks <= max_tasks (a worker's backlog per task divides by its running tasks)."
  }
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
  description = "JWT_ISSUER."
  type        = string
  default     = "payment-platform"
}

variable "jwt_audience" {
  description = "JWT_AUDIENCE."
  type        = string
  default     = "payment-platform-api"
}

variable "token_ttl_secs" {
  description = "TOKEN_TTL_SECS: bearer token lifetime."
  type        = number
  default     = 3600
}

variable "token_issuance" {
  description = "TOKEN_ISSUANCE: serve the development GET /token. Off in production."
  type        = bool
  default     = false
}

variable "merchant_id" {
  description = "MERCHANT_ID: the merchant GET /token issues for."
  type        = string
  default     = "test@merchant"
}

variable "card_encryption_old_keys_secret_arn" {
  description = "Secrets Manager secret holding CARD_ENCRYPTION_OLD_KEYS (comma-separated previous keys) during a key rotation. null: not set."
  type        = string
  default     = null
}

variable "jwt_old_secret_keys_secret_arn" {
  description = "Secrets Manager secret holding JWT_OLD_SECRET_KEYS (comma-separated previous JWT secrets, still accepted) during a rotation. null: not set."
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
  description = "CloudWatch Logs retention."
  type        = number
  default     = 30
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
