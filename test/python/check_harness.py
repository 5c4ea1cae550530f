"""Shared harness for the Python check scripts in this folder.

Each script registers its checks with `@check` and ends with `run_checks()`, which runs them in
order, prints one `ok   <name>` / `FAIL <name>` line per check (with the traceback on failure) and
a closing "N passed, N failed" line, then exits 1 on any failure. The scripts are run as
`python test/python/<script>.py`, so this folder is already on sys.path.
"""

import sys
import traceback

checks = []


def check(fn):
    checks.append(fn)
    return fn


def run_checks():
    passed = failed = 0
    for fn in checks:
        try:
            fn()
            passed += 1
            print(f"ok   {fn.__name__}")
        except Exception:  # noqa: BLE001 - report every failure, keep going
            failed += 1
            print(f"FAIL {fn.__name__}")
            traceback.print_exc()
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


def tool(name, description):
    """An OpenAI function tool taking a `city` (required) and a `unit`."""
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}, "unit": {"type": "string"}},
                "required": ["city"],
            },
        },
    }


def user(text):
    return [{"role": "user", "content": text}]
