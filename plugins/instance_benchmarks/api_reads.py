"""What the REST API, GraphQL and the pages read: the current dataset's tables (filtered in Arrow), the catalog,
and the summary's sorting, one home so every interface answers from the same rows."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from instance_benchmarks.results import ResultStore

if TYPE_CHECKING:
    import pandas as pd


# Where each table's accepted contributions are (analysis.rebuild): read beside it only when asked for
CONTRIBUTED = {"raw": "contributed_raw", "summary": "contributed_summary"}


def table(store: ResultStore, name: str, filters: dict[str, str | None], *, headline_only: bool = False,
          contributed: bool = False) -> pd.DataFrame:
    """One table of the current dataset (`raw` or `summary`: the project's own figures), its rows where each filter
    that is not None holds (filtered in Arrow); `contributed`: with the accepted contributions' rows beside them,
    each row saying its `source`."""
    from instance_benchmarks.analysis import read_current

    expression = _expression(filters, headline_only)
    frame = read_current(store, name, expression)
    return with_contributed(frame, read_current(store, CONTRIBUTED[name], expression) if contributed else None)


def with_contributed(project: pd.DataFrame, contributed: pd.DataFrame | None) -> pd.DataFrame:
    """The project's rows, and the contributed ones after them where asked for; every row says its `source`."""
    import pandas as pd

    from instance_benchmarks.analysis import with_source

    project = with_source(project)
    if contributed is None or contributed.empty:
        return project
    if project.empty:
        return contributed
    return pd.concat([project, contributed], ignore_index=True)


def _expression(filters: dict[str, str | None], headline_only: bool) -> Any:
    import pyarrow.dataset as ds

    expression = None
    for column, value in filters.items():
        if value is not None:
            term = ds.field(column) == value
            expression = term if expression is None else expression & term
    if headline_only:  # what compare and recommend read: a tenth of the summary, filtered in Arrow
        term = (ds.field("benchmark") == "hpl") | ((ds.field("metric") == "triad")
                                                  & (ds.field("placement") == "all-cores"))
        expression = term if expression is None else expression & term
    return expression


class RequestReads:
    """One request's reads (a GraphQL query asks for several things at once): the summary, a few thousand rows,
    read from storage once and filtered in Arrow for each field that asks; the raw table, large, read filtered."""

    def __init__(self, store: ResultStore) -> None:
        self.store = store
        self._summaries: dict[str, Any] = {}
        self._lock = threading.Lock()  # fields resolve in threads side by side: one read, the others wait for it

    def table(self, name: str, filters: dict[str, str | None], *, headline_only: bool = False,
              contributed: bool = False) -> pd.DataFrame:
        if name != "summary":
            return table(self.store, name, filters, headline_only=headline_only, contributed=contributed)
        expression = _expression(filters, headline_only)
        return with_contributed(self._summary("summary", expression),
                                self._summary(CONTRIBUTED["summary"], expression) if contributed else None)

    def _summary(self, name: str, expression: Any) -> pd.DataFrame:
        import pandas as pd

        from instance_benchmarks.analysis import current_arrow

        with self._lock:
            if name not in self._summaries:
                dataset = current_arrow(self.store, name)
                self._summaries[name] = None if dataset is None else dataset.to_table()
        found = self._summaries[name]
        if found is None:
            return pd.DataFrame()
        return (found if expression is None else found.filter(expression)).to_pandas()


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
