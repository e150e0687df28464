"""The one list of what the addon changes in Odoo (``patches.TOUCHES``) is true and complete."""
import ast
import importlib
from pathlib import Path

from odoo import http
from odoo.modules.module import get_module_path
from odoo.tests import TransactionCase, tagged

from .. import patches, series

ADDON = Path(get_module_path("integration_suite"))


def _resolve(target):
    module, _, path = target.partition(":")
    value = importlib.import_module(module)
    for name in path.split("."):
        value = getattr(value, name)
    return value


def _names(node):
    """The model names of an ``_inherit`` value: a name, a list, or a list chosen by series."""
    if isinstance(node, ast.IfExp):
        return _names(node.body) + _names(node.orelse)
    return [node.value] if isinstance(node, ast.Constant) else [e.value for e in node.elts]


def _overridden_core_methods():
    """``(model, method)`` of every method the addon's inherited 18.0 models define again."""
    found = set()
    for source in sorted((ADDON / "models").glob("*.py")):
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.ClassDef):
                body = {stmt.targets[0].id: stmt.value for stmt in node.body
                        if isinstance(stmt, ast.Assign) and isinstance(stmt.targets[0], ast.Name)}
                inherit = body.get("_inherit")
                if "_name" in body or inherit is None:
                    continue
                models = _names(inherit)
                for stmt in node.body:
                    if isinstance(stmt, ast.FunctionDef):
                        found.update((model, stmt.name) for model in models)
    return found


@tagged("post_install", "-at_install")
class TestPatches(TransactionCase):
    def test_every_target_still_exists_in_this_odoo(self):
        """A point release that renames an internal the addon touches fails here, not in production."""
        for target, *_rest in patches.TOUCHES:
            with self.subTest(target=target):
                self.assertIsNotNone(_resolve(target))

    def test_the_readme_names_every_target(self):
        readme = (ADDON / "README.md").read_text()
        for target, *_rest in patches.TOUCHES:
            with self.subTest(target=target):
                self.assertIn(f"`{target}`", readme)

    def test_every_override_of_an_18_0_method_is_listed(self):
        """A method of an inherited 18.0 model that 18.0 itself defines is an override: listed."""
        listed = {target.rpartition(".")[2] for target, *_rest in patches.TOUCHES}
        for model, method in sorted(_overridden_core_methods()):
            defined_by_18 = any(
                method in vars(cls) for cls in type(self.env[model]).mro()
                if cls.__module__.startswith("odoo.addons.") and not cls.__module__.startswith(
                    "odoo.addons.integration_suite"))
            if defined_by_18 and method not in ("create", "write", "unlink"):
                with self.subTest(model=model, method=method):
                    self.assertIn(method, listed, f"{model}.{method} overrides 18.0 and is not in patches.TOUCHES")

    def test_process_wide_wraps_only_when_loaded_server_wide(self):
        wrapped = getattr(http.Request._get_session_and_dbname, "original", None) is not None
        self.assertEqual(wrapped, patches.server_wide() and not series.V19)  # 19.0 reads the header itself
        self.assertEqual(getattr(http._generate_routing_rules, "original", None) is not None, patches.server_wide())
