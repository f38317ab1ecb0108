"""RFC 8628 device flow against mock-idp with plain `requests`, as a device would
poll: honour `interval`, grow it on `slow_down`, stop on `access_denied` or
`expired_token`. Waiting is done on the mock's clock (POST /__mock/clock), never
with sleep. Usage: device_flow.py ISSUER CLIENT_ID USER_LOGIN. Prints one JSON
line with what it saw; exits non-zero on any unexpected answer."""

import json
import re
import sys

import requests

issuer, client_id, login = sys.argv[1:4]
base = issuer.split("/oauth2/")[0]
meta = requests.get(issuer + "/.well-known/openid-configuration", timeout=10).json()
device_endpoint = meta["device_authorization_endpoint"]
token_endpoint = meta["token_endpoint"]
GRANT = "urn:ietf:params:oauth:grant-type:device_code"
assert GRANT in meta["grant_types_supported"], meta["grant_types_supported"]
seen = {}


def wait(seconds):
    r = requests.post(base + "/__mock/clock", json={"advance": seconds}, timeout=10)
    r.raise_for_status()


def start():
    r = requests.post(device_endpoint, data={"client_id": client_id, "scope": "openid profile offline_access"}, timeout=10)
    assert r.status_code == 200, r.text
    assert r.headers["Cache-Control"] == "no-store"
    body = r.json()
    assert re.fullmatch(r"[BCDFGHJKLMNPQRSTVWXZ]{8}", body["user_code"]), body
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", body["device_code"]), body
    assert body["verification_uri"] == base + "/activate", body
    assert body["verification_uri_complete"] == base + "/activate?user_code=" + body["user_code"], body
    assert body["expires_in"] == 600 and body["interval"] == 5, body
    return body


def poll(device_code):
    r = requests.post(token_endpoint, data={"grant_type": GRANT, "device_code": device_code, "client_id": client_id}, timeout=10)
    return r.status_code, r.json()


def decide(user_code, action):
    body = {"user_code": user_code, "action": action}
    if action == "approve":
        body["user"] = login
    r = requests.post(base + "/__mock/device", json=body, timeout=10)
    assert r.status_code == 200, r.text


def run_until_done(device, on_pending):
    """Polls as RFC 8628 §3.5 says; returns the final (status, body) and the polls' errors."""
    interval = device["interval"]
    errors = []
    first = True
    while True:
        status, body = poll(device["device_code"])
        if status == 200:
            return status, body, errors
        errors.append(body["error"])
        assert status == 400, (status, body)
        if body["error"] == "slow_down":
            interval += 5
        elif body["error"] == "authorization_pending":
            on_pending(len(errors))
        else:
            return status, body, errors
        if first:
            # Once, poll again at once: a well-behaved device never does, but the
            # server must answer slow_down, and the device must wait longer.
            first = False
            continue
        wait(interval)


# 1. Approved after two pending polls: tokens.
device = start()
status, tokens, errors = run_until_done(device, lambda n: n >= 3 and decide(device["user_code"], "approve"))
assert errors[:2] == ["authorization_pending", "slow_down"], errors
assert tokens["token_type"] == "Bearer", tokens
for field in ("access_token", "id_token", "refresh_token"):
    assert tokens.get(field), tokens
assert tokens["scope"] == "openid profile offline_access", tokens
seen["approved"] = errors
# The code is single use.
status, body = poll(device["device_code"])
assert (status, body["error"]) == (400, "invalid_grant"), body
# The refresh token works with the same client.
r = requests.post(token_endpoint, data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"], "client_id": client_id}, timeout=10)
assert r.status_code == 200, r.text

# 2. Denied: access_denied, then the code is gone.
device = start()
status, body, errors = run_until_done(device, lambda n: decide(device["user_code"], "deny"))
assert (status, body["error"]) == (400, "access_denied"), body
seen["denied"] = errors

# 3. Nobody answers: expired_token after 600 s of mock time.
device = start()
status, body = poll(device["device_code"])
assert body["error"] == "authorization_pending", body
wait(600)
status, body = poll(device["device_code"])
assert (status, body["error"]) == (400, "expired_token"), body
seen["expired"] = True

print(json.dumps(seen))
