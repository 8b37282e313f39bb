"""How the control API is reached: shared by the addon that serves it and `tapeproxy ctl`, which
must not import mitmproxy to learn two strings."""

CONTROL_HOST = "tapeproxy"  # the control API's host, reached through the proxy (see control.py)
CONTROL_TOKEN_HEADER = "X-Tapeproxy-Token"  # how non-loopback callers prove they may use it
# Every control API answer: never cached, never sniffed, never framed by another site's page
# (a framed dashboard could be clicked by a user who does not know it is there).
CONTROL_HEADERS = (
    ("Cache-Control", "no-store"),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Content-Security-Policy", "frame-ancestors 'none'"),
)
