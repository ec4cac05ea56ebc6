#!/bin/bash
# LocalStack ready hook (mounted into /etc/localstack/init/ready.d/ by docker-compose.yml):
# creates what SETUP=true creates (src/dynamo/setup.rs, src/sqs/setup.rs, src/setup.rs), each
# only if missing, so it is safe to run again and safe beside binaries started with SETUP=true.
#   table: PK/SK strings, on demand; GSI1 (GSI1PK/GSI1SK, ALL), GSI2 (GSI2PK/GSI2SK, KEYS_ONLY);
#          TTL on ExpiresAt; merchants test@merchant and other@merchant
#   queues: <name>-dlq (14 days), <name> (visibility 30 s, long poll 20 s, redrive to the DLQ
#           after 10 receives)
# Names come from the same variables the binaries read.
set -eu

TABLE="${DYNAMODB_TABLE:-payment-platform-table}"
QUEUES="${PAYMENTS_QUEUE:-payment-platform-payments} ${REFUNDS_QUEUE:-payment-platform-refunds} ${WEBHOOKS_QUEUE:-payment-platform-webhooks}"
REGION="${AWS_REGION:-${AWS_DEFAULT_REGION:-us-east-1}}"
AWSLOCAL="${AWSLOCAL:-awslocal}"

aws_() { $AWSLOCAL --region "$REGION" "$@"; }

# Runs a create call; an error whose text contains $1 means "already there" and is fine.
tolerate() {
  expected="$1"
  shift
  if ! out="$("$@" 2>&1)"; then
    case "$out" in
      *"$expected"*) ;;
      *) echo "$out" >&2; return 1 ;;
    esac
  fi
}

if aws_ dynamodb describe-table --table-name "$TABLE" >/dev/null 2>&1; then
  echo "table $TABLE exists"
else
  s() { printf '{"AttributeName":"%s","AttributeType":"S"}' "$1"; }
  k() { printf '{"AttributeName":"%s","KeyType":"%s"}' "$1" "$2"; }
  index() { printf '{"IndexName":"%s","KeySchema":[%s,%s],"Projection":{"ProjectionType":"%s"}}' \
    "$1" "$(k "$2" HASH)" "$(k "$3" RANGE)" "$4"; }
  tolerate ResourceInUseException aws_ dynamodb create-table --table-name "$TABLE" \
    --billing-mode PAY_PER_REQUEST \
    --attribute-definitions "[$(s PK),$(s SK),$(s GSI1PK),$(s GSI1SK),$(s GSI2PK),$(s GSI2SK),$(s GSI3PK),$(s GSI3SK),$(s GSI4PK),$(s GSI4SK),$(s GSI5PK),$(s GSI5SK),$(s GSI6PK),$(s GSI6SK)]" \
    --key-schema "[$(k PK HASH),$(k SK RANGE)]" \
    --global-secondary-indexes "[$(index GSI1 GSI1PK GSI1SK ALL),$(index GSI2 GSI2PK GSI2SK KEYS_ONLY),$(index GSI3 GSI3PK GSI3SK ALL),$(index GSI4 GSI4PK GSI4SK ALL),$(index GSI5 GSI5PK GSI5SK ALL),$(index GSI6 GSI6PK GSI6SK ALL)]"
  aws_ dynamodb wait table-exists --table-name "$TABLE"
  tolerate "already enabled" aws_ dynamodb update-time-to-live --table-name "$TABLE" \
    --time-to-live-specification Enabled=true,AttributeName=ExpiresAt
  echo "table $TABLE created"
fi

for merchant in "test@merchant:Test Merchant" "other@merchant:Other Merchant"; do
  id="${merchant%%:*}"
  name="${merchant#*:}"
  item="$(printf '{"PK":{"S":"MERCHANT#%s"},"SK":{"S":"PROFILE"},"MerchantID":{"S":"%s"},"Name":{"S":"%s"}}' \
    "$id" "$id" "$name")"
  tolerate ConditionalCheckFailed aws_ dynamodb put-item --table-name "$TABLE" --item "$item" \
    --condition-expression "attribute_not_exists(PK)"
done

for queue in $QUEUES; do
  if aws_ sqs get-queue-url --queue-name "$queue" >/dev/null 2>&1; then
    echo "queue $queue exists"
    continue
  fi
  dlq_url="$(aws_ sqs create-queue --queue-name "$queue-dlq" \
    --attributes MessageRetentionPeriod=1209600 --query QueueUrl --output text)"
  dlq_arn="$(aws_ sqs get-queue-attributes --queue-url "$dlq_url" \
    --attribute-names QueueArn --query Attributes.QueueArn --output text)"
  attributes="$(printf '{"VisibilityTimeout":"30","ReceiveMessageWaitTimeSeconds":"20","RedrivePolicy":"{\\"deadLetterTargetArn\\":\\"%s\\",\\"maxReceiveCount\\":10}"}' \
    "$dlq_arn")"
  aws_ sqs create-queue --queue-name "$queue" --attributes "$attributes" >/dev/null
  echo "queue $queue and $queue-dlq created"
done
