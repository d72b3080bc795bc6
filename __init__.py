from . import controllers
from . import models
from . import wizards


def uninstall_hook(env):
    """Remove what the inbox counters keep outside the ORM's tables.

    Odoo drops the tables of the module's models; the counters' delta table and trigger
    function were created in SQL (``shipment.inbox`` ``init``) and would stay behind.
    """
    env.cr.execute("DROP TABLE IF EXISTS shipment_inbox_state_count")
    env.cr.execute("DROP FUNCTION IF EXISTS shipment_inbox_state_count_delta() CASCADE")
