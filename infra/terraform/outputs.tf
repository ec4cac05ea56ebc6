output "table_name" {
  description = "DYNAMODB_TABLE"
  value       = aws_dynamodb_table.main.name
}

output "table_arn" {
  value = aws_dynamodb_table.main.arn
}

output "queue_urls" {
  description = "Work queue URLs, by queue (payments, refunds, webhooks)."
  value       = { for k, q in aws_sqs_queue.main : k => q.url }
}

output "queue_arns" {
  value = { for k, q in aws_sqs_queue.main : k => q.arn }
}

output "dlq_urls" {
  value = { for k, q in aws_sqs_queue.dlq : k => q.url }
}

output "dlq_arns" {
  value = { for k, q in aws_sqs_queue.dlq : k => q.arn }
}

output "cluster_name" {
  value = aws_ecs_cluster.main.name
}

output "service_names" {
  value = { for k, s in aws_ecs_service.service : k => s.name }
}

output "alb_dns_name" {
  description = "The load balancer of the API (and of the dashboard, on dashboard_host): point the API's and the dashboard's DNS names at it."
  value       = aws_lb.api.dns_name
}

output "alb_access_logs_bucket" {
  description = "The S3 bucket holding the load balancer's access logs (null when alb_access_logs_enabled = false)."
  value       = local.alb_access_logs_bucket
}

output "image_repository" {
  value = local.image_repository
}

output "service_images" {
  description = "The image each service runs, by service: <repository>:<tag> or <repository>@sha256:<digest>."
  value       = local.service_images
}

output "jwt_secret_arn" {
  description = "cognito_enabled = false only: put JWT_SECRET_KEY here before the API starts (with Cognito it is not used)."
  value       = aws_secretsmanager_secret.jwt_secret_key.arn
}

output "card_encryption_key_secret_arn" {
  description = "Put CARD_ENCRYPTION_KEY (base64 of 32 random bytes) here before the api and the payment-worker start."
  value       = aws_secretsmanager_secret.card_encryption_key.arn
}

output "webhook_secret_key_secret_arn" {
  description = "Put WEBHOOK_SECRET_KEY (base64 of 32 random bytes, not the card key) here before the api and the webhook-worker start."
  value       = aws_secretsmanager_secret.webhook_secret_key.arn
}

output "dashboard_session_key_secret_arn" {
  description = "With a dashboard: put DASHBOARD_SESSION_KEY (base64 of 32 random bytes, a key of its own) here before the dashboard starts. null without one."
  value       = one(aws_secretsmanager_secret.dashboard_session_key[*].arn)
}

output "idempotency_fingerprint_key_secret_arn" {
  description = "Put IDEMPOTENCY_FINGERPRINT_KEY (base64 of 32 random bytes, a key of its own) here before the api starts."
  value       = aws_secretsmanager_secret.idempotency_fingerprint_key.arn
}

output "execution_role_arns" {
  description = "Each service's ECS execution role, by service: it may read only that service's secrets."
  value       = { for k, r in aws_iam_role.execution : k => r.arn }
}

output "service_secret_names" {
  description = "The secrets (environment names) each service's task gets, by service."
  value       = { for k, secrets in local.service_secrets : k => [for secret in secrets : secret.name] }
}

output "service_worker_threads" {
  description = "Each service's TOKIO_WORKER_THREADS: one runtime thread per whole vCPU of its task, at least one."
  value       = local.service_worker_threads
}

output "alarm_topic_arn" {
  value = local.alarm_topic_arn
}

# --- Identity (cognito_enabled; null or empty without it) ---------------------------------------

output "cognito_user_pool_id" {
  value = local.cognito_pool_id
}

output "token_endpoint" {
  description = "Where a merchant gets its token: POST grant_type=client_credentials with HTTP Basic client id:secret."
  value       = var.cognito_enabled ? local.cognito_token_url : null
}

output "token_scopes" {
  description = "The scope parameter a merchant asks for (space-separated)."
  value       = join(" ", local.merchant_scopes)
}

output "jwt_issuer" {
  description = "JWT_ISSUER the API checks (the user pool's issuer URL; JWT_JWKS_URL is it + /.well-known/jwks.json)."
  value       = var.cognito_enabled ? local.cognito_issuer : var.jwt_issuer
}

output "merchant_ids" {
  description = "Merchant id by merchants key: the merchant's Cognito app client id, its PROFILE item's key and what its payments are filed under. Hand it over with the secret."
  value       = { for k, c in aws_cognito_user_pool_client.merchant : k => c.id }
}

output "merchant_client_secrets" {
  description = "Client secret by merchants key, as generated at creation (`terraform output -json merchant_client_secrets`). After a rotation (docs/OPERATIONS.md) it may no longer be the merchant's current secret."
  value       = { for k, c in aws_cognito_user_pool_client.merchant : k => c.client_secret }
  sensitive   = true
}

# --- Dashboard (dashboard_host; null without it) -------------------------------------------------

output "dashboard_url" {
  description = "The staff dashboard: https://<dashboard_host> (DASHBOARD_BASE_URL). Its sign-in returns to <this>/auth/callback."
  value       = local.dashboard_url
}

output "dashboard_client_id" {
  description = "The dashboard's public Cognito app client (DASHBOARD_CLIENT_ID)."
  value       = one(aws_cognito_user_pool_client.dashboard[*].id)
}

output "dashboard_sign_in_domain" {
  description = "The Cognito domain serving the staff's sign-in pages (and /logout)."
  value       = local.dashboard_identity ? "https://${local.cognito_domain_prefix}.auth.${var.region}.amazoncognito.com" : null
}
