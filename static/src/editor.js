// The designer's expression editor: every <input data-expr> becomes a
// one-line CodeMirror editor with completion (source fields, for-each
// items, lookup tables and keys, variables, functions), bracket matching
// and an underline at the column of the field's problem.
//
// The input stays the form field: the editor writes every change back to
// it and fires an input event there, so the live preview, the unsaved
// marker and draft saving see exactly what they saw before. Without
// JavaScript the plain inputs are the form.
//
// htmx morphs the draft form with each answer: the server's HTML has the
// inputs only, so the editors (placed right after their inputs) are kept
// out of the morph, and after each swap they are re-attached, moved back
// beside their input and given the input's new value -- except the one
// being typed in, whose text is newer than any answer.
//
// make generate bundles this file with esbuild into static/js/editor.min.js.
import { minimalSetup } from "codemirror";
import { EditorView, keymap, placeholder } from "@codemirror/view";
import { EditorState, Compartment, Facet, Prec } from "@codemirror/state";
import { autocompletion } from "@codemirror/autocomplete";
import { StreamLanguage, bracketMatching } from "@codemirror/language";
import { setDiagnostics } from "@codemirror/lint";

const IDENT = /^[A-Za-z_$][\w$]*$/;
// A path as expressions write it: a name, then .field, ?.field or [index].
const PATH = /[A-Za-z_$][\w$]*(?:\??\.[A-Za-z_$][\w$]*|\[[^[\]]*\])*/g;
const KEYWORDS = ["true", "false", "nil", "and", "or", "not", "in", "matches", "contains", "startsWith", "endsWith", "let"];

// ---- what there is to complete ------------------------------------------

let hints = { paths: [], lookups: [], vars: [], functions: [] };
const kinds = new Map(); // path -> hint
const children = new Map(); // parent path -> [hint]

function loadHints() {
  const el = document.getElementById("expr-hints");
  if (!el) { return; }
  try { hints = Object.assign(hints, JSON.parse(el.textContent)); } catch (e) { return; }
  kinds.clear();
  children.clear();
  for (const h of hints.paths || []) {
    kinds.set(h.path, h);
    if (h.path.endsWith("[]")) { continue; }
    const dot = h.path.lastIndexOf(".");
    if (dot < 0) { continue; }
    const name = h.path.slice(dot + 1);
    if (!IDENT.test(name)) { continue; }
    const parent = h.path.slice(0, dot);
    if (!children.has(parent)) { children.set(parent, []); }
    children.get(parent).push(h);
  }
}

// ---- scopes: the item and index names of enclosing for-each rows ----------

function fieldValue(name) {
  const el = document.getElementsByName(name)[0];
  return el ? el.value : "";
}

// scopesOf lists the for-each rows around the field named name
// ("f:/routes/0/mapping/2/rows/1/expr"), outermost first. A row's own
// forEach and when see only the scope around the row; its filter, its
// value expression and its child rows see the item.
function scopesOf(name) {
  const segs = name.replace(/^f:/, "").split("/");
  const scopes = [];
  for (let i = 2; i < segs.length - 1; i++) {
    if (!((segs[i - 1] === "mapping" || segs[i - 1] === "rows") && /^\d+$/.test(segs[i]))) { continue; }
    const row = "f:" + segs.slice(0, i + 1).join("/");
    const next = segs[i + 1];
    if (next !== "rows" && next !== "expr" && next !== "filter") { continue; }
    const forEach = fieldValue(row + "/forEach").trim();
    if (!forEach) { continue; }
    const scope = { as: fieldValue(row + "/as").trim() || "item", index: fieldValue(row + "/index").trim(), item: null };
    scope.item = itemPath(forEach, scopes);
    scopes.push(scope);
  }
  return scopes;
}

// normalize turns a path expression into the hints' form (source.lines[].sku),
// resolving an item name to its array; null when it cannot be resolved.
function normalize(text, scopes) {
  const m = /^([A-Za-z_$][\w$]*)(.*)$/.exec(text);
  if (!m) { return null; }
  let base = null;
  if (m[1] === "source") {
    base = "source";
  } else {
    for (let i = scopes.length - 1; i >= 0; i--) {
      if (scopes[i].as === m[1]) { base = scopes[i].item; break; }
      if (scopes[i].index === m[1]) { return null; }
    }
  }
  if (!base) { return null; }
  const rest = m[2].replace(/\?\./g, ".").replace(/\[[^[\]]*\]/g, "[]");
  return base + rest;
}

// itemPath is the path of the items of a for-each expression: that of the
// first path in it that names an array (source.lines, source.codes ?? []).
function itemPath(expr, scopes) {
  PATH.lastIndex = 0;
  let m;
  while ((m = PATH.exec(expr))) {
    if (m.index > 0 && expr[m.index - 1] === ".") { continue; }
    const p = normalize(m[0], scopes);
    const h = p && kinds.get(p);
    if (h && h.kind === "array") { return p + "[]"; }
  }
  return null;
}

// ---- completion ----------------------------------------------------------

const fieldName = Facet.define({ combine: (v) => v[0] || "" });

function quoted(s) { return JSON.stringify(s); }

// stringAt finds the string literal the cursor is in: its quote and the
// offset after the opening quote; null outside strings.
function stringAt(text) {
  let quote = "", start = -1;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote) {
      if (c === "\\") { i++; continue; }
      if (c === quote) { quote = ""; }
    } else if (c === '"' || c === "'" || c === "`") {
      quote = c;
      start = i + 1;
    }
  }
  return quote ? { quote, start } : null;
}

function tableOptions(quote) {
  return (hints.lookups || []).map((t) => ({
    label: quote ? t.name : quoted(t.name), type: "constant", detail: "lookup table",
    info: t.description || (t.keys.length + " keys"),
  }));
}

function keyOptions(table, quote) {
  const t = (hints.lookups || []).find((x) => x.name === table);
  return t ? t.keys.map((k) => ({ label: quote ? k : quoted(k), type: "text", detail: "key of " + table })) : [];
}

function varOptions(quote) {
  return (hints.vars || []).map((v) => ({ label: quote ? v : quoted(v), type: "variable", detail: "variable" }));
}

function fieldOption(h) {
  const name = h.path.slice(h.path.lastIndexOf(".") + 1);
  let detail = h.kind || "";
  if (h.example) { detail += (detail ? " " : "") + h.example; }
  return { label: name, type: "property", detail, info: h.doc || undefined, boost: 1 };
}

function functionOption(f) {
  const sig = f.signature.startsWith(f.name) ? f.signature.slice(f.name.length) : " " + f.signature;
  return { label: f.name, type: "function", detail: sig, info: f.doc, apply: f.name + "(" };
}

// Each rule matches the text before the cursor and gives the options and
// where they start.
const argRules = [
  { re: /\b(?:lookup|lookupHas)\(\s*$/, options: (m, q) => tableOptions(q) },
  { re: /\b(?:lookup|lookupHas)\(\s*(["'`])((?:[^\\"'`]|\\.)*)\1\s*,\s*$/, options: (m, q) => keyOptions(m[2], q) },
  { re: /\benv\(\s*$/, options: (m, q) => varOptions(q) },
];

function completeExpr(ctx) {
  const before = ctx.state.sliceDoc(0, ctx.pos);
  const str = stringAt(before);
  if (str) {
    // Inside a string: table names, keys and variable names only.
    const head = before.slice(0, str.start - 1);
    for (const r of argRules) {
      const m = r.re.exec(head);
      if (m) {
        return { from: str.start, options: r.options(m, str.quote), validFor: /^[^"'`]*$/ };
      }
    }
    return null;
  }
  for (const r of argRules) {
    const m = r.re.exec(before);
    if (m) { return { from: ctx.pos, options: r.options(m, ""), validFor: /^["'`]?[^"'`]*$/ }; }
  }

  const word = /[A-Za-z_$][\w$]*$/.exec(before);
  const from = word ? ctx.pos - word[0].length : ctx.pos;
  const head = before.slice(0, from);
  const scopes = scopesOf(ctx.state.facet(fieldName));
  if (/\??\.$/.test(head)) {
    // A member: the fields of the path before the dot.
    const baseText = head.replace(/\??\.$/, "");
    const m = /[A-Za-z_$][\w$]*(?:\??\.[A-Za-z_$][\w$]*|\[[^[\]]*\])*$/.exec(baseText);
    if (!m || (m.index > 0 && baseText[m.index - 1] === ".")) { return null; }
    const base = normalize(m[0], scopes);
    const fields = base && children.get(base);
    if (!fields) { return null; }
    return { from, options: fields.map(fieldOption), validFor: /^[\w$]*$/ };
  }
  if (!word && !ctx.explicit) { return null; }
  if (word && /[\d.]$/.test(head)) { return null; }
  const options = [{ label: "source", type: "variable", detail: "the message", boost: 2 }];
  for (const s of scopes) {
    options.push({ label: s.as, type: "variable", detail: "each item of the for-each", boost: 3 });
    if (s.index) { options.push({ label: s.index, type: "variable", detail: "the item's index", boost: 3 }); }
  }
  for (const f of hints.functions || []) { options.push(functionOption(f)); }
  for (const k of KEYWORDS) { options.push({ label: k, type: "keyword", boost: -1 }); }
  return { from, options, validFor: /^[\w$]*$/ };
}

// ---- the expression language, for highlighting and bracket matching ------

const exprLanguage = StreamLanguage.define({
  name: "expr",
  token(stream) {
    if (stream.eatSpace()) { return null; }
    if (stream.match(/^"(?:[^"\\]|\\.)*"?/) || stream.match(/^'(?:[^'\\]|\\.)*'?/) || stream.match(/^`[^`]*`?/)) { return "string"; }
    if (stream.match(/^(?:0x[0-9a-fA-F_]+|\d[\d_]*(?:\.\d[\d_]*)?(?:[eE][+-]?\d+)?)/)) { return "number"; }
    if (stream.match(/^(?:true|false|nil)\b/)) { return "atom"; }
    if (stream.match(/^(?:and|or|not|in|matches|contains|startsWith|endsWith|let|if|else)\b/)) { return "keyword"; }
    const member = stream.pos > 0 && stream.string[stream.pos - 1] === ".";
    if (stream.match(/^[A-Za-z_$][\w$]*/)) {
      if (member) { return "propertyName"; }
      return /^\s*\(/.test(stream.string.slice(stream.pos)) ? "variableName.function" : "variableName";
    }
    if (stream.match(/^[()[\]{}]/)) { return "bracket"; }
    stream.next();
    return "operator";
  },
});

// ---- the editors ---------------------------------------------------------

const editors = new Map(); // input -> { view, editable: Compartment, hint: Compartment, problem }
let syncing = false;
let lastFocused = null;

const theme = EditorView.theme({
  "&": { width: "100%", minWidth: "0", background: "#fff", color: "var(--ink, #1b2430)", border: "1px solid var(--line-strong, #c5ccd5)", borderRadius: "6px", fontSize: ".88rem" },
  "&.cm-focused": { outline: "2px solid #7fb6e6", borderColor: "var(--brand, #0f4c81)" },
  ".cm-scroller": { fontFamily: "var(--mono, monospace)", lineHeight: "1.5", overflowX: "auto" },
  ".cm-content": { padding: ".3rem .45rem" },
  ".cm-line": { padding: "0" },
  "&.expr-readonly": { background: "var(--canvas, #f4f6f9)" },
  ".cm-tooltip-autocomplete ul li": { fontFamily: "var(--mono, monospace)" },
  ".cm-completionDetail": { fontStyle: "normal", marginLeft: "0", color: "var(--ink-faint, #7b8594)" },
  ".cm-completionLabel + .cm-completionDetail": { marginLeft: "0" },
  ".cm-completionInfo": { fontFamily: "var(--sans, sans-serif)", maxWidth: "24rem" },
  ".cm-placeholder": { color: "var(--ink-faint, #7b8594)" },
});

// A one-line field: a pasted line break becomes a space.
const oneLine = EditorState.transactionFilter.of((tr) => {
  if (!tr.docChanged || tr.newDoc.lines <= 1) { return tr; }
  const text = tr.newDoc.toString().replace(/\s*\n\s*/g, " ");
  return [tr, { changes: { from: 0, to: tr.newDoc.length, insert: text }, sequential: true }];
});

// Enter does what it does in a text input: presses the form's default
// button (the designer's plain save). An open completion list takes it first.
function pressDefault(input) {
  const f = input.form;
  const b = f && f.querySelector('button:not([type]), button[type="submit"], input[type="submit"]');
  if (b && !b.disabled) { b.click(); }
  return true;
}

function attach(input) {
  const editable = new Compartment(), hint = new Compartment();
  const entry = { editable, hint, problem: "" };
  const view = new EditorView({
    state: EditorState.create({
      doc: input.value,
      extensions: [
        minimalSetup,
        exprLanguage,
        bracketMatching(),
        autocompletion({ override: [completeExpr], icons: false, maxRenderedOptions: 60 }),
        Prec.high(keymap.of([{ key: "Enter", run: () => pressDefault(input) }])),
        oneLine,
        // A line break typed is ignored, as a text input ignores it.
        EditorView.domEventHandlers({
          beforeinput(ev) {
            if (ev.inputType === "insertLineBreak" || ev.inputType === "insertParagraph") { ev.preventDefault(); return true; }
            return false;
          },
        }),
        theme,
        // The class the hiding rule, the morph and the tests know it by.
        EditorView.editorAttributes.of({ class: "expr-editor" }),
        fieldName.of(input.name),
        editable.of(editableExt(input)),
        hint.of(hintExt(input)),
        EditorView.updateListener.of((u) => {
          if (u.focusChanged && u.view.hasFocus) { lastFocused = input; }
          if (!u.docChanged || syncing) { return; }
          input.value = u.state.doc.toString();
          input.dispatchEvent(new Event("input", { bubbles: true }));
        }),
      ],
    }),
  });
  entry.view = view;
  // An id no answer has keeps idiomorph from morphing another element into
  // the editor.
  view.dom.id = (input.id || input.name) + "-editor";
  // The editor's own input events stay inside it: the field fires one.
  view.dom.addEventListener("input", (ev) => ev.stopPropagation());
  view.dom.addEventListener("change", (ev) => ev.stopPropagation());
  input.after(view.dom);
  editors.set(input, entry);
}

function editableExt(input) {
  const ro = input.disabled;
  return [EditorView.editable.of(!ro), EditorState.readOnly.of(ro), EditorView.editorAttributes.of(ro ? { class: "expr-readonly" } : {})];
}

function hintExt(input) {
  const label = input.getAttribute("aria-label") || "";
  return [
    placeholder(input.placeholder || ""),
    EditorView.contentAttributes.of({ "aria-label": label, "aria-multiline": "false", spellcheck: "false", autocorrect: "off", autocapitalize: "off" }),
  ];
}

// sync attaches new inputs, drops editors whose input went, puts each editor
// back beside its input and agrees their texts.
function sync() {
  document.querySelectorAll("input[data-expr]").forEach((input) => {
    if (!editors.has(input)) { attach(input); }
  });
  for (const [input, e] of editors) {
    if (!input.isConnected) {
      e.view.destroy();
      e.view.dom.remove();
      editors.delete(input);
      continue;
    }
    const view = e.view;
    if (input.nextElementSibling !== view.dom) {
      const focused = view.hasFocus;
      input.after(view.dom);
      if (focused) { view.focus(); }
    }
    const doc = view.state.doc.toString();
    if (input.value !== doc) {
      if (view.hasFocus) {
        input.value = doc; // typed after the request this answer is for
      } else {
        syncing = true;
        view.dispatch({ changes: { from: 0, to: doc.length, insert: input.value } });
        syncing = false;
      }
    }
    const effects = [];
    if (view.state.readOnly !== input.disabled) { effects.push(e.editable.reconfigure(editableExt(input))); }
    if (view.contentDOM.getAttribute("aria-label") !== (input.getAttribute("aria-label") || "")) {
      effects.push(e.hint.reconfigure(hintExt(input)));
    }
    if (effects.length) { view.dispatch({ effects }); }
  }
  problemsLater();
}

// ---- problems ------------------------------------------------------------

// position turns a 1-based line and column (in characters) into an offset.
function position(doc, line, col) {
  if (line < 1 || line > doc.lines) { return doc.length; }
  const l = doc.line(line);
  const chars = Array.from(l.text).slice(0, Math.max(0, col - 1));
  return Math.min(l.from + chars.join("").length, l.to);
}

// problemsLater runs showProblems once after the fragments of one answer
// are swapped, however many there are.
let problemsQueued = false;
function problemsLater() {
  if (problemsQueued) { return; }
  problemsQueued = true;
  queueMicrotask(() => { problemsQueued = false; showProblems(); });
}

// showProblems underlines each field's problem from the problems list,
// which the preview answers with every keystroke.
function showProblems() {
  const byField = new Map();
  document.querySelectorAll("#problems li[data-field]").forEach((li) => {
    if (byField.has(li.dataset.field)) { return; }
    const message = Array.from(li.childNodes).filter((n) => n.nodeName !== "PRE").map((n) => n.textContent).join("").replace(/\s+/g, " ").trim();
    byField.set(li.dataset.field, { line: +li.dataset.line, col: +li.dataset.col, message });
  });
  for (const [input, e] of editors) {
    const p = byField.get(input.id);
    const key = p ? p.line + ":" + p.col + ":" + p.message + ":" + e.view.state.doc.length : "";
    if (key === e.problem) { continue; }
    e.problem = key;
    const diags = [];
    if (p) {
      const doc = e.view.state.doc;
      let from = position(doc, p.line, p.col), to = from;
      while (to < doc.length && /[\w$]/.test(doc.sliceString(to, to + 1))) { to++; }
      if (to === from) { to = Math.min(doc.length, from + 1); }
      if (from === to && from > 0) { from--; }
      diags.push({ from, to, severity: "error", message: p.message });
    }
    e.view.dispatch(setDiagnostics(e.view.state, diags));
  }
}

function editorOf(input) {
  const e = input && editors.get(input);
  return e ? e.view : null;
}

// ---- wiring --------------------------------------------------------------

function start() {
  loadHints();
  sync();
  document.addEventListener("htmx:afterSwap", sync);
  document.addEventListener("htmx:oobAfterSwap", problemsLater);
  document.addEventListener("htmx:afterSettle", sync);
  if (window.Idiomorph) {
    // The server's HTML has no editors: keep them, sync puts them right.
    const callbacks = window.Idiomorph.defaults.callbacks;
    const before = callbacks.beforeNodeRemoved;
    callbacks.beforeNodeRemoved = function (node) {
      if (node.classList && node.classList.contains("expr-editor")) { return false; }
      return before ? before.apply(this, arguments) : true;
    };
  }
  document.addEventListener("click", (ev) => {
    // A field's path from the field tree goes where the analyst last typed.
    const b = ev.target.closest && ev.target.closest("[data-insert-path]");
    const view = editorOf(lastFocused);
    if (b && view && lastFocused.isConnected && !lastFocused.disabled) {
      ev.stopImmediatePropagation();
      const path = b.getAttribute("data-insert-path");
      const sel = view.state.selection.main;
      view.dispatch({ changes: { from: sel.from, to: sel.to, insert: path }, selection: { anchor: sel.from + path.length } });
      view.focus();
      return;
    }
    // A label or a problem's link to a field focuses its editor.
    const l = ev.target.closest && ev.target.closest("label[for], #problems a[href^='#']");
    if (!l) { return; }
    const id = l.htmlFor || decodeURIComponent(l.getAttribute("href").slice(1));
    const input = document.getElementById(id);
    const target = editorOf(input);
    if (!target) { return; }
    ev.preventDefault();
    target.dom.scrollIntoView({ block: "center" });
    target.focus();
    const d = l.closest("li[data-field]");
    if (d) {
      const at = position(target.state.doc, +d.dataset.line, +d.dataset.col);
      target.dispatch({ selection: { anchor: at } });
    }
  }, true);
}

// The input is hidden while its editor shows: a rule on the pair, so a
// morph that rewrites the input's attributes cannot show it again.
const style = document.createElement("style");
style.textContent = "input[data-expr]:has(+ .expr-editor){display:none}";
document.head.appendChild(style);

if (document.readyState === "loading") {
  document.addEventListener("DOMContentLoaded", start);
} else {
  start();
}
