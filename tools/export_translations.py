#!/usr/bin/env python3
"""Regenerate ``i18n/shipment_visibility.pot`` with Odoo's own exporter, and merge it into the ``.po`` files.

Usage (from the repository root)::

    python3 tools/export_translations.py            # refresh the .pot, merge into every i18n/*.po
    python3 tools/export_translations.py --check    # exit 1 when a .po lacks a translation of a
                                                    # customer-facing string (portal, tracking page, e-mails)

The addon is installed without demo data on a throwaway database, exported with
``odoo-bin --i18n-export`` (so the template holds exactly what Odoo extracts: Python
``_``/``_lt`` terms, QWeb templates, views, data records, selections), and each
language file is rewritten by Odoo's export of that language after loading it: new
terms are added untranslated, removed terms are dropped, existing translations are
kept. Run it after adding strings anywhere.
"""

import argparse
import ast
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import devenv  # the environment bootstrap of this repository

I18N = devenv.REPO / "i18n"
POT = I18N / f"{devenv.ADDON}.pot"
# Where customer-facing terms come from: every one of them must be translated.
CUSTOMER_SOURCES = (
    "shipment_visibility.tracking_", "shipment_visibility.shipment_tracking_body",
    "shipment_visibility.portal_", "shipment_visibility.sale_order_portal_content_shipments",
    "shipment_visibility.report_delivery_document_shipments", "shipment_visibility.mail_template_",
    "models/customer_texts.py", "controllers/portal.py", "controllers/tracking.py",
    # the customer view of a shipment (dates, notes) is worded in the model
    "models/shipment_shipment_customer.py",
)


# Odoo's code of each language file (a file named after the base language serves it).
LANG_CODES = {"fr": "fr_FR", "es": "es_ES", "de": "de_DE", "it": "it_IT", "nl": "nl_NL", "pt": "pt_PT"}


def po_languages():
    """{file stem: Odoo language code} of the existing ``i18n/*.po`` files."""
    return {path.stem: LANG_CODES.get(path.stem, path.stem) for path in sorted(I18N.glob("*.po"))}


def export():
    """Install the addon with its languages, then let Odoo write the template and each language file.

    Odoo's export of a language is the merge: every current term of the addon, with the
    translation the database loaded from the existing file, empty for new terms.
    """
    odoo = devenv.bootstrap()
    devenv.ensure_postgresql()
    languages = po_languages()
    db = f"sv_i18n_{os.getpid()}"
    devenv.drop_db(db)
    try:
        devenv.say(f"installing {devenv.ADDON} on {db} (no demo data) with languages {sorted(languages.values())}")
        install = ["-i", devenv.ADDON, "--without-demo=all", "--stop-after-init", "--log-level=warn",
                   "--http-port", str(devenv.free_port())]
        if languages:
            install.append(f"--load-language={','.join(languages.values())}")
        subprocess.run(devenv.odoo_cmd(odoo, db, *install), check=True)
        I18N.mkdir(exist_ok=True)
        with tempfile.TemporaryDirectory() as tmp:
            for target, lang in [(POT, None)] + [(I18N / f"{stem}.po", code) for stem, code in languages.items()]:
                out = Path(tmp) / target.name
                extra = [f"--language={lang}"] if lang else []
                subprocess.run(devenv.odoo_cmd(odoo, db, f"--i18n-export={out}", f"--modules={devenv.ADDON}", *extra,
                                               "--stop-after-init", "--log-level=warn",
                                               "--http-port", str(devenv.free_port())), check=True)
                target.write_bytes(out.read_bytes())
                devenv.say(f"wrote {target.relative_to(devenv.REPO)}")
    finally:
        devenv.drop_db(db)


def read_po(path):
    """The entries of a PO file: dicts with ``refs`` (the ``#:`` lines), ``msgid`` and ``msgstr``.

    A small reader of what Odoo writes, so that checking needs nothing outside the
    standard library.
    """
    entries, current, key = [], None, None

    def unquote(text):
        return ast.literal_eval(text.strip())

    for line in path.read_text(encoding="utf-8").splitlines() + [""]:
        if not line.strip():
            if current and "msgid" in current:
                entries.append(current)
            current, key = None, None
            continue
        current = current if current is not None else {"refs": []}
        if line.startswith("#:"):
            current["refs"].append(line[2:].strip())
        elif line.startswith(("msgid ", "msgstr ")):
            key, _sep, value = line.partition(" ")
            current[key] = unquote(value)
        elif line.startswith('"') and key:
            current[key] += unquote(line)
    return entries


def missing_customer_terms():
    """(po file, msgid) of customer-facing terms without a translation."""
    missing = []
    for po_path in sorted(I18N.glob("*.po")):
        for entry in read_po(po_path):
            # Nothing to translate in "%(start)s – %(end)s": such a term stays as it is.
            words = re.sub(r"%\(\w+\)s", "", entry["msgid"])
            if re.search(r"[^\W\d_]{2,}", words) and not entry.get("msgstr") and any(
                    source in ref for ref in entry["refs"] for source in CUSTOMER_SOURCES):
                missing.append((po_path.name, entry["msgid"]))
    return missing


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only report untranslated customer-facing terms")
    args = parser.parse_args()
    if not args.check:
        export()
    missing = missing_customer_terms()
    for name, msgid in missing:
        print(f"{name}: untranslated customer-facing term: {msgid[:100]!r}")
    return 1 if (args.check and missing) else 0


if __name__ == "__main__":
    sys.exit(main())
