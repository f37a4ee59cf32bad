"""Keys generated in the test and a local JWKS / OIDC discovery endpoint serving them."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa


class KeyPair:
    """A private key and its public JWK."""

    def __init__(self, kind: str, kid: str) -> None:
        self.kid = kid
        if kind == "RS256":
            self.private: Any = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            algo: Any = jwt.algorithms.RSAAlgorithm
        elif kind == "ES256":
            self.private = ec.generate_private_key(ec.SECP256R1())
            algo = jwt.algorithms.ECAlgorithm
        else:
            self.private = ed25519.Ed25519PrivateKey.generate()
            algo = jwt.algorithms.OKPAlgorithm
        self.alg = kind
        self.jwk: dict[str, Any] = json.loads(algo.to_jwk(self.private.public_key()))
        self.jwk.update(kid=kid, use="sig")

    def sign(self, claims: dict[str, Any], **header: Any) -> str:
        return jwt.encode(
            claims, self.private, algorithm=self.alg, headers={"kid": self.kid, **header}
        )


def claims(**extra: Any) -> dict[str, Any]:
    now = int(time.time())
    return {"iat": now, "exp": now + 300, **extra}


class JwksServer:
    """Serves ``/jwks.json`` and ``/.well-known/openid-configuration``; counts fetches."""

    def __init__(self) -> None:
        self.keys: list[KeyPair] = []
        self.fetches = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == "/jwks.json":
                    outer.fetches += 1
                    body = json.dumps({"keys": [k.jwk for k in outer.keys]}).encode()
                elif self.path == "/.well-known/openid-configuration":
                    body = json.dumps(
                        {"issuer": outer.url, "jwks_uri": f"{outer.url}/jwks.json"}
                    ).encode()
                else:
                    self.send_response(404)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def jwks_server() -> Iterator[JwksServer]:
    server = JwksServer()
    yield server
    server.close()
