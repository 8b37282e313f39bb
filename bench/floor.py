"""The floor: a lean mitmproxy master (the same mitmproxy addons tapeproxy's CLI runs) whose only
other addon answers every request with a fixed response. Prints "listening PORT" when ready."""

import asyncio
import sys

from fixed_addon import FixedResponse
from mitmproxy import options
from mitmproxy.addons import core, errorcheck, next_layer, proxyserver, tlsconfig
from mitmproxy.master import Master


class Ready:
    def running(self):
        from mitmproxy import ctx

        server = next(iter(ctx.master.addons.get("proxyserver").servers))
        print(f"listening {server.listen_addrs[0][1]}", flush=True)


async def main(port: int, confdir: str) -> None:
    master = Master(options.Options(), with_termlog=False)
    master.addons.add(
        errorcheck.ErrorCheck(), core.Core(), proxyserver.Proxyserver(), next_layer.NextLayer(), tlsconfig.TlsConfig()
    )
    master.options.update(connection_strategy="lazy")
    master.addons.add(FixedResponse(), Ready())
    master.options.update(listen_host="127.0.0.1", listen_port=port, confdir=confdir)
    await master.run()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), sys.argv[2]))
