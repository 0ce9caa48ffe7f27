"""`nnlab worker`: check the sandbox on this machine, then join a Dask scheduler as a grading worker."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from nnlab.errors import NnlabError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("address", help="the scheduler, e.g. tls://grader.example.org:8786")
    parser.add_argument(
        "--nworkers",
        type=int,
        default=os.cpu_count() or 1,
        help="worker processes, each grading one student at a time (default: cores)",
    )
    parser.add_argument(
        "--nthreads", type=int, default=1, help="students graded at once per worker process (default: 1)"
    )
    add_tls_arguments(parser)


def add_tls_arguments(parser: argparse.ArgumentParser) -> None:
    """TLS options, the same for `nnlab grade --scheduler` and `nnlab worker` (docs/deployment.md)."""
    parser.add_argument("--tls-ca-file", type=Path, help="the CA certificate that signed every certificate (PEM)")
    parser.add_argument("--tls-cert", type=Path, help="this side's certificate (PEM)")
    parser.add_argument("--tls-key", type=Path, help="this side's private key (PEM)")


def cluster_module():  # typed loosely: dask is an optional extra
    """:mod:`..grading.distributed.cluster`, or a clear error when dask is not installed."""
    try:
        from ..grading.distributed import cluster
    except ImportError as error:
        raise NnlabError(
            f"grading on a Dask cluster needs the extra [dask] (pip install -e '.[dask]'): {error}"
        ) from error
    return cluster


def tls_files(args: argparse.Namespace):  # -> TLSFiles | None
    TLSFiles = cluster_module().TLSFiles

    given = [args.tls_ca_file, args.tls_cert, args.tls_key]
    if not any(given):
        return None
    if not all(given):
        raise NnlabError("TLS needs all three of --tls-ca-file, --tls-cert and --tls-key")
    return TLSFiles(args.tls_ca_file, args.tls_cert, args.tls_key)


def run(args: argparse.Namespace) -> int:
    from ..grading.distributed.worker_check import sandbox_problem

    check_address = cluster_module().check_address

    tls = tls_files(args)
    check_address(args.address, tls.security("worker") if tls else None)
    problem, isolation = sandbox_problem()
    if problem is not None:
        raise NnlabError(f"this machine cannot grade: {problem} (isolation here: {isolation}; docs/sandbox.md)")
    print(f"sandbox checked: {isolation}", flush=True)
    command = [sys.executable, "-m", "distributed.cli.dask_worker", args.address]
    command += ["--nworkers", str(args.nworkers), "--nthreads", str(args.nthreads), "--no-dashboard"]
    if tls is not None:
        command += ["--tls-ca-file", str(tls.ca_file), "--tls-cert", str(tls.cert), "--tls-key", str(tls.key)]
    # Dask's own worker from here on (it restarts its processes, reconnects, shuts down on SIGTERM).
    os.execv(sys.executable, command)
    return 0  # not reached
