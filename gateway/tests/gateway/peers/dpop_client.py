"""A DPoP client (RFC 9449) made with PyJWT + cryptography: gets a DPoP-bound token from
mock-idp (client_credentials, the use_dpop_nonce round trip), then calls the gateway with
good and bad proofs. Usage: dpop_client.py ISSUER CLIENT_ID CLIENT_SECRET GATEWAY_URL.
Prints one JSON line: each case's status and WWW-Authenticate, and a held proof the Rust
test sends after moving the clock."""

import base64
import hashlib
import json
import sys
import uuid

import jwt
import requests
from cryptography.hazmat.primitives.asymmetric import ec

issuer, client_id, secret, gateway = sys.argv[1:5]
base = issuer.split("/oauth2/")[0]
meta = requests.get(issuer + "/.well-known/openid-configuration", timeout=10).json()
token_endpoint = meta["token_endpoint"]

key = ec.generate_private_key(ec.SECP256R1())
public_jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
other = ec.generate_private_key(ec.SECP256R1())
other_jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(other.public_key()))


def now():
    return requests.get(base + "/__mock/clock", timeout=10).json()["now"]


def ath(token):
    return base64.urlsafe_b64encode(hashlib.sha256(token.encode()).digest()).rstrip(b"=").decode()


def proof(method, url, access_token=None, nonce=None, signer=key, jwk=public_jwk):
    claims = {"htm": method, "htu": url, "iat": now(), "jti": str(uuid.uuid4())}
    if nonce:
        claims["nonce"] = nonce
    if access_token:
        claims["ath"] = ath(access_token)
    return jwt.encode(claims, signer, algorithm="ES256", headers={"typ": "dpop+jwt", "jwk": jwk})


def b64(data):
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


form = {"grant_type": "client_credentials", "scope": "beds.read"}
r = requests.post(token_endpoint, auth=(client_id, secret), data=form,
                  headers={"DPoP": proof("POST", token_endpoint)}, timeout=10)
assert r.status_code == 400 and r.json()["error"] == "use_dpop_nonce", r.text
nonce = r.headers["DPoP-Nonce"]
r = requests.post(token_endpoint, auth=(client_id, secret), data=form,
                  headers={"DPoP": proof("POST", token_endpoint, nonce=nonce)}, timeout=10)
assert r.status_code == 200 and r.json()["token_type"] == "DPoP", r.text
token = r.json()["access_token"]

url = gateway + "/beds/hospitals"


def call(dpop_proof, scheme="DPoP"):
    headers = {"Authorization": f"{scheme} {token}"}
    if dpop_proof is not None:
        headers["DPoP"] = dpop_proof
    r = requests.get(url, headers=headers, timeout=10)
    challenge = r.headers.get("WWW-Authenticate", "")
    # The scheme and the error code: what a client acts on.
    error = challenge.split("error=\"")[1].split("\"")[0] if "error=\"" in challenge else ""
    return [r.status_code, challenge.split(" ")[0], error]


seen = {}
good = proof("GET", url, token)
seen["passes"] = call(good)
seen["replayed_jti"] = call(good)
seen["wrong_htm"] = call(proof("POST", url, token))
seen["wrong_htu"] = call(proof("GET", gateway + "/beds/other", token))
seen["query_not_in_htu"] = call(proof("GET", url + "?page=2", token))
seen["wrong_ath"] = call(proof("GET", url, "another-token"))
seen["key_not_cnf_jkt"] = call(proof("GET", url, token, signer=other, jwk=other_jwk))
seen["bearer_use_of_bound_token"] = call(None, scheme="Bearer")
seen["no_proof"] = call(None)
claims = {"htm": "GET", "htu": url, "iat": now(), "jti": str(uuid.uuid4()), "ath": ath(token)}
seen["alg_none"] = call(b64({"typ": "dpop+jwt", "alg": "none", "jwk": public_jwk}) + "." + b64(claims) + ".")
claims["jti"] = str(uuid.uuid4())
seen["hs256"] = call(jwt.encode(claims, "a-shared-secret-of-32-bytes-long!", algorithm="HS256",
                                headers={"typ": "dpop+jwt", "jwk": public_jwk}))
print(json.dumps({"seen": seen, "token": token, "held_proof": proof("GET", url, token), "url": url}))
