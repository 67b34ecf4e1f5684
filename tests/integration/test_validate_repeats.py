"""A large export's field columns of few distinct values are kept as Categoricals (a string cell costs 16
bytes a row before its text, a category 4): mapping and the report must read them exactly as the strings
they stand for, so a run plans and reports the same contacts either way."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import polars as pl

from etl.mapping.transform import distinct_names, plan_contacts
from etl.model import KEY, ResolvedMapping
from etl.validate.core import REPEAT_MIN_ROWS, ValidationResult, validate_sources
from etl.validate.report import build_report
from samples.generate import write_large


def _as_strings(result: ValidationResult) -> ValidationResult:
    canon = result.canonical
    cats = [c for c, t in canon.schema.items() if t == pl.Categorical]
    return replace(result, canonical=canon.with_columns(pl.col(c).cast(pl.String) for c in cats))


def _resolved(result: ValidationResult) -> ResolvedMapping:
    lists, tags = distinct_names(result.canonical)
    fields = [(f.label, f"f{i:02d}") for i, f in enumerate(result.fields)]
    return ResolvedMapping(
        structure_id="s1",
        field_ids=tuple(fields),
        list_ids=tuple((n, f"l{i}") for i, n in enumerate(lists)),
        tag_ids=tuple((t, f"t{i}") for i, t in enumerate(tags)),
        field_types=tuple((fid, f.data_type) for (_, fid), f in zip(fields, result.fields, strict=True)),
    )


def test_repeated_field_values_are_categories_and_plan_and_report_the_same(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    write_large(path, REPEAT_MIN_ROWS + 2_000)
    result = validate_sources([path], preset=None)
    schema = result.canonical.schema
    cats = [f.label for f in result.fields if schema[f.label] == pl.Categorical]
    assert cats and schema[KEY] == pl.String  # a time zone, a country repeat; an address never does
    assert any(f.data_type != "text" for f in result.fields if f.label in cats)  # typed values too
    strings = _as_strings(result)
    resolved = _resolved(result)
    ours = plan_contacts(result.canonical, result.fields, resolved, duplicates=result.duplicates)
    plain = plan_contacts(strings.canonical, strings.fields, resolved, duplicates=strings.duplicates)
    assert len(ours.contacts) == len(plain.contacts) > REPEAT_MIN_ROWS
    assert list(ours.contacts) == list(plain.contacts)
    assert ours.rejected.equals(plain.rejected) and ours.skipped.equals(plain.skipped)
    assert ours.field_problems.equals(plain.field_problems)
    assert build_report(result, generated_at="t") == build_report(strings, generated_at="t")


def test_a_small_export_keeps_plain_strings(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    write_large(path, 2_000)
    result = validate_sources([path], preset=None)
    assert all(result.canonical.schema[f.label] == pl.String for f in result.fields)
