output "table_name" {
  description = "DYNAMODB_TABLE"
  value       = aws_dynamodb_table.main.name
}

output "table_arn" {
  value = aws_dynamodb_table.main.arn
}

output "queue_urls" {
  description = "Work queue URLs, by queue (payments, refunds)."
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
  description = "The API's load balancer."
  value       = aws_lb.api.dns_name
}

output "image_repository" {
  value = local.image_repository
}

output "jwt_secret_arn" {
  description = "Put JWT_SECRET_KEY here before the API starts."
  value       = aws_secretsmanager_secret.jwt_secret_key.arn
}

output "card_encryption_key_secret_arn" {
  description = "Put CARD_ENCRYPTION_KEY here before any service starts."
  value       = aws_secretsmanager_secret.card_encryption_key.arn
}

output "alarm_topic_arn" {
  value = local.alarm_topic_arn
}
