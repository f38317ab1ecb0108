"""Pushed authorization requests (RFC 9126) against mock-idp with `requests`, and
the code exchanged with authlib's OAuth2Session (PKCE S256 computed by authlib).
Usage: par_flow.py ISSUER CLIENT_ID CLIENT_SECRET REDIRECT_URI OTHER_CLIENT_ID OTHER_SECRET.
The client must sign in without a page (auto_login). Prints one JSON line."""

import json
import sys
from urllib.parse import parse_qs, urlparse

import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7636 import create_s256_code_challenge

issuer, client_id, secret, redirect_uri, other_id, other_secret = sys.argv[1:7]
base = issuer.split("/oauth2/")[0]
meta = requests.get(issuer + "/.well-known/openid-configuration", timeout=10).json()
par_endpoint = meta["pushed_authorization_request_endpoint"]
assert meta["require_pushed_authorization_requests"] is False, meta
seen = {}


def push(auth=(client_id, secret), **extra):
    verifier = generate_token(64)
    params = {
        "response_type": "code",
        "redirect_uri": redirect_uri,
        "scope": "openid profile",
        "state": "par-state",
        "code_challenge": create_s256_code_challenge(verifier),
        "code_challenge_method": "S256",
    }
    params.update(extra)
    return requests.post(par_endpoint, data=params, auth=auth, timeout=10), verifier


def authorize(request_uri, client=client_id):
    return requests.get(meta["authorization_endpoint"], params={"client_id": client, "request_uri": request_uri}, allow_redirects=False, timeout=10)


# 1. Push, authorize by request_uri, redeem with authlib.
r, verifier = push()
assert r.status_code == 201, r.text
assert r.headers["Cache-Control"] == "no-store"
pushed = r.json()
assert pushed["request_uri"].startswith("urn:okta:"), pushed
assert pushed["expires_in"] == 60, pushed
r = authorize(pushed["request_uri"])
assert r.status_code == 302, (r.status_code, r.text)
location = urlparse(r.headers["Location"])
assert location.geturl().startswith(redirect_uri), location
query = parse_qs(location.query)
assert query["state"] == ["par-state"], query
session = OAuth2Session(client_id, secret, token_endpoint_auth_method="client_secret_basic")
token = session.fetch_token(meta["token_endpoint"], grant_type="authorization_code", code=query["code"][0], redirect_uri=redirect_uri, code_verifier=verifier)
assert token["token_type"] == "Bearer" and token["id_token"] and token["access_token"], token
seen["redeemed"] = True

# 2. The request_uri is single use.
r = authorize(pushed["request_uri"])
assert r.status_code == 400 and "text/html" in r.headers["Content-Type"], (r.status_code, r.text)
assert "request_uri" in r.text, r.text
seen["replay"] = r.status_code

# 3. Another client cannot use it.
r, _ = push()
uri = r.json()["request_uri"]
assert authorize(uri, client=other_id).status_code == 400
seen["other_client"] = True

# 4. It expires after 60 s of mock time.
r, _ = push()
uri = r.json()["request_uri"]
requests.post(base + "/__mock/clock", json={"advance": 61}, timeout=10).raise_for_status()
assert authorize(uri).status_code == 400
seen["expired"] = True

# 5. Client authentication is required, and the parameters are checked at push time.
r, _ = push(auth=(client_id, "wrong-secret"))
assert r.status_code == 401 and r.json()["error"] == "invalid_client", r.text
r, _ = push(redirect_uri="https://attacker.example/cb")
assert r.status_code == 400 and r.json()["error"] == "invalid_request", r.text
r, _ = push(request_uri="urn:okta:nested")
assert r.status_code == 400 and r.json()["error"] == "invalid_request", r.text
r, _ = push(scope="nope")
assert r.status_code == 400 and r.json()["error"] == "invalid_scope", r.text
seen["refused"] = True

print(json.dumps(seen))
