"""Extract: legacy exports (CSV/TSV/TXT in any common encoding, Mailchimp ZIPs and folders, JSON, NDJSON,
XLSX) → one raw polars frame of strings with provenance, plus structural rejects.

Public interface::

    read_sources(paths, *, progress=None) -> ExtractResult
    ExtractResult(frame, rejects, files)      # contract in etl.extract.result
    FileInfo(path, encoding, delimiter, kind, rows, header, bom)

Column naming (duplicates → ``NAME__2``, empty → ``column_<n>``) is documented in ``etl.extract.dialect``.
"""

from etl.extract.result import ExtractResult, FileInfo
from etl.extract.sources import read_sources

__all__ = ["ExtractResult", "FileInfo", "read_sources"]
