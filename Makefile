# The two commands a newcomer needs: `make run` and `make test`. Both install what is missing.
.DEFAULT_GOAL := help
SHELL := /bin/bash

UV := $(shell command -v uv 2>/dev/null || echo "python3 -m uv")
export UV_PYTHON_DOWNLOADS := never
STACK := $(UV) run --frozen python deploy/local/stack.py

.PHONY: help setup run stop reset infra migrate test bench lint docs token k8s

help: ## list the commands
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

setup: ## install the Python environment from the lockfile (uv.lock)
	@$(UV) --version >/dev/null 2>&1 || python3 -m pip install --quiet uv
	@$(UV) sync --frozen --quiet

run: setup ## start PostgreSQL, Kafka and every service; print where to go
	@$(STACK) up

stop: ## stop everything `make run` started
	@$(STACK) down

reset: ## stop everything and delete all local data (.local/)
	@$(STACK) reset

infra: setup ## start only PostgreSQL and Kafka
	@$(STACK) infra

migrate: infra ## apply every service's migrations
	@$(STACK) migrate

test: infra ## run every test against the real PostgreSQL and Kafka
	@$(UV) run --frozen pytest

bench: infra ## end-to-end benchmarks with baselines, into docs/benchmarks.md (BENCH=--quick: minutes, not tens of them)
	@$(UV) run --frozen python benchmarks/system.py $(BENCH)

lint: setup ## ruff and mypy
	@$(UV) run --frozen ruff check .
	@$(UV) run --frozen ruff format --check .
	@$(UV) run --frozen mypy libs/events/betterwork_events services/factory-registry/factory_registry services/assessment/assessment services/committee/committee services/training/training services/gateway/gateway deploy/local/demo.py benchmarks/system.py benchmarks/baselines.py

token: setup ## a development token: make token AUDIENCE=brand ID=BR-0001 (programme staff: ROLE=assessor, ID=KH for a country team)
	@$(UV) run --frozen python -m betterwork_events.auth $(AUDIENCE) $(ID) $(if $(ROLE),--role $(ROLE))

docs: setup ## regenerate AsyncAPI, JSON Schemas, OpenAPI and the GraphQL SDL from code
	@$(UV) run --frozen python -m betterwork_events.docs --out libs/events/docs
	@$(UV) run --frozen python -m betterwork_events.openapi --out libs/events/docs/openapi
	@$(UV) run --frozen python -m gateway.sdl

k8s: ## validate deploy/k8s offline: kustomize build, kubeconform (strict) with the Strimzi and CNPG CRDs
	@bash deploy/k8s/validate.sh
