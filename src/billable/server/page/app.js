// The bill reader: signs in with client credentials, shows the billable usage report.
// No framework and no build step; the token lives in this variable and nowhere else.
"use strict";

const state = { token: null, report: null, permissions: [] };
const $ = (selector) => document.querySelector(selector);
const REPORT = "/api/v2/billing/reports/billableusage";
const CONCURRENT = "/api/v2/billing/reports/concurrentusage";
const EVENTS = "/api/v2/billing/events";
const VOID_PERMISSION = "billing:events:void";

class ApiError extends Error {
  constructor(message, fields = []) {
    super(message);
    this.fields = fields; // the request's fields at fault, as the service named them
  }
}

// A message stays until the next action: every action clears what the last one said.
function show(text, kind = "error") {
  const box = $("#message");
  box.textContent = text;
  box.className = `message ${kind === "info" ? "info" : ""}`;
  box.hidden = false;
}

function clearMessages() {
  $("#message").hidden = true;
  for (const input of document.querySelectorAll("[aria-invalid]")) {
    input.removeAttribute("aria-invalid");
    $(`#${input.id}-error`).textContent = "";
  }
}

// The service's sentence, as a person reads it: capitalized, with a full stop.
function sentence(text) {
  const trimmed = text.trim();
  return trimmed.charAt(0).toUpperCase() + trimmed.slice(1) + (/[.!?]$/.test(trimmed) ? "" : ".");
}

// An error of the period's fields is said next to the field; any other in the message box.
function reportError(error) {
  const fields = { startDate: "start", endDate: "end", asOf: "as-of" };
  const marked = error.fields.filter((name) => name in fields);
  for (const name of marked) {
    const input = $(`#${fields[name]}`);
    input.setAttribute("aria-invalid", "true");
    $(`#${input.id}-error`).textContent = error.message;
  }
  if (!marked.length) show(error.message);
}

async function signIn(clientId, secret) {
  const answer = await fetch("/oauth/token", {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded",
               Authorization: "Basic " + btoa(`${clientId}:${secret}`) },
    body: "grant_type=client_credentials",
  });
  if (answer.status === 401) throw new ApiError("Wrong client id or secret.");
  if (!answer.ok) throw new ApiError(`Sign-in failed (${answer.status}).`);
  const granted = await answer.json();
  state.token = granted.access_token;
  state.permissions = (granted.scope || "").split(" ");
}

function signOut(reason) {
  clearMessages();
  state.token = null;
  state.report = null;
  $("#report-panel").hidden = true;
  $("#sign-in-panel").hidden = false;
  $("#sign-out").hidden = true;
  $("#who").textContent = "";
  if (reason) show(reason);
}

// GET, or POST of ``sent`` as JSON when it is given.
async function api(path, params, sent) {
  const query = params ? "?" + new URLSearchParams(params) : "";
  const headers = { Authorization: `Bearer ${state.token}` };
  const request = sent === undefined ? { headers }
    : { method: "POST", headers: { ...headers, "Content-Type": "application/json" }, body: JSON.stringify(sent) };
  const answer = await fetch(path + query, request);
  if (answer.ok) return answer.json();
  const body = await answer.json().catch(() => ({}));
  if (answer.status === 401) {
    signOut("Your session has expired. Sign in again.");
    throw new ApiError("session expired");
  }
  if (answer.status === 403) throw new ApiError(`Missing permission: ${body.message || "access denied"}.`);
  if (answer.status === 429) {
    const wait = answer.headers.get("Retry-After") || "a few";
    throw new ApiError(`Too many requests: try again in ${wait} seconds.`);
  }
  const fields = (body.details || []).map((detail) => detail.fieldName);
  throw new ApiError(body.message ? sentence(body.message) : `The service answered ${answer.status}.`, fields);
}

// ------------------------------------------------------------------ the events of one user or device

function when(instant) { return instant.replace("T", " ").replace(".000Z", " UTC").replace("Z", " UTC"); }

async function loadEvents() {
  const subject = $("#events-subject").value.trim();
  const table = $("#events");
  const note = $("#events-note");
  const rows = [];
  let page = await api(EVENTS, { subject, pageSize: "100" });
  rows.push(...page.entities);
  while (page.nextUri && rows.length < 500) {
    page = await api(EVENTS, { subject, pageSize: "100", cursor: page.cursor });
    rows.push(...page.entities);
  }
  table.tBodies[0].replaceChildren(...rows.map(eventRow));
  table.hidden = !rows.length;
  note.hidden = false;
  note.textContent = rows.length ? `${rows.length}${page.nextUri ? "+" : ""} event(s) of ${subject}, newest arrival first.`
    : `No event of ${subject} was received.`;
}

function eventRow(event) {
  const row = document.createElement("tr");
  const data = Object.entries(event.data).map(([key, value]) => `${key}: ${value}`).join(", ");
  const status = event.voided
    ? cell("td", `Voided ${when(event.voidedAt)} by ${event.voidedBy}: ${event.voidReason}`, "voided")
    : cell("td", "Billed");
  const action = cell("td", "");
  if (!event.voided && state.permissions.includes(VOID_PERMISSION)) {
    const button = cell("button", "Void…");
    button.type = "button";
    button.setAttribute("aria-label", `Void the ${event.type} event of ${when(event.time)}`);
    button.addEventListener("click", () => askReason(action, event));
    action.append(button);
  }
  row.append(cell("td", when(event.time)), cell("td", event.type), cell("td", data), cell("td", when(event.receivedAt)),
             status, action);
  if (event.voided) row.className = "voided-row";
  return row;
}

// Voiding asks for a reason, then for a confirmation, before anything is sent.
function askReason(holder, event) {
  const form = document.createElement("form");
  form.className = "void-form";
  const reason = document.createElement("input");
  reason.required = true;
  reason.maxLength = 1000;
  reason.placeholder = "Why is it wrong?";
  reason.setAttribute("aria-label", "Reason for voiding");
  const send = cell("button", "Void");
  send.type = "submit";
  const cancel = cell("button", "Cancel");
  cancel.type = "button";
  form.append(reason, send, cancel);
  holder.replaceChildren(form);
  reason.focus();
  cancel.addEventListener("click", () => loadEvents().catch(reportError));
  form.addEventListener("submit", async (submitted) => {
    submitted.preventDefault();
    clearMessages();
    const question = `Void the ${event.type} event of ${event.subject} at ${when(event.time)}? ` +
      "From now on it is billed as if never received. This cannot be undone.";
    if (!window.confirm(question)) return;
    try {
      await api(`${EVENTS}/voids`, undefined, [{ source: event.source, id: event.id, reason: reason.value.trim() }]);
      await loadEvents();
      if (state.report) await loadReport(); // which clears the messages: say it after
      show("Voided: kept in the list, billed no longer. The report above is computed without it.", "info");
    } catch (error) {
      reportError(error);
    }
  });
}

// Reports answer InProgress while they are computed: ask again until Complete.
async function complete(path, params, onWait) {
  for (let attempt = 1; ; attempt++) {
    const body = await api(path, params);
    if (body.status !== "InProgress") return body;
    onWait(attempt);
    await new Promise((resolve) => setTimeout(resolve, Math.min(500 * attempt, 3000)));
  }
}

function isoDay(date) { return date.toISOString().slice(0, 10); }

function applyPreset() {
  const now = new Date();
  const thisMonth = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
  const preset = $("#preset").value;
  if (preset === "custom") return;
  const start = preset === "this-month" ? thisMonth : new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 1, 1));
  const end = preset === "this-month" ? new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1)) : thisMonth;
  $("#start").value = isoDay(start);
  $("#end").value = isoDay(end);
}

async function loadReport() {
  clearMessages();
  const params = { startDate: $("#start").value, endDate: $("#end").value };
  if ($("#as-of").value) params.asOf = $("#as-of").value + "Z"; // the input is read as UTC
  const status = $("#status");
  status.hidden = false;
  status.textContent = "Loading the report…";
  // The report shown stays until another replaces it: a refused period leaves it in place.
  try {
    const report = await complete(REPORT, params, (attempt) => {
      status.textContent = `The service is computing the report (check ${attempt})…`;
    });
    state.report = report;
    renderReport(report);
    status.hidden = true;
    $("#amendments").hidden = !report.closed;
    if (report.closed) renderAmendments(await api(`${REPORT}/amendments`, { startDate: params.startDate,
                                                                          endDate: params.endDate }));
    const catalog = await api("/api/v2/billing/products");
    // What a total is depends on the model: a count of users, the period's peak, or hours.
    $("#totals-caption").textContent = {
      named: "Billed per product: users and devices",
      concurrent: "Billed per product: the period's peak for concurrent products, users for the others",
      hourly: "Billed per product: hours for hourly products, users for the others",
    }[catalog.model] || "Billed per product";
    $("#peaks-figure").hidden = catalog.model === "named" || report.usages.length === 0;
    if (!$("#peaks-figure").hidden) {
      const peaks = await complete(CONCURRENT, params, () => {});
      renderPeaks(peaks);
    }
  } catch (error) {
    status.hidden = true;
    if (error.message !== "session expired") reportError(error);
  }
}

// What arrived after a period was closed changes, each with its causes, beside the kept report.
function renderAmendments(found) {
  const list = $("#amendments-list");
  const lines = [];
  for (const usage of found.usages) {
    for (const change of usage.resources) {
      const causes = change.causes.map((e) => e.voided
        ? `${e.type} ${e.id} voided ${when(e.voidedAt)} by ${e.voidedBy}: ${e.voidReason}`
        : `${e.type} ${e.id} received ${when(e.receivedAt)}`).join("; ");
      const what = change.change === "changed"
        ? `${change.name}: from ${when(change.closedDate)} to ${when(change.currentDate)}`
        : `${change.name} ${change.change}`;
      lines.push(cell("li", `${usage.name} (${usage.closedTotal} → ${usage.currentTotal}): ${what}` +
                      (causes ? ` (${causes})` : "")));
    }
  }
  list.replaceChildren(...lines);
  $("#amendments-note").textContent = (lines.length ? `${lines.length} change(s) since the close.`
    : "Nothing received since the close changes this report.") +
    (found.rulesChanged ? " The catalog, rules or licensing model changed since the close too." : "");
}

function cell(tag, text, className) {
  const element = document.createElement(tag);
  element.textContent = text;
  if (className) element.className = className;
  return element;
}

function renderReport(report) {
  $("#report").hidden = false;
  // The period's end is exclusive: the title names its last day, as a person counts.
  const lastDay = new Date(Date.parse(report.endDate) - 1).toISOString().slice(0, 10);
  $("#report-title").textContent = `${report.startDate.slice(0, 10)} to ${lastDay}`;
  const badge = $("#report-status");
  // A period not over yet is a running figure, not a final one.
  const running = report.status === "Complete" && Date.parse(report.endDate) > Date.now();
  badge.textContent = report.closed ? `Closed ${when(report.closed.closedAt)} by ${report.closed.closedBy}`
    : running ? "Running: so far" : report.status;
  badge.className = running && !report.closed ? "badge progress" : "badge";
  const empty = report.usages.length === 0;
  $("#download").disabled = empty; // nothing to download but a header
  $("#download-summary").disabled = empty;
  $(".charts").hidden = empty;
  const body = $("#usages tbody");
  body.replaceChildren();
  if (empty) {
    const row = document.createElement("tr");
    const empty = cell("td", "No billable usage in this period.", "muted");
    empty.colSpan = 4;
    row.append(empty);
    body.append(row);
  }
  for (const usage of report.usages) {
    const row = document.createElement("tr");
    row.className = "usage";
    row.dataset.usage = usage.name;
    const toggle = cell("td", "▸");
    toggle.setAttribute("aria-hidden", "true");
    // A row is a button for keyboards and screen readers: Tab reaches it, Enter or Space opens it.
    row.tabIndex = 0;
    row.setAttribute("role", "button");
    row.setAttribute("aria-expanded", "false");
    row.setAttribute("aria-label", `${usage.name}: ${usage.totalUsage}, ${usage.resources.length} resources`);
    row.append(toggle, cell("td", usage.name), cell("td", usage.totalUsage, "number"),
               cell("td", String(usage.resources.length), "number"));
    const detail = document.createElement("tr");
    detail.className = "resources";
    detail.hidden = true;
    const holder = document.createElement("td");
    holder.colSpan = 4;
    detail.append(holder);
    const flip = () => {
      detail.hidden = !detail.hidden;
      toggle.textContent = detail.hidden ? "▸" : "▾";
      row.setAttribute("aria-expanded", String(!detail.hidden));
      if (!detail.hidden && !holder.firstChild) renderResources(holder, usage);
    };
    row.addEventListener("click", flip);
    row.addEventListener("keydown", (event) => {
      if (event.key === "Enter" || event.key === " ") {
        event.preventDefault();
        flip();
      }
    });
    body.append(row, detail);
  }
  renderTotals(report);
}

function renderResources(holder, usage) {
  const tools = document.createElement("div");
  tools.className = "resource-tools";
  const search = document.createElement("input");
  search.type = "search";
  search.placeholder = "Search resources";
  search.className = "resource-search";
  const sort = document.createElement("select");
  sort.className = "resource-sort";
  for (const [value, label] of [["date", "Sort by date"], ["name", "Sort by name"]]) {
    const option = cell("option", label);
    option.value = value;
    sort.append(option);
  }
  search.setAttribute("aria-label", `Search the resources of ${usage.name}`);
  sort.setAttribute("aria-label", "Sort the resources");
  const count = cell("span", "", "resource-count muted");
  count.setAttribute("aria-live", "polite");
  tools.append(search, sort, count);
  const table = document.createElement("table");
  table.className = "resource-table";
  table.innerHTML = "<thead><tr><th>Resource</th><th>First billable</th></tr></thead><tbody></tbody>";
  const draw = () => {
    const needle = search.value.trim().toLowerCase();
    const key = sort.value;
    const rows = usage.resources
      .filter((r) => r.name.toLowerCase().includes(needle))
      .sort((a, b) => (a[key] < b[key] ? -1 : a[key] > b[key] ? 1 : 0));
    table.tBodies[0].replaceChildren(...rows.map((r) => {
      const row = document.createElement("tr");
      row.append(cell("td", r.name), cell("td", r.date.replace("T", " ").replace(".000Z", " UTC")));
      return row;
    }));
    count.textContent = `${rows.length} of ${usage.resources.length}`;
  };
  search.addEventListener("input", draw);
  sort.addEventListener("change", draw);
  holder.append(tools, table);
  draw();
}

const SVG = "http://www.w3.org/2000/svg";
function svg(tag, attributes, text) {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, value);
  if (text !== undefined) element.textContent = text;
  return element;
}

function renderTotals(report) {
  const rows = report.usages.map((u) => [u.name, Number(u.totalUsage)]);
  const width = 420, bar = 18, gap = 6, label = 90;
  const top = Math.max(1, ...rows.map(([, v]) => v));
  const height = Math.max(bar, rows.length * (bar + gap));
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, width: "100%", role: "img",
                             "aria-label": "Total usage per product" });
  rows.forEach(([name, value], i) => {
    const y = i * (bar + gap);
    const length = ((width - label - 60) * value) / top;
    chart.append(svg("text", { x: 0, y: y + 13 }, name),
                 svg("rect", { x: label, y, width: Math.max(1, length), height: bar, fill: "#2f6fde", rx: 3 }),
                 svg("text", { x: label + length + 6, y: y + 13 }, String(value)));
  });
  $("#totals-chart").replaceChildren(chart);
}

function renderPeaks(report) {
  const colours = ["#2f6fde", "#e07a1f", "#2e9e5b", "#9b51e0", "#c0392b"];
  const products = report.products.filter((p) => p.peak > 0);
  const days = products.length ? products[0].days.length : 0;
  const width = 420, height = 160, left = 30;
  const top = Math.max(1, ...products.map((p) => p.peak));
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height + 20}`, width: "100%", role: "img",
                             "aria-label": "Daily peak per product" });
  chart.append(svg("text", { x: 0, y: 12 }, String(top)), svg("text", { x: 0, y: height }, "0"));
  products.forEach((product, index) => {
    const points = product.days.map((d, i) => {
      const x = left + (days > 1 ? (i * (width - left - 10)) / (days - 1) : 0);
      return `${x},${height - (d.peak * (height - 10)) / top}`;
    });
    chart.append(svg("polyline", { points: points.join(" "), fill: "none", stroke: colours[index % 5], "stroke-width": 2 }),
                 // The legend in its line's colour (a style: the stylesheet's text fill would win over an attribute).
                 svg("text", { x: left + index * 70, y: height + 16, class: "legend",
                               style: `fill: ${colours[index % 5]}` }, product.name));
  });
  $("#peaks-chart").replaceChildren(chart);
}

// The same bytes as `billable report --format csv`: RFC 4180 quoting, CRLF line ends.
function csvField(value) {
  const text = String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

function reportCsv(report) {
  const lines = [["usage", "totalUsage", "resource", "date"]];
  for (const usage of report.usages) {
    for (const resource of usage.resources) lines.push([usage.name, usage.totalUsage, resource.name, resource.date]);
  }
  return lines.map((line) => line.map(csvField).join(",") + "\r\n").join("");
}

// One line per product or device type: its total once, so a spreadsheet can sum it.
function summaryCsv(report) {
  const lines = [["usage", "totalUsage", "resources"]];
  for (const usage of report.usages) lines.push([usage.name, usage.totalUsage, usage.resources.length]);
  return lines.map((line) => line.map(csvField).join(",") + "\r\n").join("");
}

function download(summary = false) {
  const report = state.report;
  const blob = new Blob([summary ? summaryCsv(report) : reportCsv(report)], { type: "text/csv" });
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  const kind = summary ? "summary" : "usage";
  link.download = `billable-${kind}-${report.startDate.slice(0, 10)}-${report.endDate.slice(0, 10)}.csv`;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 1000);
}

$("#sign-in").addEventListener("submit", async (event) => {
  event.preventDefault();
  clearMessages();
  const clientId = $("#client-id").value.trim();
  try {
    await signIn(clientId, $("#client-secret").value);
  } catch (error) {
    show(error.message);
    return;
  }
  $("#client-secret").value = "";
  $("#sign-in-panel").hidden = true;
  $("#report-panel").hidden = false;
  $("#sign-out").hidden = false;
  $("#who").textContent = "";
  applyPreset();
  $("#preset").focus(); // the keyboard goes on from the period, not from the top of the page
  loadReport();
  // The organization's name in the header (Genesys Cloud's route, which any token may read).
  api("/api/v2/organizations/me")
    .then((org) => { $("#who").textContent = `${org.name} · ${org.licensingModel} model`; })
    .catch(() => { $("#who").textContent = `client ${clientId}`; });
});
$("#preset").addEventListener("change", () => {
  applyPreset();
  if ($("#preset").value !== "custom") loadReport(); // a chosen period is shown at once
});
for (const id of ["#start", "#end"]) $(id).addEventListener("change", () => { $("#preset").value = "custom"; });
$("#period").addEventListener("submit", (event) => { event.preventDefault(); loadReport(); });
$("#download").addEventListener("click", () => download());
$("#events-search").addEventListener("submit", (event) => {
  event.preventDefault();
  clearMessages();
  loadEvents().catch(reportError);
});
$("#download-summary").addEventListener("click", () => download(true));
$("#sign-out").addEventListener("click", () => signOut());
