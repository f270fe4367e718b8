# Two commands for a fresh machine:  make run  (environment + pipeline)  and  make test.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export DVC_NO_ANALYTICS := 1
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: run test lint venv repro dag clean-venv

$(BIN)/replaylab: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade --quiet pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(BIN)/replaylab

venv: $(BIN)/replaylab

run: venv
	$(BIN)/dvc repro

repro: run

test: venv lint
	$(BIN)/python -m pytest -q

lint: venv
	$(BIN)/ruff check src tests stages benchmarks
	$(BIN)/ruff format --check src tests stages benchmarks

dag: venv
	$(BIN)/dvc dag

clean-venv:
	rm -rf $(VENV)
