from odoo.exceptions import AccessDenied, AccessError, UserError, ValidationError
from odoo.tests import new_test_user, tagged

from ..models.res_users_shipment_api import API_KEY_SCOPE
from .api_common import ApiCommon


@tagged("post_install", "-at_install")
class TestApiServiceAccounts(ApiCommon):

    def test_service_account_is_neither_internal_nor_portal(self):
        """A service account holds the consumer group only: no web client, no portal."""
        account = self.wide_account
        self.assertTrue(account.has_group("shipment_visibility.group_shipment_api_consumer"))
        self.assertFalse(account.has_group("base.group_user"))
        self.assertFalse(account.has_group("base.group_portal"))
        self.assertTrue(account.share)
        with self.assertRaises(ValidationError):
            account.write({"groups_id": [(4, self.env.ref("base.group_user").id)]})

    def test_password_never_logs_a_service_account_in(self):
        """Even with a password set, a service account cannot log in."""
        self.wide_account.sudo().write({"password": "a-long-password-123"})
        with self.assertRaises(AccessDenied):
            self.wide_account.with_user(self.wide_account)._check_credentials(
                {"type": "password", "login": "data-platform", "password": "a-long-password-123"},
                {"interactive": True})
        # A person still logs in with a password.
        person = new_test_user(self.env, "api_person", password="person-password-456")
        person.with_user(person)._check_credentials(
            {"type": "password", "login": "api_person", "password": "person-password-456"}, {"interactive": True})

    def test_key_is_scoped_shown_once_and_listed_without_secret(self):
        """The key opens the API scope only; the wizard forgets it; the form lists name and date."""
        wizard = self.env["shipment.api.key.wizard"].create({"user_id": self.wide_account.id, "name": "warehouse"})
        wizard.action_generate()
        key = wizard.key
        self.assertEqual(len(key), 40)
        Keys = self.env["res.users.apikeys"]
        self.assertEqual(Keys._check_credentials(scope=API_KEY_SCOPE, key=key), self.wide_account.id)
        # Not an RPC key: XML-RPC and JSON-RPC refuse it.
        self.assertFalse(Keys._check_credentials(scope="rpc", key=key))
        wizard.action_done()
        self.assertFalse(wizard.key)
        listed = self.wide_account.api_key_ids.filtered(lambda k: k.name == "warehouse")
        self.assertEqual(listed.scope, API_KEY_SCOPE)
        self.assertTrue(listed.create_date)
        self.assertNotIn(key, str(listed.read(["name", "scope", "create_date"])))
        with self.assertRaises(UserError):
            wizard.action_generate()  # a wizard makes one key

    def test_revoked_key_no_longer_authenticates(self):
        key = self._new_key(self.wide_account, "to revoke")
        record = self.wide_account.api_key_ids.filtered(lambda k: k.name == "to revoke")
        stock_user = new_test_user(self.env, "api_stock", groups="stock.group_stock_user")
        with self.assertRaises(AccessError):
            record.with_user(stock_user).action_shipment_api_revoke()
        record.action_shipment_api_revoke()
        self.assertFalse(self.env["res.users.apikeys"]._check_credentials(scope=API_KEY_SCOPE, key=key))
        self.assertEqual(self.wide_account.shipment_api_key_count, 1)

    def test_write_scopes_are_groups(self):
        account = self.wide_account
        self.assertFalse(account.shipment_api_can_register)
        account.shipment_api_can_register = True
        self.assertTrue(account.has_group("shipment_visibility.group_shipment_api_register"))
        account.shipment_api_can_register = False
        self.assertFalse(account.has_group("shipment_visibility.group_shipment_api_register"))
        self.assertTrue(self.ada_account.has_group("shipment_visibility.group_shipment_api_events"))
        self.assertEqual(self.ada_account._shipment_api_scopes(), ["read", "shipments:write", "events:write"])

    def test_partition_by_record_rules(self):
        """Bound: the customer's shipments only; company-wide: every live shipment, never shadow ones."""
        Shipment = self.env["shipment.shipment"]
        ada_seen = Shipment.with_user(self.ada_account).search([])
        self.assertEqual(set(ada_seen.ids), set((self.parcel_a | self.parcel_b).ids))
        wide_seen = Shipment.with_user(self.wide_account).search([])
        self.assertTrue((self.parcel_a | self.parcel_b | self.stranger_shipment) <= wide_seen)
        self.assertEqual(Shipment.with_user(self.stranger_account).search([]), self.stranger_shipment)
        events = self.env["shipment.event"].with_user(self.ada_account).search([])
        self.assertEqual(events.shipment_id, self.parcel_a | self.parcel_b)
        shadow = Shipment.sudo().create({"tracking_number": "SHADOW1", "company_id": self.env.company.id})
        shadow.sudo().write({"shadow": True})
        self.assertNotIn(shadow, Shipment.with_user(self.wide_account).search([]))
        # Rebinding moves the partition at once (rules are cached per user).
        self.stranger_account.shipment_api_partner_id = self.customer
        self.assertEqual(set(Shipment.with_user(self.stranger_account).search([]).ids),
                         set((self.parcel_a | self.parcel_b).ids))
