"""Plan HPL and STREAM on eleven real EC2 hosts: does the standard run reach HPL's asymptote on big hosts?

Each host is a real description (tests/fixtures/ec2-topologies: lscpu of m7i.large to u7i-6tb.112xlarge,
recorded by SpareCores; see its README), read as the runner would see it (recorded_hosts.py), its
memory and sustained clock from the catalog (moto's DescribeInstanceTypes, in-process: nothing
reaches AWS). It is planned with the weekly refresh's settings (standard profile, its time budget)
by the planner, which sizes N with the runner's own hpl.size_problem, and the layouts are the
runner's own hpl.layouts. Two figures are assumptions, labelled in planning.py: the HPL rate per
core (per CPU generation, from the peak table and this VM's share of its peak) and HPL's N^2 term
(N_half, from this VM's fit, scaled by the grid's process columns and NB).

Per host: cores, sockets, NUMA nodes; HPL's N, its memory fraction and what capped it, the grid,
the layouts the runner would try, the predicted solve time, the predicted share of the asymptote
and the smallest N within 5% of it; STREAM's array against 4x the last-level cache. Scaling points
(issue 15, item 5) are not built, so not printed.

    .venv/bin/python benchmarks/topology_plans.py

The last line is exactly `hpl_near_asymptote: <k> of <n> hpl_memory_fraction_median: <f>`.
"""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "plugins"))
sys.path.insert(0, str(REPO / "benchmarks"))
TOPOLOGIES = REPO / "tests" / "fixtures" / "ec2-topologies"


def host_plans() -> list[dict]:
    from catalog_plan import moto_catalog

    from instance_benchmarks import planning, recorded_hosts

    catalog = {spec.instance_type: spec for spec in moto_catalog()}
    hpl = planning._runner_hpl()
    found = []
    for spec, host, plan in recorded_hosts.weekly_plans(TOPOLOGIES, catalog).values():
        flops = hpl.hpl_flops(plan.hpl_n)
        rate = plan.hpl_gflops_per_core * spec.physical_cores * plan.hpl_predicted_share
        found.append({"spec": spec, "host": host, "plan": plan, "layouts": hpl.layouts(host),
                      "solve_s": flops / (rate * 1e9)})
    return found


def scaling_points(spec, host: dict, plan) -> str:
    """STREAM's thread counts and HPL's scopes, as the runner picks them (stream.placements, hpl.scaling)."""
    cores = spec.physical_cores
    threads = [1, *plan.stream_scaling_threads, cores] if cores > 1 else [1]
    scopes = [1]
    nodes = [n for n in host["numa_nodes"] if n["cpus"] and n["memory_bytes"] > 0]
    if len(host["numa_nodes"]) > 1 and nodes and 1 < (nodes[0].get("physical_cores") or len(nodes[0]["cpus"])) < cores:
        scopes.append(nodes[0].get("physical_cores") or len(nodes[0]["cpus"]))
    return f"{','.join(map(str, threads)):<26} {', '.join(map(str, sorted({*scopes, cores})))}"


def main() -> None:
    rows = host_plans()
    weekly_budget = rows[0]["plan"].time_budget_s if rows else 0
    print(f"standard profile, {weekly_budget} s per type (the weekly refresh's); HPL rate and N_half assumed "
          "(planning.py)")
    print("columns: N and its share of memory; the grid (one rank per core) and the layouts the runner tries; one "
          "solve's predicted seconds; the predicted share of HPL's asymptote at N, the smallest N within 5% of it, "
          "whether N reaches it, and the per-type time budget that would; STREAM's array (MiB, 4x L2 and L3 summed) "
          "against L2+L3, and the one-core placement's against one core's L2 and L3 instance; the scaling points: "
          "STREAM's thread "
          "counts, and HPL's scopes in cores (one core, the first NUMA node where there are several, all)")
    print(f"{'type':<19} {'cores':>5} {'sock':>4} {'numa':>4} {'memory':>8} {'N':>7} {'mem%':>6} {'grid':>6} "
          f"{'layouts':<18} {'solve s':>7} {'share':>6} {'N 95%':>7} {'near':>4} {'budget 95%':>10} "
          f"{'STREAM MiB/L2+3':>15} {'1-core/core L2+3':>16}  {'capped by':<9} {'STREAM threads':<26} HPL cores")
    for row in rows:
        spec, host, plan = row["spec"], row["host"], row["plan"]
        layouts = ", ".join(f"{r}x{t}" for r, t in row["layouts"])
        budget = "memory" if plan.hpl_budget_for_asymptote_s is None else f"{plan.hpl_budget_for_asymptote_s} s"
        mib = 2**20
        print(f"{spec.instance_type:<19} {spec.physical_cores:>5} {host['sockets']:>4} {len(host['numa_nodes']):>4} "
              f"{spec.memory_bytes / 2**30:>6.0f}Gi {plan.hpl_n:>7} {100 * plan.hpl_memory_fraction:>5.1f}% "
              f"{plan.hpl_grid[0]:>2}x{plan.hpl_grid[1]:<3} {layouts:<18} {row['solve_s']:>7.0f} "
              f"{plan.hpl_predicted_share:>6.1%} {plan.hpl_n_near_asymptote:>7} "
              f"{'yes' if plan.hpl_near_asymptote else 'no':>4} {budget:>10} "
              f"{plan.stream_array_bytes / mib:>8.0f}/{host['cache_bytes'] / mib:<6.0f} "
              f"{4 * host['core_cache_bytes'] / mib:>9.0f}/{host['core_cache_bytes'] / mib:<6.0f}  "
              f"{plan.hpl_limit.split(':')[0]:<9} {scaling_points(spec, host, plan)}")
    near = sum(bool(r["plan"].hpl_near_asymptote) for r in rows)
    median = statistics.median(r["plan"].hpl_memory_fraction for r in rows)
    print(f"hpl_near_asymptote: {near} of {len(rows)} hpl_memory_fraction_median: {median:.4f}")


if __name__ == "__main__":
    main()
