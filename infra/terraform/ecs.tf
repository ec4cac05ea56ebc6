# One Fargate service per binary, all from the one image (the command picks the binary): api,
# payment-worker, refund-worker, webhook-worker, and the dashboard when dashboard_host is set
# (dashboard.tf).
# Environment names are the binaries' own (CONTRACT.md section 2, the clap `env = "..."` names);
# AWS_ENDPOINT_URL is never set: unset means real AWS. SETUP stays unset (false): Terraform owns
# the table and the queues.

# Tags are immutable: a tag, once pushed, always names the same image, so what a task runs is
# what was deployed (and a task ECS restarts does not pick up a later push).
resource "aws_ecr_repository" "app" {
  count = var.image_repository == null ? 1 : 0

  name                 = var.name_prefix
  image_tag_mutability = "IMMUTABLE"

  image_scanning_configuration {
    scan_on_push = true
  }
}

resource "aws_ecs_cluster" "main" {
  name = var.name_prefix

  # RunningTaskCount (ECS/ContainerInsights) drives the workers' backlog-per-task scaling.
  setting {
    name  = "containerInsights"
    value = "enabled"
  }
}

# At least a year (var.log_retention_days, PCI DSS 10.5.1): the services' logs are the audit trail
# of who did what to which payment.
resource "aws_cloudwatch_log_group" "service" {
  for_each = local.service_names

  name              = "/ecs/${var.name_prefix}/${each.key}"
  retention_in_days = var.log_retention_days
}

locals {
  service_names = toset(concat(
    ["api", "payment-worker", "refund-worker", "webhook-worker"],
    local.dashboard_enabled ? ["dashboard"] : [],
  ))

  # Size and task count bounds of each service: the services variable, and the dashboard's own.
  service_sizes = merge(var.services, local.dashboard_enabled ? {
    "dashboard" = {
      cpu       = var.dashboard_cpu
      memory    = var.dashboard_memory
      min_tasks = var.dashboard_desired_count
      max_tasks = max(var.dashboard_desired_count, var.dashboard_max_count)
    }
  } : {})

  # Each service's async runtime gets one worker thread per whole vCPU of its task, at least one
  # (tokio reads TOKIO_WORKER_THREADS). Left to itself it would count the host's cores, which a
  # Fargate task may see whatever its cpu units: threads for cores the task cannot use, that wake
  # and hand work to each other on every request. docs/BENCHMARK.md ("The fourteenth session")
  # measures one thread against two.
  service_worker_threads = { for k, size in local.service_sizes : k => max(1, floor(size.cpu / 1024)) }

  # The services behind the load balancer: their target group (each listens on its `port`).
  service_target_groups = merge(
    { "api" = aws_lb_target_group.api.arn },
    local.dashboard_enabled ? { "dashboard" = aws_lb_target_group.dashboard[0].arn } : {},
  )
  # The image of a service: <repository>:<tag>, or <repository>@sha256:<digest> (variables.tf).
  service_images = { for s in local.service_names : s => (
    startswith(lookup(var.image_tags, s, var.image_tag), "sha256:")
    ? "${local.image_repository}@${lookup(var.image_tags, s, var.image_tag)}"
    : "${local.image_repository}:${lookup(var.image_tags, s, var.image_tag)}"
  ) }
  image_repository = coalesce(var.image_repository, one(aws_ecr_repository.app[*].repository_url))
  api_base_url     = coalesce(var.base_url, "${local.https ? "https" : "http"}://${aws_lb.api.dns_name}")
  stop_timeout     = min(120, var.shutdown_grace_secs + 10)

  # The API's keep-alive idle timeout stays above the load balancer's, so the balancer always
  # closes an idle connection first and never sends a request on one the task is closing (a 502).
  alb_idle_timeout_secs = 60
  api_idle_timeout_secs = local.alb_idle_timeout_secs + 5

  otel_env = var.otel_exporter_otlp_endpoint == "" ? [] : [
    { name = "OTEL_EXPORTER_OTLP_ENDPOINT", value = var.otel_exporter_otlp_endpoint },
  ]

  common_env = concat(local.otel_env, [
    { name = "AWS_REGION", value = var.region },
    { name = "DYNAMODB_TABLE", value = aws_dynamodb_table.main.name },
    { name = "PAYMENTS_QUEUE", value = aws_sqs_queue.main["payments"].name },
    { name = "REFUNDS_QUEUE", value = aws_sqs_queue.main["refunds"].name },
    # Every service announces events on the webhooks queue.
    { name = "WEBHOOKS_QUEUE", value = aws_sqs_queue.main["webhooks"].name },
    { name = "LOG_FORMAT", value = "json" },
    { name = "RUST_LOG", value = var.rust_log },
  ])

  api_env = [
    { name = "HTTP_HOST", value = "0.0.0.0" },
    { name = "HTTP_PORT", value = "4444" },
    { name = "HTTP_IDLE_TIMEOUT_SECS", value = tostring(local.api_idle_timeout_secs) },
    # GET /metrics (and /status) for scrapers inside the VPC; never behind the load balancer.
    { name = "ADMIN_HOST", value = "0.0.0.0" },
    { name = "ADMIN_PORT", value = "4448" },
    { name = "BASE_URL", value = local.api_base_url },
    { name = "MERCHANT_CACHE_SECS", value = tostring(var.merchant_cache_secs) },
    { name = "RATE_LIMIT_READS_PER_SEC", value = tostring(var.rate_limit_reads_per_sec) },
    { name = "RATE_LIMIT_WRITES_PER_SEC", value = tostring(var.rate_limit_writes_per_sec) },
    # Webhook endpoint URLs: https to public addresses only.
    { name = "WEBHOOK_ALLOW_PRIVATE_URLS", value = "false" },
    # Swagger UI and GET /openapi.json: off unless asked for.
    { name = "API_DOCS", value = tostring(var.api_docs) },
  ]

  # Who issues the bearer tokens. Cognito (identity.tf): RS256 tokens checked against the pool's
  # JWKS, and no GET /token. The merchant is the first of these claims a token has: `merchant_id`
  # in a staff user's token (the dashboard's; put there by the pre token generation trigger from
  # the user's custom:merchant_id), else `client_id`, a merchant's own machine token.
  # Otherwise HS256 with JWT_SECRET_KEY.
  cognito_auth_env = [
    { name = "JWT_JWKS_URL", value = local.cognito_jwks_url },
    { name = "JWT_ISSUER", value = local.cognito_issuer },
    { name = "JWT_MERCHANT_CLAIM", value = "merchant_id,client_id" },
    { name = "TOKEN_ISSUANCE", value = "false" },
  ]

  hs256_auth_env = [
    { name = "JWT_ISSUER", value = var.jwt_issuer },
    { name = "JWT_AUDIENCE", value = var.jwt_audience },
    { name = "TOKEN_TTL_SECS", value = tostring(var.token_ttl_secs) },
    { name = "TOKEN_ISSUANCE", value = tostring(var.token_issuance) },
    { name = "MERCHANT_ID", value = var.merchant_id },
  ]

  auth_env = var.cognito_enabled ? local.cognito_auth_env : local.hs256_auth_env

  # Cognito access tokens carry no `aud`, so JWT_AUDIENCE must be empty (no audience check). ECS
  # drops an environment entry whose value is "" (the API would then check its default audience
  # and refuse every token), so the empty value goes on the command line instead.
  api_command = var.cognito_enabled ? ["api", "--jwt-audience="] : ["api"]

  # The payment and refund workers call the bank; the webhook worker does not.
  bank_env = [
    { name = "BANK_URL", value = var.bank_url },
    { name = "BANK_TIMEOUT_MS", value = tostring(var.bank_timeout_ms) },
    { name = "BANK_MAX_ATTEMPTS", value = tostring(var.bank_max_attempts) },
    { name = "BANK_KEY_TTL_SECS", value = tostring(var.bank_key_ttl_secs) },
    { name = "BANK_LATE_APPLY_MS", value = tostring(var.bank_late_apply_ms) },
    { name = "AUTHORIZATION_VALIDITY_SECS", value = tostring(var.authorization_validity_secs) },
  ]

  # Every worker on 4446 (the binaries' defaults differ: 4446, 4447, 4449), the port the worker
  # security group opens to metrics scrapers; each task has its own address.
  worker_env = [
    { name = "WORKER_CONCURRENCY", value = tostring(var.worker_concurrency) },
    { name = "WORKER_HTTP_HOST", value = "0.0.0.0" },
    { name = "WORKER_HTTP_PORT", value = "4446" },
    { name = "REPAIR_INTERVAL_SECS", value = tostring(var.repair_interval_secs) },
    { name = "REPAIR_AFTER_SECS", value = tostring(var.repair_after_secs) },
    { name = "SHUTDOWN_GRACE_SECS", value = tostring(var.shutdown_grace_secs) },
  ]

  # The webhook worker POSTs signed events to merchants' endpoints (https to public addresses
  # only) and opens their sealed signing secrets with WEBHOOK_SECRET_KEY (never the card key).
  webhook_env = [
    { name = "WEBHOOK_ALLOW_PRIVATE_URLS", value = "false" },
    { name = "WEBHOOK_TIMEOUT_MS", value = tostring(var.webhook_timeout_ms) },
    { name = "WEBHOOK_RETRY_SCHEDULE", value = var.webhook_retry_schedule },
    { name = "WEBHOOK_CONCURRENCY", value = tostring(var.webhook_concurrency) },
    { name = "WEBHOOK_ENDPOINT_CONCURRENCY", value = tostring(var.webhook_endpoint_concurrency) },
    { name = "WEBHOOK_DISABLE_AFTER_SECS", value = tostring(var.webhook_disable_after_secs) },
  ]

  # The dashboard (dashboard.tf): no AWS settings at all (it calls the API, nothing else), so no
  # AWS_ENDPOINT_URL either: it is not in development mode, and refuses to start without its
  # identity provider, client id and session key. The scopes: openid, and the API's three, as the
  # resource server names them.
  dashboard_env = concat(local.otel_env, [
    { name = "LOG_FORMAT", value = "json" },
    { name = "RUST_LOG", value = var.rust_log },
    { name = "DASHBOARD_HOST", value = "0.0.0.0" },
    { name = "DASHBOARD_PORT", value = "4490" },
    { name = "DASHBOARD_API_URL", value = local.dashboard_api_url },
    { name = "DASHBOARD_BASE_URL", value = local.dashboard_url },
    { name = "DASHBOARD_OIDC_ISSUER", value = local.cognito_issuer },
    { name = "DASHBOARD_CLIENT_ID", value = one(aws_cognito_user_pool_client.dashboard[*].id) },
    { name = "DASHBOARD_OIDC_SCOPES", value = join(" ", local.dashboard_scopes) },
  ])

  # Secrets, injected by ECS from Secrets Manager (iam.tf). Each key goes only where it is used
  # (CONTRACT.md section 6), and each service's execution role may read only its own:
  #   CARD_ENCRYPTION_KEY          api (seals cards), payment-worker (opens them for the bank)
  #   WEBHOOK_SECRET_KEY           api (seals endpoint signing secrets), webhook-worker (opens them)
  #   IDEMPOTENCY_FINGERPRINT_KEY  api (keys the HMAC of Idempotency-Key request fingerprints)
  #   JWT_SECRET_KEY               api, and only with cognito_enabled = false
  #   DASHBOARD_SESSION_KEY        dashboard (seals its session cookies)
  # The refund-worker holds no secret at all, and the webhook-worker, which talks to
  # merchant-chosen URLs, cannot open a card. Each *_OLD_KEYS (previous keys, during a rotation)
  # goes with its key.
  old_card_keys_secret = var.card_encryption_old_keys_secret_arn == null ? [] : [
    { name = "CARD_ENCRYPTION_OLD_KEYS", valueFrom = var.card_encryption_old_keys_secret_arn },
  ]

  old_webhook_keys_secret = var.webhook_secret_old_keys_secret_arn == null ? [] : [
    { name = "WEBHOOK_SECRET_OLD_KEYS", valueFrom = var.webhook_secret_old_keys_secret_arn },
  ]

  old_fingerprint_keys_secret = var.idempotency_fingerprint_old_keys_secret_arn == null ? [] : [
    { name = "IDEMPOTENCY_FINGERPRINT_OLD_KEYS", valueFrom = var.idempotency_fingerprint_old_keys_secret_arn },
  ]

  old_jwt_keys_secret = var.jwt_old_secret_keys_secret_arn == null ? [] : [
    { name = "JWT_OLD_SECRET_KEYS", valueFrom = var.jwt_old_secret_keys_secret_arn },
  ]

  old_dashboard_keys_secret = var.dashboard_session_old_keys_secret_arn == null ? [] : [
    { name = "DASHBOARD_SESSION_OLD_KEYS", valueFrom = var.dashboard_session_old_keys_secret_arn },
  ]

  # Only the HS256 mode needs the JWT secret: with Cognito it is not injected (its Secrets Manager
  # secret stays, empty and unused; an empty secret injected would stop the task from starting).
  jwt_secrets = var.cognito_enabled ? [] : concat(local.old_jwt_keys_secret, [
    { name = "JWT_SECRET_KEY", valueFrom = aws_secretsmanager_secret.jwt_secret_key.arn },
  ])

  card_secrets = concat(local.old_card_keys_secret, [
    { name = "CARD_ENCRYPTION_KEY", valueFrom = aws_secretsmanager_secret.card_encryption_key.arn },
  ])

  webhook_secrets = concat(local.old_webhook_keys_secret, [
    { name = "WEBHOOK_SECRET_KEY", valueFrom = aws_secretsmanager_secret.webhook_secret_key.arn },
  ])

  fingerprint_secrets = concat(local.old_fingerprint_keys_secret, [
    { name = "IDEMPOTENCY_FINGERPRINT_KEY", valueFrom = aws_secretsmanager_secret.idempotency_fingerprint_key.arn },
  ])

  dashboard_secrets = local.dashboard_enabled ? concat(local.old_dashboard_keys_secret, [
    { name = "DASHBOARD_SESSION_KEY", valueFrom = one(aws_secretsmanager_secret.dashboard_session_key[*].arn) },
  ]) : []

  # What each service's task gets; iam.tf grants each execution role these ARNs and no others.
  service_secrets = merge({
    "api"            = concat(local.card_secrets, local.webhook_secrets, local.fingerprint_secrets, local.jwt_secrets)
    "payment-worker" = local.card_secrets
    "refund-worker"  = []
    "webhook-worker" = local.webhook_secrets
  }, local.dashboard_enabled ? { "dashboard" = local.dashboard_secrets } : {})

  # `command`: the binary (and, for the api, its flags); `port`: the one the container's health
  # check asks `GET /status` on (and, behind the load balancer, the one it forwards to); `ports`:
  # every port the container exposes (the API's ADMIN_PORT for metrics scrapers too).
  service_settings = merge({
    "api" = {
      command         = local.api_command
      port            = 4444
      ports           = [4444, 4448]
      environment     = concat(local.common_env, local.api_env, local.auth_env)
      secrets         = local.service_secrets["api"]
      security_groups = [aws_security_group.api.id]
    }
    "payment-worker" = {
      command         = ["payment-worker"]
      port            = 4446
      ports           = [4446]
      environment     = concat(local.common_env, local.bank_env, local.worker_env)
      secrets         = local.service_secrets["payment-worker"]
      security_groups = [aws_security_group.worker.id]
    }
    "refund-worker" = {
      command         = ["refund-worker"]
      port            = 4446
      ports           = [4446]
      environment     = concat(local.common_env, local.bank_env, local.worker_env)
      secrets         = local.service_secrets["refund-worker"]
      security_groups = [aws_security_group.worker.id]
    }
    "webhook-worker" = {
      command         = ["webhook-worker"]
      port            = 4446
      ports           = [4446]
      environment     = concat(local.common_env, local.worker_env, local.webhook_env)
      secrets         = local.service_secrets["webhook-worker"]
      security_groups = [aws_security_group.worker.id]
    }
  }, local.dashboard_service_settings)

  dashboard_service_settings = local.dashboard_enabled ? {
    "dashboard" = {
      command         = ["dashboard"]
      port            = 4490
      ports           = [4490]
      environment     = local.dashboard_env
      secrets         = local.dashboard_secrets
      security_groups = aws_security_group.dashboard[*].id
    }
  } : {}
}

resource "aws_ecs_task_definition" "service" {
  for_each = local.service_settings

  family                   = "${var.name_prefix}-${each.key}"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = local.service_sizes[each.key].cpu
  memory                   = local.service_sizes[each.key].memory
  # Its own execution role: ECS can inject into this task only the secrets it lists.
  execution_role_arn = aws_iam_role.execution[each.key].arn
  task_role_arn      = aws_iam_role.task[each.key].arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = var.cpu_architecture
  }

  container_definitions = jsonencode([{
    name                   = each.key
    image                  = local.service_images[each.key]
    command                = each.value.command
    essential              = true
    readonlyRootFilesystem = true
    stopTimeout            = local.stop_timeout
    portMappings           = [for p in each.value.ports : { containerPort = p, protocol = "tcp" }]
    environment            = concat(each.value.environment, [{ name = "TOKIO_WORKER_THREADS", value = tostring(local.service_worker_threads[each.key]) }])
    # The refund-worker's container has no `secrets` at all (null, not an empty list).
    secrets = length(each.value.secrets) > 0 ? each.value.secrets : null
    healthCheck = {
      command     = ["CMD", "curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1:${each.value.port}/status"]
      interval    = 15
      timeout     = 5
      retries     = 3
      startPeriod = 20
    }
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.service[each.key].name
        awslogs-region        = var.region
        awslogs-stream-prefix = each.key
      }
    }
  }])
}

resource "aws_ecs_service" "service" {
  for_each = local.service_settings

  name                               = each.key
  cluster                            = aws_ecs_cluster.main.id
  task_definition                    = aws_ecs_task_definition.service[each.key].arn
  desired_count                      = local.service_sizes[each.key].min_tasks
  launch_type                        = "FARGATE"
  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200
  health_check_grace_period_seconds  = contains(keys(local.service_target_groups), each.key) ? 30 : null
  propagate_tags                     = "SERVICE"

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  network_configuration {
    subnets          = local.task_subnet_ids
    security_groups  = each.value.security_groups
    assign_public_ip = local.assign_public_ip
  }

  # The api and the dashboard, each in its own target group (network.tf, dashboard.tf).
  dynamic "load_balancer" {
    for_each = contains(keys(local.service_target_groups), each.key) ? [local.service_target_groups[each.key]] : []
    content {
      target_group_arn = load_balancer.value
      container_name   = each.key
      container_port   = each.value.port
    }
  }

  # Application Auto Scaling owns the task count once the service exists.
  lifecycle {
    ignore_changes = [desired_count]
  }

  # A target group must be attached to the load balancer (listener, or the dashboard's rule)
  # before a service can use it.
  depends_on = [
    aws_lb_listener.http, aws_lb_listener.https, aws_lb_listener_rule.dashboard, aws_iam_role_policy.task,
    aws_iam_role_policy.execution_secrets, aws_iam_role_policy_attachment.execution,
  ]
}
