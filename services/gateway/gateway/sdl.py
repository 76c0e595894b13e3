"""Export the GraphQL schema as SDL: `python -m gateway.sdl [--out FILE] [--check]`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gateway.graphql.schema import schema

COMMITTED = Path(__file__).resolve().parents[1] / "schema.graphql"


def sdl() -> str:
    return schema.as_str() + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=COMMITTED, help=f"where to write (default: {COMMITTED})")
    parser.add_argument("--check", action="store_true", help="exit 1 if the file differs from the schema in code")
    args = parser.parse_args()
    if args.check:
        if not args.out.exists() or args.out.read_text() != sdl():
            sys.exit(f"{args.out} is out of date: run `make docs`")
        return
    args.out.write_text(sdl())
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
