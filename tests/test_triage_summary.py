from datetime import datetime, timedelta, timezone

from odoo.exceptions import AccessError
from odoo.tests import tagged

from ..integration.events import CanonicalEvent
from .common import ShipmentCommon, store_events

MONDAY = datetime(2026, 11, 16, 8, 0, tzinfo=timezone.utc)


@tagged("post_install", "-at_install")
class TestCaseSummary(ShipmentCommon):
    """The shipment's story, the same words every time, in the reader's language."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["res.lang"]._activate_lang("fr_FR")
        cls.env["ir.module.module"]._load_module_terms(["shipment_visibility"], ["fr_FR"], overwrite=True)
        cls.shipment = cls.env["shipment.shipment"].create({"tracking_number": "STORY1", "carrier_id": cls.carrier.id})
        steps = [("picked_up", 0, "Brussels", None), ("customs_hold", 26, "Brussels", "customs_documents"),
                 ("in_transit", 74, "", None), ("delivery_attempted", 97, "Paris", "recipient_unavailable"),
                 ("delivered", 171, "Paris", None)]
        store_events(cls.env, [CanonicalEvent("STORY1", milestone, MONDAY + timedelta(hours=hours), city=city,
                                              reason=reason) for milestone, hours, city, reason in steps],
                     shipments={"STORY1": cls.shipment})

    def test_summary_in_english(self):
        self.assertEqual(
            self.shipment.with_context(lang="en_US")._case_summary(),
            "Picked up Monday 16 November in Brussels; held in customs in Brussels for 2 days, customs documents; "
            "delivery attempted Friday 20 November, recipient unavailable; delivered Monday 23 November in Paris.")

    def test_summary_in_french(self):
        self.assertEqual(
            self.shipment.with_context(lang="fr_FR")._case_summary(),
            "Pris en charge lundi 16 novembre à Brussels; retenu en douane à Brussels pendant 2 jours, documents "
            "douaniers; livraison tentée vendredi 20 novembre, destinataire absent; livré lundi 23 novembre à Paris.")

    def test_summary_of_a_parcel_on_its_way_and_of_none(self):
        moving = self.env["shipment.shipment"].create({"tracking_number": "STORY2", "carrier_id": self.carrier.id})
        self.assertEqual(moving._case_summary(), "No carrier scan yet.")
        store_events(self.env, [CanonicalEvent("STORY2", "picked_up", MONDAY, city="Brussels"),
                                CanonicalEvent("STORY2", "arrived_at_facility", MONDAY + timedelta(hours=20),
                                               city="Lille")], shipments={"STORY2": moving})
        self.assertEqual(moving.with_context(lang="en_US")._case_summary(),
                         "Picked up Monday 16 November in Brussels; now “arrived at facility” in Lille since "
                         "Tuesday 17 November.")

    def test_contact_carrier_mail_carries_the_story(self):
        exception = self.env["shipment.exception"].create({"shipment_id": self.shipment.id, "kind": "carrier",
                                                           "reason": "other"})
        action = exception.with_context(lang="en_US").action_contact_carrier()
        self.assertIn("Picked up Monday 16 November in Brussels", action["context"]["default_body"])


@tagged("post_install", "-at_install")
class TestExceptionTriage(ShipmentCommon):
    """Suggestions learned from resolved exceptions, confirmed by a manager, never applied silently."""

    # Carrier jargon no rule knows: the desk taught the reasons by hand.
    TEXTS = [("Linehaul cancelled, hub shut by wind", "weather"), ("Hub shut, linehaul suspended", "weather"),
             ("Trucks grounded, hub shut", "weather"), ("Road closures, linehaul suspended", "weather"),
             ("Consignee at work, try again", "recipient_unavailable"),
             ("Consignee at work, card dropped", "recipient_unavailable"),
             ("Consignee moved away", "address_issue")]
    PROBLEM = "Hub shut tonight, linehaul cancelled"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company.shipment_triage_confidence = 60
        cls.count = 0

    def _carrier_exception(self, description):
        type(self).count += 1
        number = f"TRIAGE{self.count}"
        shipment = self.env["shipment.shipment"].create({"tracking_number": number, "carrier_id": self.carrier.id})
        event = store_events(self.env, [CanonicalEvent(number, "exception", MONDAY, description=description)],
                             shipments={number: shipment})
        self.env["shipment.workflow"]._run(shipment)
        exception = shipment.exception_ids.filtered(lambda e: e.kind == "carrier")
        self.assertEqual(exception.event_id, event)
        return exception

    def _resolve_as(self, exception, reason):
        exception.reason = reason  # the desk corrected the rule-based reason by hand
        exception._resolve("checked with the carrier")

    def test_suggestions_improve_with_resolved_examples_and_need_a_manager(self):
        first = self._carrier_exception(self.PROBLEM)
        self.assertEqual(first.reason, "other", "no rule knows these words")
        self.assertFalse(first.suggested_reason, "nothing learned yet")
        for text, reason in self.TEXTS:
            self._resolve_as(self._carrier_exception(text), reason)
        second = self._carrier_exception(self.PROBLEM)
        self.assertEqual(second.reason, "other", "the rule-based reason stays")
        self.assertEqual(second.suggested_reason, "weather")
        self.assertGreaterEqual(second.suggestion_confidence, 60)
        self.assertLessEqual(second.suggestion_confidence, 100)
        user = self.env["res.users"].create({
            "name": "Desk user", "login": "triage_user",
            "groups_id": [(6, 0, [self.env.ref("shipment_visibility.group_shipment_user").id])]})
        with self.assertRaises(AccessError):
            second.with_user(user).action_accept_suggestion()
        self.assertEqual(second.reason, "other")
        second.action_accept_suggestion()
        self.assertEqual((second.reason, second.suggested_reason), ("weather", False))
        self.assertIn("suggested", second.message_ids[0].body)

    def test_automatically_closed_exceptions_teach_nothing(self):
        for text, reason in self.TEXTS:
            exception = self._carrier_exception(text)
            exception.reason = reason
            exception._resolve("superseded", auto=True)
        self.assertFalse(self._carrier_exception(self.PROBLEM).suggested_reason)


@tagged("post_install", "-at_install")
class TestDeskPriority(ShipmentCommon):
    """Priority = risk × order value × customer importance, each factor switchable."""

    def test_important_customers_and_risky_shipments_come_first(self):
        key_account = self.env["res.partner"].create({"name": "Key Account", "shipment_importance": 3})
        Exception_ = self.env["shipment.exception"]
        shipments = self.env["shipment.shipment"].create([
            {"tracking_number": "PRIO1", "carrier_id": self.carrier.id, "partner_id": self.customer.id},
            {"tracking_number": "PRIO2", "carrier_id": self.carrier.id, "partner_id": key_account.id}])
        ordinary, key = Exception_.create([{"shipment_id": s.id, "kind": "carrier", "reason": "other"}
                                           for s in shipments])
        self.assertAlmostEqual(ordinary.priority_score, 0.7)
        self.assertAlmostEqual(key.priority_score, 2.1)
        shipments[0].sudo().late_probability = 90.0  # the prediction raises the risk
        self.assertAlmostEqual(ordinary.priority_score, 0.9)
        self.company.shipment_priority_use_importance = False
        self.assertAlmostEqual(key.priority_score, 0.7)
