"""openapi_check.py: checks recorded answers of groupvaultd against
docs/openapi.yaml: the status is one the operation documents (or, for a
path or method the document does not have, 400/404/405), the Content-Type
is one it documents (JSON, or text for a text answer), the body is valid
against that media type's schema, and the documented headers are there
with their values. Used by test_openapi.py and, for every answer the
black-box suite recorded (harness.py, GV_API_RECORD), by run.py."""
import json
import os
import re
from urllib.parse import urlsplit

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SPEC = os.path.join(ROOT, "docs", "openapi.yaml")
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


class Unavailable(Exception):
    """python3-yaml or python3-jsonschema is missing."""


def _deref(node, doc, depth=0):
    """node with every local $ref replaced by what it points at (the
    document has no recursive schemas)."""
    assert depth < 50, "$ref nesting too deep"
    if isinstance(node, dict):
        if "$ref" in node:
            target = doc
            for part in node["$ref"].lstrip("#/").split("/"):
                target = target[part]
            rest = {k: v for k, v in node.items() if k != "$ref"}
            resolved = _deref(target, doc, depth + 1)
            if rest and isinstance(resolved, dict):
                resolved = dict(resolved, **_deref(rest, doc, depth + 1))
            return resolved
        return {k: _deref(v, doc, depth) for k, v in node.items()}
    if isinstance(node, list):
        return [_deref(v, doc, depth) for v in node]
    return node


class Contract:
    def __init__(self, path=SPEC):
        try:
            import yaml
            import jsonschema
        except ImportError as e:
            raise Unavailable("python3-yaml and python3-jsonschema are needed: %s" % e)
        self.jsonschema = jsonschema
        with open(path) as f:
            self.raw = yaml.safe_load(f)
        self.doc = _deref(self.raw, self.raw)
        self.ops = []  # (regex, template, {method: operation})
        for template, item in self.doc["paths"].items():
            rx = "^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template)) + "$"
            ops = {m: item[m] for m in METHODS if m in item}
            self.ops.append((re.compile(rx), template, ops))
        # Literal paths win over parameter ones (as in the route table).
        self.ops.sort(key=lambda o: o[1].count("{"))

    def operations(self):
        """(METHOD, template) for every operation in the document."""
        return {(m.upper(), t) for _, t, ops in self.ops for m in ops}

    def match(self, method, path):
        """(template, operation): operation None when the path is known
        but not the method; (None, None) when the path is unknown."""
        for rx, template, ops in self.ops:
            if rx.match(path):
                return template, ops.get(method.lower())
        return None, None

    def _valid(self, schema, value):
        cls = self.jsonschema.Draft202012Validator
        errors = sorted(cls(schema, format_checker=None).iter_errors(value), key=str)
        return [e.message + " at /" + "/".join(str(p) for p in e.absolute_path)
                for e in errors]

    def check(self, method, target, status, headers, raw):
        """Problems with one answer (an empty list when it conforms)."""
        path = urlsplit(target).path
        where = "%s %s -> %d" % (method, path, status)
        problems = []
        headers = {k.lower(): v for k, v in headers.items()}
        if method.upper() == "HEAD":
            return problems
        ctype = headers.get("content-type", "").split(";")[0].strip()
        template, op = self.match(method, path)
        if op is None:
            allowed = {400, 404} if template is None else {400, 405}
            if status not in allowed:
                problems.append("%s: not in the document; status should be %s" %
                                (where, sorted(allowed)))
            content = {"application/json": {"schema":
                                            self.doc["components"]["schemas"]["Error"]}}
        else:
            resp = op["responses"].get(str(status))
            if resp is None:
                return problems + ["%s: status not documented for %s %s (%s)" %
                                   (where, method.upper(), template, sorted(op["responses"]))]
            content = resp["content"]
        if ctype not in content:
            return problems + ["%s: Content-Type %r, documented %s" %
                               (where, ctype, sorted(content))]
        if ctype == "application/json":
            try:
                body = json.loads(raw)
            except ValueError:
                return problems + ["%s: body is not JSON: %r" % (where, raw[:200])]
        else:
            body = raw if isinstance(raw, str) else raw.decode("utf-8", "replace")
        schema = content[ctype].get("schema", {})
        problems += ["%s: %s" % (where, m) for m in self._valid(schema, body)]
        if op is None:
            return problems
        for name, h in resp.get("headers", {}).items():
            value = headers.get(name.lower())
            if value is None:
                if h.get("required"):
                    problems.append("%s: header %s missing" % (where, name))
                continue
            if h["schema"].get("type") == "integer":
                value = int(value) if value.isdigit() else value
            problems += ["%s: header %s: %s" % (where, name, m)
                         for m in self._valid(h["schema"], value)]
        return problems


def check_file(path, contract=None):
    """(answers checked, problems) for a GV_API_RECORD file of JSON lines
    {method, target, status, headers, body}."""
    contract = contract or Contract()
    n, problems, seen = 0, [], set()
    with open(path) as f:
        for line in f:
            r = json.loads(line)
            n += 1
            for p in contract.check(r["method"], r["target"], r["status"], r["headers"],
                                    r["body"]):
                if p not in seen:
                    seen.add(p)
                    problems.append(p)
    return n, problems
