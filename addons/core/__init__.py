"""The pure core: cassettes, matching, the replay index and API profiles. Never imports mitmproxy."""
