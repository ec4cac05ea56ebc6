# The load balancer's access logs (every request: client, path, status, TLS protocol and cipher),
# kept as long as the services' logs (log_retention_days, at least a year: PCI DSS 10.5.1).
#
# Either an existing bucket (alb_access_logs_bucket; it needs SSE-S3 and the ELB log-delivery
# policy below) or, by default, one created here. ALB access logs support SSE-S3 only (not
# SSE-KMS): the bucket is encrypted with S3-managed keys, versioned, private (no ACLs, public
# access blocked) and reachable over TLS alone. alb_access_logs_enabled = false turns it all off:
# only the local emulator apply does that (its provider has no S3 endpoint).

locals {
  create_alb_logs_bucket = var.alb_access_logs_enabled && var.alb_access_logs_bucket == null
  alb_access_logs_bucket = var.alb_access_logs_enabled ? (var.alb_access_logs_bucket != null ? var.alb_access_logs_bucket : one(aws_s3_bucket.alb_logs[*].id)) : null
  alb_access_logs_prefix = "alb"

  # Regions opened before August 2022 deliver the logs from an ELB account of the region (the
  # provider knows it); later ones from the log-delivery service principal. Both are allowed.
  elb_account_regions = [
    "us-east-1", "us-east-2", "us-west-1", "us-west-2", "af-south-1", "ap-east-1", "ap-south-1",
    "ap-northeast-1", "ap-northeast-2", "ap-northeast-3", "ap-southeast-1", "ap-southeast-2",
    "ap-southeast-3", "ca-central-1", "eu-central-1", "eu-west-1", "eu-west-2", "eu-west-3",
    "eu-south-1", "eu-north-1", "me-south-1", "sa-east-1", "us-gov-west-1", "us-gov-east-1",
    "cn-north-1", "cn-northwest-1",
  ]
}

data "aws_elb_service_account" "main" {
  count = local.create_alb_logs_bucket && contains(local.elb_account_regions, var.region) ? 1 : 0
}

resource "aws_s3_bucket" "alb_logs" {
  count = local.create_alb_logs_bucket ? 1 : 0

  bucket = lower("${var.name_prefix}-alb-logs-${data.aws_caller_identity.current.account_id}")
}

resource "aws_s3_bucket_public_access_block" "alb_logs" {
  count = local.create_alb_logs_bucket ? 1 : 0

  bucket                  = aws_s3_bucket.alb_logs[0].id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "alb_logs" {
  count = local.create_alb_logs_bucket ? 1 : 0

  bucket = aws_s3_bucket.alb_logs[0].id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "alb_logs" {
  count = local.create_alb_logs_bucket ? 1 : 0

  bucket = aws_s3_bucket.alb_logs[0].id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

# A log overwritten or deleted keeps its previous version (until the lifecycle below expires it).
resource "aws_s3_bucket_versioning" "alb_logs" {
  count = local.create_alb_logs_bucket ? 1 : 0

  bucket = aws_s3_bucket.alb_logs[0].id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "alb_logs" {
  count = local.create_alb_logs_bucket && var.log_retention_days > 0 ? 1 : 0

  bucket = aws_s3_bucket.alb_logs[0].id
  rule {
    id     = "retention"
    status = "Enabled"
    filter {}
    expiration {
      days = var.log_retention_days
    }
    noncurrent_version_expiration {
      noncurrent_days = var.log_retention_days
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }

  depends_on = [aws_s3_bucket_versioning.alb_logs]
}

data "aws_iam_policy_document" "alb_logs" {
  count = local.create_alb_logs_bucket ? 1 : 0

  dynamic "statement" {
    for_each = data.aws_elb_service_account.main
    content {
      sid       = "ElbAccountDelivers"
      actions   = ["s3:PutObject"]
      resources = ["${aws_s3_bucket.alb_logs[0].arn}/${local.alb_access_logs_prefix}/AWSLogs/${data.aws_caller_identity.current.account_id}/*"]
      principals {
        type        = "AWS"
        identifiers = [statement.value.arn]
      }
    }
  }

  statement {
    sid       = "LogDeliveryServiceDelivers"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.alb_logs[0].arn}/${local.alb_access_logs_prefix}/AWSLogs/${data.aws_caller_identity.current.account_id}/*"]
    principals {
      type        = "Service"
      identifiers = ["logdelivery.elasticloadbalancing.amazonaws.com"]
    }
  }

  statement {
    sid       = "TlsOnly"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.alb_logs[0].arn, "${aws_s3_bucket.alb_logs[0].arn}/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "alb_logs" {
  count = local.create_alb_logs_bucket ? 1 : 0

  bucket = aws_s3_bucket.alb_logs[0].id
  policy = data.aws_iam_policy_document.alb_logs[0].json

  depends_on = [aws_s3_bucket_public_access_block.alb_logs]
}
