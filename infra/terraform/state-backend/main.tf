# The Terraform state's own home, created once per account before the platform (README.md,
# "State"): an S3 bucket encrypted under a customer managed KMS key (SSE-KMS, the key rotated
# yearly), versioned (every state ever written can be restored), private, reachable over TLS only
# and, by its policy, only by the principals in state_access_principal_arns. Locking is S3's own
# (use_lockfile in ../backend.tf.example), so no DynamoDB table is needed.
#
#   cd infra/terraform/state-backend
#   terraform init
#   terraform apply -var 'state_access_principal_arns=["arn:aws:iam::123456789012:role/terraform-deployer"]'
#   terraform output backend_config      # what goes into ../backend.tf
#
# This configuration's own state holds no secret (names and ARNs only); once the bucket exists it
# can move there too (a backend "s3" block with another key, then terraform init -migrate-state).

terraform {
  required_version = ">= 1.10"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.0"
    }
  }
}

provider "aws" {
  region = var.region
}

variable "region" {
  description = "Region of the state bucket (the backend's `region`)."
  type        = string
  default     = "us-east-1"
}

variable "bucket_name" {
  description = "Name of the state bucket. null: <name_prefix>-tfstate-<account id>."
  type        = string
  default     = null
}

variable "name_prefix" {
  description = "Prefix of the bucket and key alias names."
  type        = string
  default     = "payment-platform"
}

variable "state_access_principal_arns" {
  description = "IAM roles or users that may read and write the state (the deployers, CI). Everyone else, in this account too, is denied by the bucket policy. Keep a break-glass role in it: a principal not listed cannot even repair the policy through S3 (the account root can)."
  type        = list(string)

  validation {
    condition     = length(var.state_access_principal_arns) > 0 && alltrue([for a in var.state_access_principal_arns : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:(role|user)/", a))])
    error_message = "state_access_principal_arns: at least one IAM role or user ARN (arn:aws:iam::<account>:role/<name>)."
  }
}

variable "noncurrent_version_days" {
  description = "How long a replaced state version is kept (to restore a state an apply broke)."
  type        = number
  default     = 365
}

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

locals {
  bucket_name = coalesce(var.bucket_name, "${var.name_prefix}-tfstate-${data.aws_caller_identity.current.account_id}")
  # Whoever applies this keeps access, with the principals named (it is usually one of them).
  allowed = distinct(concat(var.state_access_principal_arns, ["arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root"]))
}

resource "aws_kms_key" "state" {
  description             = "Terraform state of ${var.name_prefix} (SSE-KMS of the state bucket)"
  enable_key_rotation     = true
  deletion_window_in_days = 30
}

resource "aws_kms_alias" "state" {
  name          = "alias/${var.name_prefix}-tfstate"
  target_key_id = aws_kms_key.state.key_id
}

resource "aws_s3_bucket" "state" {
  bucket = local.bucket_name

  lifecycle {
    prevent_destroy = true
  }
}

resource "aws_s3_bucket_public_access_block" "state" {
  bucket                  = aws_s3_bucket.state.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "state" {
  bucket = aws_s3_bucket.state.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_versioning" "state" {
  bucket = aws_s3_bucket.state.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "state" {
  bucket = aws_s3_bucket.state.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.state.arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "state" {
  bucket = aws_s3_bucket.state.id
  rule {
    id     = "old-state-versions"
    status = "Enabled"
    filter {}
    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_days
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }

  depends_on = [aws_s3_bucket_versioning.state]
}

data "aws_iam_policy_document" "state" {
  # TLS only.
  statement {
    sid       = "TlsOnly"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.state.arn, "${aws_s3_bucket.state.arn}/*"]
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

  # Only the named principals (and the account root, to repair this policy) touch the state.
  statement {
    sid       = "NamedPrincipalsOnly"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.state.arn, "${aws_s3_bucket.state.arn}/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "ArnNotLike"
      variable = "aws:PrincipalArn"
      values   = local.allowed
    }
  }

  # No object uploaded under another key (one sent without a key gets the bucket's default, above).
  statement {
    sid       = "StateKeyOnly"
    effect    = "Deny"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.state.arn}/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "StringNotEqualsIfExists"
      variable = "s3:x-amz-server-side-encryption-aws-kms-key-id"
      values   = [aws_kms_key.state.arn]
    }
  }
}

resource "aws_s3_bucket_policy" "state" {
  bucket = aws_s3_bucket.state.id
  policy = data.aws_iam_policy_document.state.json

  depends_on = [aws_s3_bucket_public_access_block.state]
}

output "bucket" {
  value = aws_s3_bucket.state.id
}

output "kms_key_arn" {
  value = aws_kms_key.state.arn
}

output "backend_config" {
  description = "The backend block for ../backend.tf (key: one per environment)."
  value       = <<-EOT
    terraform {
      backend "s3" {
        bucket       = "${aws_s3_bucket.state.id}"
        key          = "payment-platform/prod/terraform.tfstate"
        region       = "${var.region}"
        encrypt      = true
        kms_key_id   = "${aws_kms_key.state.arn}"
        use_lockfile = true
      }
    }
  EOT
}
