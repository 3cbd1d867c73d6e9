# idsync: the two commands a newcomer needs (make demo, make test) and the ones maintainers use.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PACKAGES := core plugins/afas plugins/topdesk plugins/helloid plugins/scim plugins/ldap
PYPROJECTS := pyproject.toml $(addsuffix /pyproject.toml,$(PACKAGES))
CONSTRAINTS := constraints.txt
PIP := $(BIN)/python -m pip install --quiet --disable-pip-version-check -c $(CONSTRAINTS)

.PHONY: install demo test lint typecheck pytest bench docs reference screenshots constraints clean

install: $(STAMP)

$(STAMP): $(PYPROJECTS) $(CONSTRAINTS)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check pip==26.3
	$(PIP) --group dev \
		-e 'core[sandbox,postgres,console,fleet]' \
		-e 'plugins/afas[sandbox]' -e 'plugins/topdesk[sandbox]' -e 'plugins/helloid[sandbox]' \
		-e 'plugins/scim[testing]' -e plugins/ldap
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/idsync demo

test: lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/python tests/reliability/pgserver.py --install
	$(BIN)/python tests/ldapservers.py --install
	$(BIN)/pytest -n 2

bench: $(STAMP)
	$(BIN)/python bench/run.py

screenshots: $(STAMP)
	IDSYNC_SCREENSHOTS=1 $(BIN)/pytest tests/test_console.py -k approves -q

docs: $(STAMP)
	$(PIP) --group docs
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

# The generated parts of the docs pages (reference, tutorial code), written by cog from the code.
reference: $(STAMP)
	$(BIN)/cog -r -I docs/_cog $$(grep -rl --include='*.md' '\[\[\[cog' docs)

constraints: $(STAMP)
	$(PIP) --group docs
	{ sed -n '1,3p' $(CONSTRAINTS); $(BIN)/python -m pip freeze --exclude-editable | grep -v '^pip=='; } > $(CONSTRAINTS).new
	mv $(CONSTRAINTS).new $(CONSTRAINTS)

clean:
	rm -rf $(VENV) site
