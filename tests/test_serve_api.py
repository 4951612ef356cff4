"""The `gpu-stack serve` API (Starlette's TestClient, in process): its numbers are `resolve`'s and `solve`'s, its
bad-input answers are the CLI's messages with HTTP 400, and it never takes a path.

Plus the bounded load test of issue 13 on a real loopback server: 200 concurrent lab updates, no errors, memory
stable (the latency figures are printed by benchmarks/serve.py, never asserted here).
"""

from __future__ import annotations

import json
import re
import warnings

import pytest

pytest.importorskip("starlette", reason="the 'serve' extra is not installed")
pytest.importorskip("httpx", reason="httpx (Starlette's TestClient) is not installed")

with warnings.catch_warnings():   # Starlette 1.x asks for httpx2 and still works with httpx
    warnings.filterwarnings("ignore", message="Using `httpx` with")
    from starlette.testclient import TestClient  # noqa: E402

from conftest import relative_error  # noqa: E402
from gpu_stack.serve.api import Service  # noqa: E402
from gpu_stack.serve.app import MAX_BODY_BYTES, STATIC, create_app  # noqa: E402
from serving import LLAMA, post_concurrently, resident_kib  # noqa: E402

PER_TOKEN = "econ.cost.per_token"
PRICE = "econ.capex.gpu_price"


@pytest.fixture(scope="module")
def service(registry) -> Service:
    return Service(None, [LLAMA])


@pytest.fixture(scope="module")
def client(service) -> TestClient:
    return TestClient(create_app(service, allowed_hosts=["testserver"]))


def _post(client: TestClient, path: str, body: object) -> tuple[int, dict]:
    response = client.post(path, content=json.dumps(body), headers={"content-type": "application/json"})
    return response.status_code, response.json()


def test_cost_per_token_under_llama_is_what_resolve_gives(client, resolve_data):
    expected = resolve_data(PER_TOKEN, presets=(LLAMA,))["value"]
    status, lab = _post(client, "/api/lab/evaluate", {"presets": [LLAMA], "values": {}})
    assert status == 200 and relative_error(lab["outputs"][PER_TOKEN], expected) < 1e-9
    status, cone = _post(client, "/api/cone", {"target": PER_TOKEN, "presets": [LLAMA]})
    node = next(n for n in cone["nodes"] if n["id"] == PER_TOKEN)
    assert status == 200 and node["value"] == expected   # the cone's values come from the audit resolver itself
    assert node["source"] == "equation" and node["equation"]["unit_check"] == "ok"


def test_a_downstream_cone_reaches_the_outputs_an_input_moves(client, registry):
    from gpu_stack.audit.graph import downstream
    from gpu_stack.model.scenarios import compose
    status, cone = _post(client, "/api/cone", {"target": PRICE, "direction": "down", "presets": [LLAMA]})
    select = compose(registry, [LLAMA]).select
    assert status == 200 and {n["id"] for n in cone["nodes"]} == downstream(registry, [PRICE], select)
    assert PER_TOKEN in {n["id"] for n in cone["nodes"]}
    price = next(n for n in cone["nodes"] if n["id"] == PRICE)
    # the pack assigns the price; where an equation could compute it, that equation is cut (an override)
    assert price["source"] == ("override" if PRICE in registry.defining_equations(select) else "assign")
    assert price["origin"]   # the pack that gave it


def test_a_lab_value_gives_what_resolve_assign_gives(client, resolve_data):
    status, lab = _post(client, "/api/lab", {"presets": [LLAMA]})
    assert status == 200 and PRICE in [i["id"] for i in lab["inputs"]]
    values = {i["id"]: i["value"] for i in lab["inputs"]}
    values[PRICE] = 21234.5
    _, answer = _post(client, "/api/lab/evaluate", {"presets": [LLAMA], "values": values})
    expected = resolve_data(PER_TOKEN, {PRICE: 21234.5}, presets=(LLAMA,))["value"]
    assert relative_error(answer["outputs"][PER_TOKEN], expected) < 1e-9


def test_pinning_an_output_solves_what_solve_solves(client, cli):
    status, answer = _post(client, "/api/lab/solve", {"presets": [LLAMA], "values": {}, "pin": PER_TOKEN,
                                                      "pin_value": 2.5e-6, "free": PRICE})
    assert status == 200 and answer["status"] == "ok", answer
    expected = cli("solve", "--preset", LLAMA, "--target", f"{PER_TOKEN}=2.5e-6", "--free", PRICE, "--json").json()
    assert relative_error(answer["free"]["value"], expected["free"][PRICE]["value"]) < 1e-9


def test_an_unreachable_pin_is_explained_not_solved(client):
    status, answer = _post(client, "/api/lab/solve", {"presets": [LLAMA], "values": {}, "pin": PER_TOKEN,
                                                      "pin_value": 1e-9, "free": PRICE})
    assert status == 200 and answer["status"] != "ok" and answer["message"] and answer["free"]["value"] is None


def test_the_exported_lab_state_resolves_to_the_lab_numbers(client, cli, tmp_path):
    values = {PRICE: 18000.25, "econ.site.utilization": 0.8125}
    _, lab = _post(client, "/api/lab/evaluate", {"presets": [LLAMA], "values": values})
    status, export = _post(client, "/api/lab/export", {"presets": [LLAMA], "values": values})
    assert status == 200
    path = tmp_path / "lab.toml"
    path.write_text(export["toml"], encoding="utf-8")
    for output in (PER_TOKEN, "econ.run.emissions"):
        result = cli("resolve", output, "--preset", str(path), "--json")
        assert result.exit_code == 0, result.stderr
        assert relative_error(result.json()["value"], lab["outputs"][output]) < 1e-9


@pytest.mark.parametrize("body", [
    {"target": PER_TOKEN, "presets": ["../scenarios/runs/llama3_405b_h100.toml"]},
    {"target": PER_TOKEN, "presets": ["/etc/passwd"]},
    {"target": PER_TOKEN, "presets": ["scenarios/runs/llama3_405b_h100"]},
])
def test_a_path_is_never_taken_as_a_preset(client, body):
    status, answer = _post(client, "/api/cone", body)
    assert status == 400 and answer["error"].startswith(f"unknown scenario '{body['presets'][0]}'")


def test_bad_values_get_the_clis_message_with_400(client, cli):
    for text, values in [("econ.capex.gpu_price=-5", {PRICE: -5}), ("econ.capex.gpu_pricee=5", {PRICE + "e": 5}),
                         ("par.pp.degree=2.5", {"par.pp.degree": 2.5})]:
        printed = cli("resolve", PER_TOKEN, "--preset", LLAMA, "--assign", text)
        assert printed.exit_code == 2
        status, answer = _post(client, "/api/lab/evaluate", {"presets": [LLAMA], "values": values})
        assert status == 400 and "error: " + answer["error"] == printed.stderr.strip().replace("\n", " ")


@pytest.mark.parametrize("path, body, message", [
    ("/api/cone", {"target": "econ.nope", "presets": []}, "unknown variable 'econ.nope'"),
    ("/api/cone", {"target": PER_TOKEN, "direction": "sideways"}, "field 'direction' must be 'up' or 'down'"),
    ("/api/cone", {"target": PER_TOKEN, "extra": 1}, "unknown field(s) ['extra']"),
    ("/api/lab/evaluate", {"presets": [LLAMA], "values": {PRICE: "20000"}}, "must map to a number"),
    ("/api/lab/evaluate", {"presets": [LLAMA], "values": {PRICE: True}}, "must map to a number"),
    ("/api/lab/solve", {"presets": [LLAMA], "pin": PER_TOKEN, "pin_value": "x", "free": PRICE}, "finite number"),
    ("/api/lab/evaluate", [1, 2], "must be a JSON object"),
    ("/api/lab/evaluate", {"presets": [LLAMA], "values": {"training.stall_fraction": 0.1}},
     "'training.stall_fraction' is not one of the lab's inputs under runs.llama3_405b_h100"),
])
def test_bad_requests_are_400_with_a_message(client, path, body, message):
    status, answer = _post(client, path, body)
    assert status == 400 and message in answer["error"], answer
    assert "Traceback" not in answer["error"]


def test_a_body_that_is_not_json_or_too_large_is_refused(client):
    response = client.post("/api/lab/evaluate", content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 400 and "not JSON" in response.json()["error"]
    response = client.post("/api/lab/evaluate", content=b" " * (MAX_BODY_BYTES + 1))
    assert response.status_code == 400 and "larger than" in response.json()["error"]


def test_search_ranks_id_prefixes_first_and_finds_descriptions(client):
    matches = client.get("/api/search", params={"q": "econ.run.em"}).json()["matches"]
    assert matches[0]["id"] == "econ.run.emissions"
    described = client.get("/api/search", params={"q": "co2-equivalent"}).json()["matches"]
    assert "econ.run.emissions" in [m["id"] for m in described]


def test_the_atlas_shares_add_up_and_light_the_cone(client, service):
    atlas = _post(client, "/api/atlas", {"presets": [LLAMA]})[1]
    assert sum(len(layer["variables"]) for layer in atlas["layers"]) == len(service.registry.variables)
    assert atlas["layers"][0]["key"] == "econ" and PER_TOKEN in atlas["layers"][0]["outputs"]
    light = _post(client, "/api/atlas/light", {"output": PER_TOKEN, "presets": [LLAMA]})[1]
    assert abs(sum(light["shares"].values()) - 1.0) < 1e-12 and PER_TOKEN in light["members"]


def test_the_page_and_its_modules_are_served_with_a_strict_policy(client):
    page = client.get("/")
    assert page.status_code == 200 and "main.js" in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    for module in sorted(STATIC.glob("*.js")):
        assert client.get(f"/static/{module.name}").status_code == 200
    sources = "".join(p.read_text(encoding="utf-8") for p in STATIC.iterdir())
    assert not re.findall(r"https?://(?!www\.w3\.org/2000/svg)", sources)   # nothing is fetched from elsewhere


def test_another_host_header_is_refused(service):
    local = TestClient(create_app(service), base_url="http://evil.example")
    assert local.get("/api/meta").status_code == 400


def test_200_concurrent_lab_updates_answer_without_errors_and_memory_stays_flat(served):
    base, pid, _ready = served
    bodies = [{"presets": [LLAMA], "values": {PRICE: 20000.0 + 10 * i}} for i in range(200)]
    post_concurrently(base, "/api/lab/evaluate", bodies[:1])          # compile the lab first
    resident: list[int] = []
    answers = post_concurrently(base, "/api/lab/evaluate", bodies, rounds=3,
                                between=lambda round_: resident.append(resident_kib(pid)))
    resident.append(resident_kib(pid))
    assert {status for status, _seconds, _body in answers} == {200}
    assert len({json.loads(body)["outputs"][PER_TOKEN] for _status, _seconds, body in answers}) == 200
    grown = resident[-1] - resident[1]   # after the first round: connections and buffers are in place
    assert grown < 20_000, f"the server's resident memory grew by {grown} KiB over 400 lab updates ({resident})"


def test_another_host_is_warned_about_and_a_taken_port_is_bad_input(cli):
    import socket
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = cli("serve", "--host", "127.0.0.1", "--port", str(port))
        assert result.exit_code == 2 and f"cannot listen on 127.0.0.1 port {port}" in result.stderr
        assert "warning" not in result.stderr
        exposed = cli("serve", "--host", "0.0.0.0", "--port", str(port), "--preset", "no_such_scenario")
    assert exposed.exit_code == 2
    assert exposed.stderr.startswith("warning: serving on 0.0.0.0: every machine that reaches it can use the API")
    assert "error: unknown scenario 'no_such_scenario'" in exposed.stderr


def test_serve_without_its_extra_says_what_to_install(cli, monkeypatch):
    import gpu_stack.serve
    monkeypatch.setattr(gpu_stack.serve, "missing_extra", lambda: ["uvicorn"])
    result = cli("serve")
    assert result.exit_code == 2
    assert result.stderr.strip() == "error: gpu-stack serve needs the 'serve' extra (uvicorn not installed) " \
                                    "(pip install 'gpu-stack[serve]')"
