"""Schemathesis against the live test server, from the OpenAPI document the server publishes.

Every operation is exercised with generated valid and invalid requests (query strings,
path ids, headers, bodies); every answer must be one the document describes, and none a
server error. Runs within the Odoo test suite (``make test``).
"""

import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from odoo.tests import tagged

from .api_common import ApiHttpCommon

# Schemathesis' own checks that judge the API by other rules than its document:
# positive_data_acceptance expects a 2xx for any schema-valid input, but a cursor is an
# opaque token (a random string that fits its schema is rightly refused), and a free
# shipment id is rightly a 404. The ones kept cover status codes, media types, headers,
# bodies, server errors, authentication, and rejection of invalid input.
EXCLUDED_CHECKS = ("positive_data_acceptance", "use_after_free", "ensure_resource_availability")


@tagged("post_install", "-at_install")
class TestApiSchemathesis(ApiHttpCommon):

    def _schemathesis(self):
        venv_bin = Path(sys.executable).parent
        candidate = venv_bin / "st"
        return str(candidate) if candidate.exists() else shutil.which("st")

    def test_schemathesis_finds_no_failure(self):
        binary = self._schemathesis()
        self.assertTrue(binary, "schemathesis is a test requirement (requirements-dev.txt)")
        # Every write scope, so that the subscriptions' operations are fuzzed past the scope check.
        self.ada_account.shipment_api_can_manage_subscriptions = True
        url = self.base_url() + "/api/shipment/v1/openapi.json"
        with tempfile.TemporaryDirectory() as workdir:
            command = [
                binary, "run", url, "--header", f"Authorization: Bearer {self.ada_key}",
                "--exclude-checks", ",".join(EXCLUDED_CHECKS), "--max-examples", "25", "--workers", "1",
                "--seed", "20261207", "--no-color", "--request-timeout", "30", "--generation-database", "none",
            ]
            # The test server answers from this process' threads while we wait for the run.
            result = subprocess.run(command, capture_output=True, text=True, timeout=1200, cwd=workdir)
        # Generated bodies can be megabytes of one character: shown shortened, so that the
        # failure's operation and reason stay in the message.
        output = re.sub(r"(.)\1{99,}", lambda run: f"{run.group(1) * 20}…[{len(run.group(0))} chars]",
                        result.stdout + result.stderr)
        self.assertEqual(result.returncode, 0, f"schemathesis found failures:\n{output[-12000:]}")
        self.assertIn("15 selected / 15 total", output)
