"""Who may see and manage subscriptions and outgoing messages; secrets never read back."""

from odoo.exceptions import AccessError
from odoo.tests import new_test_user, tagged

from ..integration import signatures
from .outbox_common import OutboxCommon


@tagged("post_install", "-at_install")
class TestOutboxSecurity(OutboxCommon):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["ir.config_parameter"].sudo().set_param("shipment_visibility.outbound_allowed_hosts", "127.0.0.1")
        cls.other_company = cls.env["res.company"].create({"name": "Other Co"})
        cls.admin = new_test_user(cls.env, "sv_outbox_admin",
                                  groups="base.group_user,shipment_visibility.group_shipment_integration_admin",
                                  company_id=cls.env.company.id, company_ids=[(6, 0, cls.env.company.ids)])
        cls.manager = new_test_user(cls.env, "sv_outbox_manager",
                                    groups="base.group_user,shipment_visibility.group_shipment_manager")
        cls.secret = signatures.generate_webhook_secret()
        cls.mine = cls.env["shipment.subscription"].create({
            "name": "Ours", "url": "http://127.0.0.1:9/a", "secret": cls.secret})
        cls.theirs = cls.env["shipment.subscription"].create({
            "name": "Theirs", "url": "http://127.0.0.1:9/b", "company_id": cls.other_company.id})

    def test_only_integration_administrators_manage_subscriptions(self):
        with self.assertRaises(AccessError):
            self.env["shipment.subscription"].with_user(self.manager).search([])
        with self.assertRaises(AccessError):
            self.env["shipment.outbox"].with_user(self.manager).search([])
        Subscription = self.env["shipment.subscription"].with_user(self.admin)
        self.assertEqual(Subscription.search([]), self.mine, "another company's subscriptions stay hidden")
        created = Subscription.create({"name": "Admin's", "url": "http://127.0.0.1:9/c"})
        self.assertEqual(created.company_id, self.env.company)

    def test_secret_is_write_only_and_encrypted(self):
        read = self.mine.with_user(self.admin).read(["secret", "has_secret"])[0]
        self.assertEqual((read["secret"], read["has_secret"]), (False, True))
        self.env.cr.execute("SELECT secret_cipher FROM shipment_subscription WHERE id = %s", [self.mine.id])
        stored = self.env.cr.fetchone()[0]
        self.assertNotIn(self.secret, stored)
        self.assertEqual(self.mine._signing_secrets(), [self.secret])

    def test_messages_go_only_to_subscriptions_of_the_shipments_company(self):
        self.env["shipment.shipment"].create({"tracking_number": "SEC1"})
        deliveries = self.Delivery.search([("outbox_id", "in", self.messages_of("SEC1").ids)])
        self.assertEqual(deliveries.subscription_id, self.mine)
