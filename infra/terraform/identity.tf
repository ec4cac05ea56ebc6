# Production identity (cognito_enabled, the default): a Cognito user pool issues the bearer
# tokens, one confidential app client per merchant, OAuth 2.0 client credentials. The API verifies
# them against the pool's JWKS (JWT_JWKS_URL) and takes the merchant from `client_id`
# (JWT_MERCHANT_CLAIM): the merchant id IS the app client id. Cognito access tokens carry no `aud`,
# so the API checks none (JWT_AUDIENCE empty: `api_command` in ecs.tf). Nobody signs in to the
# pool: it has no users, and self sign-up is off.
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
}

resource "aws_cognito_user_pool" "main" {
  count = var.cognito_enabled ? 1 : 0

  name                = var.name_prefix
  deletion_protection = var.cognito_deletion_protection ? "ACTIVE" : "INACTIVE"

  # Machines only: no self sign-up (and no users are created).
  admin_create_user_config {
    allow_admin_create_user_only = true
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
