// Dromos web UI: one page, hash routes, data from /api (read and acted on as the signed-in
// user), live reloads from /api/live. Every value from the cluster goes into the page as text
// (textContent), never as markup.
"use strict";

const state = { csrf: null, user: null, mode: null, tables: {}, route: null, renderSeq: 0 };

// ---------- DOM helpers ----------
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "text") el.textContent = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}
const svgNS = "http://www.w3.org/2000/svg";
function s(tag, attrs, ...children) {
  const el = document.createElementNS(svgNS, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
  for (const c of children) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}
function say(msg, bad) {
  const st = document.getElementById("status");
  st.textContent = msg || "";
  st.className = "status" + (bad ? " bad" : "");
}
function seg(x) { return encodeURIComponent(x); }
function link(href, text) { return h("a", { href }, text); }
function fmtNum(n) { return typeof n === "number" ? (Number.isInteger(n) ? String(n) : n.toFixed(2)) : ""; }

// ---------- API ----------
class HttpError extends Error { constructor(status, msg) { super(msg); this.status = status; } }
async function api(path, opts) {
  opts = opts || {};
  const headers = { "Accept": "application/json" };
  if (opts.body !== undefined) headers["Content-Type"] = "application/json";
  if (opts.method && opts.method !== "GET" && state.csrf) headers["X-CSRF-Token"] = state.csrf;
  const res = await fetch(path, { method: opts.method || "GET", headers, credentials: "same-origin",
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body) });
  let data = null;
  try { data = await res.json(); } catch (_) { data = null; }
  if (!res.ok && !(opts.okStatuses || []).includes(res.status)) {
    throw new HttpError(res.status, (data && data.error) || res.statusText);
  }
  return { status: res.status, data };
}
async function act(path, label, body) {
  try {
    const r = await api(path, { method: "POST", body: body === undefined ? {} : body });
    say(r.data.message || label + " done");
    return r;
  } catch (e) {
    say(label + " failed (" + e.status + "): " + e.message, true);
    return null;
  }
}

// ---------- tables: filter, sort, pages of 100 ----------
const PAGE = 100;
function table(id, columns, rows, opts) {
  opts = opts || {};
  let t = state.tables[id];
  if (!t) {
    t = state.tables[id] = { filter: "", sort: opts.sort || columns[0].key, dir: 1, page: 0 };
  }
  const root = h("section", { class: "tbl", "aria-label": opts.label || id });
  const filter = h("input", { type: "search", id: id + "-filter", value: t.filter, placeholder: "Filter",
    "aria-label": "Filter " + (opts.label || id) });
  const count = h("span", { class: "muted", "aria-live": "polite", id: id + "-count" });
  root.append(h("div", { class: "tools" }, filter, count));
  const tbl = h("table", { id: id + "-table" });
  const thead = h("thead");
  const headRow = h("tr");
  for (const c of columns) {
    const btn = h("button", { type: "button", onclick: () => {
      if (t.sort === c.key) t.dir = -t.dir; else { t.sort = c.key; t.dir = 1; }
      t.page = 0; draw();
    } }, c.label);
    headRow.append(h("th", { scope: "col", class: c.num ? "num" : null, "data-key": c.key }, btn));
  }
  thead.append(headRow);
  const tbody = h("tbody");
  tbl.append(thead, tbody);
  root.append(tbl);
  const prev = h("button", { type: "button", onclick: () => { t.page--; draw(); } }, "Previous page");
  const next = h("button", { type: "button", onclick: () => { t.page++; draw(); } }, "Next page");
  const where = h("span", { class: "muted" });
  root.append(h("div", { class: "pager" }, prev, where, next));
  const text = (r, c) => {
    const v = c.value ? c.value(r) : r[c.key];
    return v === null || v === undefined ? "" : String(v);
  };
  filter.addEventListener("input", () => { t.filter = filter.value; t.page = 0; draw(); });
  function draw() {
    const q = t.filter.trim().toLowerCase();
    let shown = q ? rows.filter(r => columns.some(c => text(r, c).toLowerCase().includes(q))) : rows.slice();
    const col = columns.find(c => c.key === t.sort) || columns[0];
    shown.sort((a, b) => {
      const x = col.value ? col.value(a) : a[col.key], y = col.value ? col.value(b) : b[col.key];
      if (typeof x === "number" && typeof y === "number") return (x - y) * t.dir;
      return String(x ?? "").localeCompare(String(y ?? ""), undefined, { numeric: true }) * t.dir;
    });
    const pages = Math.max(1, Math.ceil(shown.length / PAGE));
    t.page = Math.min(Math.max(0, t.page), pages - 1);
    const slice = shown.slice(t.page * PAGE, (t.page + 1) * PAGE);
    tbody.replaceChildren(...slice.map(r => h("tr", {}, columns.map(c =>
      h("td", { class: c.num ? "num" : null }, c.render ? c.render(r) : text(r, c))))));
    if (!slice.length) tbody.append(h("tr", {}, h("td", { colspan: columns.length, class: "muted" }, opts.empty || "Nothing to show")));
    for (const th of headRow.children) {
      const k = th.getAttribute("data-key");
      th.setAttribute("aria-sort", k === t.sort ? (t.dir > 0 ? "ascending" : "descending") : "none");
    }
    count.textContent = shown.length + " of " + rows.length + " rows";
    where.textContent = "page " + (t.page + 1) + " of " + pages;
    prev.disabled = t.page === 0;
    next.disabled = t.page >= pages - 1;
  }
  draw();
  return root;
}

function kv(pairs) {
  const dl = h("dl", { class: "kv" });
  for (const [k, v] of pairs) dl.append(h("dt", {}, k), h("dd", {}, v instanceof Node ? v : (v === null || v === undefined || v === "" ? "-" : String(v))));
  return dl;
}
function healthCell(v) {
  const cls = { healthy: "good", ok: "good", failing: "bad", late: "warn", deploying: "warn" }[v] || "muted";
  return h("span", { class: cls }, v);
}
function conditions(list) {
  return table("conditions", [
    { key: "type", label: "Condition" }, { key: "status", label: "Status" },
    { key: "reason", label: "Reason" }, { key: "message", label: "Message" }], list || [], { label: "Conditions" });
}

// ---------- pages ----------
const pages = {
  async overview() {
    const { data } = await api("/api/overview");
    const a = data.apps;
    const cards = h("div", { class: "cards" },
      card("Apps healthy", a.healthy), card("Apps deploying", a.deploying),
      card("Apps failing", a.failing), card("Apps unknown", a.unknown),
      card("Jobs failing or late", data.jobsAttention.length), card("GitSources not in sync", data.sourcesNotInSync.length));
    return [h("h1", {}, "Overview"), cards,
      h("h2", {}, "Resources offered and used per role and zone"),
      data.offersForbidden ? h("p", { class: "muted" }, "You may not read Offers.") :
        table("res", [
          { key: "role", label: "Role" }, { key: "zone", label: "Zone" }, { key: "nodes", label: "Nodes", num: true },
          { key: "cpus", label: "CPUs used / offered", value: r => fmtNum(r.used.cpus) + " / " + fmtNum(r.total.cpus) },
          { key: "mem", label: "Memory MiB used / offered", value: r => fmtNum(r.used.mem) + " / " + fmtNum(r.total.mem) },
          { key: "disk", label: "Disk MiB used / offered", value: r => fmtNum(r.used.disk) + " / " + fmtNum(r.total.disk) },
          { key: "gpus", label: "GPUs used / offered", value: r => r.used.gpus + " / " + r.total.gpus },
        ], data.resources, { label: "Resources per role and zone", empty: "No Offers" }),
      h("h2", {}, "Jobs failing or late"),
      table("jobsatt", [
        { key: "name", label: "Job", render: r => link("#/jobs/" + seg(r.namespace) + "/" + seg(r.name), r.namespace + "/" + r.name), value: r => r.namespace + "/" + r.name },
        { key: "state", label: "State", render: r => healthCell(r.state) }], data.jobsAttention, { label: "Jobs failing or late", empty: "None" }),
      h("h2", {}, "GitSources not in sync"),
      table("unsynced", [
        { key: "name", label: "GitSource", render: r => link("#/sources/" + seg(r.namespace) + "/" + seg(r.name), r.namespace + "/" + r.name), value: r => r.namespace + "/" + r.name },
        { key: "reason", label: "Why" }], data.sourcesNotInSync, { label: "GitSources not in sync", empty: "None" })];
    function card(label, n) { return h("div", { class: "card" }, h("span", { class: "n" }, n), label); }
  },

  async services(ns, name) {
    if (ns && name) return appPage(ns, name);
    const { data } = await api("/api/apps");
    return [h("h1", {}, "Services"), forbiddenNote(data),
      table("apps", [
        { key: "id", label: "App", value: r => r.namespace + "/" + r.name, render: r => link("#/services/" + seg(r.namespace) + "/" + seg(r.name), r.namespace + "/" + r.name) },
        { key: "health", label: "Health", render: r => healthCell(r.health) },
        { key: "instances", label: "Instances", num: true },
        { key: "running", label: "Running", num: true },
        { key: "healthy", label: "Healthy", num: true },
        { key: "staged", label: "Staged", num: true },
        { key: "deployment", label: "Deployment", value: r => r.deployment ? r.deployment.reason + (r.deployment.progress ? ": " + r.deployment.progress : "") : "" },
        { key: "lastFailure", label: "Last failure" },
      ], data.items, { label: "Apps", empty: "No Apps you may read" })];
  },

  async jobs(ns, name) {
    if (ns && name) return jobPage(ns, name);
    const { data } = await api("/api/jobs");
    return [h("h1", {}, "Jobs"), forbiddenNote(data),
      table("jobs", [
        { key: "id", label: "Job", value: r => r.namespace + "/" + r.name, render: r => link("#/jobs/" + seg(r.namespace) + "/" + seg(r.name), r.namespace + "/" + r.name) },
        { key: "health", label: "State", render: r => healthCell(r.health) },
        { key: "trigger", label: "Schedule" },
        { key: "nextRun", label: "Next run (UTC)" },
        { key: "lastResult", label: "Last result" },
        { key: "succeeded", label: "Succeeded", num: true },
        { key: "failed", label: "Failed", num: true },
        { key: "active", label: "Active", num: true },
      ], data.items, { label: "Jobs", empty: "No Jobs you may read" }),
      h("h2", {}, "Dependencies (Chronos parents)"), graph(data.graph)];
  },

  async packages(name, mode, a, b, c) {
    if (name) return packagePage(name, mode, a, b, c);
    const { data } = await api("/api/packages");
    const formLink = r => r.repository === "built-in" ? "#/packages/" + seg(r.name)
      : r.source ? "#/packages/" + seg(r.name) + "/from/" + r.source.split("/").map(seg).join("/") + "/" + seg(r.path || ".") : null;
    return [h("h1", {}, "Packages"),
      h("h2", {}, "Catalog"),
      table("catalog", [
        { key: "name", label: "Package", render: r => r.name && formLink(r) ? link(formLink(r), r.name) : r.name },
        { key: "versions", label: "Versions", value: r => r.versions.join(", ") },
        { key: "repository", label: "Repository" },
        { key: "description", label: "Description", value: r => r.error ? "cannot be read: " + r.error : r.description,
          render: r => r.error ? h("span", { class: "bad" }, "cannot be read: " + r.error) : r.description }], data.catalog, { label: "Package catalog" }),
      h("p", { class: "muted" }, "A package opens a form that installs it; the catalog lists the built-in packages and those of the repositories your Packages name, each with the repository it comes from."),
      h("h2", {}, "Installed"),
      table("installed", [
        { key: "id", label: "Package", value: r => r.namespace + "/" + r.name,
          render: r => link("#/packages/" + seg(r.package) + "/installed/" + seg(r.namespace) + "/" + seg(r.name), r.namespace + "/" + r.name) },
        { key: "package", label: "From" }, { key: "version", label: "Version" }, { key: "repository", label: "Repository" },
        { key: "ready", label: "Ready" }],
        data.installed, { label: "Installed packages", empty: "No Packages you may read" }),
      h("p", { class: "muted" }, "An installed Package opens the same form with its options, to change them.")];
  },

  async nodes() {
    const { data } = await api("/api/nodes");
    const fr = (x) => fmtNum(x.free) + " / " + fmtNum(x.total);
    return [h("h1", {}, "Nodes"), data.forbidden ? h("p", { class: "muted" }, "You may not read Offers.") : null,
      table("nodes", [
        { key: "node", label: "Node" }, { key: "zone", label: "Zone" },
        { key: "roles", label: "Roles", value: r => (r.roles || []).join(", ") || "*" },
        { key: "cpus", label: "CPUs free / total", value: r => fr(r.cpus) },
        { key: "mem", label: "Mem MiB free / total", value: r => fr(r.mem) },
        { key: "disk", label: "Disk MiB free / total", value: r => fr(r.disk) },
        { key: "gpus", label: "GPUs free / total", value: r => fr(r.gpus) },
        { key: "ports", label: "Free ports", value: r => r.ports.free },
        { key: "attributes", label: "Attributes", value: r => Object.entries(r.attributes || {}).map(([k, v]) => k + "=" + v).join(", ") },
        { key: "unschedulable", label: "Unschedulable", value: r => r.unschedulable ? "yes" : "" },
      ], data.items, { label: "Offers", empty: "No Offers" })];
  },

  async sources(ns, name) {
    if (ns && name) return sourcePage(ns, name);
    const { data } = await api("/api/sources");
    return [h("h1", {}, "Sources"), forbiddenNote(data),
      table("sources", [
        { key: "id", label: "GitSource", value: r => r.namespace + "/" + r.name, render: r => link("#/sources/" + seg(r.namespace) + "/" + seg(r.name), r.namespace + "/" + r.name) },
        { key: "url", label: "URL" },
        { key: "revision", label: "Revision", value: r => (r.revision || "").slice(0, 12) },
        { key: "lastSync", label: "Last sync" },
        { key: "inSync", label: "In sync", value: r => r.inSync ? "yes" : "no: " + (r.reason || "") },
        { key: "objects", label: "Objects", num: true },
        { key: "diagnostics", label: "Diagnostics", num: true },
      ], data.items, { label: "GitSources", empty: "No GitSources you may read" })];
  },
};

function forbiddenNote(data) {
  return data.forbidden ? h("p", { class: "muted" }, "You may not read these in any namespace.") : null;
}

async function appPage(ns, name) {
  const { data } = await api("/api/apps/" + seg(ns) + "/" + seg(name));
  const a = data.app;
  const why = data.why || {};
  const placement = why.placement || {};
  const restart = h("button", { type: "button", class: "primary", id: "restart", onclick: async () => {
    restart.disabled = true;
    await act("/api/apps/" + seg(ns) + "/" + seg(name) + "/restart", "Restart");
    restart.disabled = false;
  } }, "Restart");
  return [h("h1", {}, "App " + ns + "/" + name), h("div", { class: "actions" }, restart),
    kv([["Health", healthCell(a.health)], ["State", a.state], ["Instances", a.instances], ["Running", a.running],
      ["Healthy", a.healthy], ["Staged", a.staged], ["Version", a.version],
      ["Deployment", a.deployment ? a.deployment.reason + " " + (a.deployment.progress || "") : "none"],
      ["Last failure", a.lastFailure], ["Source", a.source], ["Placement mode", why.placementMode]]),
    h("h2", {}, "Placement"),
    kv([["Waiting for an offer", placement.waiting || 0], ["Why not placed", placement.message || why.waitingFor || "nothing waits"],
      ["Declined by", Object.entries(placement.declined || {}).map(([k, v]) => k + ": " + v + " offer(s)").join("; ")]]),
    h("h2", {}, "Instances"),
    table("pods", [
      { key: "instance", label: "Instance" }, { key: "state", label: "State" }, { key: "node", label: "Node" },
      { key: "version", label: "Version" }, { key: "why", label: "Why waiting" }, { key: "podIp", label: "Pod IP" }],
      why.pods || [], { label: "Instances", empty: "No instances" }),
    h("h2", {}, "Rendered objects"),
    table("rendered", [{ key: "kind", label: "Kind" }, { key: "name", label: "Name" }], data.rendered, { label: "Rendered objects", empty: "None" }),
    h("h2", {}, "Conditions"), conditions(data.conditions),
    h("h2", {}, "Events"),
    table("events", [{ key: "time", label: "Time" }, { key: "type", label: "Type" }, { key: "reason", label: "Reason" },
      { key: "object", label: "Object" }, { key: "message", label: "Message" }], data.events, { label: "Events", sort: "time", empty: "No events" })];
}

async function jobPage(ns, name) {
  const { data } = await api("/api/jobs/" + seg(ns) + "/" + seg(name));
  const j = data.job;
  const run = h("button", { type: "button", class: "primary", id: "run-now", onclick: async () => {
    run.disabled = true;
    await act("/api/jobs/" + seg(ns) + "/" + seg(name) + "/run", "Run now");
    run.disabled = false;
  } }, "Run now");
  return [h("h1", {}, "Job " + ns + "/" + name), h("div", { class: "actions" }, run),
    kv([["State", healthCell(j.health)], ["Schedule", j.trigger], ["Time zone", j.timeZone],
      ["Parents", (j.parents || []).join(", ")], ["Succeeded", j.succeeded], ["Failed", j.failed],
      ["Schedule error", data.scheduleError]]),
    h("h2", {}, "Next runs (" + j.timeZone + ")"),
    data.nextRuns.length ? h("ol", { id: "next-runs" }, data.nextRuns.map(r => h("li", {}, (r.local || r.utc) + " (" + r.utc + ")")))
      : h("p", { class: "muted" }, "No time-based schedule."),
    h("h2", {}, "History"),
    table("runs", [{ key: "id", label: "Run" }, { key: "result", label: "Result" }, { key: "trigger", label: "Trigger" },
      { key: "start", label: "Started" }, { key: "durationSeconds", label: "Duration (s)", num: true },
      { key: "attempts", label: "Attempts", num: true }, { key: "message", label: "Exit reason" }], data.runs,
      { label: "Run history", sort: "start", empty: "No runs yet" }),
    h("h2", {}, "Conditions"), conditions(data.conditions)];
}

function graph(nodes) {
  if (!nodes || !nodes.length) return h("p", { class: "muted" }, "No Job has parents.");
  const byLayer = {};
  for (const n of nodes) (byLayer[n.layer] = byLayer[n.layer] || []).push(n);
  const W = 200, H = 36, GX = 60, GY = 16, pos = {};
  let maxRows = 0;
  for (const [layer, list] of Object.entries(byLayer)) {
    list.forEach((n, i) => { pos[n.id] = { x: 10 + layer * (W + GX), y: 10 + i * (H + GY) }; });
    maxRows = Math.max(maxRows, list.length);
  }
  const layers = Object.keys(byLayer).length;
  const svg = s("svg", { class: "graph", role: "group", "aria-labelledby": "graph-title",
    width: 20 + layers * (W + GX), height: 20 + maxRows * (H + GY) });
  svg.append(s("title", { id: "graph-title" }, "Job dependency graph: each arrow goes from a parent to the job it triggers"));
  const marker = s("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 10, refY: 5, markerWidth: 8, markerHeight: 8, orient: "auto-start-reverse" });
  marker.append(s("path", { d: "M 0 0 L 10 5 L 0 10 z", fill: "#6e7781" }));
  const defs = s("defs", {});
  defs.append(marker);
  svg.append(defs);
  for (const n of nodes) for (const p of n.parents) if (pos[p]) {
    svg.append(s("line", { x1: pos[p].x + W, y1: pos[p].y + H / 2, x2: pos[n.id].x, y2: pos[n.id].y + H / 2, "marker-end": "url(#arrow)" }));
  }
  for (const n of nodes) {
    const [ns, name] = n.id.split("/");
    const a = s("a", { href: "#/jobs/" + seg(ns) + "/" + seg(name), "data-job": n.id });
    a.append(s("rect", { x: pos[n.id].x, y: pos[n.id].y, width: W, height: H, rx: 6 }),
      s("text", { x: pos[n.id].x + 8, y: pos[n.id].y + 22 }, n.id.length > 30 ? n.id.slice(0, 29) + "…" : n.id));
    svg.append(a);
  }
  return h("div", { class: "graphwrap" }, svg,
    h("ul", { class: "muted", "aria-label": "Dependencies as a list" },
      nodes.filter(n => n.parents.length).map(n => h("li", {}, n.id + " runs after " + n.parents.join(", ")))));
}

async function sourcePage(ns, name) {
  const { data } = await api("/api/sources/" + seg(ns) + "/" + seg(name));
  const src = data.source;
  const base = "/api/sources/" + seg(ns) + "/" + seg(name) + "/";
  const button = (action, label) => h("button", { type: "button", id: "source-" + action,
    onclick: () => act(base + action, label) }, label);
  const ls = data.lastSync || {};
  return [h("h1", {}, "GitSource " + ns + "/" + name),
    h("div", { class: "actions" }, button("reconcile", "Reconcile now"),
      src.suspended ? button("resume", "Resume") : button("suspend", "Suspend")),
    kv([["URL", src.url], ["Path", src.path], ["Applied revision", src.revision], ["Attempted revision", src.attempted],
      ["Suspended", src.suspended ? "yes" : "no"], ["In sync", src.inSync ? "yes" : "no: " + (src.reason || "")],
      ["Last sync", ls.finishedAt ? ls.finishedAt + ": " + ls.applied + " applied, " + ls.unchanged + " unchanged, " + ls.pruned + " pruned, " + ls.failed + " failed" : "never"]]),
    h("h2", {}, "Diagnostics"),
    table("diags", [{ key: "where", label: "File:line", value: r => r.file + ":" + r.line }, { key: "field", label: "Field" },
      { key: "message", label: "Message" }], data.diagnostics, { label: "Diagnostics", empty: "No diagnostics" }),
    planSection(ns, name),
    h("h2", {}, "Inventory"),
    table("inventory", [{ key: "id", label: "Object", value: r => r }], data.inventory, { label: "Inventory", empty: "Empty" }),
    h("h2", {}, "Conditions"), conditions(data.conditions)];
}

// The plan of the newest revision: fetched once per visit (and on "Plan again"), kept across
// live redraws, which would otherwise fetch the repository on every change in the cluster.
function planSection(ns, name) {
  const path = "/api/sources/" + seg(ns) + "/" + seg(name) + "/plan";
  if (!state.plan || state.plan.path !== path) {
    state.plan = { path, promise: api(path).then(r => r.data, e => ({ state: "error", message: "(" + (e.status || "error") + ") " + e.message })) };
  }
  const box = h("div", { id: "plan", "aria-live": "polite", "aria-busy": "true" }, h("p", { class: "muted" }, "Fetching the newest revision and planning it…"));
  const again = h("button", { type: "button", id: "plan-again", onclick: () => { state.plan = null; render(false); } }, "Plan again");
  state.plan.promise.then(p => { box.replaceChildren(...planView(p)); box.setAttribute("aria-busy", "false"); });
  return h("section", { "aria-labelledby": "plan-title" },
    h("h2", { id: "plan-title" }, "Plan of the newest revision"),
    h("p", { class: "muted" }, "What a sync of the newest commit of the source's ref would do, against what you may read of the cluster. Nothing is applied."),
    h("div", { class: "actions" }, again), box);
}

function diffBlock(text) {
  const pre = h("pre", { class: "diff", tabindex: 0 });
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const cls = line.startsWith("+++") || line.startsWith("---") ? "meta" : line.startsWith("@@") ? "hunk" :
      line.startsWith("+") ? "add" : line.startsWith("-") ? "del" : null;
    pre.append(h("span", { class: cls }, line + "\n"));
  }
  return pre;
}

function planView(p) {
  const rev = p.revision ? h("p", {}, "Revision ", h("code", {}, p.revision)) : null;
  const notes = (p.notes || []).map(n => h("p", { class: "warn" }, n));
  switch (p.state) {
    case "planned": {
      const pl = p.plan, sm = pl.summary;
      const out = [rev, p.actingAs ? h("p", { class: "muted" }, "The controller would act as " + p.actingAs + "; this plan reads the cluster as you.") : null, ...notes,
        h("p", { id: "plan-summary" }, sm.create + " to create, " + sm.update + " to update, " + sm.unchanged + " unchanged, " + sm.delete + " to delete")];
      if (pl.guard.verdict === "blocked") out.push(h("p", { class: "bad" }, "Deletion guard: this revision would delete " + pl.guard.deleting + " of " + pl.guard.inventory + " objects; nothing would be applied (set allowMassDelete to proceed)."));
      if (pl.refused.length) out.push(h("p", { class: "bad" }, "Refused: nothing of this revision would be applied."),
        h("ul", { id: "plan-refused" }, pl.refused.map(f => h("li", {}, f.object + ": " + f.message + " (" + f.reason + ")"))));
      if (!pl.changes.length) out.push(h("p", { class: "good" }, "No change: the cluster matches the newest revision."));
      const list = h("ul", { class: "plan", id: "plan-changes" });
      for (const c of pl.changes) {
        const label = c.action + " " + c.object;
        list.append(h("li", { class: "plan-change", "data-object": c.object, "data-action": c.action },
          c.diff ? h("details", { open: pl.changes.length <= 10 }, h("summary", {}, label), diffBlock(c.diff)) : label));
      }
      out.push(list);
      if (pl.diffsOmitted) out.push(h("p", { class: "muted" }, pl.diffsOmitted + " change(s) shown without their diff (at most " + (pl.changes.length - pl.diffsOmitted) + " diffs are shown); `dromos plan` shows them all."));
      for (const k of pl.kept || []) out.push(h("p", { class: "muted" }, "kept, not deleted: " + k.kind + " " + (k.namespace ? k.namespace + "/" : "") + k.name + " (" + k.reason + ")"));
      return out;
    }
    case "invalid":
    case "refused":
      return [rev, ...notes, h("p", { class: "bad", id: "plan-refusal" }, "The controller would refuse this revision (" + p.reason + "): " + p.message),
        p.diagnostics ? table("plandiags", [
          { key: "where", label: "File:line", value: r => r.file + ":" + r.line }, { key: "severity", label: "Severity" },
          { key: "field", label: "Field" }, { key: "message", label: "Message" }], p.diagnostics, { label: "Diagnostics of the revision" }) : null];
    default:
      return [h("p", { class: p.state === "needsCredentials" ? "warn" : "bad", id: "plan-refusal" }, p.message)];
  }
}

// ---------- package form: generated from the package's JSON Schema ----------
function validateValue(schema, v) {
  const errs = [];
  const t = schema.type;
  if (v === undefined) return errs;
  if (t === "integer" && !Number.isInteger(v)) errs.push("must be a whole number");
  if (t === "number" && typeof v !== "number") errs.push("must be a number");
  if (t === "string" && typeof v !== "string") errs.push("must be text");
  if (t === "boolean" && typeof v !== "boolean") errs.push("must be true or false");
  if (typeof v === "number") {
    if (schema.minimum !== undefined && v < schema.minimum) errs.push("must be at least " + schema.minimum);
    if (schema.maximum !== undefined && v > schema.maximum) errs.push("must be at most " + schema.maximum);
    if (schema.exclusiveMinimum !== undefined && typeof schema.exclusiveMinimum === "number" && v <= schema.exclusiveMinimum) errs.push("must be more than " + schema.exclusiveMinimum);
  }
  if (typeof v === "string") {
    if (schema.minLength !== undefined && v.length < schema.minLength) errs.push("must have at least " + schema.minLength + " characters");
    if (schema.maxLength !== undefined && v.length > schema.maxLength) errs.push("must have at most " + schema.maxLength + " characters");
    if (schema.pattern) { try { if (!new RegExp(schema.pattern, "u").test(v)) errs.push("must match " + schema.pattern); } catch (_) { /* the server checks */ } }
  }
  if (schema.enum && !schema.enum.some(e => JSON.stringify(e) === JSON.stringify(v))) errs.push("must be one of " + schema.enum.join(", "));
  return errs;
}

function buildForm(schema, path, fields, required) {
  const out = [];
  const props = (schema && schema.properties) || {};
  for (const [key, sub] of Object.entries(props)) {
    const p = path.concat(key);
    const id = "opt-" + p.join("-").replace(/[^A-Za-z0-9_-]/g, "_");
    const isReq = (required || []).includes(key);
    if (sub.type === "object" && sub.properties) {
      out.push(h("fieldset", {}, h("legend", {}, key + (sub.description ? " — " + sub.description : "")),
        buildForm(sub, p, fields, sub.required)));
      continue;
    }
    const help = h("div", { class: "help", id: id + "-help" },
      (sub.description || "") + (sub.default !== undefined ? " (default: " + JSON.stringify(sub.default) + ")" : "") + (isReq ? " (required)" : ""));
    const err = h("div", { class: "err", id: id + "-err", "aria-live": "polite" });
    let input;
    if (sub.enum) {
      input = h("select", { id }, h("option", { value: "" }, "(default)"), sub.enum.map(e => h("option", { value: JSON.stringify(e) }, String(e))));
    } else if (sub.type === "boolean") {
      input = h("select", { id }, h("option", { value: "" }, "(default)"), h("option", { value: "true" }, "true"), h("option", { value: "false" }, "false"));
    } else if (sub.type === "integer" || sub.type === "number") {
      input = h("input", { id, type: "text", inputmode: "decimal", placeholder: sub.default !== undefined ? String(sub.default) : "" });
    } else if (sub.type === "array" || sub.type === "object") {
      input = h("textarea", { id, rows: 2, placeholder: "JSON" + (sub.default !== undefined ? ", default " + JSON.stringify(sub.default) : "") });
    } else {
      input = h("input", { id, type: "text", placeholder: sub.default !== undefined ? String(sub.default) : "" });
    }
    input.setAttribute("aria-describedby", id + "-help " + id + "-err");
    if (isReq) input.setAttribute("aria-required", "true");
    const f = { path: p, schema: sub, input, err, required: isReq };
    f.read = () => {
      const raw = input.value;
      if (raw === "") return { value: undefined, errs: [] };
      if (sub.enum) return { value: JSON.parse(raw), errs: [] };
      if (sub.type === "boolean") return { value: raw === "true", errs: [] };
      if (sub.type === "integer" || sub.type === "number") {
        const n = Number(raw.trim());
        if (raw.trim() === "" || Number.isNaN(n)) return { value: raw, errs: ["must be a number"] };
        return { value: n, errs: validateValue(sub, n) };
      }
      if (sub.type === "array" || sub.type === "object") {
        try { const v = JSON.parse(raw); return { value: v, errs: [] }; } catch (_) { return { value: raw, errs: ["is not valid JSON"] }; }
      }
      return { value: raw, errs: validateValue(sub, raw) };
    };
    f.check = () => {
      const r = f.read();
      err.textContent = r.errs.length ? key + " " + r.errs.join("; ") : "";
      input.setAttribute("aria-invalid", r.errs.length ? "true" : "false");
      return r;
    };
    input.addEventListener("input", f.check);
    input.addEventListener("change", f.check);
    fields.push(f);
    out.push(h("div", { class: "field" }, h("label", { for: id }, p.join(".")), input, help, err));
  }
  return out;
}

// The value at `path` of `o`, or undefined.
function at(o, path) { return path.reduce((x, k) => (x && typeof x === "object" ? x[k] : undefined), o); }

// `o` without the values at `paths` (objects left empty are dropped too).
function without(o, paths) {
  const copy = JSON.parse(JSON.stringify(o || {}));
  for (const p of paths) {
    const parents = [copy];
    for (const k of p.slice(0, -1)) { const x = parents[parents.length - 1][k]; if (!x || typeof x !== "object") break; parents.push(x); }
    if (parents.length !== p.length) continue;
    delete parents[parents.length - 1][p[p.length - 1]];
    for (let i = parents.length - 1; i > 0; i--) if (!Object.keys(parents[i]).length) delete parents[i - 1][p[i - 1]];
  }
  return copy;
}

// A field's input showing `v` as the field reads it back.
function fill(f, v) {
  if (v === undefined) return;
  const s = f.schema;
  if (s.enum) f.input.value = JSON.stringify(v);
  else if (s.type === "boolean") f.input.value = v ? "true" : "false";
  else if (s.type === "array" || s.type === "object" || typeof v === "object") f.input.value = JSON.stringify(v);
  else f.input.value = String(v);
}

// The package form. Routes: packages/NAME (built-in), packages/NAME/from/NS/GITSOURCE/PATH (a
// package repository of a GitSource), packages/NAME/installed/NS/PACKAGE (an installed
// Package, to change its options).
async function packagePage(name, mode, a, b, c) {
  let current = null, origin = null;
  if (mode === "installed") {
    current = (await api("/api/installed/" + seg(a) + "/" + seg(b))).data;
    origin = current.repository;
  } else if (mode === "from") {
    origin = { source: a + "/" + b, path: c === "." ? "" : (c || "") };
  }
  const query = origin ? "?source=" + encodeURIComponent(origin.source) + "&path=" + encodeURIComponent(origin.path) : "";
  const { data } = await api("/api/packages/" + seg(name) + query);
  const fields = [];
  const form = h("form", { id: "package-form", novalidate: true });
  const chosen = current && data.versions.includes(current.version) ? current.version : data.version;
  const version = h("select", { id: "pkg-version" }, data.versions.map(v => h("option", { value: v, selected: v === chosen }, v)));
  const fixed = current ? "true" : null;
  const metaName = h("input", { id: "pkg-name", type: "text", value: current ? current.name : name, readonly: fixed, "aria-describedby": "pkg-name-help" });
  const namespace = h("input", { id: "pkg-namespace", type: "text", value: current ? current.namespace : origin ? origin.source.split("/")[0] : "default",
    readonly: fixed, "aria-describedby": "pkg-name-help" });
  const out = h("pre", { id: "manifest", tabindex: 0, role: "region", "aria-label": "Package manifest" });
  const errors = h("ul", { id: "form-errors", class: "bad", "aria-live": "polite" });
  const copy = h("button", { type: "button", id: "copy", disabled: true, onclick: async () => {
    try { await navigator.clipboard.writeText(out.textContent); say("Manifest copied"); } catch (_) { say("Copy failed: select the text instead", true); }
  } }, "Copy");
  const download = h("a", { id: "download", class: "btn", href: "#", "aria-disabled": "true" }, "Download");
  const nameHelp = current ? "The Package being changed: its name and namespace stay."
    : origin ? "DNS labels: a-z, 0-9 and -. A Package installs from a GitSource of its own namespace: " + origin.source.split("/")[0] + "."
    : "DNS labels: a-z, 0-9 and -";
  form.append(
    h("div", { class: "field" }, h("label", { for: "pkg-version" }, "Version"), version),
    h("div", { class: "field" }, h("label", { for: "pkg-name" }, "Package object name"), metaName),
    h("div", { class: "field" }, h("label", { for: "pkg-namespace" }, "Namespace"), namespace,
      h("div", { class: "help", id: "pkg-name-help" }, nameHelp)),
    h("h2", {}, "Options"),
    ...buildForm(data.schema || {}, [], fields, (data.schema || {}).required),
    errors,
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary", id: "generate" }, "Produce manifest")));
  // Options the Package has that no field shows are kept as they are.
  let kept = {};
  if (current) {
    for (const f of fields) fill(f, at(current.options, f.path));
    kept = without(current.options, fields.map(f => f.path));
  }
  // The options as typed, or null (and the errors shown) when some are invalid.
  function collect() {
    const options = JSON.parse(JSON.stringify(kept));
    let bad = 0;
    for (const f of fields) {
      const r = f.check();
      if (r.errs.length) bad++;
      if (r.value === undefined) continue;
      let o = options;
      for (const k of f.path.slice(0, -1)) o = o[k] = o[k] || {};
      o[f.path[f.path.length - 1]] = r.value;
    }
    errors.replaceChildren();
    if (bad) { errors.append(h("li", {}, bad + " option(s) are invalid: fix them first")); return null; }
    return { version: version.value, metadataName: metaName.value, namespace: namespace.value, options, repository: origin };
  }
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    out.textContent = "";
    copy.disabled = true;
    const body = collect();
    if (!body) return;
    const r = await api("/api/packages/" + seg(name) + "/manifest", { method: "POST", okStatuses: [422], body })
      .catch(e => { say(e.message, true); return null; });
    if (!r) return;
    if (r.status === 422) {
      errors.replaceChildren(...r.data.errors.map(e => h("li", {}, (e.path || "(options)") + ": " + e.message)));
      return;
    }
    out.textContent = r.data.yaml;
    copy.disabled = false;
    const blob = new Blob([r.data.yaml], { type: "application/yaml" });
    download.href = URL.createObjectURL(blob);
    download.setAttribute("download", metaName.value + ".yaml");
    download.removeAttribute("aria-disabled");
    say("Manifest produced: commit it to your GitSource's repository. Nothing was written to the cluster.");
  });

  // A patch against a GitSource's repository: adds <path>/packages/<name>.yaml, or changes the
  // file that declares this Package in the newest revision.
  const sources = await api("/api/sources").then(r => r.data.items, () => []);
  const srcSel = h("select", { id: "patch-source", "aria-describedby": "patch-help" }, h("option", { value: "" }, "(choose a GitSource)"),
    sources.map(x => h("option", { value: x.namespace + "/" + x.name, selected: current && current.syncedFrom === x.namespace + "/" + x.name },
      x.namespace + "/" + x.name + (x.path ? " (path " + x.path + ")" : ""))));
  const patchOut = h("pre", { id: "patch", tabindex: 0, role: "region", "aria-label": "Patch" });
  const patchNote = h("p", { id: "patch-note", "aria-live": "polite" });
  const patchDl = h("a", { id: "download-patch", class: "btn", href: "#", "aria-disabled": "true" }, "Download patch");
  const patchBtn = h("button", { type: "button", id: "make-patch", onclick: async () => {
    patchOut.textContent = ""; patchNote.textContent = "";
    patchDl.setAttribute("aria-disabled", "true"); patchDl.removeAttribute("download"); patchDl.href = "#";
    if (!srcSel.value) { patchNote.textContent = "Choose a GitSource first."; return; }
    const body = collect();
    if (!body) return;
    body.source = srcSel.value;
    patchNote.textContent = "Fetching the newest revision of " + srcSel.value + "…";
    const r = await api("/api/packages/" + seg(name) + "/patch", { method: "POST", okStatuses: [422], body })
      .catch(e => { patchNote.textContent = "(" + e.status + ") " + e.message; return null; });
    if (!r) return;
    if (r.status === 422) {
      patchNote.textContent = "";
      errors.replaceChildren(...r.data.errors.map(e => h("li", {}, (e.path || "(options)") + ": " + e.message)));
      return;
    }
    const d = r.data;
    if (d.state !== "patch") { patchNote.textContent = d.message; return; }
    patchOut.textContent = d.patch;
    patchNote.textContent = (d.action === "add" ? "Adds " : "Changes ") + d.file + " (against " + d.revision + "): apply it at the repository's root with `git apply`.";
    patchDl.href = URL.createObjectURL(new Blob([d.patch], { type: "text/x-diff" }));
    patchDl.setAttribute("download", metaName.value + ".patch");
    patchDl.removeAttribute("aria-disabled");
  } }, "Produce patch");

  const from = origin ? "From the package repository of GitSource " + origin.source + ", path " + (origin.path || ".") + "." : "From the built-in catalog.";
  return [h("h1", {}, current ? "Change Package " + current.namespace + "/" + current.name : "Package " + data.name), h("p", {}, data.description),
    h("p", { class: "muted", id: "pkg-origin" }, from + " This form produces a Package manifest to commit to Git; it never writes to the cluster."),
    form, h("h2", {}, "Manifest"), out, h("div", { class: "actions" }, copy, download),
    h("h2", {}, "Patch against a GitSource's repository"),
    h("div", { class: "field" }, h("label", { for: "patch-source" }, "GitSource"), srcSel,
      h("div", { class: "help", id: "patch-help" }, "The patch adds <path>/packages/<name>.yaml under the source's spec.path, or changes the file that already declares this Package.")),
    h("div", { class: "actions" }, patchBtn, patchDl), patchNote, patchOut];
}

// ---------- sign-in ----------
function signIn(err) {
  const token = h("input", { id: "token", type: "password", autocomplete: "off", "aria-describedby": "token-help" });
  const form = h("form", { id: "login" },
    h("div", { class: "field" }, h("label", { for: "token" }, "Kubernetes bearer token"), token,
      h("div", { class: "help", id: "token-help" }, "For `dromos ui`, open the link it printed instead. The token stays on the server, in your session.")),
    h("button", { type: "submit", class: "primary" }, "Sign in"));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      await api("/api/login", { method: "POST", body: { token: token.value } });
      token.value = "";
      await boot();
    } catch (e) { say("Sign-in failed: " + e.message, true); }
  });
  document.getElementById("main").replaceChildren(h("h1", {}, "Sign in"), h("p", {}, err || ""), form);
}

// ---------- routing and live updates ----------
async function render(focus) {
  const seq = ++state.renderSeq;
  const parts = (location.hash.replace(/^#\/?/, "") || "overview").split("/").map(decodeURIComponent);
  const page = pages[parts[0]] ? parts[0] : "overview";
  const routeKey = parts.join("/");
  if (state.route !== routeKey) { state.tables = {}; state.route = routeKey; state.plan = null; }
  for (const a of document.querySelectorAll("#nav a")) {
    if (a.getAttribute("data-page") === page) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
  }
  const main = document.getElementById("main");
  try {
    const content = await pages[page](...parts.slice(1));
    if (seq !== state.renderSeq) return;
    const active = document.activeElement && document.activeElement.id;
    main.replaceChildren(...[content].flat().filter(Boolean));
    main.setAttribute("data-rendered", String(seq));
    main.setAttribute("data-route", routeKey);
    if (focus) main.focus();
    else if (active) { const el = document.getElementById(active); if (el) el.focus(); }
  } catch (e) {
    if (seq !== state.renderSeq) return;
    if (e.status === 401) return signIn(e.message);
    main.replaceChildren(h("h1", {}, "Cannot show this page"), h("p", { class: "bad" }, "(" + (e.status || "error") + ") " + e.message));
  }
}

let pending = null;
function liveUpdates() {
  const ind = document.getElementById("live");
  const es = state.events = new EventSource("/api/live");
  es.addEventListener("ready", () => { ind.textContent = "live"; ind.classList.add("on"); });
  es.addEventListener("change", () => {
    clearTimeout(pending);
    // Never redraw under a form being filled in (checked again when the timer fires: the
    // user may have opened one meanwhile).
    const onForm = () => location.hash.startsWith("#/packages/");
    if (!onForm()) pending = setTimeout(() => { if (!onForm()) render(false); }, 200);
  });
  es.onerror = () => { ind.textContent = "reconnecting"; ind.classList.remove("on"); };
}

async function boot() {
  try {
    const { data } = await api("/api/session");
    state.csrf = data.csrf; state.user = data.user; state.mode = data.mode;
    document.getElementById("user").textContent = data.user;
  } catch (e) {
    if (e.status === 401) return signIn(e.message);
    document.getElementById("main").textContent = "Cannot reach Dromos: " + e.message;
    return;
  }
  liveUpdates();
  await render(false);
}

window.addEventListener("hashchange", () => { clearTimeout(pending); say(""); render(true); });
// A page left for another keeps no event stream open: a browser opens 6 connections per host
// over HTTP/1.1, and streams of pages kept in the back-forward cache would hold them all,
// leaving none for this page's requests. Restored from that cache, it opens one again.
window.addEventListener("pagehide", () => { if (state.events) { state.events.close(); state.events = null; } });
window.addEventListener("pageshow", (ev) => { if (ev.persisted && !state.events && state.user) { liveUpdates(); render(false); } });
document.addEventListener("DOMContentLoaded", boot);
