"""What the REST API, GraphQL and the pages read: the current dataset's tables (filtered in Arrow), the catalog,
and the summary's sorting, one home so every interface answers from the same rows."""

from __future__ import annotations

from typing import TYPE_CHECKING

from instance_benchmarks.results import ResultStore

if TYPE_CHECKING:
    import pandas as pd


def table(store: ResultStore, name: str, filters: dict[str, str | None], *, headline_only: bool = False
           ) -> pd.DataFrame:
    import pyarrow.dataset as ds

    from instance_benchmarks.analysis import read_current

    expression = None
    for column, value in filters.items():
        if value is not None:
            term = ds.field(column) == value
            expression = term if expression is None else expression & term
    if headline_only:  # what compare and recommend read: a tenth of the summary, filtered in Arrow
        term = (ds.field("benchmark") == "hpl") | ((ds.field("metric") == "triad")
                                                  & (ds.field("placement") == "all-cores"))
        expression = term if expression is None else expression & term
    return read_current(store, name, expression)


def catalog(store: ResultStore) -> pd.DataFrame | None:
    """catalog_refresh's latest catalog of every region, or None where it never ran."""
    import pandas as pd
    import pyarrow.parquet as pq

    files = sorted((store.root / "catalog").glob("region=*/latest.parquet"), key=str)
    if not files:
        return None
    frames = []
    for path in files:
        with path.open("rb") as handle:
            frames.append(pq.read_table(handle, columns=["instance_type", "benchmarkable"]).to_pandas()
                          .assign(region=path.parent.name.split("=", 1)[1]))
    return pd.concat(frames, ignore_index=True)


CATALOG_ENTRY = ["instance_type", "instance_family", "architecture", "processor", "vcpus", "physical_cores",
                 "memory_bytes", "sustained_clock_ghz", "current_generation", "bare_metal", "burstable",
                 "benchmarkable", "left_out_because"]


def catalog_entries(store: ResultStore, instance_type: str, region: str | None = None) -> list[dict]:
    """What catalog_refresh's latest catalogs say of one type, one entry per region that lists it."""
    import pyarrow.dataset as ds
    import pyarrow.parquet as pq

    from instance_benchmarks.analysis import records

    found = []
    for path in sorted((store.root / "catalog").glob("region=*/latest.parquet"), key=str):
        if region is not None and path.parent.name != f"region={region}":  # compared, never a path from input
            continue
        with path.open("rb") as handle:
            table = pq.read_table(handle, columns=CATALOG_ENTRY, filters=ds.field("instance_type") == instance_type)
        found += [{**row, "region": path.parent.name.split("=", 1)[1]} for row in records(table.to_pandas())]
    return found


def sorted_by(frame: pd.DataFrame, sort: str | None) -> pd.DataFrame:
    """`sort`: any column, a leading - for descending; ties by instance type; missing values last."""
    if not sort or frame.empty:
        return frame
    column = sort.lstrip("-")
    if column not in frame.columns:
        raise ValueError(f"sort: no column {column!r}; columns: {sorted(frame.columns)}")
    return frame.sort_values([column, "instance_type"], ascending=[not sort.startswith("-"), True],
                             na_position="last", kind="stable")
