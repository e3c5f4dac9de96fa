from __future__ import annotations

from pathlib import Path

from local.template import UNRESOLVED, Template, function_arn

ROOT = Path(__file__).resolve().parents[2]


def test_every_http_route_of_the_template_is_mounted_with_its_function() -> None:
    template = Template(ROOT / "template.yaml", {"DevMode": "true"})
    routes = {(r.method, r.path): r.function for r in template.routes()}
    assert routes[("GET", "/api/healthz")] == "HealthFunction"
    assert routes[("POST", "/api/webhooks/lightning")] == "LightningWebhookFunction"
    assert routes[("POST", "/api/dev/stub/pay/{payment_hash}")] == "DevStubPayFunction"


def test_dev_only_routes_vanish_without_dev_mode() -> None:
    template = Template(ROOT / "template.yaml", {"DevMode": "false"})
    assert all(r.function != "DevStubPayFunction" for r in template.routes())
    assert "DevStubPayFunction" not in template.functions()


def test_path_parameters_are_extracted() -> None:
    template = Template(ROOT / "template.yaml", {"DevMode": "true"})
    route = next(r for r in template.routes() if r.function == "DevStubPayFunction")
    assert route.match("POST", "/api/dev/stub/pay/abc") == {"payment_hash": "abc"}
    assert route.match("GET", "/api/dev/stub/pay/abc") is None
    assert route.match("POST", "/api/dev/stub/pay/abc/extra") is None


def test_aws_only_resources_stay_unresolved_locally() -> None:
    template = Template(ROOT / "template.yaml", {"DevMode": "true"})
    assert template.resolve({"Fn::GetAtt": ["DbProxy", "Endpoint"]}) is UNRESOLVED
    assert template.resolve({"Fn::GetAtt": ["HealthFunction", "Arn"]}) == function_arn(
        "HealthFunction"
    )
    env = template.functions()["HealthFunction"].environment
    assert "DB_HOST" not in env
    assert "TIMMY_SECRET_ARN" not in env
    assert env["DEV_MODE"] == "true"
