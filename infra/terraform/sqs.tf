# The work queues (payments, refunds, webhooks) and their dead-letter queues, exactly as SETUP
# creates them (src/sqs/setup.rs): <name>-dlq keeps messages 14 days; the work queue hides a
# received message 30 s, long-polls 20 s, keeps messages the SQS default 4 days, takes messages of
# at most 256 KiB (set on both sides: the defaults differ), and parks a message in its DLQ on the
# 11th receive (maxReceiveCount 10). Production adds encryption at rest and a redrive allow policy.
locals {
  queues = {
    payments = var.payments_queue_name
    refunds  = var.refunds_queue_name
    webhooks = var.webhooks_queue_name
  }
  # SQS-managed SSE unless a customer managed key is given (the two exclude each other).
  sqs_managed_sse = var.kms_key_arn == null ? true : null
}

resource "aws_sqs_queue" "dlq" {
  for_each = local.queues

  name                      = "${each.value}-dlq"
  message_retention_seconds = 1209600
  max_message_size          = 262144
  sqs_managed_sse_enabled   = local.sqs_managed_sse
  kms_master_key_id         = var.kms_key_arn
}

resource "aws_sqs_queue" "main" {
  for_each = local.queues

  name                       = each.value
  visibility_timeout_seconds = 30
  receive_wait_time_seconds  = 20
  message_retention_seconds  = 345600
  max_message_size           = 262144
  sqs_managed_sse_enabled    = local.sqs_managed_sse
  kms_master_key_id          = var.kms_key_arn

  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dlq[each.key].arn
    maxReceiveCount     = 10
  })
}

# Only its own work queue may dead-letter into a DLQ.
resource "aws_sqs_queue_redrive_allow_policy" "dlq" {
  for_each = local.queues

  queue_url = aws_sqs_queue.dlq[each.key].id
  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [aws_sqs_queue.main[each.key].arn]
  })
}
