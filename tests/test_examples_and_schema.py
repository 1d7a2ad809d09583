"""Every shipped task validates; the schema is draft 2020-12, documented everywhere, in step with the code."""
import json
from pathlib import Path

import jsonschema
import pytest

from autotune.adapters import ADAPTERS
from autotune.executors import EXECUTORS
from autotune.schedulers import SCHEDULERS
from autotune.strategies import ALIASES, STRATEGIES
from autotune.task import load_task
from autotune.task.schema import SCHEMA_FILE
from conftest import ROOT, cli

TASKS = sorted(p for p in (ROOT / "tasks").iterdir() if p.suffix in (".yaml", ".yml", ".json"))
SCHEMA = json.loads((ROOT / "schemas" / "task.schema.json").read_text())


@pytest.mark.parametrize("path", TASKS, ids=[p.name for p in TASKS])
def test_every_shipped_task_validates(path):
    result = cli("validate", path)
    if "NEEDS A GPU" in path.read_text() and result.exit_code:  # its server may not be installed here
        assert result.exit_code == 2 and "is not a program on PATH" in result.stderr, result.stderr
        result = cli("validate", path, "--skip-programs")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip()


def test_examples_cover_every_strategy_the_seed_form_and_gpu_serving():
    tasks = [load_task(p) for p in TASKS]
    assert {t.strategy["name"] for t in tasks} >= set(STRATEGIES)
    assert any("task_name" in json.loads(p.read_text()) and "optimization" in json.loads(p.read_text())
               for p in TASKS if p.suffix == ".json")
    for name in ("vllm", "sglang"):
        paths = [p for p in TASKS if name in p.name]
        assert paths and all("NEEDS A GPU" in path.read_text() for path in paths)


def test_schema_is_draft_2020_12():
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


def _properties(node, path="$"):
    if isinstance(node, dict):
        for key, sub in node.get("properties", {}).items():
            yield f"{path}.{key}", sub
        for key, sub in node.items():
            yield from _properties(sub, f"{path}/{key}")
    elif isinstance(node, list):
        for i, sub in enumerate(node):
            yield from _properties(sub, f"{path}[{i}]")


def test_every_field_has_a_description():
    fields = list(_properties(SCHEMA))
    assert len(fields) > 50
    missing = [path for path, sub in fields if "description" not in sub]
    assert not missing, missing
    assert all("description" in d for d in SCHEMA["$defs"].values())


def test_schema_enums_follow_the_registries():
    """Adding a strategy, executor, scheduler or adapter is one class and its registration; the schema's
    enums must list exactly what is registered."""
    defs, props = SCHEMA["$defs"], SCHEMA["properties"]
    assert set(defs["strategyName"]["enum"]) == set(STRATEGIES) | set(ALIASES)
    assert set(defs["executorName"]["enum"]) == set(EXECUTORS)
    assert set(defs["schedulerName"]["enum"]) == set(SCHEDULERS)
    assert set(props["metrics"]["properties"]["format"]["enum"]) == {"auto"} | set(ADAPTERS)


def test_package_reads_the_shipped_schema():
    assert json.loads(SCHEMA_FILE.read_text()) == SCHEMA


def test_readme_shows_the_editor_schema_line():
    assert "# yaml-language-server: $schema=" in (ROOT / "README.md").read_text()
