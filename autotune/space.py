"""The search space: typed parameters, their finite grids, sampling, and a numeric encoding for models.

A parameter may be conditional (`when:` on earlier categorical parameters): it exists in a configuration
only while its conditions hold. A finite conditional space counts and indexes only the configurations
that can occur: they fall into branches, one per combination of the parameters conditions name, each a
product of the other parameters active in it, and an index is its branch's offset plus its place there.
"""
from __future__ import annotations

import bisect
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Union

import numpy as np

from .errors import SpecError, did_you_mean

Scalar = Union[str, int, float, bool]

CHOICE_TYPES = ("choice", "categorical")
FLOAT_TYPES = ("float", "continuous")
INT_TYPES = ("int", "integer")
PARAM_TYPES = CHOICE_TYPES + FLOAT_TYPES + INT_TYPES
NUMERIC_KEYS = ("low", "high", "log", "step")
MAX_BRANCHES = 1 << 16  # combinations of the parameters that conditions name, each a branch of the grid


def is_scalar(value: Any) -> bool:
    return isinstance(value, (str, int, float, bool)) and not (
        isinstance(value, float) and not math.isfinite(value)
    )


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def tidy_float(value: float) -> float:
    """Drop the binary noise of ``low + k * step`` so 0.7 + 5 * 0.05 reads 0.95."""
    return float(f"{value:.12g}")


@dataclass(frozen=True)
class Categorical:
    name: str
    values: tuple

    kind = "choice"

    def grid(self) -> tuple:
        return self.values

    def sample(self, rng: np.random.Generator) -> Scalar:
        return self.values[int(rng.integers(len(self.values)))]

    def contains(self, value: Any) -> bool:
        return self.index(value) is not None

    def index(self, value: Any) -> int | None:
        for i, v in enumerate(self.values):
            if type(v) is type(value) and v == value:
                return i
        return None

    def describe(self) -> str:
        return f"choice({len(self.values)})"


@dataclass(frozen=True)
class Numeric:
    name: str
    kind: str  # "int" | "float"
    low: float
    high: float
    log: bool = False
    step: float | None = None

    def _cast(self, value: float) -> int | float:
        return int(round(value)) if self.kind == "int" else tidy_float(value)

    def _count(self) -> int:
        return int(math.floor((self.high - self.low) / self.step + 1e-9)) + 1

    def grid(self) -> tuple | None:
        """Every value in order, or None for a continuous range."""
        if self.step is None:
            return None
        return tuple(self._cast(self.low + k * self.step) for k in range(self._count()))

    def sample(self, rng: np.random.Generator) -> int | float:
        return self.from_unit(float(rng.random()))

    def to_unit(self, value: float) -> float:
        """Map a value to [0, 1] in the parameter's own scale (log when log)."""
        lo, hi = self._bounds()
        x = math.log(value) if self.log else float(value)
        return min(1.0, max(0.0, (x - lo) / (hi - lo)))

    def from_unit(self, u: float) -> int | float:
        """Inverse of to_unit, snapped to the step (ints: to whole numbers)."""
        lo, hi = self._bounds()
        x = lo + min(1.0, max(0.0, u)) * (hi - lo)
        value = math.exp(x) if self.log else x
        return self.snap(value)

    def _bounds(self) -> tuple[float, float]:
        # Widen a discrete range by half a step so its end values get a fair share of [0, 1].
        half = (self.step or (1 if self.kind == "int" else 0)) / 2
        if self.log:
            return math.log(max(self.low - half, self.low / 2)), math.log(self.high + half)
        return self.low - half, self.high + half

    def snap(self, value: float) -> int | float:
        value = min(max(value, self.low), self.high)
        if self.step is not None:
            k = min(round((value - self.low) / self.step), self._count() - 1)
            value = self.low + k * self.step
        elif self.kind == "int":
            value = round(value)
        return self._cast(value)

    def contains(self, value: Any) -> bool:
        if not is_number(value) or (self.kind == "int" and not isinstance(value, int)):
            return False
        if not self.low - 1e-9 <= value <= self.high + 1e-9:
            return False
        return self.step is None or math.isclose(self.snap(value), value, rel_tol=1e-9, abs_tol=1e-12)

    def describe(self) -> str:
        shows_step = self.step is not None and not (self.kind == "int" and self.step == 1)
        extras = (["log"] if self.log else []) + ([f"step {self.step:g}"] if shows_step else [])
        return f"{self.kind}[{self.low:g}, {self.high:g}{''.join(', ' + e for e in extras)}]"


Param = Union[Categorical, Numeric]


@dataclass(frozen=True)
class Branch:
    """Configurations sharing the values of the parameters conditions name (-1: that one inactive)."""
    fixed: tuple          # (param position, grid digit) of each such parameter that is active
    free: tuple           # positions of the other parameters active in this branch, varied as a product
    radices: tuple        # their grid sizes
    offset: int           # index of the branch's first configuration
    count: int


class Space:
    """An ordered set of parameters, some of them conditional; a finite space also maps each configuration
    that can occur to an index."""

    def __init__(self, params: list[Param], when: Mapping[str, Mapping[str, tuple]] | None = None):
        self.params = tuple(params)
        self.names = [p.name for p in params]
        # name -> {earlier categorical name: the values under which it is active}
        self.when = {name: dict(conds) for name, conds in (when or {}).items() if conds}
        grids = [p.grid() for p in params]
        self.grids: list[tuple] | None = None if any(g is None for g in grids) else grids
        self.branches: list[Branch] | None = None
        if self.grids is not None and self.when:
            named = {parent for conds in self.when.values() for parent in conds}
            self._controls = [i for i, name in enumerate(self.names) if name in named]
            self.branches = self._branches(named)
            self._offsets = [b.offset for b in self.branches]
            self._branch_of = {self._key(dict(b.fixed)): b for b in self.branches}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Space) and self.params == other.params and self.when == other.when

    def __repr__(self) -> str:
        return f"Space({self.describe()})"

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any], path: str = "parameters") -> "Space":
        if not isinstance(spec, Mapping):
            raise SpecError(path, "must be a mapping of parameter names to values or ranges")
        if not spec:
            raise SpecError(path, "must hold at least one parameter")
        params, when = [], {}
        for name, body in spec.items():
            where = f"{path}.{name}"
            if isinstance(body, Mapping) and "when" in body:
                when[str(name)] = _conditions(body["when"], params, f"{where}.when")
                body = {k: v for k, v in body.items() if k != "when"}
            params.append(parse_param(str(name), body, where))
        return cls(params, when)

    # -- conditions ---------------------------------------------------------------------------
    @property
    def conditional(self) -> bool:
        return bool(self.when)

    @property
    def continuous(self) -> bool:
        """Every parameter a number that may take any value in its range (a float without a step)."""
        return all(isinstance(p, Numeric) and p.step is None for p in self.params)

    def holds(self, name: str, values: Mapping[str, Any]) -> bool:
        """Whether parameter `name` is active given the values of the parameters before it."""
        return all(parent in values and _grid_index(allowed, values[parent]) is not None
                   for parent, allowed in self.when.get(name, {}).items())

    def active(self, values: Mapping[str, Any]) -> dict:
        """Only the parameters active in `values` (a full assignment, such as a model's decoded draw)."""
        out: dict = {}
        for name in self.names:
            if name in values and self.holds(name, out):
                out[name] = values[name]
        return out

    def _branches(self, named: set) -> list[Branch]:
        controls = self._controls
        if math.prod(len(self.grids[i]) for i in controls) > MAX_BRANCHES:
            raise SpecError("parameters", f"the parameters conditions name ({', '.join(self.names[i] for i in controls)}) "
                                          f"have more than {MAX_BRANCHES} combinations")
        branches: list[Branch] = []

        def walk(k: int, fixed: dict) -> None:
            values = {self.names[i]: self.grids[i][d] for i, d in fixed.items()}
            if k == len(controls):
                free = tuple(i for i, name in enumerate(self.names) if name not in named and self.holds(name, values))
                radices = tuple(len(self.grids[i]) for i in free)
                offset = branches[-1].offset + branches[-1].count if branches else 0
                branches.append(Branch(tuple(fixed.items()), free, radices, offset, math.prod(radices)))
                return
            i = controls[k]
            if not self.holds(self.names[i], values):
                walk(k + 1, fixed)
                return
            for digit in range(len(self.grids[i])):
                walk(k + 1, {**fixed, i: digit})

        walk(0, {})
        return branches

    def _key(self, fixed: Mapping[int, int]) -> tuple:
        return tuple(fixed.get(i, -1) for i in self._controls)

    # -- finite spaces ------------------------------------------------------------------------
    @property
    def finite(self) -> bool:
        return self.grids is not None

    @property
    def size(self) -> int | None:
        if self.grids is None:
            return None
        if self.branches is not None:
            return self.branches[-1].offset + self.branches[-1].count
        return math.prod(len(g) for g in self.grids)

    def digits(self, index):
        """Per-parameter grid positions of an index (or an array of them), -1 for an inactive parameter;
        the last parameter varies fastest."""
        assert self.grids is not None
        if self.branches is not None:
            return self._branch_digits(index)
        digits = []
        for grid in reversed(self.grids):
            index, digit = divmod(index, len(grid))
            digits.append(digit)
        return digits[::-1]

    def _branch_digits(self, index):
        if not isinstance(index, np.ndarray):
            branch = self.branches[bisect.bisect_right(self._offsets, index) - 1]
            out = [-1] * len(self.params)
            for i, digit in _positions(branch, index - branch.offset).items():
                out[i] = int(digit)
            return out
        out = np.full((len(self.params), len(index)), -1, dtype=np.int64)
        which = np.searchsorted(self._offsets, index, side="right") - 1
        for k, branch in enumerate(self.branches):
            rows = which == k
            for i, digit in _positions(branch, index[rows] - branch.offset).items():
                out[i, rows] = digit
        return list(out)

    def index_from_digits(self, digits) -> int:
        """The index of the configuration with these grid positions (-1 where inactive)."""
        digits = [int(d) for d in digits]
        if self.branches is None:
            index = 0
            for digit, grid in zip(digits, self.grids):
                index = index * len(grid) + digit
            return index
        branch = self._branch_of[tuple(digits[i] for i in self._controls)]
        index = 0
        for i, radix in zip(branch.free, branch.radices):
            index = index * radix + digits[i]
        return branch.offset + index

    def valid_digits(self, digits: np.ndarray) -> np.ndarray:
        """Rows of grid positions drawn for every parameter, with those inactive in each row set to -1."""
        if not self.when:
            return digits
        digits = digits.copy()
        for j, name in enumerate(self.names):
            for parent, allowed in self.when.get(name, {}).items():
                i = self.names.index(parent)
                positions = [_grid_index(self.grids[i], v) for v in allowed]
                digits[~np.isin(digits[:, i], positions), j] = -1
        return digits

    def config_at(self, index: int) -> dict:
        return {p.name: grid[d] for p, grid, d in zip(self.params, self.grids, self.digits(index)) if d >= 0}

    def unit_coords(self, index):
        """Grid positions scaled to [0, 1] per parameter, for distances between configurations; an
        inactive parameter sits in the middle."""
        return self.coords(np.asarray(self.digits(index)).T)

    def coords(self, digits: np.ndarray) -> np.ndarray:
        """unit_coords of rows of grid positions."""
        sizes = np.array([len(g) for g in self.grids])
        return np.where(digits >= 0, digits / np.maximum(1, sizes - 1), 0.5)

    def index_of(self, params: Mapping[str, Any]) -> int | None:
        if self.grids is None or (self.branches is not None and set(params) - set(self.names)):
            return None
        digits, values = [], {}
        for p, grid in zip(self.params, self.grids):
            if not self.holds(p.name, values):
                if p.name in params:
                    return None
                digits.append(-1)
                continue
            digit = _grid_index(grid, params.get(p.name))
            if digit is None:
                return None
            digits.append(digit)
            values[p.name] = params[p.name]
        return self.index_from_digits(digits)

    def sample(self, rng: np.random.Generator) -> dict:
        out: dict = {}
        for p in self.params:
            if self.holds(p.name, out):
                out[p.name] = p.sample(rng)
        return out

    def contains(self, params: Mapping[str, Any]) -> bool:
        return set(params) <= set(self.names) and all(
            p.name in params and p.contains(params[p.name]) if self.holds(p.name, params) else p.name not in params
            for p in self.params)

    def describe_when(self, name: str) -> str:
        """A parameter's conditions in words: "speculative=true and policy in [lpm, fcfs]"."""
        return " and ".join(f"{k}={_show(v[0])}" if len(v) == 1 else f"{k} in [{', '.join(map(_show, v))}]"
                            for k, v in self.when[name].items())

    def describe(self) -> str:
        return ", ".join(f"{p.name}: {p.describe()}" + (f" when {self.describe_when(p.name)}" if p.name in self.when
                                                          else "") for p in self.params)


def _positions(branch: Branch, rest) -> dict:
    """Grid positions, by parameter position, of the configurations at offsets `rest` (an int or an array)
    into a branch."""
    out = dict(branch.fixed)
    for i, radix in zip(reversed(branch.free), reversed(branch.radices)):
        rest, out[i] = divmod(rest, radix)
    return out


def _show(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def _conditions(spec: Any, earlier: list, path: str) -> dict:
    """A parameter's `when`: earlier categorical parameters and the values under which it is active."""
    if not isinstance(spec, Mapping) or not spec:
        raise SpecError(path, "must be a mapping of earlier categorical parameters to a value or a list of values")
    by_name = {p.name: p for p in earlier}
    conds = {}
    for parent, wanted in spec.items():
        where = f"{path}.{parent}"
        if parent not in by_name:
            raise SpecError(where, "names no earlier parameter (a condition refers to parameters listed before it)"
                            + did_you_mean(str(parent), list(by_name)))
        param = by_name[parent]
        if not isinstance(param, Categorical):
            raise SpecError(where, f"names {parent!r}, a {param.kind} parameter; conditions name categorical ones")
        wanted = wanted if isinstance(wanted, list) else [wanted]
        if not wanted:
            raise SpecError(where, "must not be empty")
        for value in wanted:
            if not param.contains(value):
                raise SpecError(where, f"{value!r} is not one of {parent}'s values "
                                       f"({', '.join(_show(v) for v in param.values)})")
        conds[str(parent)] = tuple(wanted)
    return conds


def _grid_index(grid: tuple, value: Any) -> int | None:
    for i, v in enumerate(grid):
        if type(v) is type(value) and (v == value or (isinstance(v, float) and math.isclose(v, value))):
            return i
    return None


def parse_param(name: str, body: Any, path: str) -> Param:
    """One parameter from either form: a plain list (categorical) or a typed mapping."""
    if isinstance(body, list):
        return Categorical(name, _choices(body, path))
    if not isinstance(body, Mapping):
        raise SpecError(path, "must be a list of values or a mapping with a 'type'")
    kind = body.get("type")
    if kind is None:
        raise SpecError(path, "missing 'type' (choice, float or int)")
    if kind not in PARAM_TYPES:
        raise SpecError(f"{path}.type", f"unknown type {kind!r}; use one of {', '.join(PARAM_TYPES)}"
                        + did_you_mean(kind, PARAM_TYPES))
    if kind in CHOICE_TYPES:
        _no_keys(body, NUMERIC_KEYS, kind, path)
        if "values" not in body:
            raise SpecError(path, "missing 'values' for a choice parameter")
        return Categorical(name, _choices(body["values"], f"{path}.values"))
    _no_keys(body, ("values",), kind, path)
    return _numeric(name, "int" if kind in INT_TYPES else "float", body, path)


def _no_keys(body: Mapping, keys: tuple, kind: str, path: str) -> None:
    for key in keys:
        if key in body:
            raise SpecError(f"{path}.{key}", f"does not apply to a {kind} parameter")


def _choices(values: Any, path: str) -> tuple:
    if not isinstance(values, list):
        raise SpecError(path, "must be a list of values")
    if not values:
        raise SpecError(path, "must not be empty")
    seen = []
    for i, value in enumerate(values):
        if not is_scalar(value):
            raise SpecError(f"{path}[{i}]", f"must be a string, number or boolean, got {_kind_of(value)}")
        if any(type(s) is type(value) and s == value for s in seen):
            raise SpecError(f"{path}[{i}]", f"duplicate value {value!r}")
        seen.append(value)
    return tuple(values)


def _numeric(name: str, kind: str, body: Mapping, path: str) -> Numeric:
    for key in ("low", "high"):
        if key not in body:
            raise SpecError(path, f"missing '{key}' for a {kind} parameter")
        value = body[key]
        if not is_number(value) or not math.isfinite(value):
            raise SpecError(f"{path}.{key}", f"must be a number, got {_kind_of(value)}")
        if kind == "int" and not float(value).is_integer():
            raise SpecError(f"{path}.{key}", f"must be a whole number for an int parameter, got {value!r}")
    low, high = body["low"], body["high"]
    if low >= high:
        raise SpecError(f"{path}.low", f"must be less than high ({low!r} >= {high!r})")
    log = body.get("log", False)
    if not isinstance(log, bool):
        raise SpecError(f"{path}.log", f"must be true or false, got {_kind_of(log)}")
    if log and low <= 0:
        raise SpecError(f"{path}.low", f"must be > 0 when log is true, got {low!r}")
    step = body.get("step")
    if step is not None:
        if not is_number(step) or not math.isfinite(step):
            raise SpecError(f"{path}.step", f"must be a number, got {_kind_of(step)}")
        if step <= 0:
            raise SpecError(f"{path}.step", f"must be > 0, got {step!r}")
        if kind == "int" and not float(step).is_integer():
            raise SpecError(f"{path}.step", f"must be a whole number for an int parameter, got {step!r}")
        if log:
            raise SpecError(f"{path}.step", "cannot be combined with log: a log scale has no even step")
    if kind == "int":
        return Numeric(name, kind, int(low), int(high), log, int(step) if step is not None else 1)
    return Numeric(name, kind, float(low), float(high), log, float(step) if step is not None else None)


def _kind_of(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    return f"{type(value).__name__} {value!r}"
