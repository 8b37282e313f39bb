"""How the control API is reached: shared by the addon that serves it and `tapeproxy ctl`, which
must not import mitmproxy to learn two strings."""

CONTROL_HOST = "tapeproxy"  # the control API's host, reached through the proxy (see control.py)
CONTROL_TOKEN_HEADER = "X-Tapeproxy-Token"  # how non-loopback callers prove they may use it
