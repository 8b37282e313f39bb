"""A Java trust store (JKS) of trusted certificates, written in pure Python.

Java reads neither HTTPS_PROXY nor PEM files: it trusts what `javax.net.ssl.trustStore` holds.
mitmproxy's `mitmproxy-ca-cert.p12` holds its CA as a PKCS12 certificate bag without Java's
"trusted certificate" attribute, so Java loads it as a store with no trust anchors and refuses
every handshake ("the trustAnchors parameter must be non-empty"). JKS has one entry kind for a
trusted certificate, and its layout is small: magic, version, count, then per entry its tag (2),
alias, date, type and DER bytes, then a SHA-1 over the password, a fixed phrase and all of it.
A store read with no password (no `trustStorePassword`) is not checked against that digest; one
read with keytool's default password, "changeit", is.
"""

from __future__ import annotations

import hashlib
import struct

MAGIC = 0xFEEDFEED
VERSION = 2
TRUSTED_CERT = 2
PHRASE = b"Mighty Aphrodite"  # the JDK's JavaKeyStore integrity salt
DEFAULT_PASSWORD = "changeit"


def _utf(text: str) -> bytes:
    data = text.encode("utf-8")  # aliases here are ASCII, where Java's modified UTF-8 is the same
    return struct.pack(">H", len(data)) + data


def trust_store(certificates: list[bytes], created_ms: int, password: str = DEFAULT_PASSWORD) -> bytes:
    """A JKS store trusting each DER certificate (aliases cert-0, cert-1, ...)."""
    out = bytearray(struct.pack(">III", MAGIC, VERSION, len(certificates)))
    for n, der in enumerate(certificates):
        out += struct.pack(">I", TRUSTED_CERT) + _utf(f"cert-{n}") + struct.pack(">q", created_ms)
        out += _utf("X.509") + struct.pack(">I", len(der)) + der
    key = password.encode("utf-16-be")  # Java's chars, two bytes each
    return bytes(out) + hashlib.sha1(key + PHRASE + bytes(out)).digest()
