// The evaluation page: scores per evaluation and target, confusion matrices whose cells list their sentences,
// the most confident errors, per-article scores, the experiments table and the provenance.
const PLANS = Object.keys(DATA.evaluations);
const state = {plan: PLANS[0], target: DATA.targets[0], gold: null, predicted: null};
const STANCES = ["favor", "against", "none"];
const LIMIT = 60;

function setState(change) { Object.assign(state, change); render(); }

function controls() {
  return el("div", {className: "controls"},
    chooser("plan", "evaluation", PLANS.map((p) => [p, DATA.plan_names[p] || p]), state.plan,
            (v) => setState({plan: v, gold: null, predicted: null})),
    chooser("target", "target", DATA.targets.map((t) => [t, t]), state.target,
            (v) => setState({target: v, gold: null, predicted: null})));
}

function withInterval(m, key, signed) {
  const ci = m[key + "_ci"];
  return fmt(m[key], 3, signed) + (ci ? " [" + fmt(ci[0], 2, signed) + ", " + fmt(ci[1], 2, signed) + "]" : "");
}

function systems(result) {
  return table("systems", ["system", "macro-F1", "F1avg (favor, against)", "accuracy"],
    Object.entries(DATA.system_names).map(([key, name]) => {
      const m = result.targets[state.target][key];
      return el("tr", {"data-system": key}, el("td", {}, name), el("td", {className: "macro-f1"}, withInterval(m, "macro_f1")),
                el("td", {className: "f1-avg"}, withInterval(m, "f1_avg")), el("td", {}, fmt(m.accuracy, 3)));
    }));
}

function gainOverTfidf(result) {
  const d = result.targets[state.target].gain_over_tfidf;
  if (!d) return null;
  return el("p", {className: "gain"}, "Model minus TF-IDF on the same sentences (paired bootstrap; an interval holding 0 "
    + "cannot tell them apart): macro-F1 " + withInterval(d, "macro_f1", true) + ", F1avg " + withInterval(d, "f1_avg", true) + ".");
}

function perClass(m) {
  return table("per-class", ["class", "precision", "recall", "F1", "support"],
    Object.entries(m.per_class).map(([label, c]) => el("tr", {},
      el("td", {}, label), el("td", {}, fmt(c.precision, 3)), el("td", {}, fmt(c.recall, 3)), el("td", {}, fmt(c.f1, 3)),
      el("td", {}, c.support))));
}

function confusion(m) {
  const rows = STANCES.map((gold, i) => el("tr", {},
    el("th", {}, gold),
    STANCES.map((predicted, j) => el("td", {className: i === j ? "diagonal" : ""},
      el("button", {className: state.gold === gold && state.predicted === predicted ? "selected" : "",
                    "data-gold": gold, "data-predicted": predicted, title: "list these sentences",
                    onclick: () => setState(state.gold === gold && state.predicted === predicted
                                            ? {gold: null, predicted: null} : {gold: gold, predicted: predicted})},
                 m.confusion[i][j])))));
  return el("table", {className: "confusion"},
    el("thead", {}, el("tr", {}, el("th", {}, "gold \\ predicted"), STANCES.map((s) => el("th", {}, s)))),
    el("tbody", {}, rows));
}

function sentences() {
  const chosen = DATA.predictions.filter((p) => p.plan === state.plan && p[state.target] && p[state.target].gold !== null
    && (state.gold === null ? p[state.target].gold !== p[state.target].predicted
                            : p[state.target].gold === state.gold && p[state.target].predicted === state.predicted));
  chosen.sort((a, b) => b[state.target].proba[b[state.target].predicted] - a[state.target].proba[a[state.target].predicted]
                        || (a.article < b.article ? -1 : a.article > b.article ? 1 : a.sentence - b.sentence));
  const title = state.gold === null
    ? "Errors, most confident first"
    : "Gold " + state.gold + ", predicted " + state.predicted;
  const shown = chosen.slice(0, LIMIT);
  return [el("h3", {id: "sentences-title"}, title + " (" + chosen.length + " sentences" + (chosen.length > LIMIT ? ", the first " + LIMIT + " shown" : "") + ")"),
    el("p", {className: "note"}, state.gold === null ? "Click a cell of the confusion matrix to list its sentences." : "Click the cell again to go back to all errors."),
    chosen.length ? table("sentences", ["article", "#", "gold", "predicted", "P(predicted)", "sentence"],
      shown.map((p) => {
        const s = p[state.target];
        return el("tr", {className: "sentence-row", "data-article": p.article, "data-sentence": p.sentence},
          el("td", {}, p.article), el("td", {}, p.sentence), el("td", {}, badge(s.gold)), el("td", {}, badge(s.predicted)),
          el("td", {className: "proba"}, fmt(s.proba[s.predicted], 3)), el("td", {className: "text"}, p.text));
      })) : el("p", {className: "empty"}, "No sentence.")];
}

function perArticle(result) {
  const entries = Object.entries(result.targets[state.target].per_article || {});
  if (!entries.length) return null;
  return [el("h3", {}, "Macro-F1 per held-out article"),
    table("per-article", ["article", "macro-F1"], entries.map(([a, v]) => el("tr", {}, el("td", {}, a), el("td", {}, fmt(v, 3)))))];
}

function experiments() {
  if (!DATA.experiments) return null;
  const e = DATA.experiments;
  return [el("h2", {}, "Experiments"), el("p", {className: "note"}, "From " + e.source + "."),
    table("experiments", e.header, e.rows.map((r) => el("tr", {}, r.map((c) => el("td", {className: "text"}, c)))))];
}

function provenance() {
  return el("ul", {id: "provenance"}, Object.entries(DATA.provenance).map(([k, v]) =>
    el("li", {}, el("b", {}, k + ": "), typeof v === "object" && v !== null
      ? (Array.isArray(v) ? v.join(", ") : Object.entries(v).map(([a, b]) => a + " " + (typeof b === "object" ? JSON.stringify(b) : b)).join(", "))
      : String(v))));
}

function render() {
  const result = DATA.evaluations[state.plan];
  const m = result.targets[state.target].model;
  replace("app",
    controls(),
    el("p", {}, result.description + " " + result.n_sentences + " sentences from " + result.n_articles + " articles."),
    el("h2", {}, "Scores: " + state.target), systems(result), gainOverTfidf(result),
    el("div", {className: "columns"},
      el("section", {}, el("h3", {}, "Confusion (rows: gold, columns: predicted)"), confusion(m)),
      el("section", {}, el("h3", {}, "Per class"), perClass(m))),
    el("section", {id: "sentence-list"}, sentences()),
    perArticle(result),
    experiments(),
    el("h2", {}, "Provenance"), provenance(),
    el("h2", {}, "How to read it"), el("p", {className: "note"}, DATA.how_to_read));
}

render();
