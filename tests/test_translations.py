from datetime import timedelta

from odoo.tests import HttpCase, tagged

from ..integration.events import CanonicalEvent
from .common import store_events
from .portal_common import PortalCommon


@tagged("post_install", "-at_install")
class TestCustomerTranslations(HttpCase, PortalCommon):
    """Customers read their pages and e-mails in their own language (French, Spanish)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        for code in ("fr_FR", "es_ES"):
            cls.env["res.lang"]._activate_lang(code)
        # The addon's own files only: i18n/fr.po and i18n/es.po as shipped.
        cls.env["ir.module.module"]._load_module_terms(["shipment_visibility"], ["fr_FR", "es_ES"], overwrite=True)
        cls.customer.lang = "fr_FR"

    def test_tracking_page_speaks_the_customers_language(self):
        html = self.url_open(f"/track/{self.parcel_a.access_token}").text
        self.assertIn('lang="fr-FR"', html)
        for french in ("Arrivé dans un centre du transporteur",  # code term (status headline)
                       "Historique de suivi",  # template term
                       "Livraison prévue", "estimation du transporteur", "Adresse de livraison",
                       "Suivi de commande", "Progression", "Expédié"):
            self.assertIn(french, html)
        self.assertNotIn("Tracking history", html)
        # The visitor may switch language from the footer.
        english = self.url_open(f"/track/{self.parcel_a.access_token}?lang=en_US").text
        self.assertIn("Tracking history", english)
        spanish = self.url_open(f"/track/{self.parcel_a.access_token}?lang=es_ES").text
        self.assertIn("Historial de seguimiento", spanish)
        self.assertIn("Entrega prevista", spanish)

    def test_lookup_form_follows_the_browser_language(self):
        html = self.url_open("/track", headers={"Accept-Language": "fr-FR,fr;q=0.9"}).text
        self.assertIn("Où est ma commande ?", html)
        html = self.url_open("/track", headers={"Accept-Language": "es-ES,es;q=0.9"}).text
        self.assertIn("¿Dónde está mi pedido?", html)

    def test_explanations_and_emails_in_french(self):
        store_events(self.env, [CanonicalEvent(
            "PARCELA1", "delivery_attempted", self.now - timedelta(hours=1), description="Nobody home")],
            "webhook", connector=self.connector)
        self.env["shipment.workflow"]._run(self.parcel_a)
        mail = self.env["mail.mail"].search([("model", "=", "shipment.shipment"), ("res_id", "=", self.parcel_a.id)])
        self.assertEqual(len(mail), 1)
        self.assertEqual(mail.subject, "Nous vous avons manqué : tentative de livraison de votre colis PARCELA1")
        self.assertIn("Suivre votre colis", mail.body_html)
        self.assertIn("personne n&#39;était disponible pour le recevoir", mail.body_html)
        self.assertIn("Ne plus recevoir ces e-mails", mail.body_html)
        html = self.url_open(f"/track/{self.parcel_a.access_token}").text
        self.assertIn("Ce que vous pouvez faire", html)

    def test_portal_pages_in_the_users_language(self):
        self.portal_user.lang = "es_ES"
        self.authenticate("ada_portal", "ada_portal")
        html = self.url_open(f"/my/shipments/{self.parcel_a.id}").text
        self.assertIn("Historial de seguimiento", html)
        self.assertIn("Llegó a un centro del transportista", html)
        self.assertIn("Horas en Europe/Paris", html)
