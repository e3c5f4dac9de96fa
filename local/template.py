"""Reading template.yaml for the local stack: functions, routes, state machines, environment.

Only the intrinsics the local stack needs are resolved; anything that names an AWS-only
resource (the database proxy, the app secret, ...) resolves to UNRESOLVED and is left out, so
local code paths fall back to their embedded defaults.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ACCOUNT = "123456789012"
REGION = "us-east-1"


class _Unresolved:
    def __repr__(self) -> str:
        return "UNRESOLVED"


UNRESOLVED: Any = _Unresolved()

_SHORT_TAGS = {
    "Ref": "Ref",
    "Condition": "Condition",
    "GetAtt": "Fn::GetAtt",
}


class _CfnLoader(yaml.SafeLoader):
    pass


def _construct(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> Any:
    name = _SHORT_TAGS.get(tag_suffix, f"Fn::{tag_suffix}")
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if name == "Fn::GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {name: value}


_CfnLoader.add_multi_constructor("!", _construct)


def load_template(path: Path) -> dict[str, Any]:
    with path.open() as handle:
        loaded: dict[str, Any] = yaml.load(handle, Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass
    return loaded


def function_arn(logical_id: str) -> str:
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{logical_id}"


def state_machine_arn(logical_id: str) -> str:
    return f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{logical_id}"


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    function: str
    pattern: re.Pattern[str]
    param_names: tuple[str, ...]

    def match(self, method: str, path: str) -> dict[str, str] | None:
        if self.method not in (method, "ANY"):
            return None
        found = self.pattern.fullmatch(path)
        if found is None:
            return None
        return dict(zip(self.param_names, found.groups(), strict=True))

    @property
    def route_key(self) -> str:
        return f"{self.method} {self.path}"


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    code_dir: Path
    module_file: Path
    handler_name: str
    environment: dict[str, str] = field(default_factory=dict)
    timeout_seconds: float = 3.0

    @property
    def handler(self) -> str:
        """The template's ``Handler``: ``module.function``, importable from ``code_dir``."""
        module = self.module_file.relative_to(self.code_dir).with_suffix("")
        return ".".join(module.parts) + "." + self.handler_name


@dataclass(frozen=True)
class StateMachineSpec:
    logical_id: str
    definition: str


def _route(method: str, path: str, function: str) -> Route:
    names = tuple(re.findall(r"{([^}/+]+)\+?}", path))
    regex = re.sub(r"{[^}/]+\+}", "(.+)", path)
    regex = re.sub(r"{[^}/]+}", "([^/]+)", regex)
    return Route(method.upper(), path, function, re.compile(regex), names)


class Template:
    """A SAM template as the local stack sees it, with parameter values for local use."""

    def __init__(self, path: Path, parameter_overrides: dict[str, str] | None = None) -> None:
        self.path = path
        self.root = path.parent
        self.doc = load_template(path)
        self.resources: dict[str, Any] = self.doc.get("Resources", {})
        self.parameters: dict[str, str] = {}
        for name, spec in self.doc.get("Parameters", {}).items():
            default = spec.get("Default")
            self.parameters[name] = "" if default is None else str(default)
        self.parameters.update(parameter_overrides or {})

    # -- intrinsic functions -------------------------------------------------------------
    def condition(self, name: str) -> bool:
        spec = self.doc.get("Conditions", {}).get(name)
        return bool(self.resolve(spec))

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) != 1:
            return {k: self.resolve(v) for k, v in value.items()}
        ((key, arg),) = value.items()
        if key == "Ref":
            return self._ref(arg)
        if key == "Fn::GetAtt":
            target, attr = arg if isinstance(arg, list) else arg.split(".", 1)
            return self._get_att(target, attr)
        if key == "Fn::Sub":
            return self._sub(arg)
        if key == "Fn::If":
            name, when_true, when_false = arg
            return self.resolve(when_true if self.condition(name) else when_false)
        if key == "Fn::Equals":
            left, right = (self.resolve(a) for a in arg)
            return str(left) == str(right)
        if key == "Fn::Not":
            return not self.resolve(arg[0])
        if key == "Fn::And":
            return all(self.resolve(a) for a in arg)
        if key == "Fn::Or":
            return any(self.resolve(a) for a in arg)
        if key == "Condition":
            return self.condition(arg)
        if key == "Fn::Join":
            sep, parts = arg
            resolved = [self.resolve(p) for p in self.resolve(parts)]
            if any(p is UNRESOLVED for p in resolved):
                return UNRESOLVED
            return sep.join(str(p) for p in resolved)
        if key.startswith("Fn::"):
            return UNRESOLVED
        return {key: self.resolve(arg)}

    def _ref(self, name: str) -> Any:
        if name in self.parameters:
            return self.parameters[name]
        if name == "AWS::Region":
            return REGION
        if name == "AWS::AccountId":
            return ACCOUNT
        if name == "AWS::StackName":
            return "timmy-local"
        if name == "AWS::NoValue":
            return None
        kind = self.resources.get(name, {}).get("Type", "")
        if kind == "AWS::Serverless::Function":
            return name
        if kind == "AWS::Serverless::StateMachine":
            return state_machine_arn(name)
        return UNRESOLVED

    def _get_att(self, target: str, attr: str) -> Any:
        kind = self.resources.get(target, {}).get("Type", "")
        if kind == "AWS::Serverless::Function" and attr == "Arn":
            return function_arn(target)
        if kind == "AWS::Serverless::StateMachine" and attr in {"Arn", "Name"}:
            return state_machine_arn(target) if attr == "Arn" else target
        return UNRESOLVED

    def _sub(self, arg: Any) -> Any:
        text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
        unresolved = False

        def replace(match: re.Match[str]) -> str:
            nonlocal unresolved
            name = match.group(1)
            if name in variables:
                value = self.resolve(variables[name])
            elif "." in name:
                value = self._get_att(*name.split(".", 1))
            else:
                value = self._ref(name)
            if value is UNRESOLVED:
                unresolved = True
                return ""
            return str(value)

        result = re.sub(r"\${([^}!]+)}", replace, text)
        return UNRESOLVED if unresolved else result

    # -- what the stack needs ------------------------------------------------------------
    def _included(self, spec: dict[str, Any]) -> bool:
        condition = spec.get("Condition")
        return condition is None or self.condition(condition)

    def _globals(self) -> dict[str, Any]:
        return dict(self.doc.get("Globals", {}).get("Function", {}))

    def functions(self) -> dict[str, FunctionSpec]:
        global_env = self._globals().get("Environment", {}).get("Variables", {})
        found: dict[str, FunctionSpec] = {}
        for logical_id, spec in self.resources.items():
            if spec.get("Type") != "AWS::Serverless::Function" or not self._included(spec):
                continue
            props = spec.get("Properties", {})
            code_dir = self.root / str(props["CodeUri"])
            module_name, _, handler_name = str(props["Handler"]).rpartition(".")
            env_spec = {**global_env, **props.get("Environment", {}).get("Variables", {})}
            environment = {}
            for key, raw in env_spec.items():
                value = self.resolve(raw)
                if value is not UNRESOLVED and value is not None:
                    environment[key] = str(value)
            found[logical_id] = FunctionSpec(
                logical_id,
                code_dir,
                code_dir / f"{module_name.replace('.', '/')}.py",
                handler_name,
                environment,
                float(props.get("Timeout", self._globals().get("Timeout", 3))),
            )
        return found

    def routes(self) -> list[Route]:
        routes = []
        for logical_id, spec in self.resources.items():
            if spec.get("Type") != "AWS::Serverless::Function" or not self._included(spec):
                continue
            for event in spec.get("Properties", {}).get("Events", {}).values():
                if event.get("Type") != "HttpApi":
                    continue
                props = event.get("Properties", {})
                routes.append(_route(props["Method"], props["Path"], logical_id))
        # Literal segments win over parameters, as API Gateway matches the most specific route.
        routes.sort(key=lambda r: (r.path.count("{"), -len(r.path)))
        return routes

    def state_machines(self) -> list[StateMachineSpec]:
        machines = []
        for logical_id, spec in self.resources.items():
            if spec.get("Type") != "AWS::Serverless::StateMachine" or not self._included(spec):
                continue
            props = spec.get("Properties", {})
            definition = (self.root / str(props["DefinitionUri"])).read_text()
            for name, raw in props.get("DefinitionSubstitutions", {}).items():
                value = self.resolve(raw)
                if value is UNRESOLVED:
                    raise ValueError(f"{logical_id}: cannot resolve substitution {name} locally")
                definition = definition.replace("${" + name + "}", str(value))
            machines.append(StateMachineSpec(logical_id, definition))
        return machines
