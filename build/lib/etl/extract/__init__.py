"""Extract: legacy exports (CSV/TSV/TXT in any common encoding, Mailchimp ZIPs and folders, JSON, NDJSON,
XLSX) → raw polars frames of strings with provenance, plus structural rejects.

Public interface::

    open_sources(paths, encodings, options) -> SourceStream  # headers first (files, columns), then batches
    stream_sources(paths, consume, progress, options)  # the same, started again if a file is not UTF-8
    read_sources(paths, *, progress=None, options=None) -> ExtractResult   # everything in one frame
    ExtractResult(frame, rejects, files)    # contract in etl.extract.result
    FileInfo(path, encoding, delimiter, kind, rows, header, bom, notes)  # notes: detected encodings
    ReadOptions(encoding, delimiter, max_archive_size, max_archive_ratio)
                                            # --encoding / --delimiter: override detection; the ZIP caps
                                            # (--max-archive-size 2 GiB, --max-archive-ratio 200; etl.extract.options)

Delimited files are read in 16 MiB blocks (``etl.extract.linescan``), so a caller that consumes the
batches as they come (``etl.validate.validate_sources``) never holds the whole file.
Column naming (duplicates → ``NAME (2)``, empty → ``column_<n>``) is documented in ``etl.extract.dialect``.
"""

from etl.extract.options import ReadOptions
from etl.extract.result import ExtractResult, FileInfo
from etl.extract.sources import SourceStream, open_sources, read_sources, stream_sources

__all__ = [
    "ExtractResult",
    "FileInfo",
    "ReadOptions",
    "SourceStream",
    "open_sources",
    "read_sources",
    "stream_sources",
]
