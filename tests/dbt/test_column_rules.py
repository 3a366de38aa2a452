"""The per-model `column_rules` data test (tests/generic/column_rules.sql), rendered by a real
`dbt show` on DuckDB over a probe table: it returns exactly one row per broken rule and
offending row, and none for a table that keeps every rule. (On Spark it runs in the first
pass of test_dbt_spark's `dbt build`, with every other data test.)"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from tests.dbt.hot_dbt_helpers import run_dbt

RULES = (
    "not_null=['id'], unique=['id'], ranks=['rnk'], finite=['x'], "
    "finite_non_negative=['y'], accepted_values={'status': ['a', 'b']}"
)
CLEAN = "(1, 1, -1.5, 0.0, 'a'), (2, 2, null, null, 'b'), (3, 3, 2.0, 7.0, null)"
BROKEN = (
    "(1, 1, 1.0, 0.0, 'a'), (null, 3, 'nan'::double, -1.0, 'b'), "
    "(1, 3, 'inf'::double, 'inf'::double, 'zz')"
)


def failing_rows(tmp_path: Path, rows: str) -> set[tuple[str, str, str | None]]:
    """(column, rule, value) of each row `column_rules` returns over a table of ``rows``."""
    db = tmp_path / "probe.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute(
            f"create table probe as select * from (values {rows}) as t(id, rnk, x, y, status)"
        )
    inline = f"{{{{ test_column_rules(model='main.probe', {RULES}) }}}}"
    result = run_dbt(db, tmp_path, "show", "--limit", "100", "--inline", inline)
    return {tuple(row) for row in result.result.results[0].agate_table.rows}


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        (CLEAN, set()),
        (
            BROKEN,
            {
                ("id", "not_null", None),
                ("id", "unique", "1"),
                ("rnk", "ranks", "3"),  # 1, 3, 3 over 3 rows: the row count
                ("x", "finite", "nan"),
                ("x", "finite", "inf"),
                ("y", "finite_non_negative", "-1.0"),
                ("y", "finite_non_negative", "inf"),
                ("status", "accepted_values", "zz"),
            },
        ),
    ],
    ids=["every-rule-kept", "each-rule-broken"],
)
def test_column_rules_return_one_row_per_broken_rule(
    tmp_path: Path, rows: str, expected: set[tuple[str, str, str | None]]
) -> None:
    assert failing_rows(tmp_path, rows) == expected
