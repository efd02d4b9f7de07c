# mvq — `make dev` runs the stack, `make test` runs every test against real servers.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
# libgl1 and libglib2.0-0: OpenCV (the wheel rapidocr needs) loads them when imported.
APT_PACKAGES := ffmpeg redis-server postgresql chromium fonts-dejavu-core jq libgl1 libglib2.0-0 pgbackrest
STAMP := $(VENV)/.installed

.PHONY: dev test test-system lint typecheck install apt bench-deps messages catalogues static clean

install: apt $(STAMP) catalogues static

apt:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; SUDO=$$([ $$(id -u) = 0 ] || echo sudo); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
	fi

$(STAMP): pyproject.toml
	python3.11 -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[dev]'
	touch $(STAMP)

dev: install
	$(PY) -m deploy.dev

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

typecheck: install
	$(VENV)/bin/mypy mvq edge api web asgi workers cli deploy

# Two workers (the CI machine's two cores), each with its own Redis, SeaweedFS, Postgres and
# ports; tests/conftest.py keeps each module on one worker.
test: install lint typecheck
	$(VENV)/bin/pytest -q -p no:cacheprovider -n 2 --dist loadgroup

# The system scenarios alone (faults, hostile corpus); `make test` runs them too.
test-system: install
	$(VENV)/bin/pytest -q -p no:cacheprovider tests/system

# Translations: gather every marked string (babel.cfg) into edge/locales/messages.pot and merge
# it into each catalogue: new strings arrive empty, changed ones as fuzzy guesses (shown in
# English until someone checks them and removes the flag). Then fill in the msgstr, and
# `make catalogues` (or `make install`) compiles the .mo the app loads; an app that finds the
# .po newer than its .mo compiles the .po in memory instead. tests/unit/test_i18n.py names what
# is missing, and fails while the catalogue lags the sources (run `make messages`).
LANGUAGES := uk
CATALOGUES := $(foreach lang,$(LANGUAGES),edge/locales/$(lang)/LC_MESSAGES/messages.mo)
catalogues: $(CATALOGUES)

# Fuzzy entries stay out of the .mo (pybabel compile's default): English shows until checked.
edge/locales/%/LC_MESSAGES/messages.mo: edge/locales/%/LC_MESSAGES/messages.po $(STAMP)
	$(VENV)/bin/pybabel compile -d edge/locales -D messages -l $* --statistics

# Static files named by their content's hash, each with a gzip copy, made here and not per
# request (web/static_build.py): the site caches them for a year.
static: $(STAMP)
	$(PY) -m web.static_build

messages: $(STAMP)
	$(VENV)/bin/pybabel extract -F babel.cfg -o edge/locales/messages.pot --project=mvq \
	  --add-comments=TRANSLATORS: --add-location=file --sort-by-file --no-wrap .
	for lang in $(LANGUAGES); do \
	  $(VENV)/bin/pybabel update -i edge/locales/messages.pot -d edge/locales -D messages -l $$lang \
	    --init-missing --no-wrap || exit 1; \
	done

# Benchmarks only: vpdq (Meta's reference video hasher) builds against libav's headers.
bench-deps: install
	@dpkg -s libavcodec-dev time >/dev/null 2>&1 || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	  apt-get install -y -qq libavcodec-dev libavformat-dev libavutil-dev libswscale-dev \
	  libavdevice-dev libavfilter-dev pkg-config time)
	$(VENV)/bin/pip install -q 'vpdq>=0.2.5,<0.3'

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache web/.static-build
