"""Service accounts, their keys, and a client that checks every answer against the OpenAPI document.

Builds on the portal fixtures: customer Ada (an order in two parcels, PARCELA1 and
PARCELB2) and a stranger (STRANGER9). Accounts: company-wide read-only, bound to Ada with
both write scopes, bound to the stranger.
"""

import json

from jsonschema import Draft202012Validator, FormatChecker

from odoo.tests import HttpCase

from ..integration import api_contract
from .portal_common import PortalCommon

API = api_contract.API_PREFIX


class ApiCommon(PortalCommon):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["ir.config_parameter"].sudo().set_param("shipment_visibility.api_rate_limit_per_minute", "100000")
        cls.wide_account = cls._service_account("Data platform", "data-platform")
        cls.ada_account = cls._service_account("Ada procurement", "ada-procurement", partner=cls.customer,
                                               shipment_api_can_register=True, shipment_api_can_push_events=True)
        cls.stranger_account = cls._service_account("Stranger tool", "stranger-tool", partner=cls.stranger)
        cls.wide_key = cls._new_key(cls.wide_account)
        cls.ada_key = cls._new_key(cls.ada_account)
        cls.stranger_key = cls._new_key(cls.stranger_account)
        cls.openapi = api_contract.openapi_document()

    @classmethod
    def _service_account(cls, name, login, partner=None, **scopes):
        account = cls.env["res.users"].create({
            "name": name, "login": login, "is_shipment_api_account": True,
            "shipment_api_partner_id": partner.id if partner else False,
            "company_id": cls.env.company.id, "company_ids": [(6, 0, cls.env.company.ids)],
        })
        if scopes:
            account.write(scopes)
        return account

    @classmethod
    def _new_key(cls, account, name="integration"):
        wizard = cls.env["shipment.api.key.wizard"].create({"user_id": account.id, "name": name})
        wizard.action_generate()
        key = wizard.key
        wizard.action_done()
        return key


class ApiHttpCommon(HttpCase, ApiCommon):
    """Calls the API over real HTTP; every answer is checked against the OpenAPI document."""

    def call(self, method, path, key=None, body=None, headers=None, template=None, content_type="application/json"):
        """One request; ``template`` is the OpenAPI path the answer is validated against."""
        headers = dict(headers or {})
        if key:
            headers["Authorization"] = f"Bearer {key}"
        url = self.base_url() + API + path
        if method == "GET":
            response = self.url_open(url, headers=headers)
        else:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            headers.setdefault("Content-Type", content_type)
            response = self.opener.request(method, url, data=data, headers=headers, timeout=30)
        self.assert_conforms(method, template or path.split("?")[0], response)
        return response

    def assert_conforms(self, method, template, response):
        """The answer is one the OpenAPI document describes: status, media type and body."""
        operation = self.openapi["paths"][template][method.lower()]
        status = str(response.status_code)
        self.assertIn(status, operation["responses"], f"{method} {template}: undocumented status {status}")
        described = operation["responses"][status]
        if "$ref" in described:
            described = self.openapi["components"]["responses"][described["$ref"].rsplit("/", 1)[-1]]
        if "content" not in described:
            self.assertEqual(response.content, b"", f"{method} {template} {status}: a body where none is described")
            return
        media_type = response.headers.get("Content-Type", "").split(";")[0]
        self.assertIn(media_type, described["content"], f"{method} {template} {status}: media type {media_type}")
        schema = described["content"][media_type]["schema"]
        validator = Draft202012Validator({**self.openapi, **schema}, format_checker=FormatChecker())
        errors = [f"{list(error.absolute_path)}: {error.message}" for error in validator.iter_errors(response.json())]
        self.assertFalse(errors, f"{method} {template} {status} does not follow the OpenAPI document: {errors[:5]}")
