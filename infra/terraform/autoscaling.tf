# Each service scales on its own signal.
#   api:     stateless; ALB requests per task, and CPU.
#   dashboard: stateless too (the session is in the user's cookie); ALB requests per task, and CPU.
#   workers: backlog per task = (visible + in-flight messages) / running tasks. In-flight
#            (ApproximateNumberOfMessagesNotVisible) counts because a worker holds each message
#            for the whole slow bank call: a queue with nothing visible can still be saturated.
#            The webhook worker likewise holds a message for a delivery round (attempts of up to
#            WEBHOOK_TIMEOUT_MS); retries waiting out their delay are not counted (delayed, not
#            visible), and those beyond SQS's 15-minute delay wait in the table, not the queue.

# autoscaling_enabled = false (the local emulator, which has no Application Auto Scaling API)
# creates none of these: each service then runs its desired count (the services variable's
# min_tasks, dashboard_desired_count) and does not scale.

resource "aws_appautoscaling_target" "service" {
  for_each = var.autoscaling_enabled ? local.service_names : toset([])

  service_namespace  = "ecs"
  scalable_dimension = "ecs:service:DesiredCount"
  resource_id        = "service/${aws_ecs_cluster.main.name}/${aws_ecs_service.service[each.key].name}"
  min_capacity       = local.service_sizes[each.key].min_tasks
  max_capacity       = local.service_sizes[each.key].max_tasks
}

resource "aws_appautoscaling_policy" "api_requests" {
  count = var.autoscaling_enabled ? 1 : 0

  name               = "${var.name_prefix}-api-requests-per-task"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.service["api"].service_namespace
  scalable_dimension = aws_appautoscaling_target.service["api"].scalable_dimension
  resource_id        = aws_appautoscaling_target.service["api"].resource_id

  target_tracking_scaling_policy_configuration {
    target_value       = var.api_requests_per_target
    scale_out_cooldown = 60
    scale_in_cooldown  = 300

    predefined_metric_specification {
      predefined_metric_type = "ALBRequestCountPerTarget"
      resource_label         = "${aws_lb.api.arn_suffix}/${aws_lb_target_group.api.arn_suffix}"
    }
  }
}

resource "aws_appautoscaling_policy" "api_cpu" {
  count = var.autoscaling_enabled ? 1 : 0

  name               = "${var.name_prefix}-api-cpu"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.service["api"].service_namespace
  scalable_dimension = aws_appautoscaling_target.service["api"].scalable_dimension
  resource_id        = aws_appautoscaling_target.service["api"].resource_id

  target_tracking_scaling_policy_configuration {
    target_value       = var.api_cpu_target
    scale_out_cooldown = 60
    scale_in_cooldown  = 300

    predefined_metric_specification {
      predefined_metric_type = "ECSServiceAverageCPUUtilization"
    }
  }
}

resource "aws_appautoscaling_policy" "dashboard_requests" {
  count = var.autoscaling_enabled && local.dashboard_enabled ? 1 : 0

  name               = "${var.name_prefix}-dashboard-requests-per-task"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.service["dashboard"].service_namespace
  scalable_dimension = aws_appautoscaling_target.service["dashboard"].scalable_dimension
  resource_id        = aws_appautoscaling_target.service["dashboard"].resource_id

  target_tracking_scaling_policy_configuration {
    target_value       = var.dashboard_requests_per_target
    scale_out_cooldown = 60
    scale_in_cooldown  = 300

    predefined_metric_specification {
      predefined_metric_type = "ALBRequestCountPerTarget"
      resource_label         = "${aws_lb.api.arn_suffix}/${aws_lb_target_group.dashboard[0].arn_suffix}"
    }
  }
}

resource "aws_appautoscaling_policy" "dashboard_cpu" {
  count = var.autoscaling_enabled && local.dashboard_enabled ? 1 : 0

  name               = "${var.name_prefix}-dashboard-cpu"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.service["dashboard"].service_namespace
  scalable_dimension = aws_appautoscaling_target.service["dashboard"].scalable_dimension
  resource_id        = aws_appautoscaling_target.service["dashboard"].resource_id

  target_tracking_scaling_policy_configuration {
    target_value       = var.api_cpu_target
    scale_out_cooldown = 60
    scale_in_cooldown  = 300

    predefined_metric_specification {
      predefined_metric_type = "ECSServiceAverageCPUUtilization"
    }
  }
}

locals {
  # Which queue each worker consumes.
  worker_queues = {
    "payment-worker" = "payments"
    "refund-worker"  = "refunds"
    "webhook-worker" = "webhooks"
  }
}

resource "aws_appautoscaling_policy" "worker_backlog" {
  for_each = var.autoscaling_enabled ? local.worker_queues : {}

  name               = "${var.name_prefix}-${each.key}-backlog-per-task"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.service[each.key].service_namespace
  scalable_dimension = aws_appautoscaling_target.service[each.key].scalable_dimension
  resource_id        = aws_appautoscaling_target.service[each.key].resource_id

  target_tracking_scaling_policy_configuration {
    target_value       = var.worker_backlog_per_task_target
    scale_out_cooldown = 60
    scale_in_cooldown  = 300

    customized_metric_specification {
      # Waiting and in flight (received, not yet deleted): both are work for the fleet.
      dynamic "metrics" {
        for_each = {
          visible   = ["ApproximateNumberOfMessagesVisible", "Messages waiting in"]
          in_flight = ["ApproximateNumberOfMessagesNotVisible", "Messages in flight (received, not yet deleted) in"]
        }

        content {
          id          = metrics.key
          label       = "${metrics.value[1]} ${aws_sqs_queue.main[each.value].name}"
          return_data = false

          metric_stat {
            stat = "Sum"

            metric {
              namespace   = "AWS/SQS"
              metric_name = metrics.value[0]

              dimensions {
                name  = "QueueName"
                value = aws_sqs_queue.main[each.value].name
              }
            }
          }
        }
      }

      metrics {
        id          = "tasks"
        label       = "Running ${each.key} tasks"
        return_data = false

        metric_stat {
          stat = "Average"

          metric {
            namespace   = "ECS/ContainerInsights"
            metric_name = "RunningTaskCount"

            dimensions {
              name  = "ClusterName"
              value = aws_ecs_cluster.main.name
            }

            dimensions {
              name  = "ServiceName"
              value = aws_ecs_service.service[each.key].name
            }
          }
        }
      }

      metrics {
        id          = "backlog_per_task"
        label       = "(visible + in flight) / running tasks"
        expression  = "(visible + in_flight) / tasks"
        return_data = true
      }
    }
  }
}
