# Two commands for a newcomer on a fresh Debian/Ubuntu machine with Python 3.11:
#   make run    set everything up and start the site on http://127.0.0.1:8000
#   make test   set up the same way and run the whole test suite
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
# torch is installed first and pinned, so no later install pulls another build.
# On a machine without the local CPU wheel you may prefer the CPU index:
#   make run TORCH_INDEX=--index-url=https://download.pytorch.org/whl/cpu
TORCH := torch==2.13.0
TORCH_INDEX ?=
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=

.PHONY: run test test-fast setup lint format browser clean worker demo scale-out

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet $(TORCH_INDEX) "$(TORCH)"
	$(BIN)/pip install --quiet -e ".[inference,dev]" "$(TORCH)"
	touch $@

setup: $(VENV)/.installed
	$(BIN)/python manage.py migrate --noinput
	@test -f data/c2pa/chain.pem || $(BIN)/python manage.py c2pa_dev_certs
	$(BIN)/python manage.py add_demo_model

run: setup
	@echo "Likeness: http://$(HOST):$(PORT)/  (admin: $(BIN)/python manage.py createsuperuser)"
	$(BIN)/daphne -b $(HOST) -p $(PORT) config.asgi:application

# A demo community to explore (painted with the tiny model, once), then the site. Demo
# members sign in with DEMO_PASSWORD; `manage.py seed_demo --reset` paints it again.
DEMO_PASSWORD ?= paint-me-a-portrait
demo: setup
	$(BIN)/python manage.py seed_demo --if-missing --password "$(DEMO_PASSWORD)"
	@echo "Likeness: http://$(HOST):$(PORT)/  (sign in as ada, password $(DEMO_PASSWORD))"
	$(BIN)/daphne -b $(HOST) -p $(PORT) config.asgi:application

# A separate GPU worker (production / scale-out): one per GPU.
worker: $(VENV)/.installed
	$(BIN)/celery -A config worker -Q gpu,celery --concurrency 1 --loglevel INFO

# The production shape on this machine: two daphne processes and two workers on the
# PostgreSQL and Redis of DATABASE_URL and REDIS_URL, media on an S3 API server (moto's),
# DEBUG=false (tests/cluster.py; tests/test_scale_out.py runs the same in CI).
scale-out: $(VENV)/.installed
	$(BIN)/python -m tests.cluster

# CHROMIUM_BINARY + CHROMEDRIVER (a browser and its driver) skip the apt install.
browser:
	@test -n "$$CHROMIUM_BINARY" -a -n "$$CHROMEDRIVER" || \
	{ command -v chromium && command -v chromedriver; } >/dev/null || { \
	  echo "Installing Debian's chromium and chromium-driver for the browser tests"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get install -y -q chromium chromium-driver >/dev/null 2>&1 || \
	  { $$SUDO apt-get update -q >/dev/null && $$SUDO apt-get install -y -q chromium chromium-driver >/dev/null; }; }

# The whole suite (what CI runs); the 20 slowest tests are listed at the end.
test: $(VENV)/.installed browser
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest --durations=20 $(PYTEST_ARGS)

# The inner loop: no browser, no real daphne/celery processes (tests marked `browser` or
# `processes`). Not a substitute for `make test` before a commit.
test-fast: $(VENV)/.installed
	$(BIN)/python -m pytest -m "not browser and not processes" --durations=20 $(PYTEST_ARGS)

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format:
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .ruff_cache
