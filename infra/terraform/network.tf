# Where the load balancer and the tasks run: the given VPC and subnets, or the default VPC.
data "aws_vpc" "default" {
  count   = var.vpc_id == null ? 1 : 0
  default = true
}

locals {
  vpc_id = coalesce(var.vpc_id, one(data.aws_vpc.default[*].id))
}

data "aws_subnets" "vpc" {
  count = var.public_subnet_ids == null || var.private_subnet_ids == null ? 1 : 0

  filter {
    name   = "vpc-id"
    values = [local.vpc_id]
  }
}

locals {
  alb_subnet_ids   = var.public_subnet_ids != null ? var.public_subnet_ids : one(data.aws_subnets.vpc[*].ids)
  task_subnet_ids  = var.private_subnet_ids != null ? var.private_subnet_ids : one(data.aws_subnets.vpc[*].ids)
  assign_public_ip = var.assign_public_ip != null ? var.assign_public_ip : var.private_subnet_ids == null
}

resource "aws_security_group" "alb" {
  name        = "${var.name_prefix}-alb"
  description = "The API load balancer: HTTP(S) from the allowed CIDRs."
  vpc_id      = local.vpc_id

  ingress {
    description = "HTTP"
    from_port   = 80
    to_port     = 80
    protocol    = "tcp"
    cidr_blocks = var.alb_ingress_cidrs
  }

  ingress {
    description = "HTTPS"
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = var.alb_ingress_cidrs
  }

  egress {
    description = "To the API tasks"
    from_port   = 0
    to_port     = 0
    protocol    = "-1"
    cidr_blocks = ["0.0.0.0/0"]
  }
}

resource "aws_security_group" "api" {
  name        = "${var.name_prefix}-api"
  description = "API tasks: HTTP_PORT from the load balancer, ADMIN_PORT from metrics scrapers."
  vpc_id      = local.vpc_id

  ingress {
    description     = "From the load balancer"
    from_port       = 4444
    to_port         = 4444
    protocol        = "tcp"
    security_groups = [aws_security_group.alb.id]
  }

  dynamic "ingress" {
    for_each = length(var.metrics_ingress_cidrs) > 0 ? [1] : []
    content {
      description = "GET /metrics scrapers (ADMIN_PORT)"
      from_port   = 4448
      to_port     = 4448
      protocol    = "tcp"
      cidr_blocks = var.metrics_ingress_cidrs
    }
  }

  egress {
    description = "AWS APIs"
    from_port   = 0
    to_port     = 0
    protocol    = "-1"
    cidr_blocks = ["0.0.0.0/0"]
  }
}

# Every worker's tasks: payment-worker, refund-worker and webhook-worker. The egress to anywhere
# also carries the webhook worker's HTTPS POSTs to merchants' public endpoints (out through the
# subnets' NAT gateway or the tasks' public IP). Its descriptions stay as they are: changing them
# replaces the group or its rules.
resource "aws_security_group" "worker" {
  name        = "${var.name_prefix}-worker"
  description = "Worker tasks: nothing in but metrics scrapers on WORKER_HTTP_PORT."
  vpc_id      = local.vpc_id

  dynamic "ingress" {
    for_each = length(var.metrics_ingress_cidrs) > 0 ? [1] : []
    content {
      description = "GET /metrics scrapers (WORKER_HTTP_PORT)"
      from_port   = 4446
      to_port     = 4446
      protocol    = "tcp"
      cidr_blocks = var.metrics_ingress_cidrs
    }
  }

  egress {
    description = "AWS APIs and the bank"
    from_port   = 0
    to_port     = 0
    protocol    = "-1"
    cidr_blocks = ["0.0.0.0/0"]
  }
}

# --- Load balancer in front of the API ----------------------------------------------------------

# TLS by default: a public load balancer must have certificate_arn (the precondition below), and
# then port 80 only redirects to 443. Only an internal load balancer (alb_internal = true) may go
# without a certificate: it then serves plain HTTP on 80, reachable inside the VPC alone.
locals {
  https = var.certificate_arn != null
}

resource "aws_lb" "api" {
  name                       = "${var.name_prefix}-api"
  internal                   = var.alb_internal
  load_balancer_type         = "application"
  security_groups            = [aws_security_group.alb.id]
  subnets                    = local.alb_subnet_ids
  drop_invalid_header_fields = true
  # Below the API's HTTP_IDLE_TIMEOUT_SECS (ecs.tf), so the balancer closes idle connections first.
  idle_timeout = local.alb_idle_timeout_secs

  # Every request, to S3 (alb_logs.tf); off only on the local emulator (no S3 endpoint there).
  dynamic "access_logs" {
    for_each = var.alb_access_logs_enabled ? [local.alb_access_logs_bucket] : []
    content {
      bucket  = access_logs.value
      prefix  = local.alb_access_logs_prefix
      enabled = true
    }
  }

  lifecycle {
    precondition {
      condition     = var.alb_internal || var.certificate_arn != null
      error_message = "A public load balancer (alb_internal = false) requires certificate_arn: without it card numbers and bearer tokens would cross the internet in clear text. Set certificate_arn to an ACM certificate for the API's host name (port 80 then only redirects to HTTPS), or set alb_internal = true for a load balancer reachable only inside the VPC."
    }
  }

  # ELB checks that it may write to the bucket when access logs are turned on.
  depends_on = [aws_s3_bucket_policy.alb_logs]
}

resource "aws_lb_target_group" "api" {
  name                 = "${var.name_prefix}-api"
  port                 = 4444
  protocol             = "HTTP"
  target_type          = "ip"
  vpc_id               = local.vpc_id
  deregistration_delay = 30

  health_check {
    path                = "/status"
    port                = "traffic-port"
    matcher             = "200"
    interval            = 15
    timeout             = 5
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }
}

# Port 80: with a certificate, a 301 to https and nothing else; without one (an internal load
# balancer only, see the precondition on aws_lb.api) it forwards plain HTTP inside the VPC.
resource "aws_lb_listener" "http" {
  load_balancer_arn = aws_lb.api.arn
  port              = 80
  protocol          = "HTTP"

  default_action {
    type             = local.https ? "redirect" : "forward"
    target_group_arn = local.https ? null : aws_lb_target_group.api.arn

    dynamic "redirect" {
      for_each = local.https ? [1] : []
      content {
        port        = "443"
        protocol    = "HTTPS"
        status_code = "HTTP_301"
      }
    }
  }
}

resource "aws_lb_listener" "https" {
  count = local.https ? 1 : 0

  load_balancer_arn = aws_lb.api.arn
  port              = 443
  protocol          = "HTTPS"
  # TLS 1.3 and 1.2 with forward-secret AEAD ciphers only.
  ssl_policy      = "ELBSecurityPolicy-TLS13-1-2-2021-06"
  certificate_arn = var.certificate_arn

  # HSTS on every answer from 443, the load balancer's own (404s, redirects, 5xx) too: browsers
  # then never try plain http for a year. The API sends the same header itself.
  routing_http_response_strict_transport_security_header_value = "max-age=31536000; includeSubDomains"
  routing_http_response_x_content_type_options_header_value    = "nosniff"

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.api.arn
  }
}

# GET /metrics is for scrapers inside the VPC, never for the internet. The API no longer serves it
# on HTTP_PORT (the only port this load balancer forwards to): it lives on the admin listener,
# ADMIN_PORT 4448, which no listener or target group here points at, so the API itself answers
# this same 404 envelope. The rule stays as defense in depth: should a change ever route /metrics
# on the public port again, it still does not reach the internet.
resource "aws_lb_listener_rule" "hide_metrics" {
  listener_arn = coalesce(one(aws_lb_listener.https[*].arn), aws_lb_listener.http.arn)
  priority     = 1

  action {
    type = "fixed-response"

    fixed_response {
      content_type = "application/json"
      status_code  = "404"
      message_body = jsonencode({ Error = { Code = "route_not_found", Message = "route not found" } })
    }
  }

  condition {
    path_pattern {
      values = ["/metrics", "/metrics/*"]
    }
  }
}
