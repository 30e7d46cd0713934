"""schemathesis against the app's own OpenAPI schema: whatever it generates, no 500."""

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from digitnet import MLP, save_model
from digitnet.app.serve import create_app


def _app():
    import tempfile
    from pathlib import Path

    path = Path(tempfile.mkdtemp()) / "m.safetensors"
    save_model(path, MLP([784, 16, 10], "relu"), {"dataset": "mnist", "test_accuracy": 0.5})
    return create_app(path)


schema = schemathesis.openapi.from_asgi("/openapi.json", _app())


@schema.parametrize()
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors(case):
    case.call_and_validate(checks=[not_a_server_error])
