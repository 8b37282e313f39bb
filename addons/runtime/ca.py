"""The CA clients must trust: mitmproxy's own, created on first use, plus a ready-made bundle."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import ssl
import tempfile
from collections import Counter
from pathlib import Path

from mitmproxy import certs
from mitmproxy.options import CONF_BASENAME, CONF_DIR
from OpenSSL import crypto

from ..core import jks, writer

CA_FILE = f"{CONF_BASENAME}-ca-cert.pem"
BUNDLE_FILE = "tapeproxy-ca-bundle.pem"
CA_DIR_PREFIX = "tapeproxy-ca-dir-"
JAVA_STORE_FILE = "tapeproxy-java-truststore.jks"
_PEM = re.compile(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----\n?", re.DOTALL)


def confdir_path(confdir: str | None) -> Path:
    """The confdir as an absolute path: the export lines must work from any directory."""
    return Path(os.path.expanduser(confdir or CONF_DIR)).absolute()


def ensure_ca(confdir: str | None) -> Path:
    """Path of the CA certificate, creating the CA (key mode 0600, as mitmproxy does) if needed."""
    path = confdir_path(confdir)
    if not (path / CA_FILE).is_file() or not (path / f"{CONF_BASENAME}-ca.pem").is_file():
        certs.CertStore.from_store(path, CONF_BASENAME, 2048)  # creates what is missing
    return path / CA_FILE


# Where the system's trust store lives when OpenSSL's own default file is not there (Debian and
# Ubuntu, Fedora and RHEL, Alpine and macOS).
_SYSTEM_FILES = (
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/cert.pem",
)
# What clients were told to trust before `tapeproxy env` pointed these at its bundle.
_TRUST_VARIABLES = ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")


def _pems_of(path: Path) -> list[bytes]:
    """The certificates in a PEM file, or in the files of a directory (OpenSSL's hashed layout)."""
    try:
        if path.is_dir():
            return [pem for f in sorted(path.iterdir()) if f.is_file() for pem in _PEM.findall(f.read_bytes())]
        return _PEM.findall(path.read_bytes())
    except OSError:
        return []


def _trusted_before(own: Path) -> list[bytes]:
    """The system's trust store (OpenSSL's default file or directory), what SSL_CERT_FILE,
    REQUESTS_CA_BUNDLE and CURL_CA_BUNDLE named (a corporate root among them), and certifi's
    roots only where the system has none; never tapeproxy's own bundle or directories."""
    paths = ssl.get_default_verify_paths()
    system = [Path(p) for p in (paths.openssl_cafile, *_SYSTEM_FILES) if p and Path(p).is_file()]
    sources = system[:1] or [Path(p) for p in (paths.openssl_capath,) if p and Path(p).is_dir()]
    sources += [Path(os.environ[v]) for v in _TRUST_VARIABLES if os.environ.get(v)]
    pems = [pem for source in sources if not _is_own(source, own) for pem in _pems_of(source)]
    if not pems:
        try:
            import certifi

            pems = _pems_of(Path(certifi.where()))
        except ImportError:
            pass
    return pems


def _is_own(path: Path, confdir: Path) -> bool:
    """tapeproxy's bundle or CA directory (an earlier `eval "$(tapeproxy env)"` set them)."""
    resolved = path.absolute()
    return resolved.parent == confdir and (resolved.name == BUNDLE_FILE or resolved.name.startswith(CA_DIR_PREFIX))


def _bundle_content(confdir: str | None) -> tuple[Path, bytes]:
    ca = ensure_ca(confdir)
    seen: set[bytes] = set()
    out = []
    for pem in [*_PEM.findall(ca.read_bytes()), *_trusted_before(ca.parent)]:
        pem = pem.strip() + b"\n"
        if pem not in seen:  # the same root in two sources is kept once
            seen.add(pem)
            out.append(pem)
    return ca.parent, b"".join(out)


def ensure_bundle(confdir: str | None) -> Path:
    """The CA plus the system roots, for clients whose CA setting replaces the defaults
    (requests, curl, OpenSSL): tunnelled, non-intercepted hosts keep verifying."""
    return _write_bundle(*_bundle_content(confdir))


def _write_bundle(folder: Path, content: bytes) -> Path:
    bundle = folder / BUNDLE_FILE
    try:
        current = bundle.read_bytes()
    except FileNotFoundError:  # not yet, or removed meanwhile
        current = None
    if current != content:
        writer.replace_atomic(bundle, content)
    return bundle


def ensure_ca_dir(confdir: str | None) -> Path:
    """The bundle's certificates as an OpenSSL hashed directory (`openssl rehash`'s names), for
    requests: it loads a bundle file anew for every new connection (the 230 KB bundle: +15-28 ms
    each, bench/pytest_cost.py), a directory only the certificate a handshake looks up.

    Named by the bundle's digest, built aside and renamed into place whole: a reader sees a
    complete directory or none, and a changed bundle gets a directory of its own.
    """
    return _write_ca_dir(*_bundle_content(confdir))


def _write_ca_dir(folder: Path, content: bytes) -> Path:
    final = folder / f"{CA_DIR_PREFIX}{hashlib.sha256(content).hexdigest()[:16]}"
    if final.is_dir():
        return final
    building = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=folder))
    try:
        taken: Counter[str] = Counter()
        for pem in _PEM.findall(content):
            cert = crypto.load_certificate(crypto.FILETYPE_PEM, pem)
            name = f"{int(cert.subject_name_hash()):08x}"  # typed bytes by pyOpenSSL, an int at run time
            (building / f"{name}.{taken[name]}").write_bytes(pem)  # .0, .1...: OpenSSL tries each in turn
            taken[name] += 1
        for _ in range(3):
            try:
                building.rename(final)
                break
            except OSError:
                if final.is_dir():  # a parallel run built the same directory first
                    break
    finally:
        shutil.rmtree(building, ignore_errors=True)
    return final


def _write_java_store(folder: Path, content: bytes) -> Path:
    """The bundle's certificates as a Java trust store, rewritten only when the bundle changed."""
    store = folder / JAVA_STORE_FILE
    marker = folder / f"{JAVA_STORE_FILE}.sha256"  # the bundle it was made from (a JKS holds a date)
    digest = hashlib.sha256(content).hexdigest()
    try:
        current = marker.read_text()
    except FileNotFoundError:
        current = ""
    if current != digest or not store.is_file():
        ders = [ssl.PEM_cert_to_DER_cert(pem.decode("ascii")) for pem in _PEM.findall(content)]
        mtime_ms = int(os.stat(folder / CA_FILE).st_mtime * 1000) if (folder / CA_FILE).exists() else 0
        writer.replace_atomic(store, jks.trust_store(ders, mtime_ms))
        writer.replace_atomic(marker, digest.encode())
    return store


def client_env(proxy_url: str, confdir: str | None) -> dict[str, str]:
    """Environment that points common clients (Python, curl, Node, Go, Java, OpenSSL) at the proxy,
    and tapeproxy ctl at this instance."""
    from urllib.parse import urlsplit

    folder, content = _bundle_content(confdir)  # the CA and what was trusted before, read once
    bundle = str(_write_bundle(folder, content))
    parts = urlsplit(proxy_url)
    java_store = _write_java_store(folder, content)
    return {
        "HTTPS_PROXY": proxy_url,
        "HTTP_PROXY": proxy_url,
        "REQUESTS_CA_BUNDLE": str(_write_ca_dir(folder, content)),  # requests takes a directory too
        "SSL_CERT_FILE": bundle,
        "CURL_CA_BUNDLE": bundle,
        "NODE_EXTRA_CA_CERTS": str(folder / CA_FILE),
        # Node 22.21+ and 24.5+ route fetch and https through HTTPS_PROXY with this (docs/clients.md)
        "NODE_USE_ENV_PROXY": "1",
        # Java reads neither HTTPS_PROXY nor PEM bundles: system properties, and a trust store of
        # the bundle (mitmproxy's .p12 is not one Java trusts anything in; core/jks.py says why).
        "JAVA_TOOL_OPTIONS": (
            f"-Dhttps.proxyHost={parts.hostname} -Dhttps.proxyPort={parts.port} "
            f"-Dhttp.proxyHost={parts.hostname} -Dhttp.proxyPort={parts.port} "
            f"-Djavax.net.ssl.trustStore={java_store} -Djavax.net.ssl.trustStoreType=JKS"
        ),
        "TAPEPROXY_URL": proxy_url,  # what tapeproxy ctl talks to
    }


def shell_lines(proxy_url: str, confdir: str | None, shell: str = "bash") -> list[str]:
    """Lines that point a shell's clients (Python, Node, curl, Go, Java) at the proxy and its CA."""
    env = client_env(proxy_url, confdir)
    if shell == "fish":
        return [f"set -gx {k} {_quote_posix(v)}" for k, v in env.items()]
    if shell == "powershell":
        return ["$env:{} = '{}'".format(k, v.replace("'", "''")) for k, v in env.items()]
    return [f"export {k}={_quote_posix(v)}" for k, v in env.items()]


def _quote_posix(value: str) -> str:
    import shlex

    return shlex.quote(value) if value else "''"
