// Compare and recommend in the browser, over the report's headline rows (STREAM triad on all cores, HPL):
// the same rules as instance_benchmarks/answers.py (the API), held equal by the browser test. No library,
// no network: the page works as a file:// report and inside the Airflow UI alike.
var IB = (function () {
  "use strict";
  var DATA = document.getElementById("headline-data"), ROWS = DATA ? JSON.parse(DATA.textContent) : [];
  var ALPHA = 0.05, NEEDS = ["triad", "hpl"];

  // Student's t via the regularized incomplete beta (Lanczos log-gamma, Lentz's continued fraction).
  function lgamma(x) {
    var c = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
             12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];
    if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - lgamma(1 - x);
    x -= 1;
    var a = c[0], t = x + 7.5;
    for (var i = 1; i < 9; i++) a += c[i] / (x + i);
    return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
  }
  function betacf(a, b, x) {
    var tiny = 1e-300, qab = a + b, qap = a + 1, qam = a - 1, c = 1, d = 1 - qab * x / qap;
    if (Math.abs(d) < tiny) d = tiny;
    d = 1 / d;
    var h = d;
    for (var m = 1; m <= 300; m++) {
      var m2 = 2 * m, aa = m * (b - m) * x / ((qam + m2) * (a + m2));
      d = 1 + aa * d; if (Math.abs(d) < tiny) d = tiny;
      c = 1 + aa / c; if (Math.abs(c) < tiny) c = tiny;
      d = 1 / d; h *= d * c;
      aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
      d = 1 + aa * d; if (Math.abs(d) < tiny) d = tiny;
      c = 1 + aa / c; if (Math.abs(c) < tiny) c = tiny;
      d = 1 / d;
      var del = d * c;
      h *= del;
      if (Math.abs(del - 1) < 1e-15) break;
    }
    return h;
  }
  function ibeta(x, a, b) {
    if (x <= 0) return 0;
    if (x >= 1) return 1;
    var bt = Math.exp(lgamma(a + b) - lgamma(a) - lgamma(b) + a * Math.log(x) + b * Math.log(1 - x));
    return x < (a + 1) / (a + b + 2) ? bt * betacf(a, b, x) / a : 1 - bt * betacf(b, a, 1 - x) / b;
  }
  // Two-sided p-value of Welch's t-test from summary statistics; null where it cannot be tested.
  function welch(a, b) {
    if (Math.min(a.n, b.n) < 2 || a.std === null || b.std === null) return null;
    if (a.std === 0 && b.std === 0) return a.mean === b.mean ? 1 : 0;
    var va = a.std * a.std / a.n, vb = b.std * b.std / b.n, t = (a.mean - b.mean) / Math.sqrt(va + vb);
    var df = (va + vb) * (va + vb) / (va * va / (a.n - 1) + vb * vb / (b.n - 1));
    return ibeta(df / (df + t * t), df / 2, 0.5);
  }
  // Why Welch's test cannot set these two figures side by side (answers.not_testable), or null.
  function notTestable(a, b) {
    if (a.tested_on !== b.tested_on)
      return "one figure's spread is across hosts, the other's within one host (its repetitions): not comparable by Welch's test";
    return Math.min(a.n, b.n) < 2 ? "n < 2" : null;
  }
  // Holm's step-down adjustment (answers.holm).
  function holm(ps) {
    var order = ps.map(function (p, i) { return i; }).sort(function (x, y) { return ps[x] - ps[y]; });
    var adjusted = ps.slice(), running = 0;
    order.forEach(function (index, rank) {
      running = Math.max(running, Math.min(1, (ps.length - rank) * ps[index]));
      adjusted[index] = running;
    });
    return adjusted;
  }
  // An entry is one type's figures from one source: a contributed figure never stands for the project's.
  function key(r) {  // the project's entry before a contributed one of the same type (the baseline is the project's)
    return r.region + "\u0000" + r.instance_type + "\u0000" + r.cpu_model + "\u0000" + (r.source === "project" ? 0 : 1);
  }
  function entries(region, contributed) {  // {key: {region, instance_type, cpu_model, source, figures: {need: row}}}
    var found = {};
    ROWS.forEach(function (r) {
      if (region && r.region !== region) return;
      if (r.source === "contributed" && !contributed) return;
      var k = key(r);
      found[k] = found[k] || {region: r.region, instance_type: r.instance_type, cpu_model: r.cpu_model,
                              source: r.source, contributors: r.contributors, figures: {}};
      found[k].figures[r.need] = r;
    });
    return Object.keys(found).sort().map(function (k) { return found[k]; });
  }

  function compare(types, region, contributed) {
    var order = {};
    types.forEach(function (t, i) { order[t] = i; });
    var chosen = entries(region, contributed).filter(function (e) { return e.instance_type in order; });
    chosen.sort(function (x, y) { return order[x.instance_type] - order[y.instance_type] || key(x).localeCompare(key(y)); });
    var measures = [];
    NEEDS.forEach(function (need) {
      var rows = chosen.filter(function (e) { return need in e.figures; }).map(function (e) { return e.figures[need]; });
      if (!rows.length) return;
      var base = rows[0];
      measures.push({need: need, unit: base.unit, baseline: base.instance_type, entries: rows.map(function (r) {
        if (r === base) return {row: r, vs_baseline: null};
        // A smoke test is not tested against a standard run: the difference could be the profile's.
        var alike = r.profile === base.profile;
        var why = alike ? notTestable(base, r) : "another profile";
        var p = why ? null : welch(base, r);
        var overlap = (!alike || r.ci95_low === null || base.ci95_low === null) ? null :
          !(r.ci95_high < base.ci95_low || base.ci95_high < r.ci95_low);
        return {row: r, vs_baseline: {ratio: base.mean ? r.mean / base.mean : null, p_value: p, p_holm: null,
                                      significant: null, not_testable: why, intervals_overlap: overlap,
                                      same_profile: alike}};
      })});
    });
    // Holm over the measures shown, per type against the baseline (the API adjusts over all of its measures).
    var tested = {};
    measures.forEach(function (m) {
      m.entries.slice(1).forEach(function (e) {
        if (e.vs_baseline.p_value !== null) (tested[e.row.instance_type] = tested[e.row.instance_type] || []).push(e.vs_baseline);
      });
    });
    var tests = {};
    Object.keys(tested).forEach(function (t) {
      var adjusted = holm(tested[t].map(function (v) { return v.p_value; }));
      tested[t].forEach(function (v, i) { v.p_holm = adjusted[i]; v.significant = adjusted[i] < ALPHA; });
      tests[t] = tested[t].length;
    });
    var measured = chosen.map(function (e) { return e.instance_type; });
    return {measures: measures, tests: tests,
            not_measured: types.filter(function (t) { return measured.indexOf(t) < 0; })};
  }

  // The entry's price: its triad row's, else its HPL row's (one document priced both).
  function price(e, column) {
    var r = e.figures.triad || e.figures.hpl;
    return r[column] === null && e.figures.hpl ? e.figures.hpl[column] : r[column];
  }
  // What a recommendation may claim, strongest first (answers.VERDICTS); a candidate is its weakest figure's.
  var VERDICTS = ["surely", "likely", "likely (BLAS fallback)", "likely (one host)", "single sample"];
  function verdict(r, need, name) {
    if (r.mean < need) return null;
    if (r.n < 2) return "single sample";
    if ((r.hosts === null || r.hosts === undefined ? 1 : r.hosts) < 2) return "likely (one host)";
    if (name === "hpl" && r.blas_fallback) return "likely (BLAS fallback)";
    return r.ci95_low !== null && r.ci95_low >= need ? "surely" : "likely";
  }
  function recommend(ask) {
    var needs = {}, reference = null, pool = entries(ask.region, ask.contributed);
    if (ask.like) {
      var ref = pool.filter(function (e) { return e.instance_type === ask.like; });
      // The project's own figures stand for the type where it has them (answers.recommend)
      if (ref.some(function (e) { return e.source === "project"; }))
        ref = ref.filter(function (e) { return e.source === "project"; });
      if (!ref.length) throw new Error(ask.like + " has no measurement to compare with");
      reference = {figures: {}, price_per_hour_on_demand: null, price_per_hour_spot: null};
      ref.forEach(function (e) {
        Object.keys(e.figures).forEach(function (n) {
          var r = e.figures[n];
          reference.figures[n] = r.mean;
          ["price_per_hour_on_demand", "price_per_hour_spot"].forEach(function (c) {
            if (r[c] !== null && (reference[c] === null || r[c] < reference[c])) reference[c] = r[c];
          });
        });
      });
      needs = Object.assign({}, reference.figures);
      pool = pool.filter(function (e) { return e.instance_type !== ask.like; });
    }
    if (ask.min_triad !== null && ask.min_triad !== undefined) needs.triad = ask.min_triad;
    if (ask.min_hpl !== null && ask.min_hpl !== undefined) needs.hpl = ask.min_hpl;
    if (!Object.keys(needs).length) throw new Error("state a need: at least a triad, an HPL figure, or like a type");
    var candidates = [];
    pool.forEach(function (e) {
      var names = Object.keys(needs);
      if (names.some(function (n) { return !(n in e.figures); })) return;
      var verdicts = names.map(function (n) { return verdict(e.figures[n], needs[n], n); });
      if (verdicts.indexOf(null) >= 0) return;
      var weakest = verdicts.reduce(function (w, v) { return VERDICTS.indexOf(v) > VERDICTS.indexOf(w) ? v : w; }, "surely");
      if (ask.strict && weakest !== "surely") return;
      candidates.push({region: e.region, instance_type: e.instance_type, cpu_model: e.cpu_model, source: e.source,
                       contributors: e.contributors, meets: weakest,
                       figures: e.figures, price_per_hour_on_demand: price(e, "price_per_hour_on_demand"),
                       price_per_hour_spot: price(e, "price_per_hour_spot")});
    });
    var answer = {needs: needs, reference: reference};
    ["on_demand", "spot"].forEach(function (market) {
      var column = "price_per_hour_" + market, cap = reference ? reference[column] : null;
      answer[market] = candidates.filter(function (c) { return c[column] !== null && (cap === null || c[column] < cap); })
        .sort(function (x, y) {
          return x[column] - y[column] || x.instance_type.localeCompare(y.instance_type) ||
            (x.source === "project" ? 0 : 1) - (y.source === "project" ? 0 : 1);
        })
        .slice(0, ask.limit || 10);
    });
    return answer;
  }

  // The page: the forms and their result tables.
  function fmt(v, d) { return v === null || v === undefined ? "–" : Number(v).toLocaleString("en", {maximumFractionDigits: d === undefined ? 2 : d}); }
  function ci(r) { return r.ci95_low === null ? "(n=" + r.n + ", no interval)" : fmt(r.ci95_low) + " – " + fmt(r.ci95_high); }
  // Where a figure came from, beside its type: the project's own measurements are unmarked
  function named(r, mark) {
    return r.instance_type + (mark || "") + (r.source === "contributed" ? " (contributed by " + r.contributors + ")" : "");
  }
  function contributed() { var box = document.getElementById("include-contributed"); return !!(box && box.checked); }
  function cell(text, cls) { var td = document.createElement("td"); td.textContent = text; if (cls) td.className = cls; return td; }
  function table(head, rows) {
    var t = document.createElement("table"), tr = document.createElement("tr");
    head.forEach(function (h) { var th = document.createElement("th"); th.textContent = h; tr.appendChild(th); });
    t.appendChild(tr);
    rows.forEach(function (cells) { var r = document.createElement("tr"); cells.forEach(function (c) { r.appendChild(c); }); t.appendChild(r); });
    return t;
  }
  function showCompare() {
    var types = Array.prototype.map.call(document.querySelectorAll("#compare select"), function (s) { return s.value; })
      .filter(function (v, i, all) { return v && all.indexOf(v) === i; });
    var out = document.getElementById("compare-result");
    out.textContent = "";
    if (types.length < 2) { out.textContent = "Choose 2 to 4 instance types."; return; }
    var answer = compare(types, document.getElementById("compare-region").value, contributed());
    answer.measures.forEach(function (m) {
      var h = document.createElement("h3");
      h.textContent = (m.need === "triad" ? "STREAM triad, all cores" : "HPL") + " (" + m.unit + ")";
      out.appendChild(h);
      out.appendChild(table(["instance type", "CPU", "region", "profile", "n", "mean", "95% CI", "vs " + m.baseline, "p (Welch)", "p (Holm)", "verdict"],
        m.entries.map(function (e) {
          var v = e.vs_baseline, r = e.row;
          var verdict = !v ? "" : !v.same_profile ? "not tested: another profile" :
            v.significant === null ? "not testable: " + v.not_testable : v.significant ? "different" : "no significant difference";
          function p(x) { return x === null ? "" : x < 1e-4 ? "< 0.0001" : fmt(x, 4); }
          return [cell(named(r, r.blas_fallback ? " ‡" : ""), "text"), cell(r.cpu_model, "text"), cell(r.region, "text"), cell(r.profile || "unrecorded", "text"),
                  cell(r.n + (r.tested_on === "hosts" ? " hosts" : "")), cell(fmt(r.mean)), cell(ci(r)),
                  cell(v ? "×" + fmt(v.ratio, 3) : "baseline"), cell(v ? p(v.p_value) : ""), cell(v ? p(v.p_holm) : ""),
                  cell(verdict, v && v.significant ? "warn text" : "text")];
        })));
    });
    if (answer.not_measured.length) {
      var p = document.createElement("p");
      p.className = "note";
      p.textContent = "Never measured here: " + answer.not_measured.join(", ") + ".";
      out.appendChild(p);
    }
  }
  function number(id) { var v = document.getElementById(id).value; return v === "" ? null : parseFloat(v); }
  function showRecommend() {
    var out = document.getElementById("recommend-result");
    out.textContent = "";
    var answer;
    try {
      answer = recommend({min_triad: number("need-triad"), min_hpl: number("need-hpl"),
                          like: document.getElementById("need-like").value || null,
                          region: document.getElementById("need-region").value || null,
                          strict: document.getElementById("need-strict").checked, limit: 10,
                          contributed: contributed()});
    } catch (e) { out.textContent = e.message; return; }
    [["on_demand", "On demand"], ["spot", "Spot"]].forEach(function (pair) {
      var h = document.createElement("h3");
      h.textContent = pair[1] + ": cheapest first";
      out.appendChild(h);
      var list = answer[pair[0]];
      if (!list.length) { var p = document.createElement("p"); p.textContent = "No measured type meets it with a " + pair[1].toLowerCase() + " price."; out.appendChild(p); return; }
      out.appendChild(table(["instance type", "region", "$/h", "triad GB/s (95% CI)", "HPL GFLOPS (95% CI)", "meets the need"],
        list.map(function (c) {
          var t = c.figures.triad, g = c.figures.hpl;
          return [cell(named(c), "text"), cell(c.region, "text"), cell(fmt(c["price_per_hour_" + pair[0]], 4)),
                  cell(t ? fmt(t.mean) + " (" + ci(t) + ")" : "–"), cell(g ? fmt(g.mean) + " (" + ci(g) + ")" + (g.blas_fallback ? " ‡" : "") : "–"),
                  cell(c.meets, c.meets === "surely" ? "text" : "warn text")];
        })));
    });
  }
  if (document.getElementById("compare")) {
    document.getElementById("compare-go").addEventListener("click", showCompare);
    document.getElementById("recommend-go").addEventListener("click", showRecommend);
  }
  return {compare: compare, recommend: recommend, welch: welch, holm: holm};
})();
