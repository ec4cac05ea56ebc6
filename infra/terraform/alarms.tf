# What each alarm means and what to do: docs/OPERATIONS.md, "Alarms".

resource "aws_sns_topic" "alarms" {
  count = var.alarm_sns_topic_arn == null ? 1 : 0

  # Not encrypted with aws/sns: CloudWatch cannot publish to a topic under that key. The
  # notifications carry alarm names and numbers only.
  name = "${var.name_prefix}-alarms"
}

resource "aws_sns_topic_subscription" "alarm_email" {
  count = var.alarm_sns_topic_arn == null && var.alarm_email != null ? 1 : 0

  topic_arn = aws_sns_topic.alarms[0].arn
  protocol  = "email"
  endpoint  = var.alarm_email
}

locals {
  alarm_topic_arn = coalesce(var.alarm_sns_topic_arn, one(aws_sns_topic.alarms[*].arn))
  alarm_actions   = [local.alarm_topic_arn]

  # The webhooks queue has its own threshold and runbook: a delivery retry may be sent with a
  # delay of up to 15 minutes, and what is behind is merchants' notifications, not money.
  queue_age_alarm_seconds = merge(
    { for k in keys(local.queues) : k => var.queue_age_alarm_seconds },
    { webhooks = var.webhooks_queue_age_alarm_seconds },
  )
  # The section of docs/OPERATIONS.md a queue's alarms point at, where not the general one.
  queue_runbooks = { webhooks = "Webhook deliveries behind" }
}

# These two exist for each queue of local.queues, the webhooks queue too. The webhook worker has
# two more, on what its sweep logs (webhook_backlog, at the end of this file).

# Anything in a DLQ: a poison message (unparseable, unknown id) or one received 10 times.
resource "aws_cloudwatch_metric_alarm" "dlq_not_empty" {
  for_each = local.queues

  alarm_name          = "${var.name_prefix}-${each.key}-dlq-not-empty"
  alarm_description   = "${aws_sqs_queue.dlq[each.key].name} holds messages. See docs/OPERATIONS.md, ${lookup(local.queue_runbooks, each.key, "Dead-letter queues")}."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.dlq[each.key].name }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

# Work waits too long: workers down, too few, or the bank (for webhooks, merchants' endpoints)
# failing so messages keep coming back.
resource "aws_cloudwatch_metric_alarm" "queue_age" {
  for_each = local.queues

  alarm_name          = "${var.name_prefix}-${each.key}-oldest-message-age"
  alarm_description   = "The oldest message of ${aws_sqs_queue.main[each.key].name} is older than ${local.queue_age_alarm_seconds[each.key]} s. See docs/OPERATIONS.md, ${lookup(local.queue_runbooks, each.key, "Alarms")}."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateAgeOfOldestMessage"
  dimensions          = { QueueName = aws_sqs_queue.main[each.key].name }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 5
  datapoints_to_alarm = 5
  threshold           = local.queue_age_alarm_seconds[each.key]
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

# Stuck records: the repair loop logs (LOG_FORMAT=json, event fields at the top level)
#   {"message":"repair pass re-enqueued stale records","worker":"payment","repaired":3,...}
# whenever it re-enqueued records that stayed non-final longer than REPAIR_AFTER_SECS. The bank
# workers only: the webhook worker's sweep logs the same line for every delivery retry due beyond
# SQS's 15-minute delay, so there a re-enqueue is routine, not a stuck record.
resource "aws_cloudwatch_log_metric_filter" "repaired" {
  for_each = local.worker_log_names

  name           = "${var.name_prefix}-${each.key}-repaired-stale-records"
  log_group_name = aws_cloudwatch_log_group.service[each.key].name
  pattern        = "{ ($.message = \"repair pass re-enqueued stale records\") && ($.repaired > 0) }"

  metric_transformation {
    name       = "RepairedStaleRecords"
    namespace  = var.metrics_namespace
    value      = "$.repaired"
    unit       = "Count"
    dimensions = { Worker = "$.worker" }
  }
}

locals {
  # The `worker` field of the bank workers' log lines (src/worker/mod.rs, WorkerKind::name).
  worker_log_names = {
    "payment-worker" = "payment"
    "refund-worker"  = "refund"
  }
}

resource "aws_cloudwatch_metric_alarm" "stuck_records" {
  for_each = local.worker_log_names

  alarm_name          = "${var.name_prefix}-${each.key}-stuck-records"
  alarm_description   = "The ${each.key} repair loop re-enqueued more than ${var.stuck_alarm_threshold} stale records in ${var.stuck_alarm_minutes} min. See docs/OPERATIONS.md, Alarms."
  namespace           = var.metrics_namespace
  metric_name         = "RepairedStaleRecords"
  dimensions          = { Worker = each.value }
  statistic           = "Sum"
  period              = 60 * var.stuck_alarm_minutes
  evaluation_periods  = 1
  threshold           = var.stuck_alarm_threshold
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions

  depends_on = [aws_cloudwatch_log_metric_filter.repaired]
}

# Unknown bank outcomes past the key window that the bank cannot be asked about: the worker logs
#   {"message":"bank unreachable past the key window; nothing re-sent","operation":"charge",...}
# and sends nothing (a re-send could charge twice). See docs/OPERATIONS.md, Unresolved bank outcomes.
resource "aws_cloudwatch_log_metric_filter" "bank_unresolved" {
  for_each = local.worker_bank_operations

  name           = "${var.name_prefix}-${each.key}-bank-unresolved"
  log_group_name = aws_cloudwatch_log_group.service[each.key].name
  pattern        = "{ $.message = \"bank unreachable past the key window; nothing re-sent\" }"

  metric_transformation {
    name       = "BankUnresolved"
    namespace  = var.metrics_namespace
    value      = "1"
    unit       = "Count"
    dimensions = { Operation = "$.operation" }
  }
}

locals {
  # The `operation` field of the line (src/app/bank_calls.rs): what each bank worker sends the
  # bank (the webhook worker calls no bank).
  worker_bank_operations = {
    "payment-worker" = "charge"
    "refund-worker"  = "refund"
  }
}

resource "aws_cloudwatch_metric_alarm" "bank_unresolved" {
  for_each = local.worker_bank_operations

  alarm_name          = "${var.name_prefix}-${each.key}-bank-unresolved"
  alarm_description   = "The ${each.key} cannot ask the bank about a request past its key window. See docs/OPERATIONS.md, Unresolved bank outcomes."
  namespace           = var.metrics_namespace
  metric_name         = "BankUnresolved"
  dimensions          = { Operation = each.value }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions

  depends_on = [aws_cloudwatch_log_metric_filter.bank_unresolved]
}

# The webhook worker's sweep logs, each pass that finds deliveries outstanding,
#   {"message":"webhook sweep","outstanding":12,"oldest_undelivered_secs":40,"delivery_lateness_secs":3,...}
# Two alarms read it: an event still undelivered past the whole retry schedule (about 27.6 h by
# default) is stuck; deliveries well past their due time mean the worker or the sweep is behind (a
# failing endpoint's planned waits do not count: they are not due yet).
resource "aws_cloudwatch_log_metric_filter" "webhook_oldest_undelivered" {
  name           = "${var.name_prefix}-webhook-oldest-undelivered"
  log_group_name = aws_cloudwatch_log_group.service["webhook-worker"].name
  pattern        = "{ $.message = \"webhook sweep\" }"

  metric_transformation {
    name      = "WebhookOldestUndeliveredSeconds"
    namespace = var.metrics_namespace
    value     = "$.oldest_undelivered_secs"
    unit      = "Seconds"
  }
}

resource "aws_cloudwatch_log_metric_filter" "webhook_lateness" {
  name           = "${var.name_prefix}-webhook-delivery-lateness"
  log_group_name = aws_cloudwatch_log_group.service["webhook-worker"].name
  pattern        = "{ $.message = \"webhook sweep\" }"

  metric_transformation {
    name      = "WebhookDeliveryLatenessSeconds"
    namespace = var.metrics_namespace
    value     = "$.delivery_lateness_secs"
    unit      = "Seconds"
  }
}

resource "aws_cloudwatch_metric_alarm" "webhook_backlog" {
  for_each = {
    oldest-undelivered = { metric = "WebhookOldestUndeliveredSeconds", threshold = var.webhook_undelivered_alarm_seconds }
    delivery-lateness  = { metric = "WebhookDeliveryLatenessSeconds", threshold = var.webhook_lateness_alarm_seconds }
  }

  alarm_name          = "${var.name_prefix}-webhook-${each.key}"
  alarm_description   = "The webhook sweep saw ${each.value.metric} above ${each.value.threshold} s. See docs/OPERATIONS.md, Webhook deliveries behind."
  namespace           = var.metrics_namespace
  metric_name         = each.value.metric
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = each.value.threshold
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions

  depends_on = [aws_cloudwatch_log_metric_filter.webhook_oldest_undelivered, aws_cloudwatch_log_metric_filter.webhook_lateness]
}
