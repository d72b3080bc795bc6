from odoo import models


class ShipmentVisibilityBenchBlob(models.AbstractModel):
    """Owns the bare table of the insert floor route (see ``controllers/floor.py``).

    A plain table rather than a model: an Odoo model adds audit columns with foreign
    keys and an indexed primary key, which is what the floor must leave out.
    """

    _name = "shipment.visibility.bench.blob"
    _description = "Benchmark floor table"

    def init(self):
        self.env.cr.execute("CREATE TABLE IF NOT EXISTS shipment_visibility_bench_blob (body text NOT NULL)")
