"""DPoP (RFC 9449) against mock-idp as Okta's DPoP guide runs it: proofs made with
PyJWT + cryptography (EC P-256), the use_dpop_nonce round trip, a DPoP-bound
access token (token_type DPoP, cnf.jkt = this key's RFC 7638 thumbprint),
introspection, and userinfo with the DPoP scheme and an `ath` proof.
Usage: dpop_flow.py ISSUER CLIENT_ID CLIENT_SECRET LOGIN PASSWORD. Prints one JSON line."""

import base64
import hashlib
import json
import sys
import uuid

import jwt
import requests
from cryptography.hazmat.primitives.asymmetric import ec

issuer, client_id, secret, login, password = sys.argv[1:6]
base = issuer.split("/oauth2/")[0]
meta = requests.get(issuer + "/.well-known/openid-configuration", timeout=10).json()
token_endpoint = meta["token_endpoint"]
assert "ES256" in meta["dpop_signing_alg_values_supported"], meta
seen = {}

key = ec.generate_private_key(ec.SECP256R1())
public_jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
canonical = json.dumps({k: public_jwk[k] for k in ("crv", "kty", "x", "y")}, separators=(",", ":"), sort_keys=True)
jkt = base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=").decode()


def now():
    return requests.get(base + "/__mock/clock", timeout=10).json()["now"]


def proof(method, url, nonce=None, access_token=None, signer=key, jwk=public_jwk, typ="dpop+jwt"):
    claims = {"htm": method, "htu": url, "iat": now(), "jti": str(uuid.uuid4())}
    if nonce:
        claims["nonce"] = nonce
    if access_token:
        claims["ath"] = base64.urlsafe_b64encode(hashlib.sha256(access_token.encode()).digest()).rstrip(b"=").decode()
    return jwt.encode(claims, signer, algorithm="ES256", headers={"typ": typ, "jwk": jwk})


form = {"grant_type": "password", "username": login, "password": password, "scope": "openid profile"}


def token_request(dpop_proof):
    return requests.post(token_endpoint, auth=(client_id, secret), data=form, headers={"DPoP": dpop_proof}, timeout=10)


# 1. Without a nonce: use_dpop_nonce and a DPoP-Nonce header.
r = token_request(proof("POST", token_endpoint))
assert r.status_code == 400 and r.json()["error"] == "use_dpop_nonce", r.text
nonce = r.headers["DPoP-Nonce"]
# 2. With it: a DPoP-bound token.
good = proof("POST", token_endpoint, nonce=nonce)
r = token_request(good)
assert r.status_code == 200, r.text
body = r.json()
assert body["token_type"] == "DPoP", body
access = body["access_token"]
claims = jwt.decode(access, options={"verify_signature": False})
assert claims["cnf"] == {"jkt": jkt}, claims
seen["bound"] = True
# 3. The same proof again, another URL, another method, a private key in jwk, bad typ: refused.
assert token_request(good).json()["error"] == "invalid_dpop_proof"
for bad in (
    proof("POST", base + "/oauth2/other/v1/token", nonce=nonce),
    proof("GET", token_endpoint, nonce=nonce),
    proof("POST", token_endpoint, nonce=nonce, typ="JWT"),
    proof("POST", token_endpoint, nonce=nonce, jwk=json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key))),
    proof("POST", token_endpoint, nonce=nonce, signer=ec.generate_private_key(ec.SECP256R1())),
    proof("POST", token_endpoint, nonce="not-a-nonce-we-issued"),
):
    r = token_request(bad)
    assert r.status_code == 400 and r.json()["error"] in ("invalid_dpop_proof", "use_dpop_nonce"), r.text
seen["refused"] = True
# 4. Introspection shows the binding.
r = requests.post(meta["introspection_endpoint"], auth=(client_id, secret), data={"token": access}, timeout=10)
intro = r.json()
assert intro["active"] is True and intro["token_type"] == "DPoP" and intro["cnf"] == {"jkt": jkt}, intro
# 5. Userinfo: DPoP scheme plus a proof with ath; Bearer is refused for a bound token.
userinfo = meta["userinfo_endpoint"]
r = requests.get(userinfo, headers={"Authorization": "DPoP " + access, "DPoP": proof("GET", userinfo, access_token=access)}, timeout=10)
assert r.status_code == 200 and r.json()["sub"], (r.status_code, r.text)
r = requests.get(userinfo, headers={"Authorization": "Bearer " + access}, timeout=10)
assert r.status_code == 401 and r.headers["WWW-Authenticate"].startswith("DPoP"), (r.status_code, r.headers)
r = requests.get(userinfo, headers={"Authorization": "DPoP " + access, "DPoP": proof("GET", userinfo)}, timeout=10)
assert r.status_code == 401, "a proof without ath"
seen["userinfo"] = True
print(json.dumps(seen))
