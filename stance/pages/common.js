"use strict";
// Shared by the stance pages: the embedded data and small DOM helpers (text only, never markup).
const DATA = JSON.parse(document.getElementById("data").textContent);
const SVG_NS = "http://www.w3.org/2000/svg";

function build(node, attrs, children) {
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key === "className" ? "class" : key, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}
function el(tag, attrs, ...children) { return build(document.createElement(tag), attrs, children); }
function svg(tag, attrs, ...children) { return build(document.createElementNS(SVG_NS, tag), attrs, children); }

function fmt(x, digits, signed) {
  if (x === null || x === undefined) return "–";
  let s = Number(x).toFixed(digits);
  if (Number(s) === 0) s = (0).toFixed(digits);  // no "-0.000": as the command line writes it
  return signed && !s.startsWith("-") ? "+" + s : s;
}
function pct(x) { return x === null || x === undefined ? "–" : Math.round(x * 100) + "%"; }
function safeUrl(url) {
  if (!url) return null;
  try {
    const parsed = new URL(url);
    return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
  } catch (err) {
    return null;
  }
}
function articleLink(item) {
  const label = item.title || item.article;
  const url = safeUrl(item.url);
  return url ? el("a", {href: url, target: "_blank", rel: "noopener noreferrer", title: item.article}, label)
             : el("span", {title: item.article}, label);
}
function badge(label) { return el("span", {className: "badge " + label}, label); }
function chooser(id, label, options, value, onchange) {
  const select = el("select", {id: id, onchange: (event) => onchange(event.target.value)},
    options.map(([v, text]) => el("option", {value: v, selected: v === value}, text)));
  return el("label", {for: id}, label, select);
}
function table(className, header, rows) {
  return el("table", {className: className},
    el("thead", {}, el("tr", {}, header.map((h) => el("th", {className: h === "sentence" ? "text" : null}, h)))),
    el("tbody", {}, rows));
}
function replace(id, ...children) {
  const node = document.getElementById(id);
  node.replaceChildren(...children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false));
  return node;
}
