from __future__ import annotations

from local import openapi
from local.template import Template


def test_committed_openapi_document_is_current() -> None:
    expected = openapi.render(openapi.generate())
    assert openapi.OUTPUT.read_text() == expected, (
        "shared/openapi.json is stale: run `make openapi`"
    )


def test_every_http_route_in_the_template_is_documented() -> None:
    template = Template(openapi.ROOT / "template.yaml", {"DevMode": "true"})
    documented = {
        (method.upper(), path)
        for path, operations in openapi.generate()["paths"].items()
        for method in operations
    }
    for route in template.routes():
        assert (route.method, route.path) in documented, route.route_key
