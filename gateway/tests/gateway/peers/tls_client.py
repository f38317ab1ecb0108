"""A real Python TLS client for the gateway's TLS listener tests.

  tls_client.py handshake HOST PORT SNI CAFILE [MAXVERSION]  -> {"san", "version", "alpn"}
  tls_client.py get URL CAFILE TOKEN [CERT KEY]                -> {"status", "http_version", "body"}
  tls_client.py resume HOST PORT SNI CAFILE MAXVERSION         -> {"first_reused", "second_reused"}

`get` uses httpx with HTTP/2 enabled (ALPN offers h2 and http/1.1).
"""
import json
import socket
import ssl
import sys


def handshake(host, port, sni, cafile, max_version=None):
    ctx = ssl.create_default_context(cafile=cafile)
    ctx.set_alpn_protocols(["h2", "http/1.1"])
    if max_version == "1.2":
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    with socket.create_connection((host, int(port)), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname=sni) as tls:
            cert = tls.getpeercert()
            return {
                "san": [v for (k, v) in cert.get("subjectAltName", []) if k == "DNS"],
                "version": tls.version(),
                "alpn": tls.selected_alpn_protocol(),
            }


def resume(host, port, sni, cafile, max_version):
    """Two connections, the second offering the session (ticket) the first was given."""
    ctx = ssl.create_default_context(cafile=cafile)
    ctx.set_alpn_protocols(["http/1.1"])
    if max_version == "1.2":
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    session, reused = None, []
    for _ in range(2):
        with socket.create_connection((host, int(port)), timeout=10) as raw:
            with ctx.wrap_socket(raw, server_hostname=sni, session=session) as tls:
                # TLS 1.3 tickets come after the handshake: read a whole answer first.
                tls.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                while tls.recv(65536):
                    pass
                reused.append(tls.session_reused)
                session = tls.session
    return {"first_reused": reused[0], "second_reused": reused[1]}


def get(url, cafile, token, cert=None, key=None):
    import httpx

    ctx = ssl.create_default_context(cafile=cafile)
    if cert:
        ctx.load_cert_chain(cert, key)
    with httpx.Client(http2=True, verify=ctx, timeout=10) as client:
        try:
            r = client.get(url, headers={"Authorization": f"Bearer {token}"})
        except httpx.HTTPError as e:
            return {"error": type(e).__name__}
        return {"status": r.status_code, "http_version": r.http_version, "body": r.text}


if __name__ == "__main__":
    mode, args = sys.argv[1], sys.argv[2:]
    try:
        out = {"handshake": handshake, "resume": resume, "get": get}[mode](*args)
    except (ssl.SSLError, OSError) as e:
        out = {"error": type(e).__name__, "message": str(e)}
    print(json.dumps(out))
