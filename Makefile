# Shipment Visibility — the two commands a newcomer needs are `make run` and `make test`.
# Odoo 18 comes from $(ODOO_SRC), else from the cache (~/.cache/shipment_visibility).
PYTHON ?= python3

.PHONY: run test test-pure lint bootstrap bench

run:
	$(PYTHON) tools/devenv.py run

test:
	$(PYTHON) tools/devenv.py test

test-pure:
	$(PYTHON) tools/devenv.py test --pure-only

bootstrap:
	$(PYTHON) tools/devenv.py bootstrap

lint:
	$(PYTHON) tools/devenv.py bootstrap >/dev/null && $${SHIPMENT_VISIBILITY_CACHE:-$$HOME/.cache/shipment_visibility}/venv/bin/ruff check .

# Benchmarks (about 15 minutes; results in BENCHMARKS.md and benchmarks/results/).
bench:
	$(PYTHON) benchmarks/run.py
