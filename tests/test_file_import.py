"""Partner files (ANSI X12 214, CSV): upload wizard, inbound-folder watcher, one message per shipment."""

import base64
import hashlib
import os
import shutil
import tempfile
import time
from datetime import datetime
from pathlib import Path

from odoo.exceptions import UserError, ValidationError
from odoo.tests import TransactionCase, new_test_user, tagged
from odoo.tools import mute_logger

FIXTURES = Path(__file__).resolve().parent / "pure" / "fixtures"
CONNECTOR_LOGGER = "odoo.addons.shipment_visibility.models.shipment_connector_files"
SEMICOLON_OPTIONS = """{
    "delimiter": ";",
    "date_format": "%d/%m/%Y %H:%M",
    "columns": {"tracking_number": "Waybill", "status": "Event", "occurred_at": "Date",
                "city": "Town", "region": "State", "country": "Country", "description": "Remark"}
}"""


def fixture(*parts):
    return FIXTURES.joinpath(*parts).read_bytes()


def generated_214(count, control=901):
    """An X12 214 interchange with ``count`` transaction sets, one shipment each."""
    isa = ("ISA*00*          *00*          *ZZ*GENCARRIER     *ZZ*ACMESHIPPER    *250718*0600*U*00401*"
           f"{control:09d}*0*P*>~")
    lines = [isa, f"GS*QM*GENCARRIER*ACMESHIPPER*20250718*0600*{control}*X*004010~"]
    for number in range(1, count + 1):
        st = f"{number:06d}"
        lines += [f"ST*214*{st}~", f"B10*GEN{number:07d}*S{number}*GENC~", "LX*1~",
                  "AT7*X6*NS***20250718*0545*PT~", "MS1*RENO*NV*US~", f"SE*6*{st}~"]
    lines += [f"GE*{count}*{control}~", f"IEA*1*{control:09d}~"]
    return ("\n".join(lines) + "\n").encode()


@tagged("post_install", "-at_install")
class TestFileImport(TransactionCase):
    """Each shipment of a file is one inbox message; a bad part fails alone; re-imports add nothing."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = cls.env(context=dict(cls.env.context, tracking_disable=True))
        Connector = cls.env["shipment.connector"]
        cls.edi = Connector.create({"name": "Files X12", "connector_type": "edi_x12_214", "mode": "shadow"})
        cls.csv = Connector.create({"name": "Files CSV", "connector_type": "csv", "mode": "shadow"})
        cls.manager = new_test_user(cls.env, "sv_file_manager", groups="shipment_visibility.group_shipment_manager")

    def _messages(self, connector):
        return self.env["shipment.inbox"].search([("connector_id", "=", connector.id)], order="id")

    def _shipment(self, number):
        return self.env["shipment.shipment"].search([("tracking_number", "=", number)])

    def _process(self):
        self.env["shipment.inbox"]._cron_process_inbox()

    # -------------------------------------------------------------- X12 214

    def test_edi_file_with_two_interchanges_gives_one_message_per_shipment(self):
        counts = self.edi._import_file("carriers.edi", fixture("edi", "two_interchanges_crlf.edi"))
        self.assertEqual((counts["imported"], counts["failed"], counts["duplicates"]), (4, 1, 0))
        messages = self._messages(self.edi)
        self.assertEqual(len(messages), 5)
        self.assertEqual(set(messages.mapped("source")), {"file"})
        self.assertEqual(sorted(messages.ids), sorted(counts["message_ids"]))
        self.assertIn("carriers.edi, line 3", messages.mapped("file_name"))

        failed = messages.filtered(lambda m: m.state == "failed")
        self.assertEqual(len(failed), 1, "the bad date fails only its own shipment")
        self.assertTrue(failed.last_error.startswith("line 23: "), failed.last_error)
        self.assertIn("not a CCYYMMDD date", failed.last_error)
        self.assertEqual(failed.file_name, "carriers.edi, line 20")

        self._process()
        self.assertEqual(set((messages - failed).mapped("state")), {"done"})
        self.assertFalse(self._shipment("PRO1002"), "nothing of the failed part was stored")
        delay = self._shipment("PRO1001").event_ids.filtered(lambda e: e.milestone == "delayed")
        self.assertEqual(len(delay), 1)
        self.assertEqual((delay.raw_code, delay.reason, delay.city), ("SD", "weather", "Dallas"))
        self.assertEqual(self._shipment("PRO2001").status, "customs_hold", "SD with reason CA is a customs hold")
        self.assertEqual(self._shipment("SHIP-3").status, "delivered", "B10-02 when B10-01 is empty")

    def test_same_file_twice_and_its_no_newline_variant_create_nothing_new(self):
        self.edi._import_file("a.edi", fixture("edi", "two_interchanges_crlf.edi"))
        before = self._messages(self.edi)
        again = self.edi._import_file("a-resent.edi", fixture("edi", "two_interchanges_crlf.edi"))
        self.assertEqual((again["imported"], again["failed"], again["duplicates"]), (0, 0, 5))
        # The same interchanges without line breaks: same control numbers, same shipments.
        packed = self.edi._import_file("a-packed.edi", fixture("edi", "two_interchanges_packed.edi"))
        self.assertEqual((packed["imported"], packed["failed"], packed["duplicates"]), (0, 0, 5))
        self.assertEqual(self._messages(self.edi), before)

    def test_no_newline_file_fails_its_bad_part_on_line_1(self):
        connector = self.edi.copy({"name": "Files X12 packed"})
        counts = connector._import_file("packed.edi", fixture("edi", "two_interchanges_packed.edi"))
        self.assertEqual((counts["imported"], counts["failed"]), (4, 1))
        failed = self._messages(connector).filtered(lambda m: m.state == "failed")
        self.assertTrue(failed.last_error.startswith("line 1: AT7"), failed.last_error)

    def test_wrong_segment_counts_fail_only_their_parts(self):
        counts = self.edi._import_file("counts.edi", fixture("edi", "wrong_counts.edi"))
        self.assertEqual((counts["imported"], counts["failed"]), (1, 1))
        errors = self._messages(self.edi).filtered(lambda m: m.state == "failed").mapped("last_error")
        self.assertEqual(len(errors), 1)
        self.assertTrue(errors[0].startswith("line 8: SE01"), errors)
        # The group count is off because of the broken set: a warning, no lost part.
        self.assertEqual(len(counts["warnings"]), 1)
        self.assertTrue(counts["warnings"][0].startswith("line 15: GE01"), counts["warnings"])
        self._process()
        self.assertEqual(self._shipment("PRO3002").status, "delivered")
        self.assertFalse(self._shipment("PRO3001"))

    def test_a_file_that_is_not_x12_is_refused_whole(self):
        with self.assertRaisesRegex(UserError, "not an X12 file"):
            self.edi._import_file("notes.txt", b"hello, this is not EDI\n")
        self.assertFalse(self._messages(self.edi))

    def test_files_over_the_size_limit_are_refused_whole(self):
        self.env["ir.config_parameter"].sudo().set_param("shipment_visibility.max_file_megabytes", "0.001")
        with self.assertRaisesRegex(UserError, "more than the 0.001 MB"):
            self.edi._import_file("big.edi", fixture("edi", "two_interchanges_crlf.edi"))
        self.assertFalse(self._messages(self.edi))

    def test_large_files_report_progress(self):
        seen = []
        counts = self.edi._import_file("big.edi", generated_214(1200), progress=lambda done, total: seen.append(
            (done, total)))
        self.assertEqual(counts["imported"], 1200)
        self.assertEqual(seen, [(500, 1200), (1000, 1200)])

    def test_batch_store_dedups_like_storing_one_by_one(self):
        Inbox = self.env["shipment.inbox"]
        stored_id, _created, _correlation = Inbox._enqueue(self.csv, b"already stored", {}, source="file",
                                                           external_id="EXT-1")
        results = Inbox._enqueue_batch(self.csv, [
            (b"new one", None, "f, line 1"),
            (b"already stored", None, "f, line 2"),  # the body of a message stored before
            (b"another body", "EXT-1", "f, line 3"),  # the partner id of a message stored before
            (b"new one", None, "f, line 4"),  # a body earlier in this batch
            (b"\xff not UTF-8", None, "f, line 5"),
            (b"a NUL \x00 byte", None, "f, line 6"),
            (b"second new", "EXT-2", "f, line 7"),
            (b"third body", "EXT-2", "f, line 8"),  # a partner id earlier in this batch
        ])
        first_new, second_new = results[0][0], results[6][0]
        self.assertEqual(results, [
            (first_new, True), (stored_id, False), (stored_id, False), (first_new, False),
            None, None, (second_new, True), (second_new, False),
        ])
        created = Inbox.browse([first_new, second_new])
        self.assertEqual(created.mapped("file_name"), ["f, line 1", "f, line 7"])
        self.assertEqual(created.mapped("body"), ["new one", "second new"])
        self.assertEqual(created.mapped("external_id"), [False, "EXT-2"])
        self.assertEqual(set(created.mapped("state")), {"pending"})
        self.assertEqual(created.mapped("company_id"), self.csv.company_id)
        self.assertEqual(len(set(created.mapped("correlation_id"))), 2)
        self.assertEqual((created[0].body_sha256, created[0].body_size),
                         (hashlib.sha256(b"new one").hexdigest(), 7))
        # One by one, the same messages are found again.
        self.assertEqual(Inbox._enqueue(self.csv, b"new one", {}, source="file")[:2], (first_new, False))
        self.assertEqual(Inbox._enqueue(self.csv, b"x", {}, source="file", external_id="EXT-2")[:2],
                         (second_new, False))
        self.assertEqual(Inbox._enqueue_batch(self.csv, []), [])

    # -------------------------------------------------------------- CSV

    def test_csv_bad_rows_fail_alone_and_zone_less_times_use_the_location(self):
        counts = self.csv._import_file("scans.csv", fixture("csv", "scans_iso.csv"))
        self.assertEqual((counts["imported"], counts["failed"], counts["duplicates"]), (2, 2, 0))
        failed = self._messages(self.csv).filtered(lambda m: m.state == "failed")
        self.assertEqual(sorted(failed.mapped("last_error")), [
            "line 5: unknown event class 'maybe'",
            "line 6: row has 8 fields, the header has 7",
        ])
        self._process()
        events = self._shipment("LX123456789CN").event_ids
        chicago = events.filtered(lambda e: e.milestone == "arrived_at_facility")
        # "2025-07-15 10:00" without offset, in Chicago: 15:00 UTC (CDT).
        self.assertEqual(chicago.occurred_at, datetime(2025, 7, 15, 15, 0))
        columbus = events.filtered(lambda e: e.milestone == "in_transit")
        self.assertEqual(columbus.occurred_at, datetime(2025, 7, 14, 12, 30))
        departed = self._shipment("LX987654321CN").event_ids.filtered(lambda e: e.milestone == "departed_facility")
        self.assertEqual(departed.occurred_at, datetime(2025, 7, 14, 2, 0))

        again = self.csv._import_file("scans-again.csv", fixture("csv", "scans_iso.csv"))
        self.assertEqual((again["imported"], again["failed"], again["duplicates"]), (0, 0, 4))

    def test_csv_columns_delimiter_and_date_format_come_from_the_file_options(self):
        connector = self.csv.copy({"name": "Files CSV semicolon"})
        connector.file_options_text = SEMICOLON_OPTIONS
        self.assertEqual(connector.file_options["delimiter"], ";")
        self.assertEqual(connector.options["columns"]["tracking_number"], "Waybill",
                         "kept in the adapter options, which the processor parses with")
        counts = connector._import_file("scans.csv", fixture("csv", "scans_semicolon.csv"))
        self.assertEqual((counts["imported"], counts["failed"]), (3, 1))
        failed = self._messages(connector).filtered(lambda m: m.state == "failed")
        self.assertEqual(failed.last_error, "line 6: date '31/02/2025 10:00' does not match '%d/%m/%Y %H:%M'")
        self._process()
        self.assertEqual(set(self._messages(connector).mapped("state")), {"done", "failed"})
        delivered = self._shipment("1Z111").event_ids.filtered(lambda e: e.milestone == "delivered")
        # 14:05 in Denver in January (MST, UTC-7).
        self.assertEqual(delivered.occurred_at, datetime(2025, 1, 16, 21, 5))

    def test_file_options_accept_only_file_keys(self):
        with self.assertRaises(ValidationError):
            self.csv.file_options_text = '{"paths": {}}'
        with self.assertRaises(ValidationError):
            self.csv.file_options_text = "{not json"

    # -------------------------------------------------------------- wizard

    def test_upload_wizard_shows_counts_and_a_second_upload_adds_nothing(self):
        Wizard = self.env["shipment.file.import"].with_user(self.manager)
        data = base64.b64encode(fixture("edi", "two_interchanges_crlf.edi"))
        wizard = Wizard.create({"connector_id": self.edi.id, "file": data, "file_name": "upload.edi"})
        action = wizard.action_import()
        self.assertEqual(action["res_id"], wizard.id)
        self.assertEqual((wizard.state, wizard.imported_count, wizard.failed_count, wizard.duplicate_count),
                         ("done", 4, 1, 0))
        self.assertEqual(len(wizard.message_ids), 5)
        self.assertEqual(wizard.action_view_messages()["domain"], [("id", "in", wizard.message_ids.ids)])

        second = Wizard.create({"connector_id": self.edi.id, "file": data, "file_name": "upload.edi"})
        second.action_import()
        self.assertEqual((second.imported_count, second.failed_count, second.duplicate_count), (0, 0, 5))
        self.assertEqual(len(self._messages(self.edi)), 5)

    def test_upload_wizard_refuses_an_unreadable_file(self):
        wizard = self.env["shipment.file.import"].with_user(self.manager).create({
            "connector_id": self.edi.id, "file": base64.b64encode(b"garbage"), "file_name": "x.edi"})
        with self.assertRaisesRegex(UserError, "x.edi cannot be imported"):
            wizard.action_import()

    # -------------------------------------------------------------- inbound folder

    def _inbound(self):
        root = Path(tempfile.mkdtemp(prefix="sv-inbound-"))
        self.addCleanup(shutil.rmtree, root, ignore_errors=True)
        self.env["ir.config_parameter"].sudo().set_param("shipment_visibility.inbound_root", str(root))
        folder = root / "partner_a"
        folder.mkdir()
        self.edi.inbound_folder = "partner_a"
        return folder

    @staticmethod
    def _drop(folder, name, data, age=60):
        path = folder / name
        path.write_bytes(data)
        settled = time.time() - age
        os.utime(path, (settled, settled))
        return path

    def test_folder_watcher_moves_files_to_done_and_failed(self):
        folder = self._inbound()
        self._drop(folder, "ok.edi", fixture("edi", "two_interchanges_crlf.edi"))
        self._drop(folder, "junk.edi", b"not an interchange\n")
        self._drop(folder, "still-writing.edi", fixture("edi", "wrong_counts.edi"), age=0)
        self._drop(folder, "upload.edi.part", fixture("edi", "wrong_counts.edi"))
        with mute_logger(CONNECTOR_LOGGER):
            handled = self.env["shipment.connector"]._cron_watch_inbound_folders()
        self.assertEqual(handled, 2)
        self.assertEqual(sorted(p.name for p in folder.iterdir() if p.is_file()),
                         ["still-writing.edi", "upload.edi.part"])
        self.assertEqual([p.name for p in (folder / "done").iterdir()], ["ok.edi"])
        self.assertEqual(sorted(p.name for p in (folder / "failed").iterdir()), ["junk.edi", "junk.edi.error.txt"])
        self.assertIn("not an X12 file", (folder / "failed" / "junk.edi.error.txt").read_text())
        messages = self._messages(self.edi)
        self.assertEqual(len(messages), 5)
        self.assertTrue(all(name.startswith("ok.edi, line ") for name in messages.mapped("file_name")))

        # The partner sends the same file again: moved aside, nothing new stored.
        self._drop(folder, "ok.edi", fixture("edi", "two_interchanges_crlf.edi"))
        self.env["shipment.connector"]._cron_watch_inbound_folders()
        self.assertEqual(len(list((folder / "done").iterdir())), 2)
        self.assertEqual(self._messages(self.edi), messages)

    def test_inbound_folder_must_stay_inside_the_inbound_root(self):
        self._inbound()
        with self.assertRaisesRegex(ValidationError, "must be inside"):
            self.edi.inbound_folder = "/etc"
        with self.assertRaisesRegex(ValidationError, "must be inside"):
            self.edi.inbound_folder = "../../etc"
