"""Start Odoo like ``odoo-bin``, without the websocket (gevent) process of prefork mode.

Usage: ``<venv python> benchmarks/serve.py <odoo tree> <odoo-bin options…>``.

With ``--workers`` Odoo also spawns a gevent process for websockets, and respawns it
whenever it exits. Nothing in the benchmarks uses websockets, and in an environment
where that process cannot start (it dies on import) the endless respawning would eat
the CPU being measured, so the benchmark server runs without it. Workers are forked
from this process, so the change applies to all of them.
"""

import sys


def main():
    tree = sys.argv.pop(1)
    sys.path.insert(0, tree)
    import odoo
    from odoo.service import server

    server.PreforkServer.long_polling_spawn = lambda self: None
    odoo.cli.main()


if __name__ == "__main__":
    main()
