"""The committed AsyncAPI document parses without error in the reference parser (@asyncapi/parser),
the one AsyncAPI's own tools use. It is installed with npm, once, under .local/."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
PARSER_VERSION = "3.6.3"
NODE_DIR = ROOT / ".local" / "asyncapi-parser"
DOCUMENT = ROOT / "libs" / "events" / "docs" / "asyncapi.json"


def installed_parser() -> Path:
    """node_modules holding @asyncapi/parser at PARSER_VERSION, installed if it is not there yet."""
    package = NODE_DIR / "node_modules" / "@asyncapi" / "parser" / "package.json"
    if not package.exists() or json.loads(package.read_text())["version"] != PARSER_VERSION:
        if not shutil.which("npm"):
            pytest.fail("Node.js and npm are needed to check the AsyncAPI document: apt-get install -y nodejs npm")
        NODE_DIR.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                "npm",
                "install",
                "--prefix",
                str(NODE_DIR),
                "--no-audit",
                "--no-fund",
                "--silent",
                f"@asyncapi/parser@{PARSER_VERSION}",
            ],
            check=True,
            timeout=600,
        )
    return NODE_DIR / "node_modules"


def test_the_asyncapi_document_parses_in_the_reference_parser() -> None:
    node_modules = installed_parser()
    parsed = subprocess.run(
        ["node", str(Path(__file__).with_name("asyncapi_parse.cjs")), str(DOCUMENT)],
        env={**os.environ, "NODE_PATH": str(node_modules)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert parsed.returncode == 0, parsed.stdout + parsed.stderr
