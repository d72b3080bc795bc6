from . import controllers
from . import models
from . import wizards


def uninstall_hook(env):
    """Remove what the module keeps in SQL outside the ORM's tables.

    Odoo drops the tables of the module's models; the inbox counters' delta table and the
    trigger functions of the counters and of the event rollup were created in SQL (the
    ``init`` of ``shipment.inbox`` and ``shipment.event.rollup``) and would stay behind.
    """
    env.cr.execute("DROP TABLE IF EXISTS shipment_inbox_state_count")
    for function in ("shipment_inbox_state_count_delta", "shipment_event_rollup_add",
                     "shipment_event_rollup_rebuild"):
        env.cr.execute(f"DROP FUNCTION IF EXISTS {function}() CASCADE")
