#!/usr/bin/env bash
# `make infra-local` / `make infra-local-destroy`: applies infra/terraform to the local emulator,
# as `tflocal apply` does for LocalStack: the provider's endpoints point at the emulator through an
# override file written next to a copy of the .tf files, in a scratch folder that also holds the
# state (never committed). What the emulator cannot create is switched off by variables:
#   autoscaling_enabled=false   MiniStack has no Application Auto Scaling API
# Usage: localstack/infra-local.sh apply|destroy|output
#
# Environment: EMULATOR_PORT (default 4566; the emulator must run with EMULATOR_SERVICES=all,
# which `apply` starts if nothing runs there), TF_PLUGIN_DIR (default /opt/tf-plugins: providers
# cannot be downloaded here), INFRA_STATE (default .emulator/<port>/terraform), and any
# TF_VAR_<name> for the Terraform's own variables.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
port="${EMULATOR_PORT:-4566}"
plugins="${TF_PLUGIN_DIR:-/opt/tf-plugins}"
work="${INFRA_STATE:-$root/.emulator/$port/terraform}"
url="http://127.0.0.1:$port"

log() { printf 'infra-local: %s\n' "$*" >&2; }
command -v terraform >/dev/null || { log "terraform is not installed"; exit 3; }
[ -d "$plugins" ] || { log "no Terraform providers in $plugins (set TF_PLUGIN_DIR)"; exit 3; }

prepare() {
  mkdir -p "$work"
  rm -f "$work"/*.tf
  cp "$root"/infra/terraform/*.tf "$work"/
  # Every service the Terraform uses, at the emulator; dummy credentials, no account checks.
  cat >"$work/emulator_override.tf" <<HCL
provider "aws" {
  access_key                  = "test"
  secret_key                  = "test"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_requesting_account_id  = true
  endpoints {
    applicationautoscaling = "$url"
    cloudformation         = "$url"
    cloudwatch             = "$url"
    cloudwatchlogs         = "$url"
    cognitoidp             = "$url"
    dynamodb               = "$url"
    ec2                    = "$url"
    ecr                    = "$url"
    ecs                    = "$url"
    elbv2                  = "$url"
    iam                    = "$url"
    kms                    = "$url"
    lambda                 = "$url"
    secretsmanager         = "$url"
    sns                    = "$url"
    sqs                    = "$url"
    sts                    = "$url"
  }
}
HCL
  terraform -chdir="$work" init -backend=false -input=false -plugin-dir="$plugins" >/dev/null
}

# What the emulator cannot do or needs no real value for: no autoscaling, no S3 endpoint for the
# load balancer's access logs, a made-up certificate (the HTTPS listener, its redirect and HSTS are
# applied; no TLS is served) and an image tag nothing pulls. The dashboard is applied as in
# production, on made-up host names (its service, listener rule, app client and sign-in trigger).
vars=(-var autoscaling_enabled=false -var table_deletion_protection=false -var cognito_deletion_protection=false
  -var image_tag=emulator -var alb_access_logs_enabled=false
  -var certificate_arn=arn:aws:acm:us-east-1:000000000000:certificate/emulator
  -var dashboard_host=dashboard.emulator.test -var base_url=https://api.emulator.test)

case "${1:-}" in
  apply)
    if ! curl -fsS -o /dev/null --max-time 2 "$url/_ministack/health" 2>/dev/null; then
      EMULATOR_PORT="$port" EMULATOR_SERVICES=all "$root/localstack/emulator.sh" start >/dev/null
    fi
    prepare
    log "autoscaling_enabled=false: the emulator has no Application Auto Scaling API, so the services keep their desired count"
    terraform -chdir="$work" apply -auto-approve -input=false -parallelism=2 "${vars[@]}" >&2
    terraform -chdir="$work" output -json
    ;;
  destroy)
    [ -f "$work/terraform.tfstate" ] || { log "nothing applied in $work"; exit 0; }
    prepare
    # The emulator sometimes drops a load balancer's target group with the rule that used it, then
    # answers TargetGroupNotFound to its own delete: a second destroy refreshes the state first and
    # finds nothing left to delete there.
    if ! terraform -chdir="$work" destroy -auto-approve -input=false "${vars[@]}" >&2; then
      log "destroy failed once; refreshing and destroying again"
      terraform -chdir="$work" destroy -auto-approve -input=false "${vars[@]}" >&2
    fi
    ;;
  output)
    terraform -chdir="$work" output -json
    ;;
  *)
    echo "usage: $0 apply|destroy|output" >&2
    exit 2
    ;;
esac
