"""Custom import-linter contracts for what a module graph cannot see: which *names* are imported.

`lint-imports` (pyproject.toml) loads this module from the repository root. A contract here reads
the source of each module with `ast`; grimp's graph only knows which modules import which.
"""
from __future__ import annotations

import ast
import importlib.util
from dataclasses import dataclass
from pathlib import Path

from importlinter.application import output
from importlinter.domain import fields
from importlinter.domain.contract import Contract, ContractCheck


@dataclass(frozen=True)
class Finding:
    module: str
    line: int
    what: str


def _source_file(module: str) -> Path | None:
    spec = importlib.util.find_spec(module)
    return Path(spec.origin) if spec and spec.origin and spec.origin.endswith(".py") else None


def _imported(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    """The absolute name of the module a `from … import` reads from."""
    if not node.level:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[:len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _function_level(tree: ast.AST) -> set[int]:
    """ids of the import statements inside a function body."""
    inside = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            inside.update(id(n) for n in ast.walk(node) if isinstance(n, (ast.Import, ast.ImportFrom)))
    return inside


def findings(graph_modules, roots: set[str], *, private_names_in: set[str],
             top_level_only_in: set[str]) -> list[Finding]:
    """Private names imported across modules, and project imports hidden in function bodies."""
    def under(module: str, packages: set[str]) -> bool:
        return any(module == p or module.startswith(p + ".") for p in packages)

    out = []
    for module in sorted(graph_modules):
        checks_private, checks_top = under(module, private_names_in), under(module, top_level_only_in)
        if not (checks_private or checks_top) or (path := _source_file(module)) is None:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        hidden = _function_level(tree) if checks_top else set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                source = _imported(module, path.name == "__init__.py", node)
                in_project = source.split(".")[0] in roots
                if checks_private and in_project and source != module:
                    for alias in node.names:
                        if alias.name.startswith("_") and not alias.name.startswith("__"):
                            out.append(Finding(module, node.lineno, f"imports private name {source}.{alias.name}"))
                if id(node) in hidden and in_project:
                    out.append(Finding(module, node.lineno, f"imports {source} inside a function"))
            elif isinstance(node, ast.Import) and id(node) in hidden:
                for alias in node.names:
                    if alias.name.split(".")[0] in roots:
                        out.append(Finding(module, node.lineno, f"imports {alias.name} inside a function"))
    return out


class PublicTopLevelImportsContract(Contract):
    """Modules use each other only through public names, and (where listed) import the project's
    modules at the top, never inside a function where an import cycle could hide.

    Options: private_names_in (packages whose modules may not import another module's `_name`),
    top_level_only_in (packages whose modules may not import project modules inside functions)."""

    type_name = "public_top_level_imports"

    private_names_in = fields.ListField(subfield=fields.StringField())
    top_level_only_in = fields.ListField(subfield=fields.StringField(), required=False)

    def check(self, graph, verbose: bool) -> ContractCheck:
        roots = set(self.session_options.get("root_packages") or [self.session_options["root_package"]])
        found = findings(graph.modules, roots, private_names_in=set(self.private_names_in),
                         top_level_only_in=set(self.top_level_only_in or ()))
        return ContractCheck(kept=not found, metadata={"findings": found})

    def render_broken_contract(self, check: ContractCheck) -> None:
        for finding in check.metadata["findings"]:
            output.print_error(f"{finding.module} (l.{finding.line}) {finding.what}", bold=False)
            output.new_line()
