"""Schemathesis hooks for `tests/fuzz/run.sh`: signs the fuzzer in as the configured user.

The token is cached; when a request answers 401 because a fuzzed operation ended the session
(logout, revoke-all, an admin revoking the caller's sessions), Schemathesis asks for a new one and
replays the request once. Each sign-in comes through the trusted CloudFront path from an address of
its own, so the fuzzer's own logins never spend the per-IP login budget that the fuzzed requests
(all from 127.0.0.1) are tested against.
"""

import itertools
import os

import requests
import schemathesis

_ADDRESSES = itertools.count(1)


@schemathesis.auth()
class SignIn:
    def get(self, case, context):
        api = os.environ["FUZZ_API"]
        # 198.18.0.0/15 is reserved for benchmarking; 2^17 addresses outlast any run.
        n = next(_ADDRESSES)
        response = requests.post(
            f"{api}/v1/auth/login",
            json={"email": os.environ["FUZZ_EMAIL"], "password": os.environ["FUZZ_PASSWORD"]},
            headers={
                "x-origin-verify": os.environ["FUZZ_ORIGIN_VERIFY"],
                "cloudfront-viewer-address": f"198.{18 + n // 65536}.{n // 256 % 256}.{n % 256}:443",
            },
            timeout=30,
        )
        response.raise_for_status()
        return response.json()["access_token"]

    def set(self, case, data, context):
        case.headers = case.headers or {}
        case.headers["Authorization"] = f"Bearer {data}"
