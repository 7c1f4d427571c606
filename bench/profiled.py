"""`python -m bench.profiled SERVICE OUT`: run one service under the stack sampler (bench/intake_http.py,
serve_profiled), its samples written to OUT; the benchmarks' `--profile` start the service so.

eventlet patches the standard library first, as `python -m services.run` does, before anything imports
threading: a benchmark module imports the services' code (and so eventsourcing's locks) before it could
patch, and a service on unpatched locks blocks its whole process when two green threads meet on one.
"""

from __future__ import annotations

import sys
from pathlib import Path

import services.run  # noqa: F401  (patches the standard library as it is imported)
from bench.intake_http import serve_profiled

if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: python -m bench.profiled SERVICE OUT")
    serve_profiled(Path(sys.argv[2]), sys.argv[1])
