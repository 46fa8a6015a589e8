"""``forge-storage-fake serve``: the Forge storage fake on a local HTTP port, outside pytest."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import tempfile
import time
from collections.abc import Sequence
from types import FrameType
from typing import TYPE_CHECKING, Any

from pytest_forge_storage import __version__
from pytest_forge_storage._errors import ForgeStorageError

if TYPE_CHECKING:
    from pytest_forge_storage.storage import ForgeStorage

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
    serve.add_argument(
        "--db",
        metavar="FILE",
        help="keep everything in this SQLite file: loaded at start, every acknowledged write "
        "on disk before it is answered (survives kill -9)",
    )
    serve.add_argument(
        "--dump",
        metavar="FILE",
        help="write everything stored to FILE on exit (atomically: the old FILE stays whole "
        "until the new one is complete)",
    )
    serve.add_argument(
        "--no-auth", action="store_true", help="accept requests without a bearer token"
    )
    serve.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow binding an interface other machines can reach (no TLS, any token works)",
    )
    control = serve.add_mutually_exclusive_group()
    control.add_argument(
        "--no-control",
        action="store_true",
        help="turn the control API (/_forge-storage/reset, seed, snapshot, calls, faults, "
        "installations) off; it is on by default on loopback only",
    )
    control.add_argument(
        "--control",
        action="store_true",
        help="keep the control API on beyond loopback (with --allow-remote): anyone who "
        "reaches the port can then reset, seed and read the store, secrets included",
    )
    serve.add_argument(
        "--quiet", action="store_true", help="do not log one line per request to stderr"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return serve(args)


def serve(args: argparse.Namespace) -> int:
    from pytest_forge_storage.server import ForgeStorageServer

    def log(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    if args.dump:
        try:
            check_writable(args.dump)
        except OSError as exc:
            return _fail(f"cannot write --dump {args.dump}: {_reason(exc)}")
    try:
        server = ForgeStorageServer(
            host=args.host,
            port=args.port,
            manifest=args.manifest,
            log=None if args.quiet else log,
            allow_remote=args.allow_remote,
            control=False if args.no_control else True if args.control else None,
            db=args.db,
        )
    except (OSError, ValueError, ForgeStorageError) as exc:
        return _fail(
            f"cannot use --db {args.db}: {_reason(exc)}" if _is_db(exc, args) else _reason(exc)
        )
    storage = server.storage
    storage.auth = not args.no_auth
    if args.data:
        try:
            storage.restore(_read_data(args.data))  # checked whole first: nothing half-loaded
        except (OSError, ValueError, TypeError, ForgeStorageError) as exc:
            server.stop()
            return _fail(f"cannot load --data {args.data}: {_reason(exc)}")
        if server.durability is not None:
            server.durability.rewrite()  # --data replaces what the --db file held

    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        # Printed before serving starts (connections wait in the backlog meanwhile), so the
        # line comes before any request is answered.
        print(f"{PROG} serving on {server.url}", flush=True)
        if not args.quiet:
            for key, installation in storage.installations.items():
                print(
                    f"{PROG}: installation {key!r} ({installation.context_ari}): "
                    f"token {installation.token}",
                    file=sys.stderr,
                    flush=True,
                )
        server.start()
        # Short sleeps, not one long one: the kernel may deliver SIGTERM to a server thread,
        # and Python then runs the handler in the main thread only once that thread runs
        # again. A sleep of an hour would hold the signal (and the exit) for up to an hour.
        while True:
            time.sleep(SIGNAL_LATENCY)
    except (KeyboardInterrupt, _Stop):
        pass
    finally:
        # From here on a second SIGTERM (or Ctrl-C) must not cut the dump short.
        interrupt = signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        try:
            server.stop()
            code = _dump(storage, args.dump, quiet=args.quiet) if args.dump else 0
        finally:
            signal.signal(signal.SIGTERM, previous)
            signal.signal(signal.SIGINT, interrupt)
    if code == 0:
        print(f"{PROG} stopped", file=sys.stderr, flush=True)
    return code


def _is_db(exc: BaseException, args: argparse.Namespace) -> bool:
    return bool(args.db) and isinstance(exc, OSError) and str(args.db) in str(exc)


def _read_data(path: str) -> Any:
    """The ``--data`` file as strict JSON (what a request body must be, too)."""
    from pytest_forge_storage._json import loads

    with open(path, "rb") as fh:
        raw = fh.read()
    try:
        return loads(raw)
    except ForgeStorageError as exc:
        raise ForgeStorageError(
            exc.code, "not JSON: " + exc.message.replace("The request body", "the file")
        ) from None


def check_writable(path: str | os.PathLike[str]) -> None:
    """Raise ``OSError`` unless a file can be created at ``path`` (tried, not guessed)."""
    target = os.path.abspath(path)
    if os.path.isdir(target):
        raise IsADirectoryError(f"{target} is a directory")
    directory = os.path.dirname(target)
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"the directory {directory} does not exist")
    fd, probe = tempfile.mkstemp(prefix=".forge-storage-probe-", dir=directory)
    os.close(fd)
    os.unlink(probe)


def write_json_atomically(path: str | os.PathLike[str], data: Any) -> None:
    """Write ``data`` as the JSON ``ForgeStorage.dump()`` writes, without ever leaving a
    partial file at ``path``: a temporary file in the same directory, flushed and fsynced,
    then renamed over ``path`` (and the directory fsynced, so the rename lasts too)."""
    target = os.path.abspath(path)
    directory = os.path.dirname(target)
    text = json.dumps(data, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
    fd, temporary = tempfile.mkstemp(
        prefix=f".{os.path.basename(target)}.", suffix=".tmp", dir=directory
    )
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(temporary, _mode_for(target))
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    with contextlib.suppress(OSError, AttributeError):  # not on Windows
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def _mode_for(target: str) -> int:
    """The existing file's mode, else what ``open(path, "w")`` would give (0o666 - umask)."""
    try:
        return os.stat(target).st_mode & 0o777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _dump(storage: ForgeStorage, path: str, *, quiet: bool) -> int:
    if not quiet:
        print(f"{PROG}: writing --dump {path}", file=sys.stderr, flush=True)
    try:
        write_json_atomically(path, storage.snapshot())
    except OSError as exc:
        print(f"{PROG}: error: cannot write --dump {path}: {_reason(exc)}", file=sys.stderr)
        return 1
    return 0


def _reason(exc: BaseException) -> str:
    """The exception as one line (a message may hold newlines, e.g. YAML's)."""
    return " ".join(str(exc).split())


def _fail(message: str) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return 2


#: Seconds at most between a SIGTERM or Ctrl-C that lands on another thread and the start of
#: the shutdown.
SIGNAL_LATENCY = 0.25


class _Stop(Exception):
    """Raised in the main thread by SIGTERM, to leave the serving loop like Ctrl-C does."""


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise _Stop
