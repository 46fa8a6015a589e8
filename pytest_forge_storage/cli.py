"""``forge-storage-fake serve``: the Forge storage fake on a local HTTP port, outside pytest."""

from __future__ import annotations

import argparse
import signal
import sys
import time
from collections.abc import Sequence
from types import FrameType

from pytest_forge_storage import __version__
from pytest_forge_storage._errors import ForgeStorageError

PROG = "forge-storage-fake"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="A fake of Atlassian Forge hosted storage (KVS, secrets, custom entities) "
        "over REST and GraphQL, with Forge's semantics and errors.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    serve = commands.add_parser(
        "serve",
        help="serve the fake over HTTP until Ctrl-C or SIGTERM",
        description="Serve the fake over HTTP: /forge/storage/kvs/v1/<op> (REST), /api/v1/<op> "
        "(the @forge/kvs in-runtime paths), /graphql and /forge/entities/graphql.",
    )
    serve.add_argument(
        "--host", default="127.0.0.1", help="interface to bind (default: %(default)s)"
    )
    serve.add_argument(
        "--port", type=int, default=8080, help="port; 0 picks a free one (default: %(default)s)"
    )
    serve.add_argument("--manifest", metavar="FILE", help="Forge manifest.yml declaring entities")
    serve.add_argument(
        "--data", metavar="FILE", help="JSON file to seed from (the shape --dump writes)"
    )
    serve.add_argument("--dump", metavar="FILE", help="write everything stored to FILE on exit")
    serve.add_argument(
        "--no-auth", action="store_true", help="accept requests without a bearer token"
    )
    serve.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow binding an interface other machines can reach (no TLS, any token works)",
    )
    serve.add_argument(
        "--quiet", action="store_true", help="do not log one line per request to stderr"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return serve(args)


def serve(args: argparse.Namespace) -> int:
    from pytest_forge_storage.transports.server import ForgeStorageServer

    def log(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    try:
        server = ForgeStorageServer(
            host=args.host,
            port=args.port,
            manifest=args.manifest,
            log=None if args.quiet else log,
            allow_remote=args.allow_remote,
        )
    except (OSError, ValueError, ForgeStorageError) as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    storage = server.storage
    storage.auth = not args.no_auth
    if args.data:
        try:
            storage.load(args.data)
        except (OSError, ForgeStorageError) as exc:
            server.stop()
            print(f"{PROG}: error: cannot load --data {args.data}: {exc}", file=sys.stderr)
            return 2

    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        server.start()
        print(f"{PROG} serving on {server.url}", flush=True)
        while True:
            time.sleep(3600)
    except (KeyboardInterrupt, _Stop):
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        server.stop()
    if args.dump:
        try:
            storage.dump(args.dump)
        except OSError as exc:
            print(f"{PROG}: error: cannot write --dump {args.dump}: {exc}", file=sys.stderr)
            return 1
    print(f"{PROG} stopped", file=sys.stderr, flush=True)
    return 0


class _Stop(Exception):
    """Raised in the main thread by SIGTERM, to leave the serving loop like Ctrl-C does."""


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise _Stop
