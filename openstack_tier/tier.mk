# The real OpenStack tier (included by the main Makefile).
# `make test-openstack` installs what is missing (Debian mariadb-server and rabbitmq-server, and
# a virtualenv with keystone 30, glance 33, placement 16 and nova 34 in
# $XDG_CACHE_HOME/denbi-jupyter/openstack-tier, keyed by openstack_tier/constraints.txt),
# starts everything on 127.0.0.1 with its state in .openstack-tier/, runs tests/contract against
# it, and always stops every process it started. The exit code is the suite's.
# Extra pytest arguments: make test-openstack TIER_PYTEST_ARGS="-k snapshot -x".
TIER := $(BIN)/python -m openstack_tier
TIER_PYTEST_ARGS ?=

.PHONY: test-openstack openstack-up openstack-down openstack-status test-openstack-lock lint-openstack-tier

test-openstack: setup
	@trap '$(TIER) down >/dev/null 2>&1 || true' EXIT; \
	$(TIER) run $(if $(TIER_PYTEST_ARGS),-- $(TIER_PYTEST_ARGS))

# For working by hand: start (and leave running), look, stop.
openstack-up: setup
	$(TIER) up

openstack-status: setup
	@$(TIER) status

openstack-down: setup
	$(TIER) down

# Re-resolve the tier's pins (newest dependencies of the fixed server releases).
test-openstack-lock: setup
	$(TIER) lock

lint-openstack-tier: setup
	$(BIN)/ruff check openstack_tier tests/openstack_tier
	$(BIN)/ruff format --check openstack_tier tests/openstack_tier
