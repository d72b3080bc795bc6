import hashlib
import json
import logging
import time
from pathlib import Path

from odoo import _, api, fields, models, tools
from odoo.exceptions import UserError, ValidationError

from ..integration import inbound_folder
from ..integration.adapters import ParseError
from .shipment_connector_secrets import ADMIN_GROUP

_logger = logging.getLogger(__name__)


class ShipmentConnector(models.Model):
    """Files: partners that exchange files (X12 214, CSV) are imported from an upload or
    from a watched folder, each shipment of a file becoming one inbox message."""

    _inherit = "shipment.connector"

    #: Adapter option keys that describe files; edited on their own as ``file_options``.
    _FILE_OPTION_KEYS = ("columns", "date_format", "timezone", "delimiter", "encoding")
    _FILE_PROGRESS_EVERY = 500
    # A 50 MB X12 file (160,000 shipments) imports in about 45 s, with splitting holding
    # about twice the file's size: bigger files come closer to Odoo's default 120 s
    # real-time limit of a worker, which would kill an upload mid-import (the folder
    # watcher commits as it goes and resumes).
    _MAX_FILE_MEGABYTES = 50
    # A file changed more recently than this may still be being written.
    _INBOUND_SETTLE_SECONDS = 10
    # The watcher's share of a cron run, under Odoo's default 120 s limit of a cron worker.
    _WATCH_RUN_BUDGET_SECONDS = 60

    inbound_folder = fields.Char(
        groups=ADMIN_GROUP,
        help="Server directory watched for partner files, inside the directory set by the "
             "system parameter shipment_visibility.inbound_root. Imported files are moved to "
             "its done/ sub-folder, unreadable ones to failed/.")
    file_options = fields.Json(
        compute="_compute_file_options", inverse="_inverse_file_options", groups=ADMIN_GROUP,
        help="How files are read: CSV columns, date_format, timezone, delimiter, encoding. "
             "Kept in the adapter options, so that each message is parsed as it was split.")
    file_options_text = fields.Text(
        string="File Options (JSON)", compute="_compute_file_options_text",
        inverse="_inverse_file_options_text", groups=ADMIN_GROUP)

    # ------------------------------------------------------------------ #
    # COMPUTE METHODS AND CONSTRAINTS
    # ------------------------------------------------------------------ #

    @api.depends("options")
    def _compute_file_options(self):
        for connector in self:
            options = connector.options if isinstance(connector.options, dict) else {}
            connector.file_options = {key: options[key] for key in self._FILE_OPTION_KEYS if key in options} or False

    def _inverse_file_options(self):
        for connector in self:
            values = connector.file_options or {}
            if not isinstance(values, dict) or set(values) - set(self._FILE_OPTION_KEYS):
                raise ValidationError(_("File options accept only these keys: %s", ", ".join(self._FILE_OPTION_KEYS)))
            options = connector.options if isinstance(connector.options, dict) else {}
            kept = {k: v for k, v in options.items() if k not in self._FILE_OPTION_KEYS}
            connector.options = {**kept, **values} or False

    @api.depends("file_options")
    def _compute_file_options_text(self):
        for connector in self:
            connector.file_options_text = json.dumps(connector.file_options, indent=2, sort_keys=True) \
                if connector.file_options else False

    def _inverse_file_options_text(self):
        for connector in self:
            text = (connector.file_options_text or "").strip()
            try:
                connector.file_options = json.loads(text) if text else False
            except ValueError as exc:
                raise ValidationError(_("File options must be valid JSON: %s", exc)) from None

    @api.constrains("inbound_folder")
    def _check_inbound_folder(self):
        for connector in self:
            if connector.inbound_folder:
                connector._inbound_path()

    # ------------------------------------------------------------------ #
    # IMPORT
    # ------------------------------------------------------------------ #

    def _import_file(self, file_name, data, progress=None):
        """Store each shipment of a partner file as one inbox message.

        The adapter cuts the file (one X12 transaction set, or one tracking number's CSV
        rows, per part). A part that cannot be read is stored as a failed message naming
        its line; the others are imported. Parts already stored (same body, or same X12
        control numbers) count as duplicates, so importing a file twice adds nothing.

        Note: self.ensure_one()

        :param str file_name: shown on the messages, with the line of each part.
        :param bytes data: the whole file.
        :param progress: called as ``progress(done, total)`` every few hundred parts.
        :return: dict with ``imported``, ``failed``, ``duplicates``, ``message_ids`` and
            ``warnings`` (``"line N: reason"`` texts).
        :raises UserError: when the file as a whole cannot be read, or is too big.
        """
        self.ensure_one()
        if not self.support_files:
            raise UserError(_("Connector %s does not read files.", self.name))
        # Read as system: the limit is server sizing, set by system administrators.
        limit = float(self.env["ir.config_parameter"].sudo().get_param(
            "shipment_visibility.max_file_megabytes", self._MAX_FILE_MEGABYTES))
        if len(data) > limit * 1_000_000:
            raise UserError(_("%(file)s is %(size).1f MB, more than the %(limit)s MB a file import may take "
                              "(system parameter shipment_visibility.max_file_megabytes): ask the partner to "
                              "split it.", file=file_name, size=len(data) / 1_000_000, limit=limit))
        adapter = self._descriptor().adapter
        try:
            chunks = adapter.split(data, self._adapter_context().options)
        except ParseError as exc:
            raise UserError(_("%(file)s cannot be imported: %(reason)s", file=file_name, reason=exc)) from None
        Inbox = self.env["shipment.inbox"]
        digest = hashlib.sha256(data).hexdigest()
        counts = {"imported": 0, "failed": 0, "duplicates": 0, "message_ids": [],
                  # Envelope slips that lose nothing (X12 control numbers, a missing
                  # trailer): reported with their line, every valid part imported anyway.
                  "warnings": [str(warning) for warning in getattr(chunks, "warnings", ())]}
        for warning in counts["warnings"]:
            _logger.info("file %s of connector %s: %s", file_name, self.id, warning)
        for start in range(0, len(chunks), self._FILE_PROGRESS_EVERY):
            batch = chunks[start : start + self._FILE_PROGRESS_EVERY]
            # A part with no bytes of its own (an unreadable CSV record) still needs a body
            # that is the same each time this file is imported, for dedup.
            stored = Inbox._enqueue_batch(self, [
                (chunk.body or f"unreadable part of file sha256:{digest}, line {chunk.line}\n".encode(),
                 chunk.external_id, f"{file_name}, line {chunk.line}"[:255])
                for chunk in batch
            ])
            for chunk, result in zip(batch, stored):
                if result is None:
                    _logger.warning("file %s line %s of connector %s is not UTF-8: not stored",
                                    file_name, chunk.line, self.id)
                    counts["failed"] += 1
                    continue
                message_id, created = result
                counts["message_ids"].append(message_id)
                if not created:
                    counts["duplicates"] += 1
                elif chunk.error is not None:
                    Inbox.browse(message_id)._set_state("failed", self._file_error(chunk))
                    counts["failed"] += 1
                else:
                    counts["imported"] += 1
            if progress is not None and start + len(batch) < len(chunks):
                progress(start + len(batch), len(chunks))
        if counts["imported"]:
            Inbox._trigger_processor()
        _logger.info("file %s of connector %s: %d imported, %d failed, %d duplicates", file_name, self.id,
                     counts["imported"], counts["failed"], counts["duplicates"])
        return counts

    @api.model
    def _inbound_root(self):
        """The directory every inbound folder must sit in (a system setting, not a connector's)."""
        # Read as system: only system administrators may change where the server reads files.
        configured = self.env["ir.config_parameter"].sudo().get_param("shipment_visibility.inbound_root")
        return Path(configured or Path(tools.config["data_dir"]) / "shipment_inbound").resolve()

    def _inbound_path(self):
        """The connector's inbound folder, resolved, checked to be inside the inbound root.

        :raises ValidationError: for a folder outside the root.
        """
        self.ensure_one()
        root = self._inbound_root()
        # The column is integration-admin data; the watcher cron and the check read it.
        folder = self.sudo().inbound_folder or ""
        try:
            return inbound_folder.resolve_inside(root, folder)
        except inbound_folder.OutsideRoot:
            raise ValidationError(_("The inbound folder %(folder)s must be inside %(root)s (system parameter "
                                    "shipment_visibility.inbound_root).", folder=folder, root=str(root))) from None

    @api.model
    def _cron_watch_inbound_folders(self):
        """Import the files waiting in every file connector's inbound folder.

        Files are taken oldest first; a file still being written (changed in the last
        few seconds, hidden, or named ``*.tmp``/``*.part``) waits for the next run. Each
        imported file moves to ``done/``, an unreadable one to ``failed/`` with a
        ``.error.txt`` note beside it.

        :return: number of files handled.
        """
        # Every company's connectors: the folders are server configuration.
        connectors = self.search([("support_files", "=", True), ("inbound_folder", "!=", False)])
        waiting = []
        for connector in connectors:
            try:
                waiting += [(connector, path) for path in connector._inbound_files()]
            except (OSError, ValidationError) as exc:
                _logger.warning("inbound folder of connector %s cannot be read: %s", connector.id, exc)
                connector.write({"last_poll_error": _("Inbound folder cannot be read: %s", exc)})
        Cron = self.env["ir.cron"]
        budget = Cron._shipment_time_left(self._WATCH_RUN_BUDGET_SECONDS)
        started = time.monotonic()
        done = 0
        for connector, path in waiting:
            # At least one file per call, whatever is left of the cron pass.
            if done and time.monotonic() - started > budget:
                break

            def progress(parts_done, parts_total, path=path):
                _logger.info("importing %s: %d/%d parts stored", path.name, parts_done, parts_total)
                # The file stays in place until it is complete: a crash re-imports it and
                # dedup skips the parts already committed.
                if not self._is_testing_run():
                    self.env.cr.commit()

            connector._import_inbound_file(path, progress)
            done += 1
            Cron._notify_progress(done=done, remaining=len(waiting) - done)
            if not self._is_testing_run():
                self.env.cr.commit()
        Cron._shipment_notify_progress(done=done, remaining=len(waiting) - done)
        return done

    def _inbound_files(self):
        """Files ready in the inbound folder, oldest first."""
        self.ensure_one()
        return inbound_folder.ready_files(self._inbound_path(), self._INBOUND_SETTLE_SECONDS)

    def _import_inbound_file(self, path, progress=None):
        """Import one file of the inbound folder, then move it to ``done/`` or ``failed/``.

        :return: the counts of :meth:`_import_file`, or None when the file failed.
        """
        self.ensure_one()
        stamp = fields.Datetime.now().strftime("%Y%m%dT%H%M%S")
        try:
            counts = self._import_file(path.name, path.read_bytes(), progress=progress)
        except (UserError, OSError) as exc:
            _logger.warning("inbound file %s of connector %s not imported: %s", path.name, self.id, exc)
            inbound_folder.move_done(path, "failed", stamp, reason=str(exc))
            return None
        inbound_folder.move_done(path, "done", stamp)
        return counts

    @staticmethod
    def _file_error(chunk):
        """A part's error as stored on its failed message: always naming the line."""
        text = str(chunk.error)
        return text if text.startswith("line ") else f"line {chunk.line}: {text}"
