// The drift explorer: chart, period table and the evidence behind a chosen period, target and source.
const state = {target: DATA.targets[0], source: "", period: null};

function series() {
  if (state.source === "") return {periods: DATA.periods, change_points: DATA.change_points};
  return DATA.sources[state.source];
}
function filled(periods) { return periods.filter((p) => p[state.target] && p[state.target].net !== null); }
function defaultPeriod() {
  const rows = filled(series().periods);
  const moves = rows.filter((p) => p[state.target].explanation);
  const pick = moves.length ? moves[moves.length - 1] : rows[rows.length - 1];
  return pick ? pick.period : null;
}
function setState(change) {
  Object.assign(state, change);
  const labels = series().periods.map((p) => p.period);
  if (!labels.includes(state.period)) state.period = defaultPeriod();
  render();
}

function controls() {
  const targets = DATA.targets.map((t) => [t, DATA.names[t] || t]);
  const sources = [["", "all sources"], ...Object.keys(DATA.sources).map((s) => [s, s])];
  const periods = series().periods.map((p) => [p.period, p.period + " (" + p.n_articles + " articles)"]);
  return el("div", {className: "controls"},
    chooser("target", "target", targets, state.target, (v) => setState({target: v})),
    chooser("source", "source", sources, state.source, (v) => setState({source: v})),
    chooser("period", "period", periods, state.period, (v) => setState({period: v})));
}

function chart() {
  const periods = series().periods;
  const points = series().change_points[state.target] || [];
  const W = 760, H = 280, L = 62, R = 12, T = 14, B = 42;
  const rows = filled(periods);
  if (!rows.length) return el("p", {className: "empty"}, "No article in this selection.");
  let low = Math.min(0, ...rows.map((p) => p[state.target].low));
  let high = Math.max(0, ...rows.map((p) => p[state.target].high));
  const pad = Math.max(0.05, (high - low) * 0.08);
  low -= pad; high += pad;
  const x = (i) => L + (periods.length === 1 ? (W - L - R) / 2 : i * (W - L - R) / (periods.length - 1));
  const y = (v) => T + (high - v) / (high - low) * (H - T - B);
  const color = DATA.colors[state.target] || "#444";
  const index = new Map(periods.map((p, i) => [p.period, i]));
  const parts = [svg("line", {x1: L, x2: W - R, y1: y(0), y2: y(0), stroke: "#999", "stroke-dasharray": "3 3"})];
  for (const tick of [low, 0, high]) {
    parts.push(svg("text", {x: L - 6, y: y(tick) + 4, "text-anchor": "end", "font-size": 11, fill: "#555"}, fmt(tick, 2, true)));
  }
  const every = Math.ceil(periods.length / 12);
  periods.forEach((p, i) => {
    if (i % every === 0 || p.period === state.period) {
      parts.push(svg("text", {x: x(i), y: H - B + 16, "text-anchor": "middle", "font-size": 11, fill: "#333"}, p.period));
    }
  });
  if (state.period !== null && index.has(state.period)) {
    const i = index.get(state.period);
    parts.push(svg("rect", {x: x(i) - 9, y: T, width: 18, height: H - T - B, fill: "#e3ecfa"}));
  }
  for (const label of points) {
    if (!index.has(label)) continue;
    const cx = x(index.get(label));
    parts.push(svg("line", {x1: cx, x2: cx, y1: T, y2: H - B, stroke: "#555", "stroke-dasharray": "5 4"}));
    parts.push(svg("text", {x: cx + 4, y: T + 10, "font-size": 10, fill: "#555"}, "change point"));
  }
  const band = rows.map((p) => x(index.get(p.period)) + "," + y(p[state.target].high))
    .concat(rows.slice().reverse().map((p) => x(index.get(p.period)) + "," + y(p[state.target].low)));
  parts.push(svg("polygon", {points: band.join(" "), fill: color, "fill-opacity": 0.15, stroke: "none"}));
  parts.push(svg("polyline", {points: rows.map((p) => x(index.get(p.period)) + "," + y(p[state.target].net)).join(" "),
                              fill: "none", stroke: color, "stroke-width": 2}));
  for (const p of rows) {
    const s = p[state.target], cx = x(index.get(p.period));
    parts.push(svg("circle", {className: "point", cx: cx, cy: y(s.net), r: p.period === state.period ? 6 : 4, fill: color,
                              "data-period": p.period, onclick: () => setState({period: p.period})},
                   svg("title", {}, p.period + ": net " + fmt(s.net, 3, true) + ", " + p.n_articles + " articles")));
    if (s.shift) parts.push(svg("text", {x: cx + 6, y: y(s.net) - 6, fill: "#b03a2e", "font-weight": 700}, "*"));
  }
  parts.push(svg("text", {x: 12, y: T + (H - T - B) / 2, transform: "rotate(-90 12 " + (T + (H - T - B) / 2) + ")",
                          "text-anchor": "middle", "font-size": 11, fill: "#555"}, "net stance"));
  return svg("svg", {viewBox: "0 0 " + W + " " + H, role: "img",
                     "aria-label": "net stance toward " + state.target + " per " + DATA.by}, parts);
}

function periodTable() {
  const rows = series().periods.map((p) => {
    const s = p[state.target] || {net: null};
    return el("tr", {className: "clickable" + (p.period === state.period ? " selected" : ""), "data-period": p.period,
                     onclick: () => setState({period: p.period})},
      el("td", {}, p.period), el("td", {}, p.n_articles), el("td", {}, p.n_sentences),
      el("td", {className: "net"}, fmt(s.net, 3, true), s.shift ? el("span", {className: "shift", title: "shift"}, " *") : null),
      el("td", {}, s.net === null ? "" : "[" + fmt(s.low, 3, true) + ", " + fmt(s.high, 3, true) + "]"),
      el("td", {}, s.p_value === null || s.p_value === undefined ? "" : fmt(s.p_value, 3)),
      el("td", {}, pct(s.favor_share)), el("td", {}, pct(s.against_share)));
  });
  return table("periods", ["period", "articles", "sentences", (DATA.names[state.target] || state.target) + " net",
                           "95% interval", "p (Holm)", "favor", "against"], rows);
}

function items(list, side) {
  if (!list.length) return el("p", {className: "empty"}, "No sentence.");
  return el("ol", {className: "items"}, list.map((item) => el("li", {
      className: "evidence-item", "data-side": side, "data-article": item.article, "data-index": item.index},
    el("span", {className: "quote"}, el("span", {className: "proba"}, fmt(item.proba, 3)), " ", badge(item.label),
       "“" + item.text + "”"),
    el("span", {className: "meta"}, articleLink(item), [shownDate(item), item.source, "sentence " + item.index]
      .filter((v) => v !== null && v !== undefined).map((v) => " · " + v)))));
}

// A date an index marks as a guess is said to be one, so it never passes for a date the article states.
function shownDate(item) {
  return item.date && item.date_source === "inferred" ? item.date + " (inferred)" : item.date;
}

function articleTable(className, list, withInfluence) {
  const header = ["article", "date", "source", "net"].concat(withInfluence ? ["moves the period by"] : []);
  return table(className, header, list.map((a) => el("tr", {"data-article": a.article},
    el("td", {}, articleLink(a)), el("td", {}, shownDate(a) || "–"), el("td", {}, a.source || "–"),
    el("td", {className: "net"}, fmt(a.net, 3, true)),
    withInfluence ? el("td", {className: "influence"}, fmt(a.influence, 3, true)) : null)));
}

function evidence() {
  const period = series().periods.find((p) => p.period === state.period);
  const name = DATA.names[state.target] || state.target;
  const where = state.source === "" ? "all sources" : state.source;
  if (!period || !period[state.target] || period[state.target].net === null) {
    return [el("h2", {}, "Evidence"), el("p", {className: "empty"}, "No article in " + (state.period || "this selection") + " for " + where + ".")];
  }
  const s = period[state.target];
  if (!s.evidence) {
    return [el("h2", {}, "Evidence"), el("p", {className: "empty"}, "This report was made without evidence (measure_drift(..., evidence=0)).")];
  }
  const out = [
    el("h2", {id: "evidence-title"}, "Evidence: " + period.period + " · " + name + " · " + where),
    el("p", {}, "Net ", el("b", {className: "net"}, fmt(s.net, 3, true)), " [" + fmt(s.low, 3, true) + ", " + fmt(s.high, 3, true) + "] over ",
       period.n_articles + " articles and " + period.n_sentences + " sentences. Each list holds the strongest sentence of each of the top articles on that side (one per article, copies of one text once), by the model's probability."),
    el("div", {className: "columns"},
      el("section", {id: "favor"}, el("h3", {}, "Toward favor (P(favor))"), items(s.evidence.favor, "favor")),
      el("section", {id: "against"}, el("h3", {}, "Toward against (P(against))"), items(s.evidence.against, "against"))),
    el("h3", {}, "Articles that move this period most"),
    el("p", {className: "note"}, "How far the period's net would move if the article were left out (the period's net minus the mean of the others)."),
    articleTable("movers", s.movers, true),
  ];
  const move = s.explanation;
  if (move) {
    out.push(el("section", {id: "explanation"},
      el("h3", {}, "What changed: " + move.why.join(" and ") + " from " + move.from + " (" + fmt(move.change, 3, true) + ", toward " + move.toward + ")"),
      el("div", {className: "columns"},
        el("div", {}, el("h3", {}, "Now: furthest toward " + move.toward), articleTable("now-articles", move.articles, false),
           items(move.sentences, move.toward)),
        el("div", {}, el("h3", {}, "Before (" + move.from + "): furthest the other way"), articleTable("before-articles", move.before.articles, false),
           items(move.before.sentences, move.toward === "favor" ? "against" : "favor")))));
  }
  return out;
}

function sourcesTable() {
  const names = Object.keys(DATA.sources);
  if (!names.length) return null;
  return [el("h2", {}, "By source"), el("p", {className: "note"}, "Click a source to explore it alone."),
    table("sources", ["source", "articles"].concat(DATA.targets.flatMap((t) => [(DATA.names[t] || t) + " net", "95% interval"])),
      names.map((n) => el("tr", {className: "clickable" + (n === state.source ? " selected" : ""), "data-source": n,
                                 onclick: () => setState({source: n})},
        el("td", {}, n), el("td", {}, DATA.sources[n].n_articles),
        DATA.targets.flatMap((t) => {
          const o = DATA.sources[n].overall[t];
          return [el("td", {}, fmt(o.net, 3, true)), el("td", {}, "[" + fmt(o.low, 3, true) + ", " + fmt(o.high, 3, true) + "]")];
        }))))];
}

function render() {
  const points = series().change_points[state.target] || [];
  replace("app",
    controls(),
    el("section", {className: "chart", id: "chart"}, chart()),
    el("p", {className: "note"}, "Shaded: 95% bootstrap interval over articles. * a shift from the previous period; dashed: change points (",
       points.length ? points.join(", ") : "none", "). Click a point or a row to read its evidence."),
    el("section", {id: "periods-section"}, el("h2", {}, "Periods"), periodTable()),
    el("section", {id: "evidence"}, evidence()),
    el("section", {id: "sources-section"}, sourcesTable()),
    DATA.undated_articles.length ? [el("h2", {}, "Undated (" + DATA.undated_articles.length + ")"),
                                    el("p", {id: "undated"}, DATA.undated_articles.join(", "))] : null,
    el("h2", {}, "Method"), el("p", {className: "note"}, DATA.method));
}

state.period = defaultPeriod();
render();
