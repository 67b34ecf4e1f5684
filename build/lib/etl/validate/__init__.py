"""The validate stage: raw frame → canonical contacts + per-row outcomes + the dry-run report.

Entry points (stable, reused by mapping and load): ``validate_frame`` and ``validate_sources`` returning a
``ValidationResult`` — see ``etl/validate/core.py``.
"""

from etl.validate.core import Counts, ValidationResult, validate_frame, validate_sources

__all__ = ["Counts", "ValidationResult", "validate_frame", "validate_sources"]
