"""Verifies webhook deliveries with the Standard Webhooks reference library (`standardwebhooks`
on PyPI), an implementation independent of this repository's signing code.

Input: a JSON-lines file, one delivery per line: {"secret", "headers": {...}, "body"}.
Each line is verified with its secret; a line may carry "expect_fail": true to check that
a wrong secret is refused. Prints "verified N" and exits 0 only if every line came out as
expected. Used by tests/integration/webhooks.rs (`make webhook-verifier` installs the library).
"""
import json
import sys

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


def main(path: str) -> int:
    ok = 0
    with open(path, encoding="utf-8") as lines:
        for n, line in enumerate(lines, 1):
            d = json.loads(line)
            try:
                Webhook(d["secret"]).verify(d["body"], d["headers"])
                verified = True
            except WebhookVerificationError as e:
                verified = False
                reason = str(e)
            if verified == d.get("expect_fail", False):
                print(f"line {n}: expected {'failure' if d.get('expect_fail') else 'success'}: "
                      f"{'verified' if verified else reason}", file=sys.stderr)
                return 1
            ok += 1
    print(f"verified {ok}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
