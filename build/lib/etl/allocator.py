"""Process-level memory setting for polars' allocator, applied by the CLI before polars loads.

polars allocates through jemalloc, which by default gives each thread group its own arena (4 per CPU)
and keeps freed pages for reuse. For a batch pipeline like ours — every batch frees what the next one
allocates, but on other threads — the pages freed in one arena are not reused by the next batch's
allocations in another, and the process's resident memory grows to ~1.5× what it really uses.
One arena lets every thread reuse what any thread freed: the peak falls markedly, at no measurable cost in
time (``make bench`` prints the peak against the file's size).

jemalloc reads ``_RJEM_MALLOC_CONF`` once, when polars loads, so this must run before ``import polars``
(polars prepends its own decay settings to the value it finds). A value that already sets ``narenas`` is
left alone: set ``_RJEM_MALLOC_CONF=narenas:8`` on a many-core host where arena contention costs more
than memory.
"""

from __future__ import annotations

import os
import sys
from collections.abc import MutableMapping

ENV = "_RJEM_MALLOC_CONF"
DEFAULT = "narenas:1"


def configure(environ: MutableMapping[str, str] | None = None) -> bool:
    """Add the one-arena setting unless the value already chooses an arena count; True when it can still
    take effect (polars not loaded yet).

    The variable may already be set without the user's doing: ``import polars`` writes its own decay
    settings into it, and a child process (a test, a script calling ``bme-migrate``) inherits them. So
    the setting is appended to what is there rather than set only when the variable is absent.
    """
    env = os.environ if environ is None else environ
    current = env.get(ENV, "")
    if "narenas" not in current:
        env[ENV] = f"{current},{DEFAULT}" if current else DEFAULT
    return "polars" not in sys.modules
