import importlib.util
from datetime import date
from pathlib import Path

from odoo.tests import TransactionCase, tagged


def _load_generator():
    path = Path(__file__).resolve().parents[1] / "tools" / "generate_history.py"
    spec = importlib.util.spec_from_file_location("shipment_visibility_generate_history", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@tagged("post_install", "-at_install")
class TestHistoryGenerator(TransactionCase):
    """The generated history is what the module itself would have stored, and the model learns from it."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.generator = _load_generator()
        cls.end = date(2026, 11, 30)
        cls.simulated = cls.generator.simulate(400, seed=3, end=cls.end, months=6)
        cls.ids = cls.generator.write(cls.env, cls.simulated)

    def test_same_seed_same_history(self):
        again = self.generator.simulate(400, seed=3, end=self.end, months=6)
        self.assertEqual(again, self.simulated)
        self.assertNotEqual(self.generator.simulate(400, seed=4, end=self.end, months=6), self.simulated)

    def test_shipments_are_derived_like_the_processor_does(self):
        shipments = self.env["shipment.shipment"].browse(self.ids)
        self.assertEqual(len(shipments), 400)
        sample = shipments[:40]
        stored = {s.id: (s.status, s.delivered_at, s.shipped_at, s.eta, s.event_count) for s in sample}
        sample.invalidate_recordset()
        sample._compute_state_from_events()
        derived = {s.id: (s.status, s.delivered_at, s.shipped_at, s.eta, s.event_count) for s in sample}
        self.assertEqual(stored, derived)
        delivered = shipments.filtered(lambda s: s.status == "delivered")
        self.assertGreater(len(delivered), 300)
        self.assertTrue(shipments.filtered(lambda s: not s.is_terminal), "the last days are still in transit")
        self.assertTrue(self.env["shipment.event"].search_count([("shipment_id", "in", self.ids),
                                                                  ("reason", "!=", False)]))

    def test_model_learns_lanes_and_predicts_open_shipments(self):
        company = self.env.company
        company.shipment_prediction_min_samples = 10
        lanes = self.env["shipment.transit.lane"]._refresh(company, today=self.end)
        self.assertGreater(lanes, 4)
        express = self.env["shipment.transit.lane"].search([("carrier_id.name", "=", "SwiftAir Express"),
                                                           ("level", "=", "carrier")])
        ground = self.env["shipment.transit.lane"].search([("carrier_id.name", "=", "EuroParcel Standard"),
                                                          ("level", "=", "carrier")])
        self.assertLess(express.p50_days, ground.p50_days, "express is faster than ground")
        refreshed = self.env["shipment.shipment"]._refresh_open_predictions(company)
        self.assertTrue(refreshed)
        open_shipments = self.env["shipment.shipment"].browse(self.ids).filtered(lambda s: not s.is_terminal)
        self.assertTrue(all(open_shipments.mapped("predicted_delivery")))
