"""The three views in a real browser: Playwright driving Debian's Chromium against `gpu-stack serve`.

Each test checks what the page shows against the CLI: a node's value against `resolve`, a dragged slider
against `resolve --assign`, a pinned output against `solve`, the exported lab state against `resolve
--preset FILE`. Screenshots go to a temporary folder (kept by pytest as artefacts) and, when
GPU_STACK_SCREENSHOTS names a folder (docs/img for the README), there too.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from conftest import relative_error
from gpu_stack.audit.graph import upstream, variable_graph
from gpu_stack.model.scenarios import compose
from serving import LLAMA

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium "
                                "(apt-get install -y chromium; .ci/run installs it)")
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright (the 'test' extra) is not installed")

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]
PER_TOKEN = "econ.cost.per_token"
PRICE = "econ.capex.gpu_price"
EMISSIONS = "econ.run.emissions"


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, served):
    # bypass_csp: Playwright's string predicates are evaluated with eval(), which the page's policy forbids
    context = browser.new_context(viewport={"width": 1500, "height": 900}, bypass_csp=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(served[0] + "/")
    page.wait_for_selector("body[data-ready='1']")
    yield page
    context.close()
    assert not errors, errors


@pytest.fixture(scope="module")
def shots(tmp_path_factory):
    """save(page, name): a screenshot into the artefact folder (and GPU_STACK_SCREENSHOTS when set)."""
    folders = [tmp_path_factory.mktemp("serve-screenshots")]
    if os.environ.get("GPU_STACK_SCREENSHOTS"):
        folders.append(Path(os.environ["GPU_STACK_SCREENSHOTS"]))

    def save(page, name: str) -> None:
        for folder in folders:
            folder.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(folder / f"{name}.png"))

    return save


def _view(page, name: str) -> None:
    page.click(f"nav button[data-view='{name}']")
    page.wait_for_selector(f"#view-{name}:not([hidden])")


def _settled_lab(page) -> None:
    page.wait_for_function("() => { const s = window.gpuStack.labState; return s.description && !s.busy && !s.dirty; }")


def test_search_an_id_expand_its_cone_and_read_a_node(page, registry, resolve_data, shots):
    page.fill("#search", "econ.run.emiss")
    page.click(f".match[data-id='{EMISSIONS}']")
    page.wait_for_selector(f"g.node[data-id='{EMISSIONS}']")
    page.click("#cone-toolbar button[data-do='u']")                           # one step up
    question = compose(registry, [LLAMA])
    inputs = set(variable_graph(registry, question.select).predecessors(EMISSIONS))
    page.wait_for_function(f"window.gpuStack.coneView.visible.size === {len(inputs) + 1}")
    shown = set(page.eval_on_selector_all("g.node", "nodes => nodes.map(n => n.dataset.id)"))
    assert shown == inputs | {EMISSIONS}
    energy = "econ.run.energy"
    page.click(f"g.node[data-id='{energy}']")
    page.wait_for_selector(f"#cone-details .node-id:text-is('{energy}')")
    shown_value = float(page.get_attribute("#cone-details .node-value", "data-value"))
    assert relative_error(shown_value, resolve_data(energy, presets=(LLAMA,))["value"]) < 1e-12
    page.click(f"g.node[data-id='{EMISSIONS}']")
    page.click("#cone-toolbar button[data-do='U']")                           # everything up
    cone = upstream(registry, [EMISSIONS], question.select, cut=question.assign)
    page.wait_for_function(f"window.gpuStack.coneView.visible.size === {len(cone)}")
    shots(page, "cone")
    with page.expect_download() as svg:
        page.click("#export-svg")
    drawing = Path(svg.value.path()).read_text(encoding="utf-8")
    assert drawing.startswith("<svg") and f'data-id="{EMISSIONS}"' in drawing
    with page.expect_download() as png:
        page.click("#export-png")
    assert Path(png.value.path()).read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    permalink = page.url
    page.goto("about:blank")
    page.goto(permalink)                                                      # the permalink restores the view
    page.wait_for_function(f"window.gpuStack.coneView && window.gpuStack.coneView.visible.size === {len(cone)}")


def test_a_dragged_slider_gives_what_resolve_assign_gives(page, resolve_data, shots):
    _view(page, "lab")
    slider = page.locator(f".input-row[data-id='{PRICE}'] .slider")
    slider.wait_for()
    _settled_lab(page)
    page.click("#keep-a")                                                   # the presets' state, to compare
    box = slider.bounding_box()
    low, high, now = (float(slider.get_attribute("min")), float(slider.get_attribute("max")),
                      float(page.input_value(f".input-row[data-id='{PRICE}'] .number")))
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * (now - low) / (high - low), y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.1, y, steps=8)
    page.mouse.up()
    page.wait_for_function(f"window.gpuStack.labState.values['{PRICE}'] < {now}")
    _settled_lab(page)
    dragged = page.input_value(f".input-row[data-id='{PRICE}'] .number")
    assert page.evaluate(f"window.gpuStack.labState.values['{PRICE}']") == float(dragged)
    shown = float(page.get_attribute(f"tr[data-id='{PER_TOKEN}'] td.now", "data-value"))
    expected = resolve_data(PER_TOKEN, {PRICE: dragged}, presets=(LLAMA,))["value"]
    assert relative_error(shown, expected) < 1e-9, (dragged, shown, expected)
    shots(page, "lab")


def test_a_pinned_output_moves_the_freed_input_to_what_solve_finds(page, cli):
    _view(page, "lab")
    _settled_lab(page)
    page.select_option("#pin-output", PER_TOKEN)
    page.fill("#pin-value", "2.5e-6")
    page.select_option("#free-input", PRICE)
    page.click("#solve")
    solved = float(page.get_attribute("#solve-result .solved", "data-value"))
    expected = cli("solve", "--preset", LLAMA, "--target", f"{PER_TOKEN}=2.5e-6", "--free", PRICE, "--json").json()
    assert relative_error(solved, expected["free"][PRICE]["value"]) < 1e-9
    _settled_lab(page)
    assert float(page.input_value(f".input-row[data-id='{PRICE}'] .number")) == solved
    assert relative_error(float(page.get_attribute(f"tr[data-id='{PER_TOKEN}'] td.now", "data-value")), 2.5e-6) < 1e-9


def test_the_exported_lab_state_resolves_to_the_numbers_shown(page, cli, tmp_path):
    _view(page, "lab")
    _settled_lab(page)
    page.fill(".input-row[data-id='econ.site.utilization'] .number", "0.8125")
    page.wait_for_function("window.gpuStack.labState.values['econ.site.utilization'] === 0.8125")
    _settled_lab(page)
    page.click("#export")
    page.wait_for_function("document.getElementById('export-toml').textContent.includes('[assign]')")
    path = tmp_path / "lab.toml"
    path.write_text(page.text_content("#export-toml"), encoding="utf-8")
    shown = float(page.get_attribute(f"tr[data-id='{PER_TOKEN}'] td.now", "data-value"))
    result = cli("resolve", PER_TOKEN, "--preset", str(path), "--json")
    assert result.exit_code == 0, result.stderr
    assert relative_error(result.json()["value"], shown) < 1e-9
    page.select_option("#pin-output", PER_TOKEN)
    page.click("#to-cone")                                  # the cone viewer under the lab's values
    page.wait_for_selector(f"#cone-details .node-id:text-is('{PER_TOKEN}')")
    assert "econ.site.utilization = 0.8125" in page.text_content("#cone-status")
    assert relative_error(float(page.get_attribute("#cone-details .node-value", "data-value")), shown) < 1e-9


def test_the_atlas_lights_an_outputs_cone_across_the_layers(page, registry, shots):
    _view(page, "atlas")
    page.click(f"button.output[data-id='{PER_TOKEN}']")
    page.wait_for_selector(".layer .share")
    question = compose(registry, [LLAMA])
    cone = upstream(registry, [PER_TOKEN], question.select, cut=question.assign)
    assert page.locator(".cell.lit").count() == len(cone)
    shares = [float(s) for s in page.eval_on_selector_all(".share", "spans => spans.map(s => s.dataset.share)")]
    assert abs(sum(shares) - 1.0) < 1e-9
    shots(page, "atlas")
