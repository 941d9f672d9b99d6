# Two commands on a fresh Debian/Ubuntu machine:
#   make demo   — install, load the demo county into the embedded SpatiaLite database, scan it, serve the map
#   make test   — install, start a throwaway PostGIS, run the whole suite (SpatiaLite + PostGIS + Chromium)
VENV ?= .venv
export VENV

.PHONY: demo test serve lint bench clean

demo:
	scripts/system-deps.sh --demo
	scripts/venv.sh dev
	$(VENV)/bin/redline demo

test:
	scripts/system-deps.sh
	scripts/venv.sh dev,bench,scale
	scripts/test.sh

serve:
	$(VENV)/bin/redline serve

lint:
	$(VENV)/bin/ruff check . && $(VENV)/bin/mypy

bench:
	scripts/system-deps.sh
	scripts/venv.sh dev,bench,scale
	$(VENV)/bin/python -m bench.check_engine

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
