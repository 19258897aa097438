"""The Python reference for `make bench`: what a Python 3.13 + boto3 Lambda would do for
Sesame's `GET /v1/auth/me` behind API Gateway (HTTP API, payload 2.0), measured under the same
Runtime API emulator as Sesame's binaries (`python -m awslambdaric handler.handler`).

It does the same authenticated read: verifies the EdDSA access token (signature, `typ`, `kid`,
`iss`, `aud`, `exp`) with Sesame's public key, then reads the user's profile and the
token's session in one consistent BatchGetItem, and answers 401 unless both exist and are live.
Like Sesame's functions, it reads the public key from Secrets Manager once, at import (the cold
start), and makes its DynamoDB client there.

Environment: SESAME_TABLE, SESAME_VERIFY_KEY_SECRET, SESAME_KID, SESAME_ISSUER, SESAME_AUDIENCE.
"""
import json
import os
import time

import boto3
import jwt

TABLE = os.environ["SESAME_TABLE"]
PUBLIC_KEY = jwt.algorithms.OKPAlgorithm().prepare_key(
    boto3.client("secretsmanager").get_secret_value(
        SecretId=os.environ["SESAME_VERIFY_KEY_SECRET"])["SecretString"])
KID = os.environ["SESAME_KID"]
ISSUER = os.environ["SESAME_ISSUER"]
AUDIENCE = os.environ["SESAME_AUDIENCE"]
DYNAMODB = boto3.client("dynamodb")


def answer(status, body):
    return {
        "statusCode": status,
        "headers": {"content-type": "application/json"},
        "body": json.dumps(body),
    }


def unauthorized():
    return answer(401, {"error": {"code": "invalid_token",
                                  "message": "the access token is invalid or expired"}})


def handler(event, _context):
    header = (event.get("headers") or {}).get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        return unauthorized()
    try:
        head = jwt.get_unverified_header(token)
        if head.get("typ") != "at+jwt" or head.get("kid") != KID:
            return unauthorized()
        claims = jwt.decode(token, PUBLIC_KEY, algorithms=["EdDSA"], issuer=ISSUER,
                            audience=AUDIENCE,
                            options={"require": ["exp", "iat", "iss", "aud", "sub"]})
    except jwt.InvalidTokenError:
        return unauthorized()
    pk = {"S": f"USER#{claims['sub']}"}
    keys = [{"pk": pk, "sk": {"S": "PROFILE"}}, {"pk": pk, "sk": {"S": f"SESSION#{claims['sid']}"}}]
    found = DYNAMODB.batch_get_item(
        RequestItems={TABLE: {"Keys": keys, "ConsistentRead": True}})["Responses"][TABLE]
    profile = next((i for i in found if i["sk"]["S"] == "PROFILE"), None)
    session = next((i for i in found if i["sk"]["S"].startswith("SESSION#")), None)
    if profile is None or session is None or not profile.get("is_active", {}).get("BOOL", True):
        return unauthorized()
    if int(session.get("expires_at", {}).get("N", "0")) <= time.time():
        return unauthorized()
    return answer(200, {"id": claims["sub"], "email": profile.get("email", {}).get("S")})
