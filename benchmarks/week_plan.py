"""Time the weekly plan over the whole recorded catalog: `all` in us-east-1 within a weekly budget (issue 30 item 9).

Runs weekly_refresh.plan_week, the weekly_refresh DAG's own task body, against in-process moto (its recorded
DescribeInstanceTypes, its public AL2023 parameters, its spot price history) and the Price List fake from the
recorded on-demand snapshot (include/prices/, with its provenance), with results in a scratch folder (an empty
dataset: every type is never measured). Nothing reaches AWS. Repeats the plan and prints the median.

The last line is exactly `week_plan: types <n> chosen <k> planned_usd <usd> median_s <s>`.
"""

from __future__ import annotations

import argparse
import datetime
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "plugins"))
sys.path.insert(0, str(REPO))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budget-usd", type=float, default=100.0, help="the weekly budget (default: 100)")
    parser.add_argument("--repeat", type=int, default=3, help="plans to time (default: 3)")
    args = parser.parse_args()
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": "us-east-1"}.items():
        os.environ.setdefault(name, value)
    import pytest
    from moto import mock_aws
    from tests.fakes.aws import AwsGaps
    from tests.fakes.pricing import FakePriceList

    from instance_benchmarks import params, prices, weekly_refresh
    from instance_benchmarks.results import ResultStore

    seconds, document = [], {}
    with mock_aws(), pytest.MonkeyPatch.context() as monkeypatch:
        gaps = AwsGaps().install(monkeypatch)
        price_list = FakePriceList({"us-east-1": prices.recorded_on_demand("us-east-1")})
        price_list.page_size = 100  # AWS's largest page
        gaps.add_price_list(price_list)
        for attempt in range(args.repeat):
            with tempfile.TemporaryDirectory() as scratch:
                start = time.monotonic()
                document = weekly_refresh.plan_week(
                    store=ResultStore(Path(scratch).as_uri()), regions=["us-east-1"], requested=["all"],
                    aws_conn_id=None, week=datetime.date(2026, 11, 29),
                    settings={**params.weekly_settings("aws"), "budget_usd": args.budget_usd},
                    markets=["on-demand"], hosts=[1, 2])
                seconds.append(time.monotonic() - start)
            print(f"plan {attempt + 1}: {seconds[-1]:.1f} s", flush=True)
    budget = document["budget"]
    print(f"types {len(document['signals'])}; chosen {len(document['chosen'])} "
          f"({sum(o['forced'] for o in document['chosen'])} forced: new families' cheapest sizes); "
          f"not chosen {len(document['not_chosen'])}; runs {[r['name'] for r in document['runs']]}")
    print(f"week_plan: types {len(document['signals'])} chosen {len(document['chosen'])} "
          f"planned_usd {budget['planned_usd']:.2f} median_s {statistics.median(seconds):.1f}")


if __name__ == "__main__":
    main()
