"""Token exchange (RFC 8693, Okta's on-behalf-of) and the JWT bearer grant (RFC 7523)
against mock-idp with `requests`, keys made and JWTs signed with PyJWT + cryptography,
tokens verified with PyJWT's JWKS client. The service client is registered at run
time (SSWS) with this script's public key.
Usage: exchange_and_jwt_bearer.py ISSUER SSWS_TOKEN USER_CLIENT_ID USER_CLIENT_SECRET LOGIN PASSWORD
Prints one JSON line; exits non-zero on any unexpected answer."""

import json
import sys
import uuid

import jwt
import requests
from cryptography.hazmat.primitives.asymmetric import rsa

issuer, ssws, user_client, user_secret, login, password = sys.argv[1:7]
base = issuer.split("/oauth2/")[0]
meta = requests.get(issuer + "/.well-known/oauth-authorization-server", timeout=10).json()
token_endpoint = meta["token_endpoint"]
EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
ACCESS = "urn:ietf:params:oauth:token-type:access_token"
for grant in (EXCHANGE, BEARER):
    assert grant in meta["grant_types_supported"], meta["grant_types_supported"]
seen = {}

key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
public_jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
public_jwk.update({"kid": "svc-key-1", "use": "sig", "alg": "RS256"})

r = requests.post(base + "/oauth2/v1/clients", headers={"Authorization": "SSWS " + ssws}, json={
    "client_name": "Beds API (token exchange)",
    "application_type": "service",
    "grant_types": [EXCHANGE, BEARER],
    "response_types": [],
    "token_endpoint_auth_method": "private_key_jwt",
    "jwks": {"keys": [public_jwk]},
}, timeout=10)
assert r.status_code == 201, r.text
client_id = r.json()["client_id"]


def mock_now():
    return requests.get(base + "/__mock/clock", timeout=10).json()["now"]


def signed(claims, signer=key):
    return jwt.encode(claims, signer, algorithm="RS256", headers={"kid": "svc-key-1"})


def client_assertion():
    now = mock_now()
    return {
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": signed({"iss": client_id, "sub": client_id, "aud": token_endpoint, "iat": now, "exp": now + 300, "jti": str(uuid.uuid4())}),
    }


def token(**form):
    form.update(client_assertion())
    r = requests.post(token_endpoint, data=form, timeout=10)
    return r.status_code, r.json()


def expect_error(result, error):
    status, body = result
    assert status == 400 and body["error"] == error, (status, body)
    assert body.get("error_description"), body


jwks = jwt.PyJWKClient(meta["jwks_uri"])


def verified(access_token):
    signing_key = jwks.get_signing_key_from_jwt(access_token)
    return jwt.decode(access_token, signing_key.key, algorithms=["RS256"], audience="api://default", issuer=issuer, options={"verify_iat": False})


# The user's token, from an app the user signed in to (password grant, for brevity).
r = requests.post(token_endpoint, auth=(user_client, user_secret), data={"grant_type": "password", "username": login, "password": password, "scope": "openid beds.read"}, timeout=10)
assert r.status_code == 200, r.text
user_token = r.json()["access_token"]
user_claims = verified(user_token)

# 1. Token exchange: the API calls on behalf of the user.
status, body = token(grant_type=EXCHANGE, subject_token=user_token, subject_token_type=ACCESS, audience="api://default", scope="beds.read")
assert status == 200, body
assert body["issued_token_type"] == ACCESS and body["token_type"] == "Bearer", body
claims = verified(body["access_token"])
assert claims["sub"] == login and claims["uid"] == user_claims["uid"], claims
assert claims["cid"] == client_id and claims["scp"] == ["beds.read"], claims
seen["exchange"] = {"sub": claims["sub"], "cid_is_exchanger": claims["cid"] == client_id}

# 2. Its negative cases.
expect_error(token(grant_type=EXCHANGE, subject_token=user_token, subject_token_type=ACCESS, audience="api://elsewhere", scope="beds.read"), "invalid_target")
forged = signed(dict(user_claims, exp=mock_now() + 600), signer=stranger)
expect_error(token(grant_type=EXCHANGE, subject_token=forged, subject_token_type=ACCESS, audience="api://default", scope="beds.read"), "invalid_grant")
bad = requests.post(base + "/__mock/tokens", json={"client_id": user_client, "user": login, "scopes": ["beds.read"], "flavor": "bad_signature"}, timeout=10).json()["token"]
expect_error(token(grant_type=EXCHANGE, subject_token=bad, subject_token_type=ACCESS, audience="api://default", scope="beds.read"), "invalid_grant")
service_only = requests.post(base + "/__mock/tokens", json={"client_id": user_client, "scopes": ["beds.read"]}, timeout=10).json()["token"]
expect_error(token(grant_type=EXCHANGE, subject_token=service_only, subject_token_type=ACCESS, audience="api://default", scope="beds.read"), "invalid_grant")
expect_error(token(grant_type=EXCHANGE, subject_token=user_token, subject_token_type="urn:ietf:params:oauth:token-type:id_token", audience="api://default", scope="beds.read"), "invalid_request")
seen["exchange_refused"] = True

# 3. JWT bearer: an assertion signed with the registered key names the user.
now = mock_now()
assertion = signed({"iss": client_id, "sub": login, "aud": token_endpoint, "iat": now, "exp": now + 300, "jti": str(uuid.uuid4())})
status, body = token(grant_type=BEARER, assertion=assertion, scope="beds.read")
assert status == 200, body
claims = verified(body["access_token"])
assert claims["sub"] == login and claims["cid"] == client_id, claims
seen["jwt_bearer"] = claims["sub"]

# 4. Its negative cases: replay, wrong audience, expired, wrong key, wrong issuer.
expect_error(token(grant_type=BEARER, assertion=assertion, scope="beds.read"), "invalid_grant")
for claims in (
    {"iss": client_id, "sub": login, "aud": base + "/oauth2/other/v1/token", "exp": now + 300, "jti": str(uuid.uuid4())},
    {"iss": client_id, "sub": login, "aud": token_endpoint, "exp": now - 1, "jti": str(uuid.uuid4())},
    {"iss": "someone-else", "sub": login, "aud": token_endpoint, "exp": now + 300, "jti": str(uuid.uuid4())},
    {"iss": client_id, "sub": login, "aud": token_endpoint, "exp": now + 300},
    {"iss": client_id, "sub": "nobody@example.com", "aud": token_endpoint, "exp": now + 300, "jti": str(uuid.uuid4())},
):
    expect_error(token(grant_type=BEARER, assertion=signed(claims), scope="beds.read"), "invalid_grant")
stray = signed({"iss": client_id, "sub": login, "aud": token_endpoint, "exp": now + 300, "jti": str(uuid.uuid4())}, signer=stranger)
expect_error(token(grant_type=BEARER, assertion=stray, scope="beds.read"), "invalid_grant")
seen["jwt_bearer_refused"] = True

print(json.dumps(seen))
