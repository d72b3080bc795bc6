"""data/neutralize.sql run by Odoo's own neutralization on the test database."""

from odoo.modules.neutralize import neutralize_database
from odoo.tests import TransactionCase, tagged

from ..controllers.metrics import TOKEN_PARAM


@tagged("post_install", "-at_install")
class TestNeutralize(TransactionCase):
    """A neutralized copy polls nobody, delivers nothing and answers no partner."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = cls.env(context=dict(cls.env.context, tracking_disable=True))
        cls.connector = cls.env["shipment.connector"].create({
            "name": "Production AfterShip", "connector_type": "aftership", "mode": "live",
            "webhook_secret": "production-webhook-secret", "api_key": "production-api-key",
            "api_base_url": "https://api.example.com", "poll_enabled": True,
        })
        cls.env["ir.config_parameter"].set_param(TOKEN_PARAM, "f" * 64)
        cls.env.company.shipment_notify_customers = True

    def neutralize(self):
        self.env.flush_all()
        neutralize_database(self.env.cr)
        self.env.invalidate_all()
        self.env.registry.clear_cache()

    def test_connectors_lose_tokens_secrets_and_polling(self):
        token = self.connector.webhook_token
        self.assertTrue(token)
        self.assertTrue(self.env["shipment.connector"]._webhook_route(token))
        self.assertTrue(self.connector.has_webhook_secret and self.connector.has_api_key)

        self.neutralize()

        self.assertFalse(self.env["shipment.connector"]._webhook_route(token), "the production URL answers 401")
        self.assertFalse(self.connector.webhook_token)
        self.assertFalse(self.connector.poll_enabled)
        self.assertFalse(self.connector.has_webhook_secret)
        self.assertFalse(self.connector.has_api_key)
        self.env.cr.execute("SELECT webhook_secret_cipher, webhook_previous_secret_cipher, api_key_cipher "
                            "FROM shipment_connector")
        self.assertEqual({cell for row in self.env.cr.fetchall() for cell in row}, {None})
        self.assertFalse(self.env["shipment.connector"].search_count([("poll_enabled", "=", True)]))
        self.assertFalse(self.env["ir.config_parameter"].get_param(TOKEN_PARAM))
        self.assertFalse(self.env.company.shipment_notify_customers)
        self.assertFalse(self.env.ref("shipment_visibility.ir_cron_poll_connectors").active)
        self.assertEqual(self.env["ir.config_parameter"].get_param("database.is_neutralized").lower(), "true")

    def test_outgoing_subscriptions_are_disabled_when_the_fan_out_exists(self):
        cr = self.env.cr
        cr.execute("SELECT to_regclass('shipment_subscription')")
        if cr.fetchone()[0] is None:
            # Before the fan-out is installed the table does not exist; one made here, in
            # the test's transaction, proves the statement that will disable its rows.
            cr.execute("CREATE TABLE shipment_subscription (id serial PRIMARY KEY, active boolean)")
            cr.execute("INSERT INTO shipment_subscription (active) VALUES (true), (true)")
        else:
            cr.execute("UPDATE shipment_subscription SET active = true")
        self.neutralize()
        cr.execute("SELECT count(*) FROM shipment_subscription WHERE active")
        self.assertEqual(cr.fetchone()[0], 0)

    def test_neutralize_runs_without_the_fan_out_table(self):
        self.env.cr.execute("SELECT to_regclass('shipment_subscription')")
        if self.env.cr.fetchone()[0] is not None:
            self.env.cr.execute("ALTER TABLE shipment_subscription RENAME TO shipment_subscription_aside")
        self.neutralize()
        self.assertFalse(self.connector.poll_enabled)
