"""README.md is assembled from readme/ and its recipes quote the scenario tests' configuration.

Without Odoo: the assembly script is loaded from its file, the tests' constants are read from
the source of tests/test_scenarios.py.
"""
import ast
import importlib.util
import json
import re
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SPEC = importlib.util.spec_from_file_location("readme", ROOT / "scripts" / "readme.py")
readme = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(readme)

README = (ROOT / "README.md").read_text(encoding="utf-8")
SCENARIOS = ast.parse((ROOT / "tests" / "test_scenarios.py").read_text(encoding="utf-8"))
# the recipe settings a user types in: each must appear in the README as a code block of its own
QUOTED = ["SHOP_CUSTOMER_GETTER", "SHOP_ORDER_CODE", "PAYMENT_GETTER", "PAYMENT_CODE", "NO_ECHO_DOMAIN"]


def constants():
    """Module-level literal assignments of the scenario tests, by name."""
    return {node.targets[0].id: ast.literal_eval(node.value) for node in SCENARIOS.body
            if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)
            and node.targets[0].id.isupper()}


def code_blocks(text):
    """The fenced code blocks of ``text``, dedented (recipes nest them in list items)."""
    return [textwrap.dedent(block).strip() for block in re.findall(r"^ *```[a-z]*\n(.*?)^ *```$", text, re.M | re.S)]


def test_readme_is_assembled_from_the_fragments():
    assert README == readme.render(), "README.md is out of date: run python3 scripts/readme.py"


def test_apps_page_is_assembled_from_the_fragments():
    """Odoo shows static/description/index.html on the module's page (and then never renders
    README.md with docutils, which logged an error per Markdown construct at every start)."""
    page = (ROOT / "static" / "description" / "index.html").read_text(encoding="utf-8")
    assert page == readme.render_html(), "static/description/index.html is out of date: run make readme"
    assert '<h2 id="quick-start">Quick start</h2>' in page
    assert 'src="/integration_suite/static/description/screenshots/endpoint_form.png"' in page
    assert "```" not in page


def test_readme_renders_as_the_apps_description():
    """Without static/description/index.html, Odoo renders README.md with docutils (as RST) when
    it loads the module; a SEVERE docutils error there makes the installation fail."""
    core = pytest.importorskip("docutils.core")
    core.publish_string(source=README, writer_name="html", settings_overrides={
        "embed_stylesheet": False, "doctitle_xform": False, "output_encoding": "unicode",
        "xml_declaration": False, "file_insertion_enabled": False,
    })


def test_every_fragment_is_assembled():
    used = {name for name, _heading in readme.SECTIONS}
    assert {path.name for path in (ROOT / "readme").glob("*.md")} == used


def test_table_of_contents_links_resolve():
    anchors = {readme.slug(heading) for heading in re.findall(r"^#{2,4} (.+)$", README, re.M)}
    links = re.findall(r"\]\(#([^)]+)\)", README)
    assert links
    assert set(links) <= anchors


def test_recipes_quote_the_tests_configuration():
    values, blocks = constants(), code_blocks(README)
    for name in QUOTED:
        assert values[name].strip() in blocks, f"{name} of tests/test_scenarios.py is not quoted in the README"
    schemas = []
    for block in blocks:
        try:
            schemas.append(json.loads(block))
        except ValueError:
            continue
    assert values["SHOP_ORDER_SCHEMA"] in schemas


def test_every_scenario_test_is_named_by_its_recipe():
    tests = [node.name for node in ast.walk(SCENARIOS) if isinstance(node, ast.FunctionDef)
             and node.name.startswith("test_")]
    assert len(tests) >= 5
    for name in tests:
        assert f"`{name}`" in README, name
