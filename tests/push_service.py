"""A local push service for the tests, standing in for the one a browser subscribes with.

It is a real HTTP endpoint that does what a push service and a browser do together: checks the
VAPID header (an ES256 JWT for this origin, signed by the key it names) and decrypts the
aes128gcm body with the subscription's private key and auth secret (RFC 8291).
"""

from __future__ import annotations

import base64
import json
import os
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import http_ece
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def check_vapid(header: str, origin: str) -> str:
    """The JWT's `sub` if `header` is a valid VAPID authorisation for `origin`, else raises."""
    scheme, _, params = header.partition(" ")
    assert scheme == "vapid", header
    parts = dict(p.strip().split("=", 1) for p in params.split(","))
    token, key = parts["t"], parts["k"]
    head, body, signature = token.split(".")
    public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64(key))
    raw = unb64(signature)
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    public.verify(der, f"{head}.{body}".encode(), ec.ECDSA(hashes.SHA256()))
    claims = json.loads(unb64(body))
    assert claims["aud"] == origin, claims
    assert claims["exp"] > time.time()
    return str(claims["sub"])


@dataclass
class PushService:
    """One browser subscription served on 127.0.0.1:`port`; what it received, decrypted."""

    port: int
    status: int = 201
    private: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    auth: bytes = field(default_factory=lambda: os.urandom(16))
    messages: list[dict[str, object]] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}/push/sub-1"

    def subscription(self) -> str:
        """What `PushManager.subscribe()` would give the page, as JSON."""
        point = self.private.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return json.dumps(
            {"endpoint": self.endpoint, "keys": {"p256dh": b64(point), "auth": b64(self.auth)}}
        )

    def start(self) -> None:
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                try:
                    sub = check_vapid(
                        self.headers["Authorization"], f"http://127.0.0.1:{service.port}"
                    )
                    assert self.headers["Content-Encoding"] == "aes128gcm"
                    plain = http_ece.decrypt(
                        body,
                        private_key=service.private,
                        auth_secret=service.auth,
                        version="aes128gcm",
                    )
                    message = json.loads(plain)
                except (AssertionError, KeyError, ValueError, InvalidSignature) as exc:
                    service.refused.append(repr(exc))
                    self.send_response(400)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                message["_vapid_sub"] = sub
                message["_ttl"] = self.headers.get("TTL")
                if service.status < 300:
                    service.messages.append(message)
                self.send_response(service.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args: object) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
