"""validate_fhir_resources.py: validates FHIR R4 resources with the `fhir.resources` 6.2.x models (pydantic v1).

A third, independent validator for the Rust test suite (tests/it/fhir.rs). 6.2.x is the last release of
fhir.resources that models R4 (4.0.1); 7.x and later model R4B/R5 and would accept or refuse the wrong things.

Input: a JSON file (first argument) holding a Bundle or an array of resources; a Bundle is validated whole, which
also validates every entry's resource. Output: one line per problem; exit 1 if there is any, 0 otherwise, 2 on bad
input. Install (once): python3 -m venv tools/fhir/.venv && tools/fhir/.venv/bin/pip install "fhir.resources==6.2.*" "pydantic<2"
"""
import json
import sys

try:
    from fhir.resources import construct_fhir_element
    from fhir.resources import __version__ as fhir_resources_version
except ImportError as e:  # pragma: no cover - the message is the point
    print(f"validate_fhir_resources.py: fhir.resources is not installed ({e})", file=sys.stderr)
    sys.exit(2)


def main() -> int:
    if not fhir_resources_version.startswith("6.2."):
        print(f"validate_fhir_resources.py: need fhir.resources 6.2.x (R4), found {fhir_resources_version}", file=sys.stderr)
        return 2
    try:
        with open(sys.argv[1], encoding="utf-8") as f:
            data = json.load(f)
    except (IndexError, OSError, ValueError) as e:
        print(f"validate_fhir_resources.py: bad input: {e}", file=sys.stderr)
        return 2
    resources = data if isinstance(data, list) else [data]
    errors = 0
    for i, resource in enumerate(resources):
        kind = resource.get("resourceType", "?") if isinstance(resource, dict) else "?"
        try:
            construct_fhir_element(kind, resource)
        except Exception as e:  # pydantic.ValidationError and unknown resource types alike
            errors += 1
            text = " ".join(str(e).split())
            print(f"#{i} {kind}: {text}")
    print(f"validate_fhir_resources.py: {len(resources)} resource(s), {errors} error(s)")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
