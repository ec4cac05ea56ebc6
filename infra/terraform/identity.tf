# Production identity (cognito_enabled, the default): a Cognito user pool issues the bearer
# tokens, one confidential app client per merchant, OAuth 2.0 client credentials. The API verifies
# them against the pool's JWKS (JWT_JWKS_URL) and takes the merchant from `client_id`
# (JWT_MERCHANT_CLAIM): the merchant id IS the app client id. Cognito access tokens carry no `aud`,
# so the API checks none (JWT_AUDIENCE empty: `api_command` in ecs.tf). Self sign-up is off.
#
# With a dashboard (dashboard_host, dashboard.tf) the pool also has users: shop staff, created by
# an administrator only, each with the merchant they work for in `custom:merchant_id` (set at
# creation, never changed). They sign in at the pool's hosted pages through the dashboard's public
# app client (authorization code with PKCE), with an authenticator app as a second factor
# (dashboard_mfa), and a pre token generation trigger (V2_0) copies `custom:merchant_id` into their
# access token as the claim `merchant_id`, which the API reads before `client_id`
# (JWT_MERCHANT_CLAIM, ecs.tf). A user without it cannot sign in at all.
#
# Never replace a merchant's app client (`terraform apply -replace`, a change that forces a new
# client, removing it from `merchants`): a new client is a new merchant id, and the merchant's
# payments and idempotency keys stay under the old one. Disable it instead (docs/OPERATIONS.md).
#
# With cognito_enabled = false nothing here is created and the API keeps HS256 tokens signed with
# JWT_SECRET_KEY (ecs.tf).

locals {
  merchant_clients = var.cognito_enabled ? var.merchants : {}

  # null without Cognito (a string template cannot take a null, even in a local nothing uses).
  cognito_pool_id       = one(aws_cognito_user_pool.main[*].id)
  cognito_issuer        = var.cognito_enabled ? "https://cognito-idp.${var.region}.amazonaws.com/${local.cognito_pool_id}" : null
  cognito_jwks_url      = var.cognito_enabled ? "${local.cognito_issuer}/.well-known/jwks.json" : null
  cognito_domain_prefix = coalesce(var.cognito_domain_prefix, lower("${var.name_prefix}-${data.aws_caller_identity.current.account_id}"))
  cognito_token_url     = "https://${local.cognito_domain_prefix}.auth.${var.region}.amazoncognito.com/oauth2/token"

  # "<identifier>/payments.read", "<identifier>/payments.write" and "<identifier>/webhooks.manage":
  # what a merchant asks for (each client is allowed all three).
  merchant_scopes = flatten(aws_cognito_resource_server.api[*].scope_identifiers)

  # The dashboard's app client and its sign-in trigger exist with a dashboard and Cognito both
  # (dashboard.tf refuses a dashboard without Cognito). Staff get openid and the API's three scopes.
  dashboard_identity = local.dashboard_enabled && var.cognito_enabled
  dashboard_scopes   = concat(["openid"], sort(local.merchant_scopes))
}

resource "aws_cognito_user_pool" "main" {
  count = var.cognito_enabled ? 1 : 0

  name                = var.name_prefix
  deletion_protection = var.cognito_deletion_protection ? "ACTIVE" : "INACTIVE"

  # Access token customization (the trigger below) needs the Essentials feature plan (or Plus).
  # Without a dashboard the plan is left as it is.
  user_pool_tier = local.dashboard_identity ? "ESSENTIALS" : null

  # No self sign-up: merchants are app clients, staff are users an administrator creates.
  admin_create_user_config {
    allow_admin_create_user_only = true
  }

  # A staff user's merchant (its merchant id, the merchant's app client id), given when the user is
  # created and immutable from then on: no user, app client or administrator can move an account to
  # another merchant (delete it and create another). Declared whether or not there is a dashboard,
  # because an attribute, once added, can never be removed from a pool: taking it out here would
  # make Terraform want to replace the pool, and with it every merchant id.
  schema {
    name                     = "merchant_id"
    attribute_data_type      = "String"
    mutable                  = false
    required                 = false
    developer_only_attribute = false

    string_attribute_constraints {
      min_length = 1
      max_length = 128
    }
  }

  # Staff sign in with a password and an authenticator app (TOTP). Merchants' client-credentials
  # tokens are not affected.
  mfa_configuration = local.dashboard_identity ? var.dashboard_mfa : "OFF"

  dynamic "software_token_mfa_configuration" {
    for_each = local.dashboard_identity ? [1] : []
    content {
      enabled = true
    }
  }

  dynamic "lambda_config" {
    for_each = local.dashboard_identity ? [1] : []
    content {
      pre_token_generation_config {
        lambda_arn     = aws_cloudformation_stack.pre_token_generation[0].outputs["FunctionArn"]
        lambda_version = "V2_0"
      }
    }
  }
}

# The hosted domain that serves the token endpoint (<prefix>.auth.<region>.amazoncognito.com).
resource "aws_cognito_user_pool_domain" "main" {
  count = var.cognito_enabled ? 1 : 0

  domain       = local.cognito_domain_prefix
  user_pool_id = aws_cognito_user_pool.main[0].id
}

resource "aws_cognito_resource_server" "api" {
  count = var.cognito_enabled ? 1 : 0

  identifier   = "${var.name_prefix}-api"
  name         = "${var.name_prefix} API"
  user_pool_id = aws_cognito_user_pool.main[0].id

  scope {
    scope_name        = "payments.read"
    scope_description = "Read payments and refunds"
  }

  scope {
    scope_name        = "payments.write"
    scope_description = "Create payments and refunds"
  }

  # The API requires it (403 insufficient_scope without) on /webhook-endpoints, an event's
  # attempts and its redelivery (src/http/scopes.rs).
  scope {
    scope_name        = "webhooks.manage"
    scope_description = "Manage webhook endpoints, read delivery attempts, redeliver events"
  }
}

# One confidential client per merchant. A disabled merchant's client loses its OAuth flows and
# scopes, so Cognito issues it no new tokens; the client, and so the merchant id, stays.
resource "aws_cognito_user_pool_client" "merchant" {
  for_each = local.merchant_clients

  name            = "${var.name_prefix}-${each.key}"
  user_pool_id    = aws_cognito_user_pool.main[0].id
  generate_secret = true

  allowed_oauth_flows_user_pool_client = !each.value.disabled
  allowed_oauth_flows                  = each.value.disabled ? [] : ["client_credentials"]
  allowed_oauth_scopes                 = each.value.disabled ? [] : local.merchant_scopes
  # No user sign-in through this client (the pool has no users anyway).
  explicit_auth_flows = ["ALLOW_REFRESH_TOKEN_AUTH"]

  access_token_validity = var.merchant_token_validity_minutes
  token_validity_units {
    access_token = "minutes"
  }
}

# The merchant's registration: without this item the API answers 401 to its tokens. Terraform owns
# the item: set `disabled` in `merchants` rather than editing `Disabled` by hand (an apply would
# put the item back as Terraform has it).
resource "aws_dynamodb_table_item" "merchant" {
  for_each = local.merchant_clients

  table_name = aws_dynamodb_table.main.name
  hash_key   = aws_dynamodb_table.main.hash_key
  range_key  = aws_dynamodb_table.main.range_key
  item = jsonencode({
    PK         = { S = "MERCHANT#${aws_cognito_user_pool_client.merchant[each.key].id}" }
    SK         = { S = "PROFILE" }
    MerchantID = { S = aws_cognito_user_pool_client.merchant[each.key].id }
    Name       = { S = each.value.display_name }
    Disabled   = { BOOL = each.value.disabled }
  })
}

# --- The dashboard's sign-in (dashboard_host) -----------------------------------------------------

# A public client (no secret: the dashboard's session holds no client credential), authorization
# code with PKCE through the hosted sign-in pages on the pool's domain, back to
# <dashboard URL>/auth/callback. No API sign-in flow (explicit_auth_flows: refresh only), so no
# token here ever carries aws.cognito.signin.user.admin, the scope that would let a user change
# their own attributes; and custom:merchant_id is not among the attributes this client may write.
resource "aws_cognito_user_pool_client" "dashboard" {
  count = local.dashboard_identity ? 1 : 0

  name            = "${var.name_prefix}-dashboard"
  user_pool_id    = aws_cognito_user_pool.main[0].id
  generate_secret = false

  allowed_oauth_flows_user_pool_client = true
  allowed_oauth_flows                  = ["code"]
  allowed_oauth_scopes                 = local.dashboard_scopes
  supported_identity_providers         = ["COGNITO"]
  callback_urls                        = ["${local.dashboard_url}/auth/callback"]
  # Signing out at the hosted domain's /logout?client_id=...&logout_uri=... returns here.
  logout_urls = ["${local.dashboard_url}/"]

  explicit_auth_flows           = ["ALLOW_REFRESH_TOKEN_AUTH"]
  prevent_user_existence_errors = "ENABLED"
  enable_token_revocation       = true
  read_attributes               = ["email", "email_verified", "name", "custom:merchant_id"]
  write_attributes              = ["name"]

  # An hour per access token, a sign-in lasts dashboard_session_hours.
  access_token_validity  = 60
  id_token_validity      = 60
  refresh_token_validity = var.dashboard_session_hours
  token_validity_units {
    access_token  = "minutes"
    id_token      = "minutes"
    refresh_token = "hours"
  }
}

# The pre token generation trigger, V2_0: it runs for every token Cognito issues to a user (sign-in
# and refresh; never for a merchant's client-credentials token, which only V3_0 would see) and adds
# `merchant_id`, the user's custom:merchant_id, to the access token (and the ID token). A user
# without one gets no token: the sign-in fails rather than produce a token naming no merchant.
locals {
  pre_token_generation_function = "${var.name_prefix}-pre-token-generation"
  pre_token_generation_source   = <<-PYTHON
    # Cognito pre token generation trigger (V2_0), infra/terraform/identity.tf.
    def handler(event, context):
        attributes = event["request"].get("userAttributes") or {}
        merchant = (attributes.get("custom:merchant_id") or "").strip()
        if not merchant:
            # Cognito refuses the sign-in: this user belongs to no merchant.
            raise Exception("this user has no custom:merchant_id")
        claims = {"merchant_id": merchant}
        event["response"]["claimsAndScopeOverrideDetails"] = {
            "idTokenGeneration": {"claimsToAddOrOverride": claims},
            "accessTokenGeneration": {"claimsToAddOrOverride": claims},
        }
        return event
  PYTHON
}

# The function is in a CloudFormation stack only for its inline code (Code.ZipFile): an
# aws_lambda_function needs a zip file, and the provider that makes one (hashicorp/archive) is not
# among this configuration's providers. The stack holds the function, its log group (kept
# log_retention_days) and its role, which may only write to that log group. Should the archive
# provider become available: archive_file with this source, an aws_lambda_function, its role and
# log group, and the same permission and lambda_config.
resource "aws_cloudformation_stack" "pre_token_generation" {
  count = local.dashboard_identity ? 1 : 0

  name         = local.pre_token_generation_function
  capabilities = ["CAPABILITY_NAMED_IAM"]
  on_failure   = "DELETE"

  template_body = jsonencode({
    AWSTemplateFormatVersion = "2010-09-09"
    Description              = "Cognito pre token generation trigger of ${var.name_prefix}: custom:merchant_id into the access token as merchant_id (infra/terraform/identity.tf)."
    Resources = {
      Logs = {
        Type = "AWS::Logs::LogGroup"
        Properties = merge(
          { LogGroupName = "/aws/lambda/${local.pre_token_generation_function}" },
          var.log_retention_days > 0 ? { RetentionInDays = var.log_retention_days } : {},
        )
      }
      Role = {
        Type = "AWS::IAM::Role"
        Properties = {
          RoleName = local.pre_token_generation_function
          AssumeRolePolicyDocument = {
            Version = "2012-10-17"
            Statement = [{
              Effect    = "Allow"
              Principal = { Service = "lambda.amazonaws.com" }
              Action    = "sts:AssumeRole"
            }]
          }
          Policies = [{
            PolicyName = "write-own-logs"
            PolicyDocument = {
              Version = "2012-10-17"
              Statement = [{
                Effect   = "Allow"
                Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
                Resource = [{ "Fn::GetAtt" = ["Logs", "Arn"] }]
              }]
            }
          }]
        }
      }
      Function = {
        Type      = "AWS::Lambda::Function"
        DependsOn = ["Logs"]
        Properties = {
          FunctionName = local.pre_token_generation_function
          Description  = "custom:merchant_id into the access token as merchant_id"
          Runtime      = "python3.13"
          Handler      = "index.handler"
          Role         = { "Fn::GetAtt" = ["Role", "Arn"] }
          MemorySize   = 128
          Timeout      = 5
          Code         = { ZipFile = local.pre_token_generation_source }
        }
      }
    }
    Outputs = {
      FunctionArn  = { Value = { "Fn::GetAtt" = ["Function", "Arn"] } }
      FunctionName = { Value = { Ref = "Function" } }
    }
  })
}

# Cognito may invoke the trigger for this pool alone.
resource "aws_lambda_permission" "pre_token_generation" {
  count = local.dashboard_identity ? 1 : 0

  statement_id  = "CognitoPreTokenGeneration"
  action        = "lambda:InvokeFunction"
  function_name = aws_cloudformation_stack.pre_token_generation[0].outputs["FunctionName"]
  principal     = "cognito-idp.amazonaws.com"
  source_arn    = aws_cognito_user_pool.main[0].arn
}
