"""The package's shape: no import cycles between its modules (a cycle is how `progress` and `study`
came to depend on each other before), and each seam's registry filled by its package alone."""
import ast
from pathlib import Path

from conftest import ROOT

PACKAGE = ROOT / "autotune"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """Modules of the package that `path` imports when it is loaded (not under TYPE_CHECKING, not in functions)."""
    tree = ast.parse(path.read_text())
    package = module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    found = set()
    for node in tree.body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        for sub in ast.walk(node) if isinstance(node, (ast.Import, ast.ImportFrom, ast.If, ast.Try)) else ():
            if isinstance(sub, ast.Import):
                found |= {a.name for a in sub.names if a.name.startswith("autotune")}
            elif isinstance(sub, ast.ImportFrom):
                base = package[:len(package) - sub.level + 1] if sub.level else []
                target = ".".join(base + ([sub.module] if sub.module else []))
                if target.startswith("autotune"):
                    found.add(target)
                    found |= {f"{target}.{a.name}" for a in sub.names}
    return found


def with_parents(importer: str, names: set[str]) -> set[str]:
    """Importing a.b.c runs a/__init__ and a/b/__init__ first: those are imports too, except the importer's
    own packages, which were loaded before it."""
    own = {".".join(importer.split(".")[:i]) for i in range(1, importer.count(".") + 1)}
    return {".".join(n.split(".")[:i]) for n in names for i in range(1, n.count(".") + 2)} - own


def test_no_import_cycles():
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph = {name: {m for m in with_parents(name, imports(path)) if m in modules and m != name}
             for name, path in modules.items()}
    # A package's __init__ may import its own modules (that is how registries fill); a module importing
    # its package's __init__ back would close a cycle, and is what this finds.
    cycles = []

    def visit(node, stack, on_stack, done):
        on_stack.add(node)
        stack.append(node)
        for nxt in graph[node]:
            if nxt in on_stack:
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in done:
                visit(nxt, stack, on_stack, done)
        stack.pop()
        on_stack.discard(node)
        done.add(node)

    done: set = set()
    for name in sorted(graph):
        if name not in done:
            visit(name, [], set(), done)
    assert not cycles, "\n".join(" -> ".join(c) for c in cycles)
