# One task role per component, each granted only the calls its code makes (found by reading the
# SDK calls in src/dynamo, src/sqs and src/worker). The dashboard's role grants nothing at all: it
# makes no AWS call (it calls the API over HTTPS with the signed-in user's token). SETUP's calls (CreateTable, CreateQueue,
# UpdateTimeToLive, DescribeTable, GetQueueAttributes) are not granted: Terraform creates the
# table and queues, and SETUP stays off in production.
#
# DynamoDB transactions (TransactWriteItems) are authorised per item as PutItem / UpdateItem.
# DeleteMessageBatch is authorised as sqs:DeleteMessage.

locals {
  # Queue URLs are resolved by name at start: the three work queues for the JobQueue every
  # process holds (src/sqs/mod.rs, SqsJobQueue::resolve), and the worker's own DLQ.
  payments_queue_arn = aws_sqs_queue.main["payments"].arn
  refunds_queue_arn  = aws_sqs_queue.main["refunds"].arn
  webhooks_queue_arn = aws_sqs_queue.main["webhooks"].arn

  kms_statements = var.kms_key_arn == null ? [] : [{
    Sid      = "EncryptedTableAndQueues"
    Effect   = "Allow"
    Action   = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"]
    Resource = [var.kms_key_arn]
  }]

  api_policy = {
    # POST/GET/PATCH: idempotency claim + PENDING record (PutItem, or a transaction of Put and
    # Update), reads (GetItem, consistent Query of a payment's items), the merchant list on
    # GSI1, and one message per accepted payment or refund (sent with SendMessageBatch, which
    # sqs:SendMessage allows; messages of concurrent requests share a call). Webhook endpoints: PutItem,
    # Query, DeleteItem (DELETE /webhook-endpoints/{id}); each event is announced on the
    # webhooks queue, as is a redelivery (POST /events/{id}/redeliver).
    "api" = [
      {
        Sid      = "Table"
        Effect   = "Allow"
        Action   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query", "dynamodb:DeleteItem"]
        Resource = [local.table_arn]
      },
      {
        # GSI1: the merchant's payments and events; GSI3: its events by type; GSI4-6: its
        # payments by status, by its own reference, by customer.
        Sid    = "MerchantIndexes"
        Effect = "Allow"
        Action = ["dynamodb:Query"]
        Resource = [
          "${local.table_arn}/index/GSI1", "${local.table_arn}/index/GSI3", "${local.table_arn}/index/GSI4",
          "${local.table_arn}/index/GSI5", "${local.table_arn}/index/GSI6",
        ]
      },
      {
        Sid      = "Enqueue"
        Effect   = "Allow"
        Action   = ["sqs:GetQueueUrl", "sqs:SendMessage"]
        Resource = [local.payments_queue_arn, local.refunds_queue_arn, local.webhooks_queue_arn]
      },
    ]
  }

  # Each worker consumes its own queue (`local.worker_queues`, autoscaling.tf) the same way:
  # conditional UpdateItem for PROCESSING and the final state (a refund settles with its payment
  # in one transaction of two updates), a consistent Query of the payment; the repair loop
  # queries GSI2, claims with UpdateItem and sends the job again; poison messages are copied to
  # the DLQ with SendMessage. The webhook worker leases an event with UpdateItem (GetItem when
  # the lease is refused), reads the merchant's endpoints with Query, saves the deliveries and
  # their attempts in one transaction (UpdateItem, PutItem), an endpoint's health with PutItem,
  # and its sweep queries the due-time index (GSI2 too) and claims with UpdateItem; a new
  # endpoint's catch-up reads the merchant's events of its first seconds from the feed (GSI1, or
  # GSI3 by type).
  # tests/integration/infra_apply.rs holds this to the calls the processes make.
  worker_policies = { for worker, queue in local.worker_queues : worker => [
    {
      Sid      = "Table"
      Effect   = "Allow"
      Action   = local.worker_table_actions[worker]
      Resource = [local.table_arn]
    },
    {
      Sid      = "Indexes"
      Effect   = "Allow"
      Action   = ["dynamodb:Query"]
      Resource = local.worker_indexes[worker]
    },
    {
      Sid      = "ResolveQueues"
      Effect   = "Allow"
      Action   = ["sqs:GetQueueUrl"]
      Resource = [local.payments_queue_arn, local.refunds_queue_arn, local.webhooks_queue_arn, aws_sqs_queue.dlq[queue].arn]
    },
    {
      Sid      = "Consume"
      Effect   = "Allow"
      Action   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility"]
      Resource = [aws_sqs_queue.main[queue].arn]
    },
    {
      # The repair loop (the webhook worker's sweep) re-enqueues its own kind; the payment worker
      # also enqueues the refunds that waited for a payment it settled; every change's event is
      # announced on the webhooks queue.
      Sid      = "Enqueue"
      Effect   = "Allow"
      Action   = ["sqs:SendMessage"]
      Resource = [for q in local.worker_sends[worker] : aws_sqs_queue.main[q].arn]
    },
    {
      Sid      = "DeadLetter"
      Effect   = "Allow"
      Action   = ["sqs:SendMessage"]
      Resource = [aws_sqs_queue.dlq[queue].arn]
    },
  ] }

  # The queues each worker sends jobs to (beside its own DLQ).
  worker_sends = {
    "payment-worker" = ["payments", "refunds", "webhooks"]
    "refund-worker"  = ["refunds", "webhooks"]
    "webhook-worker" = ["webhooks"]
  }

  # The indexes each worker queries: the repair index or due-time index (GSI2), and the
  # merchant's feed (GSI1, GSI3 by type) for a new endpoint's catch-up. Whole ARNs, each index
  # named literally: tests/integration/infra_names.rs reads every index name out of the ARNs in
  # this text, and an interpolated name would hide it from that check.
  worker_indexes = {
    "payment-worker" = ["${local.table_arn}/index/GSI2"]
    "refund-worker"  = ["${local.table_arn}/index/GSI2"]
    "webhook-worker" = ["${local.table_arn}/index/GSI1", "${local.table_arn}/index/GSI2", "${local.table_arn}/index/GSI3"]
  }

  # The item calls each worker makes on the table. The bank workers' every change is a
  # transaction: the record's update and its event's put.
  worker_table_actions = {
    "payment-worker" = ["dynamodb:Query", "dynamodb:UpdateItem", "dynamodb:PutItem"]
    "refund-worker"  = ["dynamodb:Query", "dynamodb:UpdateItem", "dynamodb:PutItem"]
    "webhook-worker" = ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:UpdateItem", "dynamodb:PutItem"]
  }

  task_policies = merge(local.api_policy, local.worker_policies)
}

# Task roles may be assumed only by tasks of this account (confused-deputy guard).
data "aws_iam_policy_document" "task_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

data "aws_iam_policy_document" "execution_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
  }
}

# Every component's task role; the dashboard's has no policy (none in task_policies), and nothing
# is attached to it.
resource "aws_iam_role" "task" {
  for_each = toset(concat(keys(local.task_policies), local.dashboard_enabled ? ["dashboard"] : []))

  name               = "${var.name_prefix}-${each.key}-task"
  assume_role_policy = data.aws_iam_policy_document.task_assume.json
}

resource "aws_iam_role_policy" "task" {
  for_each = local.task_policies

  name = "${each.key}-data-access"
  role = aws_iam_role.task[each.key].id
  policy = jsonencode({
    Version   = "2012-10-17"
    Statement = concat(each.value, local.kms_statements)
  })
}

# The execution roles: ECS itself uses them to pull the image, write the logs and read the
# secrets it injects into the containers. One per service, each allowed to read exactly the
# secrets its task definition lists (ecs.tf, `service_secrets`): a task definition naming another
# service's secret (the card key in the webhook-worker's, say) cannot start, since ECS cannot
# fetch it. The refund-worker's role reads no secret at all; the dashboard's reads its session key
# alone.
resource "aws_iam_role" "execution" {
  for_each = local.service_names

  name               = "${var.name_prefix}-${each.key}-execution"
  assume_role_policy = data.aws_iam_policy_document.execution_assume.json
}

resource "aws_iam_role_policy_attachment" "execution" {
  for_each = local.service_names

  role       = aws_iam_role.execution[each.key].name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
}

resource "aws_iam_role_policy" "execution_secrets" {
  for_each = { for k, secrets in local.service_secrets : k => secrets if length(secrets) > 0 }

  name = "read-${each.key}-secrets"
  role = aws_iam_role.execution[each.key].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid      = "InjectedSecrets"
      Effect   = "Allow"
      Action   = ["secretsmanager:GetSecretValue"]
      Resource = sort(distinct([for secret in each.value : secret.valueFrom]))
    }]
  })
}

# Values are never in Terraform (nor its state): put each with
#   aws secretsmanager put-secret-value --secret-id <arn> --secret-string "$(openssl rand -base64 32)"
# before the services start (outputs: card_encryption_key_secret_arn, webhook_secret_key_secret_arn,
# idempotency_fingerprint_key_secret_arn, jwt_secret_arn with cognito_enabled = false, and
# dashboard_session_key_secret_arn with a dashboard).
resource "aws_secretsmanager_secret" "jwt_secret_key" {
  name                    = "${var.name_prefix}/JWT_SECRET_KEY"
  description             = "HS256 secret of the API's bearer tokens (JWT_SECRET_KEY)."
  recovery_window_in_days = 7
}

resource "aws_secretsmanager_secret" "card_encryption_key" {
  name                    = "${var.name_prefix}/CARD_ENCRYPTION_KEY"
  description             = "Base64 of 32 random bytes: AES-256-GCM key sealing card data (CARD_ENCRYPTION_KEY); api and payment-worker only."
  recovery_window_in_days = 7
}

resource "aws_secretsmanager_secret" "webhook_secret_key" {
  name                    = "${var.name_prefix}/WEBHOOK_SECRET_KEY"
  description             = "Base64 of 32 random bytes: key sealing webhook endpoints' signing secrets (WEBHOOK_SECRET_KEY); api and webhook-worker only."
  recovery_window_in_days = 7
}

resource "aws_secretsmanager_secret" "idempotency_fingerprint_key" {
  name                    = "${var.name_prefix}/IDEMPOTENCY_FINGERPRINT_KEY"
  description             = "Base64 of 32 random bytes: HMAC key of Idempotency-Key request fingerprints (IDEMPOTENCY_FINGERPRINT_KEY); api only."
  recovery_window_in_days = 7
}

# Only with a dashboard (dashboard_host): its own key, which no other service may read.
resource "aws_secretsmanager_secret" "dashboard_session_key" {
  count = local.dashboard_enabled ? 1 : 0

  name                    = "${var.name_prefix}/DASHBOARD_SESSION_KEY"
  description             = "Base64 of 32 random bytes: key sealing the dashboard's session cookies, which hold the users' tokens (DASHBOARD_SESSION_KEY); dashboard only."
  recovery_window_in_days = 7
}
