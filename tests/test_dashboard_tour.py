from odoo.tests import HttpCase, tagged

from .sla_common import SlaHistoryCommon


@tagged("post_install", "-at_install")
class TestDashboardTour(HttpCase, SlaHistoryCommon):
    """In a real browser: the dashboard's tiles and partner table show the seeded figures."""

    def test_manager_reads_dashboard(self):
        self.env.ref("base.user_admin").tz = "UTC"
        self.start_tour("/odoo/action-shipment_visibility.action_shipment_dashboard",
                        "shipment_visibility_dashboard", login="admin")
