"""The semantic checks that follow the schema, and the Task they build."""
from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..executors import EXECUTORS
from ..schedulers import SCHEDULERS
from ..strategies import STRATEGIES, check_fits, normalize_spec
from ..errors import SpecError, did_you_mean, join_path
from ..objective import Objective, parse_objective, parse_slo, report_objective
from ..space import Categorical, Space
from .durations import parse_duration
from .model import (DEFAULT_READY_TIMEOUT, Budget, EarlyStopping, ExecutorSpec, FailFast, Finalists, MetricsSpec,
                    Ready, Resources, Service, Task, frozen)
from .schema import check_schema
from .seed_form import normalize_seed_form
from ..templates import MAX_STEP, check_placeholders, parse_command, parse_env

GPU_FACTOR = re.compile(r"^\s*(?:(\d+)|\{([A-Za-z_][A-Za-z0-9_.\-]*)\})\s*$")


def build_task(raw: Mapping, source: Path, workdir: str | Path | None = None) -> Task:
    check_schema(raw)
    raw = normalize_seed_form(raw)
    space = Space.from_spec(raw["parameters"])
    strategy = normalize_spec(raw.get("strategy"))
    if STRATEGIES[strategy["name"]].needs_finite_space:
        for p in space.params:
            if p.grid() is None:
                raise SpecError(f"parameters.{p.name}", f"{strategy['name']} search needs finite values: give this "
                                                        "float a step, or use choices")
    objectives = _objectives(raw)
    check_fits(STRATEGIES[strategy["name"]], space, len(objectives))
    early_stopping = _early_stopping(raw.get("early_stopping", "none"), objectives[0])
    if len(objectives) > 1 and early_stopping.name != "none":
        raise SpecError("early_stopping", "stops trials by one score; with several objectives no trial is worse "
                                          "than another in every one while it runs, so use a single objective")
    names = set(space.names) | ({MAX_STEP} if MAX_STEP in early_stopping.options else set())
    optional = {name: space.describe_when(name) for name in space.when}
    executor = _executor(raw.get("executor", "local"))
    return Task(
        name=raw["name"],
        command=_task_command(raw, executor, names, optional),
        space=space,
        objectives=objectives,
        strategy=frozen(strategy),
        source=source.resolve(),
        workdir=_workdir(raw.get("workdir"), source, workdir),
        slo=parse_slo(raw.get("slo")),
        budget=_budget(raw.get("budget", {})),
        env=frozen(parse_env(raw.get("env", {}), "env", names, optional)),
        service=_service(raw["service"], names, optional) if "service" in raw else None,
        timeout=_duration(raw, "timeout"),
        kill_grace=_duration(raw, "kill_grace") or 5.0,
        repeats=raw.get("repeats", 1),
        warmup=raw.get("warmup", 0),
        parallel=raw.get("parallel"),
        metrics=_metrics(raw.get("metrics", {})),
        baseline=_baseline(raw.get("baseline"), space),
        finalists=Finalists(**raw["finalists"]) if "finalists" in raw else None,
        resources=_resources(raw["resources"], space) if "resources" in raw else None,
        executor=executor,
        early_stopping=early_stopping,
    )


def _objectives(raw: Mapping) -> tuple:
    """`objective`, or two or three `objectives` (each in the same form, none repeated)."""
    if "objective" in raw and "objectives" in raw:
        raise SpecError("objectives", "give objective (one) or objectives (two or three), not both")
    if "objectives" in raw:
        parsed = []
        for i, spec in enumerate(raw["objectives"]):
            objective = parse_objective(spec, f"objectives[{i}]")
            for j, earlier in enumerate(parsed):
                if set(objective.candidates) & set(earlier.candidates):
                    raise SpecError(f"objectives[{i}]", f"reads the same metric as objectives[{j}] "
                                                        f"({', '.join(objective.candidates)})")
            parsed.append(objective)
        return tuple(parsed)
    if "objective" not in raw:
        raise SpecError("objective", "missing; say what to optimise, for example objective: {metric: throughput}")
    return (parse_objective(raw["objective"]),)


def _task_command(raw: Mapping, executor: ExecutorSpec, names: set, optional: Mapping) -> tuple:
    if "command" in raw:
        return parse_command(raw["command"], "command", names, optional)
    if EXECUTORS[executor.name].runs_commands:
        raise SpecError("", "missing required key 'command'")
    return ()


def _service(spec: Mapping, names: set, optional: Mapping) -> Service:
    ready = None
    if "ready" in spec:
        r = spec["ready"]
        probes = [k for k in ("http", "tcp", "log") if k in r]
        if len(probes) != 1:
            raise SpecError("service.ready", "give exactly one of http, tcp or log")
        for key in ("http", "tcp"):
            if key in r:
                check_placeholders(r[key], f"service.ready.{key}", names, optional)
        if "log" in r:
            _regex(r["log"], "service.ready.log")
        ready = Ready(r.get("http"), r.get("tcp"), r.get("log"),
                      _duration(r, "timeout", "service.ready") or DEFAULT_READY_TIMEOUT,
                      _duration(r, "interval", "service.ready") or 0.5)
    return Service(parse_command(spec["command"], "service.command", names, optional),
                   frozen(parse_env(spec.get("env", {}), "service.env", names, optional)),
                   ready, _duration(spec, "stop_timeout", "service") or 10.0)


def _metrics(spec: Mapping) -> MetricsSpec:
    pattern = spec.get("file")
    if pattern is not None and (Path(pattern).is_absolute() or ".." in Path(pattern).parts):
        raise SpecError("metrics.file", f"must stay inside the trial directory: a relative path or glob "
                                        f"without '..', got {pattern!r}")
    for name, pattern in spec.get("regex", {}).items():
        _regex(pattern, f"metrics.regex.{name}")
    return MetricsSpec(spec.get("format", "auto"), spec.get("file"), frozen(spec.get("regex", {})))


def _budget(spec: Mapping) -> Budget:
    fail_fast = spec.get("fail_fast", {})
    if fail_fast is False:
        fail_fast = {"first": 0, "streak": 0}
    elif fail_fast is True:
        fail_fast = {}
    return Budget(spec.get("max_trials"), _duration(spec, "max_time", "budget"), spec.get("max_failed_trials"),
                  FailFast(**fail_fast))


def _resources(spec: Mapping, space: Space) -> Resources:
    gpus = spec.get("gpus", 0)
    if isinstance(gpus, str):
        gpus = tuple(_gpu_factor(part, space) for part in gpus.split("*"))
    devices = spec.get("devices", "auto")
    if isinstance(devices, list):
        if len({str(d) for d in devices}) != len(devices):
            raise SpecError("resources.devices", "lists a device twice")
        devices = tuple(str(d) for d in devices)
    return Resources(gpus, devices, spec.get("visible_devices_env", "CUDA_VISIBLE_DEVICES"), spec.get("cpus", 1))


def _gpu_factor(text: str, space: Space) -> int | str:
    match = GPU_FACTOR.match(text)
    if not match:
        raise SpecError("resources.gpus", f"must be an int or a product of int parameters such as "
                                          f"\"{{tp_size}}*{{pp_size}}\", got a factor {text.strip()!r}")
    if match.group(1) is not None:
        return int(match.group(1))
    name = match.group(2)
    if name not in space.names:
        raise SpecError("resources.gpus", f"placeholder {{{name}}} names no parameter" + did_you_mean(name, space.names))
    if name in space.when:
        raise SpecError("resources.gpus", f"{{{name}}} can be inactive (it exists only when "
                                          f"{space.describe_when(name)}); every trial needs a GPU count")
    param = space.params[space.names.index(name)]
    values = param.values if isinstance(param, Categorical) else param.grid() if param.kind == "int" else None
    if values is None or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in values):
        raise SpecError("resources.gpus", f"parameter {name!r} must take whole numbers >= 0 to count GPUs")
    return name


def _executor(spec: Any) -> ExecutorSpec:
    name, options = _named(spec, "local", EXECUTORS, "executor")
    return ExecutorSpec(name, frozen(options))


def _early_stopping(spec: Any, objective: Objective) -> EarlyStopping:
    # every scheduler takes `metric`: the study loop scores the reports by it
    name, options = _named(spec, "none", SCHEDULERS, "early_stopping", shared=("metric",))
    metric = options.pop("metric", None)
    return EarlyStopping(name, frozen(options), report_objective(objective, metric))


def _named(spec: Any, default: str, registry: Mapping, path: str, shared: tuple[str, ...] = ()) -> tuple[str, dict]:
    """A seam's choice in a task, a name or {name, **options}, its options checked against the class
    (`shared`: options every class of the seam takes)."""
    spec = {"name": spec} if isinstance(spec, str) else dict(spec)
    name = spec.pop("name", default)
    known = (*registry[name].OPTIONS, *shared)
    for key in spec:
        if key not in known:
            raise SpecError(f"{path}.{key}", f"does not apply to {name}" + did_you_mean(key, known))
    problem = registry[name].check_options({k: v for k, v in spec.items() if k not in shared})
    if problem:
        raise SpecError(path, problem)
    return name, spec


def _regex(pattern: str, path: str) -> None:
    try:
        re.compile(pattern)
    except re.error as e:
        raise SpecError(path, f"is not a valid regular expression: {e}") from None


def _duration(spec: Mapping, key: str, path: str = "") -> float | None:
    return parse_duration(spec[key], join_path(path, key)) if key in spec else None


def _workdir(spec: str | None, source: Path, override: str | Path | None) -> Path:
    if override is not None:
        workdir = Path(override)
    else:
        workdir = (source.resolve().parent / (spec or ".")).resolve()
    if not workdir.is_dir():
        raise SpecError("workdir", f"directory {str(workdir)!r} does not exist")
    return workdir


def _baseline(spec: Mapping | None, space: Space) -> Mapping | None:
    if spec is None:
        return None
    for name in spec:
        if name not in space.names:
            raise SpecError(f"baseline.{name}", "names no parameter" + did_you_mean(name, space.names))
    for p in space.params:
        if not space.holds(p.name, spec):
            if p.name in spec:
                raise SpecError(f"baseline.{p.name}", f"is inactive in the baseline (it exists only when "
                                                      f"{space.describe_when(p.name)}); leave it out")
            continue
        if p.name not in spec:
            raise SpecError("baseline", f"missing a value for parameter {p.name!r}")
        if not p.contains(spec[p.name]):
            raise SpecError(f"baseline.{p.name}", f"{spec[p.name]!r} is not in the parameter's range "
                                                  f"({p.describe()})")
    return frozen({p.name: spec[p.name] for p in space.params if p.name in spec})
