# Targets wrap the README's commands; each installs what it needs first.
PYTHON ?= python3

.PHONY: install demo demo-llm test bench clean

install:
	$(PYTHON) -m pip install -e '.[test,plot]'

demo:
	$(PYTHON) -m pip install -q . && autotune run tasks/train-mlp.yaml

demo-llm:
	$(PYTHON) -m pip install -q . && PYTHON=$(PYTHON) bash tasks/workloads/setup_llama.sh && autotune run tasks/llama-cpp-serving.yaml

test:
	$(PYTHON) -m pip install -e '.[test,plot]' && bash tests/setup_browser.sh && bash tasks/workloads/setup_llama.sh && $(PYTHON) -m pytest -q

bench:
	$(PYTHON) -m pip install -q -e '.[bench,ray]' && $(PYTHON) benchmarks/runner.py && $(PYTHON) benchmarks/parallel.py && $(PYTHON) benchmarks/strategies.py $(BENCH_ARGS) && $(PYTHON) benchmarks/multi_objective.py && $(PYTHON) benchmarks/early_stopping.py

clean:
	rm -rf studies build *.egg-info .pytest_cache test-artifacts
