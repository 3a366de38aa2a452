"""The bench's one dataset format, and the splits every method is judged on.

**Format.** One file per dataset: CSV (``,``), TSV (``.tsv``/``.tab``: tab) or Parquet
(``.parquet``), with a header naming at least these columns (others are ignored):

==========  ==========================================================================
``user``    any string or integer: who interacted
``item``    any string or integer: with what (a video, for the pipeline)
``weight``  number > 0: how strongly (a rating, a play or purchase count, watch minutes);
            rows with a weight that is missing or not positive are dropped
``time``    optional: unix seconds (integer or float) of the interaction; a column that
            is absent or entirely empty means "no times" (random splits)
==========  ==========================================================================

Each row is one interaction: a (user, item) pair may repeat (a re-watch, a re-purchase); the
baselines sum a pair's weights and the pipeline replay sends one event per row.

**Splits.** :func:`holdout` keeps out the latest ``share`` (20 %) of each user's rows — by
``time`` when the file has times (ties by file order), by a seeded shuffle otherwise. A user
with a single row keeps it for training. The validation split is the same rule applied to the
training rows (:func:`split`), so baselines are tuned without looking at the test rows.

**Light users.** Real datasets are often filtered to users with many interactions (MovieLens
keeps users with 20+ ratings), so :func:`split` also makes a seeded share of the users light:
of their training rows only the latest 1-3 are kept (the rest never happened, for every
method), their test rows stay. Users with 1-3 training rows, natural or made so, are the
"light" row of the table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import scipy.sparse as sp

LIGHT_MAX = 3
"""Users with at most this many training rows are light users (their own row of the table)."""


@dataclass(frozen=True)
class Dataset:
    """One dataset file's interactions as arrays (users and items as dense codes)."""

    name: str
    users: np.ndarray
    """Row → user code (``int64``)."""
    items: np.ndarray
    """Row → item code (``int64``)."""
    weight: np.ndarray
    """Row → weight (``float64``, > 0)."""
    time: np.ndarray | None
    """Row → unix seconds (``float64``), or ``None`` when the file has no times."""
    user_names: np.ndarray = field(repr=False)
    item_names: np.ndarray = field(repr=False)

    @property
    def n_users(self) -> int:
        """Distinct users."""
        return len(self.user_names)

    @property
    def n_items(self) -> int:
        """Distinct items."""
        return len(self.item_names)

    def matrix(self, rows: np.ndarray) -> sp.csr_matrix:
        """Users x items, the summed weights of ``rows`` (duplicates add up)."""
        m = sp.csr_matrix(
            (self.weight[rows], (self.users[rows], self.items[rows])),
            shape=(self.n_users, self.n_items),
        )
        m.sum_duplicates()
        return m


def load(path: Path, name: str | None = None) -> Dataset:
    """The dataset in ``path`` (CSV, TSV or Parquet; see the module docstring)."""
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        source = f"read_parquet('{path}')"
    else:
        delim = "\t" if suffix in (".tsv", ".tab") else ","
        # All columns as text first: ids keep leading zeros, numbers are cast below.
        source = f"read_csv('{path}', header=true, delim='{delim}', all_varchar=true)"
    con = duckdb.connect()
    columns = {c.lower() for c in con.sql(f"select * from {source} limit 0").columns}
    missing = {"user", "item", "weight"} - columns
    if missing:
        raise ValueError(f"{path}: missing column(s) {sorted(missing)} (need user, item, weight)")
    time_expr = "try_cast(time as double)" if "time" in columns else "null::double"
    table = con.sql(
        f"""
        select cast("user" as varchar) as u, cast(item as varchar) as i,
               try_cast(weight as double) as w, {time_expr} as t
        from {source}
        where try_cast(weight as double) > 0 and "user" is not null and item is not null
        """
    ).fetchnumpy()
    con.close()
    user_names, users = np.unique(table["u"].astype(str), return_inverse=True)
    item_names, items = np.unique(table["i"].astype(str), return_inverse=True)
    # NULL times come back masked: an empty or absent column is "no times", not zeros.
    times = np.ma.filled(np.ma.asarray(table["t"], dtype=np.float64), np.nan)
    has_time = times.size > 0 and not np.isnan(times).all()
    if has_time and np.isnan(times).any():
        raise ValueError(f"{path}: some rows have a time and some do not")
    return Dataset(
        name=name or path.stem,
        users=users.astype(np.int64),
        items=items.astype(np.int64),
        weight=np.asarray(table["w"], dtype=np.float64),
        time=times if has_time else None,
        user_names=user_names,
        item_names=item_names,
    )


def _order_in_user(data: Dataset, rows: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``rows`` grouped by user, oldest first (seeded shuffle without times); and each
    sorted row's position within its user."""
    if data.time is not None:
        within = data.time[rows]
    else:
        within = np.random.default_rng(seed).permutation(len(rows)).astype(np.float64)
    # lexsort: last key is primary; the row index breaks ties (file order).
    order = np.lexsort((rows, within, data.users[rows]))
    ordered = rows[order]
    users = data.users[ordered]
    starts = np.flatnonzero(np.r_[True, users[1:] != users[:-1]])
    counts = np.diff(np.r_[starts, len(users)])
    position = np.arange(len(users)) - np.repeat(starts, counts)
    return ordered, position


def holdout(
    data: Dataset, rows: np.ndarray, share: float = 0.2, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """``rows`` split into (kept, held out): each user's latest ``share`` of rows held out
    (at least one when the user has two or more; none when one)."""
    ordered, position = _order_in_user(data, rows, seed)
    counts = np.bincount(data.users[ordered], minlength=data.n_users)[data.users[ordered]]
    n_test = np.where(counts >= 2, np.maximum(1, np.rint(share * counts)), 0)
    test = position >= counts - n_test
    return np.sort(ordered[~test]), np.sort(ordered[test])


@dataclass(frozen=True)
class Split:
    """The rows of one evaluation: training, test, and the validation split of training."""

    train: np.ndarray
    test: np.ndarray
    fit: np.ndarray
    """The training rows the baselines are tuned on (``train`` less ``valid``)."""
    valid: np.ndarray
    light: frozenset[int]
    """Users with 1 to :data:`LIGHT_MAX` training rows (natural or made light)."""


def split(data: Dataset, share: float = 0.2, light_share: float = 0.1, seed: int = 0) -> Split:
    """Test, training and validation rows (module docstring); ``light_share`` of the users
    with a test row are made light (their latest 1-3 training rows kept)."""
    rng = np.random.default_rng(seed + 1)
    train, test = holdout(data, np.arange(len(data.users)), share, seed)
    test_users = np.unique(data.users[test])
    made_light = rng.choice(test_users, size=int(light_share * len(test_users)), replace=False)
    keep = rng.integers(1, LIGHT_MAX + 1, size=data.n_users)
    chosen = np.zeros(data.n_users, dtype=bool)
    chosen[made_light] = True
    ordered, position = _order_in_user(data, train, seed)
    counts = np.bincount(data.users[ordered], minlength=data.n_users)[data.users[ordered]]
    user = data.users[ordered]
    # A made-light user keeps the latest `keep` of their training rows.
    dropped = chosen[user] & (position < counts - keep[user])
    train = np.sort(ordered[~dropped])
    per_user = np.bincount(data.users[train], minlength=data.n_users)
    light = frozenset(np.flatnonzero((per_user >= 1) & (per_user <= LIGHT_MAX)).tolist())
    fit, valid = holdout(data, train, share, seed + 2)
    return Split(train=train, test=test, fit=fit, valid=valid, light=light)


def targets(
    data: Dataset, seen_rows: np.ndarray, target_rows: np.ndarray
) -> tuple[dict[int, set[int]], dict[int, set[int]]]:
    """Per user: the items of ``target_rows`` not among their ``seen_rows`` items, and the
    items they have seen (what is dropped from their candidates)."""
    seen: dict[int, set[int]] = {}
    for u, i in zip(data.users[seen_rows].tolist(), data.items[seen_rows].tolist(), strict=True):
        seen.setdefault(u, set()).add(i)
    relevant: dict[int, set[int]] = {}
    users = data.users[target_rows].tolist()
    for u, i in zip(users, data.items[target_rows].tolist(), strict=True):
        if i not in seen.get(u, ()):
            relevant.setdefault(u, set()).add(i)
    return relevant, seen
