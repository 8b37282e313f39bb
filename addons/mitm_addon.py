"""tapeproxy for mitmdump and mitmweb users:

    mitmdump -s addons/mitm_addon.py --listen-host 127.0.0.1 --set tapeproxy_cassettes=cassettes/graph-print-tasks.yaml
    mitmweb  -s addons/mitm_addon.py --listen-host 127.0.0.1 --set tapeproxy_cassettes=cassettes/box-tasks.yaml

Every tapeproxy option is a mitmproxy option (`tapeproxy_*`, see `mitmdump --options`).
"""

from tapeproxy.assembly import Tapeproxy

addons = [Tapeproxy()]
