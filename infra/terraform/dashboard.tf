# The staff dashboard (CONTRACT.md section 11): the `dashboard` binary, an ECS service of its own
# (ecs.tf, `service_settings`) behind the API's load balancer, on a host name of its own
# (dashboard_host): the listener sends the requests for that host to the dashboard's target group,
# everything else to the API as before. A host of its own is an origin of its own: the dashboard's
# session cookie and Content-Security-Policy share nothing with the API's pages (Swagger UI).
#
# It calls only the public API, with the signed-in user's access token: its task role grants
# nothing (iam.tf) and its execution role reads only its session key. Staff sign in at the Cognito
# user pool (identity.tf: the dashboard's app client, and the trigger that puts the user's merchant
# in the access token).
#
# dashboard_host = null (the default): none of this exists. With a host it needs cognito_enabled
# (the sign-in is Cognito's; the HS256 API would refuse its tokens anyway) and certificate_arn
# (Cognito takes https callback URLs only, and the session cookie is Secure): the plan stops with a
# message naming the setting otherwise.

locals {
  dashboard_enabled = var.dashboard_host != null
  dashboard_url     = local.dashboard_enabled ? "https://${var.dashboard_host}" : null
  dashboard_api_url = coalesce(var.dashboard_api_url, local.api_base_url)
}

# Dashboard tasks take DASHBOARD_PORT from the load balancer alone, and send HTTPS only: to the API
# (its public URL, by default through this same load balancer), to Cognito (discovery, JWKS, token
# endpoint) and, for the task itself, to ECR, CloudWatch Logs and Secrets Manager.
resource "aws_security_group" "dashboard" {
  count = local.dashboard_enabled ? 1 : 0

  name        = "${var.name_prefix}-dashboard"
  description = "Dashboard tasks: DASHBOARD_PORT from the load balancer only; HTTPS out."
  vpc_id      = local.vpc_id

  ingress {
    description     = "From the load balancer"
    from_port       = 4490
    to_port         = 4490
    protocol        = "tcp"
    security_groups = [aws_security_group.alb.id]
  }

  egress {
    description = "HTTPS: the API, Cognito, AWS APIs"
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
}

# At most 32 characters: "<name_prefix>-dash" leaves 27 to the prefix (the API's "<prefix>-api", 28).
resource "aws_lb_target_group" "dashboard" {
  count = local.dashboard_enabled ? 1 : 0

  name                 = "${var.name_prefix}-dash"
  port                 = 4490
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

# On the HTTPS listener (a dashboard requires certificate_arn, so there always is one): the
# dashboard's host goes to the dashboard. Port 80 keeps redirecting every host to 443, HSTS is the
# listener's, and the rule hiding /metrics (priority 1) comes first for this host too.
resource "aws_lb_listener_rule" "dashboard" {
  count = local.dashboard_enabled ? 1 : 0

  listener_arn = coalesce(one(aws_lb_listener.https[*].arn), aws_lb_listener.http.arn)
  priority     = 10

  action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.dashboard[0].arn
  }

  condition {
    host_header {
      values = [var.dashboard_host]
    }
  }

  lifecycle {
    precondition {
      condition     = var.cognito_enabled
      error_message = "The dashboard (dashboard_host) signs staff in at the Cognito user pool: it needs cognito_enabled = true. Set dashboard_host = null for no dashboard."
    }

    precondition {
      condition     = var.base_url != null || var.dashboard_api_url != null
      error_message = "The dashboard (dashboard_host) calls the API over https at its public URL: set base_url (the API's host name on the certificate) or dashboard_api_url. The load balancer's own DNS name is not on any certificate."
    }

    precondition {
      condition     = var.certificate_arn != null
      error_message = "The dashboard (dashboard_host) needs certificate_arn, covering dashboard_host: Cognito accepts only https callback URLs, and the session cookie is Secure. Set dashboard_host = null for no dashboard."
    }
  }
}
