"""The accounting identity over generated raw frames: every row ends in exactly one outcome, nothing raises."""

from __future__ import annotations

from types import SimpleNamespace

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from etl.model import KEY, OUTCOME, ROW_ID, Status
from etl.presets.preset import load_preset
from etl.validate.core import validate_frame
from etl.validate.schemas import contract_rejects

EMAILS = [
    "a@x.com",
    "A@X.com ",
    "b@y.org",
    "ü@bücher.de",
    "bad@",
    "",
    None,
    "c@z.io",
    "<b>@x.com",
    "d@e.test",
]
STATUSES = [None, "subscribed", "Unsubscribed", "bounced", "pending", "weird", ""]
DATES = [None, "2020-01-01", "2021-06-01T10:00:00Z", "31/02/2020", "garbage", "2019-05-01 12:34:56 -0400"]
FILES = [
    "subscribed_a.csv",
    "unsubscribed_a.csv",
    "cleaned_a.csv",
    "export.zip::nonsubscribed_b.csv",
    "x.csv",
]
text = st.one_of(st.none(), st.text(alphabet=st.characters(codec="utf-8"), max_size=12))


@st.composite
def raw_frames(draw: st.DrawFn) -> tuple[pl.DataFrame, pl.DataFrame]:
    n = draw(st.integers(0, 25))
    email_col = draw(st.sampled_from(["email", "Email Address", "E-mail"]))
    extra = draw(
        st.lists(
            st.sampled_from(
                [
                    "status",
                    "updated_at",
                    "tags",
                    "Birthday",
                    "UNSUB_TIME",
                    "Notes",
                    "lists",
                    "First Name",
                    "CLEAN_TIME",
                ]
            ),
            unique=True,
            max_size=6,
        )
    )
    data: dict[str, list[str | None]] = {
        email_col: draw(st.lists(st.sampled_from(EMAILS), min_size=n, max_size=n))
    }
    for col in extra:
        pool = {
            "status": st.sampled_from(STATUSES),
            "updated_at": st.sampled_from(DATES),
            "Birthday": st.sampled_from([None, "02/29", "13/45", "1990-01-02"]),
            "UNSUB_TIME": st.sampled_from(DATES),
            "CLEAN_TIME": st.sampled_from(DATES),
        }.get(col, text)
        data[col] = draw(st.lists(pool, min_size=n, max_size=n))
    n_struct = draw(st.integers(0, 3))
    ids = draw(st.permutations(list(range(n + n_struct))))
    files = draw(st.lists(st.sampled_from(FILES), min_size=n + n_struct, max_size=n + n_struct))
    frame = pl.DataFrame(data, schema=dict.fromkeys(data, pl.String)).with_columns(
        pl.Series(ROW_ID, ids[:n], dtype=pl.Int64),
        pl.Series("source_file", files[:n], dtype=pl.String),
        pl.Series("source_line", [i + 2 for i in range(n)], dtype=pl.Int64),
    )
    rejects = pl.DataFrame(
        {
            ROW_ID: ids[n:],
            "source_file": files[n:],
            "source_line": [1000 + i for i in range(n_struct)],
            "reason_code": ["ragged_row"] * n_struct,
            "reason": ["3 cells, header has 2"] * n_struct,
            "raw": ["a,b,c"] * n_struct,
        },
        schema={
            ROW_ID: pl.Int64,
            "source_file": pl.String,
            "source_line": pl.Int64,
            "reason_code": pl.String,
            "reason": pl.String,
            "raw": pl.String,
        },
    )
    return frame, rejects


@pytest.mark.parametrize("preset_name", ["generic", "mailchimp"])
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frames=raw_frames())
def test_accounting_identity_holds(preset_name: str, frames: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    frame, rejects = frames
    preset = load_preset(preset_name)
    if not any(c in frame.columns for c in ("email", "Email Address", "E-mail")) or (
        preset_name == "mailchimp" and "Email Address" not in frame.columns
    ):
        return
    res = validate_frame(SimpleNamespace(frame=frame, rejects=rejects, files=()), preset)
    c = res.counts
    assert c.rows_read == frame.height + rejects.height == c.valid + c.rejected + c.merged_duplicate
    assert res.outcomes.height == c.rows_read
    assert sorted(res.outcomes[ROW_ID].to_list()) == sorted(
        [*frame[ROW_ID].to_list(), *rejects[ROW_ID].to_list()]
    )
    assert res.canonical.height == c.valid and res.canonical[KEY].n_unique() == c.valid
    assert set(res.outcomes[OUTCOME].unique().to_list()) <= {"valid", "rejected", "merged_duplicate"}
    assert set(res.canonical["status"].to_list()) <= {s.value for s in Status}
    assert contract_rejects(res.canonical, list(res.fields)).height == 0
    assert res.rejected_raw.height == c.rejected
