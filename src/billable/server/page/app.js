// The bill reader: signs in with client credentials, shows the billable usage report.
// No framework and no build step; the token lives in this variable and nowhere else.
"use strict";

const state = { token: null, report: null, permissions: [], catalog: null, params: null, charts: [], loads: 0,
                messageTimer: null };
const $ = (selector) => document.querySelector(selector);
const REPORT = "/api/v2/billing/reports/billableusage";
const CONCURRENT = "/api/v2/billing/reports/concurrentusage";
const EVENTS = "/api/v2/billing/events";
const VOID_PERMISSION = "billing:events:void";

class ApiError extends Error {
  constructor(message, fields = [], status = 0) {
    super(message);
    this.fields = fields; // the request's fields at fault, as the service named them
    this.status = status; // the service's answer, 0 when none came
  }
}

// A message says what the last action did. It can be closed, and an error stays until
// then or until the next action; good news goes by itself after a few seconds.
function show(text, kind = "error") {
  const box = $("#message");
  const close = cell("button", "×", "close");
  close.type = "button";
  close.setAttribute("aria-label", "Close the message");
  close.addEventListener("click", () => { box.hidden = true; });
  box.replaceChildren(cell("span", text), close);
  box.className = `message ${kind === "info" ? "info" : ""}`;
  box.hidden = false;
  clearTimeout(state.messageTimer);
  if (kind === "info") state.messageTimer = setTimeout(() => { box.hidden = true; }, 8000);
}

function clearMessages() {
  $("#message").hidden = true;
  for (const input of document.querySelectorAll("[aria-invalid]")) {
    input.removeAttribute("aria-invalid");
    $(`#${input.id}-error`).textContent = "";
  }
}

// The service's sentence, as a person reads it: in the form's words (the API's field
// names become the labels of the fields), capitalized, with a full stop.
const FORM_WORDS = { startDate: "From", endDate: "To", asOf: "As of", receivedAfter: "Received after" };
function sentence(text) {
  const trimmed = text.trim().replace(/\b(startDate|endDate|asOf|receivedAfter)\b/g, (name) => `“${FORM_WORDS[name]}”`);
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
  state.catalog = null;
  state.loads++; // what a load still in flight brings is dropped
  state.billingLoads = (state.billingLoads || 0) + 1;
  $("#billing-panel").hidden = true;
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
  throw new ApiError(body.message ? sentence(body.message) : `The service answered ${answer.status}.`, fields,
                     answer.status);
}

// ------------------------------------------------------------------ the events of one user or device

// Who voided an event: the client's name, else its id (or cli:<user> from the command line).
function voider(event) { return event.voidedByName || event.voidedBy; }

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
    ? cell("td", `Voided ${when(event.voidedAt)} by ${voider(event)}: ${event.voidReason}`, "voided")
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
      show(state.report && state.report.closed
        ? "Voided: kept in the list, billed no longer. The period is closed: its report above keeps the figures " +
          "it was closed with, and the amendments show what the void changes."
        : "Voided: kept in the list, billed no longer. The report above is computed without it.", "info");
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
const DAY = 86_400_000;
function utc(year, month, day = 1) { return new Date(Date.UTC(year, month, day)); }
function utcDay(text) { return new Date(text + "T00:00:00Z"); }
// The period's end is exclusive: a person names its last day.
function lastDay(end) { return isoDay(new Date(Date.parse(end) - 1)); }

// The UTC midnight that ends today: the end of a period that takes today in.
function tomorrow(now = new Date()) { return utc(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1); }

// The period a preset names, [start, end) in whole UTC days; today counts as a day begun.
function presetPeriod(preset, now = new Date()) {
  const year = now.getUTCFullYear(), month = now.getUTCMonth();
  const end = tomorrow(now), quarter = month - (month % 3);
  return {
    "last-7": [new Date(end - 7 * DAY), end],
    "last-30": [new Date(end - 30 * DAY), end],
    "this-month": [utc(year, month), utc(year, month + 1)],
    "last-month": [utc(year, month - 1), utc(year, month)],
    "this-quarter": [utc(year, quarter), utc(year, quarter + 3)],
    "last-quarter": [utc(year, quarter - 3), utc(year, quarter)],
    "year-to-date": [utc(year, 0), end],
  }[preset] || null;
}

// The period to compare with: the same days a year before for the year to date; as many
// whole months just before for whole months (a month, a quarter); else as many days.
function previousPeriod(preset, start, end) {
  const back = (date, months) => utc(date.getUTCFullYear(), date.getUTCMonth() - months, date.getUTCDate());
  if (preset === "year-to-date") return [back(start, 12), back(end, 12)];
  const months = (end.getUTCFullYear() - start.getUTCFullYear()) * 12 + end.getUTCMonth() - start.getUTCMonth();
  if (start.getUTCDate() === 1 && end.getUTCDate() === 1 && months > 0) return [back(start, months), start];
  return [new Date(start - (end - start)), start];
}

function applyPreset() {
  const period = presetPeriod($("#preset").value);
  if (!period) return;
  $("#start").value = isoDay(period[0]);
  $("#end").value = isoDay(period[1]);
}

async function loadReport() {
  clearMessages();
  // Each load is numbered: answers of a load that a later one replaced are dropped, so
  // choosing presets quickly never shows one period's figures under another's.
  const load = ++state.loads;
  const current = () => load === state.loads;
  const params = { startDate: $("#start").value.trim(), endDate: $("#end").value.trim() };
  const asOf = $("#as-of").value.trim().replace(" ", "T");
  if (asOf) params.asOf = /[zZ]|[+-]\d\d:\d\d$/.test(asOf) ? asOf : asOf + "Z"; // read as UTC
  const days = [params.startDate, params.endDate].map(utcDay);
  const [before, after] = days.every((day) => !Number.isNaN(day.getTime()))
    ? previousPeriod($("#preset").value, ...days) : [null, null];
  const status = $("#status");
  status.hidden = false;
  status.textContent = "Loading the report…";
  // The report shown stays until another replaces it: a refused period leaves it in place.
  try {
    const report = await complete(REPORT, params, (attempt) => {
      if (current()) status.textContent = `The service is computing the report (check ${attempt})…`;
    });
    if (!current()) return;
    state.report = report;
    state.params = params;
    renderReport(report);
    status.hidden = true;
    if (!state.catalog) { // read once: what each total counts (its unit), and the catalog's table
      state.catalog = await api("/api/v2/billing/products");
      if (!current()) return;
      renderReport(report);
    }
    renderCatalog(state.catalog);
    // Then the previous period beside it: a help, without which the report still stands.
    const previous = before && await complete(
      REPORT, { ...params, startDate: isoDay(before), endDate: isoDay(after) }, () => {}).catch(() => null);
    if (!current()) return;
    renderComparison(report, previous);
    $("#amendments").hidden = !report.closed;
    if (report.closed) {
      const amendments = await api(`${REPORT}/amendments`, { startDate: params.startDate, endDate: params.endDate });
      if (!current()) return;
      renderAmendments(amendments);
    }
    // What a total is depends on the model: a count of users, the period's peak, or hours.
    $("#totals-caption").textContent = {
      named: "Billed per product: users and devices",
      concurrent: "Billed per product: the period's peak for concurrent products, users for the others",
      hourly: "Billed per product: hours for hourly products, users for the others",
    }[state.catalog.model] || "Billed per product";
    $("#peaks-figure").hidden = state.catalog.model === "named" || report.usages.length === 0;
    if (!$("#peaks-figure").hidden) {
      const peaks = await complete(CONCURRENT, params, () => {});
      if (current()) renderPeaks(peaks);
    }
  } catch (error) {
    if (!current()) return;
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
        ? `${e.type} ${e.id} voided ${when(e.voidedAt)} by ${voider(e)}: ${e.voidReason}`
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

// Numbers for people: thousands separated, at most two decimals (hours), whatever the locale.
const NUMBER = new Intl.NumberFormat("en-US", { maximumFractionDigits: 2 });
function number(value) { return NUMBER.format(Number(value)); }
function signed(change) { return change > 0 ? `+${number(change)}` : change < 0 ? `−${number(-change)}` : "0"; }

// What a usage's total counts, by the catalog: users, users at the peak, hours or devices.
function unitOf(name) {
  const product = state.catalog && state.catalog.entities.find((p) => p.name === name);
  if (!product) return "";
  if (product.kind === "device") return "devices";
  return { named: "users", concurrent: "users at the peak", hourly: "hours" }[product.billedAs] || "";
}
function withUnit(value, name) {
  const unit = unitOf(name);
  const text = number(value);
  return !unit ? text : Number(value) === 1 && unit !== "hours" ? `${text} ${unit.replace("users", "user").replace("devices", "device")}`
    : `${text} ${unit}`;
}

function renderReport(report) {
  $("#report").hidden = false;
  $("#explanation").hidden = true;
  $("#report-title").textContent = `${report.startDate.slice(0, 10)} to ${lastDay(report.endDate)}`;
  const badge = $("#report-status");
  // A period not over yet is a running figure, not a final one.
  const running = report.status === "Complete" && Date.parse(report.endDate) > Date.now();
  badge.textContent = report.closed ? `Closed ${when(report.closed.closedAt)} by ${report.closed.closedBy}`
    : running ? "Running: so far" : report.status;
  badge.className = running && !report.closed ? "badge progress" : "badge";
  // A period that is over can be closed by a client that may close periods.
  $("#close-period").hidden = !(state.permissions.includes("billing:period:close") && !report.closed &&
    report.status === "Complete" && !(state.params && state.params.asOf) && Date.parse(report.endDate) <= Date.now());
  $("#comparison").textContent = "";
  const empty = report.usages.length === 0;
  $("#download").disabled = empty; // nothing to download but a header
  $("#download-summary").disabled = empty;
  $(".charts").hidden = empty;
  const body = $("#usages tbody");
  body.replaceChildren();
  if (empty) {
    const row = document.createElement("tr");
    const empty = cell("td", "No billable usage in this period.", "muted");
    empty.colSpan = 6;
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
    row.setAttribute("aria-label", `${usage.name}: ${withUnit(usage.totalUsage, usage.name)}, ${usage.resources.length} resources`);
    row.append(toggle, cell("td", usage.name), cell("td", withUnit(usage.totalUsage, usage.name), "number"),
               cell("td", number(usage.resources.length), "number"), cell("td", "…", "number previous"),
               cell("td", "…", "number change"));
    const detail = document.createElement("tr");
    detail.className = "resources";
    detail.hidden = true;
    const holder = document.createElement("td");
    holder.colSpan = 6;
    detail.append(holder);
    const flip = () => {
      detail.hidden = !detail.hidden;
      toggle.textContent = detail.hidden ? "▸" : "▾";
      row.setAttribute("aria-expanded", String(!detail.hidden));
      if (!detail.hidden && !holder.firstChild) renderResources(holder, usage);
    };
    row.addEventListener("click", flip);
    row.addEventListener("keydown", (event) => {
      if (event.target === row && (event.key === "Enter" || event.key === " ")) {
        event.preventDefault();
        flip();
      }
    });
    body.append(row, detail);
  }
  renderGrandTotal(report);
  renderTotals(report);
  renderTrend(report);
}

// Totals of different products never add up (a user holding cx1 and wem1 is in both, and
// devices are not users): the last row counts the distinct users and devices billed.
function renderGrandTotal(report) {
  const row = $("#grand-total");
  row.hidden = report.usages.length === 0;
  const distinct = new Set(report.usages.flatMap((u) => u.resources.map((r) => `${unitOf(u.name) === "devices"}:${r.name}`)));
  for (const name of ["total", "previous", "change"]) {
    row.querySelector(`.${name}`).textContent = "—";
    row.querySelector(`.${name}`).title = "Totals of different products do not add up";
  }
  row.querySelector(".resources").textContent = number(distinct.size);
  row.querySelector(".resources").title = "Distinct users and devices billed";
}

// Each usage's total in the period before and the change; a usage billed then and not now
// gets a row of its own.
function renderComparison(report, previous) {
  if (state.report !== report) return; // another report replaced it meanwhile
  $("#comparison").textContent = previous
    ? `Compared with the previous period, ${previous.startDate.slice(0, 10)} to ${lastDay(previous.endDate)}.`
    : "The previous period could not be read: no comparison.";
  const before = new Map((previous ? previous.usages : []).map((u) => [u.name, Number(u.totalUsage)]));
  for (const row of document.querySelectorAll("#usages tr.usage")) {
    const usage = report.usages.find((u) => u.name === row.dataset.usage);
    const was = before.get(usage.name) ?? 0;
    row.querySelector(".previous").textContent = previous ? number(was) : "—";
    row.querySelector(".change").textContent = previous ? signed(Number(usage.totalUsage) - was) : "—";
    if (previous) row.setAttribute("aria-label", `${row.getAttribute("aria-label")}, ${number(was)} in the previous period`);
  }
  for (const [name, total] of before) {
    if (report.usages.some((u) => u.name === name)) continue;
    const row = document.createElement("tr");
    row.className = "gone";
    row.append(cell("td", ""), cell("td", name), cell("td", "0", "number"), cell("td", "0", "number"),
               cell("td", number(total), "number"), cell("td", signed(-total), "number change"));
    $("#usages tbody").append(row);
  }
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
  // A user's charge can be explained (the API's explain route); a device's is its activity.
  const product = state.catalog && state.catalog.entities.find((p) => p.name === usage.name);
  const explainable = Boolean(product && product.kind === "user");
  // Under the hourly model a user's own hours are in their row.
  const hourly = usage.resources.some((r) => r.hours !== undefined);
  table.innerHTML = "<thead><tr><th>Resource</th><th>First billable</th>" +
    (hourly ? "<th class=\"number\">Hours</th>" : "") +
    (explainable ? "<th><span class=\"visually-hidden\">Explanation</span></th>" : "") + "</tr></thead><tbody></tbody>";
  const draw = () => {
    const needle = search.value.trim().toLowerCase();
    const key = sort.value;
    const rows = usage.resources
      .filter((r) => r.name.toLowerCase().includes(needle))
      .sort((a, b) => (a[key] < b[key] ? -1 : a[key] > b[key] ? 1 : 0));
    table.tBodies[0].replaceChildren(...rows.map((r) => {
      const row = document.createElement("tr");
      row.append(cell("td", r.name), cell("td", when(r.date)));
      if (hourly) row.append(cell("td", r.hours === undefined ? "" : `${number(r.hours)} hours`, "number hours"));
      if (explainable) {
        const why = cell("button", "Why?", "link why");
        why.type = "button";
        why.setAttribute("aria-label", `Why is ${r.name} billed for ${usage.name}?`);
        why.addEventListener("click", () => explain(r.name).catch(reportError));
        const holder = document.createElement("td");
        holder.append(why);
        row.append(holder);
      }
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

// A colour per unit, so that bars on different scales never look alike.
const UNIT_COLOURS = { users: "#0072b2", "users at the peak": "#cc79a7", hours: "#009e73", devices: "#e69f00" };

// A bar per usage, each with its unit; bars of one unit share a scale, and usages of
// different units (hours and users) are never measured against each other.
function renderTotals(report) {
  const rows = report.usages.map((u) => [u.name, Number(u.totalUsage), unitOf(u.name)]);
  const width = 420, bar = 18, gap = 6, label = 90, room = 130;
  const top = new Map();
  for (const [, value, unit] of rows) top.set(unit, Math.max(1, top.get(unit) || 0, value));
  const height = Math.max(bar, rows.length * (bar + gap));
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, width: "100%", role: "img",
                             "aria-label": "Total usage per product, each in its unit" });
  rows.forEach(([name, value], i) => {
    const y = i * (bar + gap);
    const length = ((width - label - room) * value) / top.get(rows[i][2]);
    chart.append(svg("text", { x: 0, y: y + 13 }, name),
                 svg("rect", { x: label, y, width: Math.max(1, length), height: bar, fill: UNIT_COLOURS[rows[i][2]] || "#0072b2",
                               rx: 3 }),
                 svg("text", { x: label + length + 6, y: y + 13, class: "bar-value" }, withUnit(value, name)));
  });
  $("#totals-chart").replaceChildren(chart);
}

// Okabe and Ito's colours, which readers with any common colour blindness tell apart
// (their yellow left out: too faint on white); past seven lines, the colours again dashed,
// then dotted, so that no two lines look alike.
const COLOURS = ["#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#000000"];
const DASHES = [null, [8, 4], [2, 3]];
function lineStyle(index) {
  const dash = DASHES[Math.floor(index / COLOURS.length) % DASHES.length];
  return { stroke: COLOURS[index % COLOURS.length], width: 2, ...(dash ? { dash } : {}) };
}

// The date axis: ticks at whole UTC days, months or years, the finest step whose labels
// fit in ``width`` pixels (a day to decades); labels as the title writes dates, as short
// as the span allows: 10-02, 2026-10, 2026.
const TICK_STEPS = [[1, "day"], [2, "day"], [7, "day"], [14, "day"], [1, "month"], [2, "month"],
                    [3, "month"], [6, "month"], [1, "year"], [2, "year"], [5, "year"], [10, "year"]];
const LABEL_PX = 7.5; // a label's character at the axis's font, with the space between labels
function dateAxis(first, last, width) {
  const from = new Date(first * 1000);
  const sameYear = from.getUTCFullYear() === new Date(last * 1000).getUTCFullYear();
  let axis = null;
  for (const [n, unit] of TICK_STEPS) {
    const ticks = [];
    if (unit === "day") {
      for (let at = first; at <= last; at += n * DAY / 1000) ticks.push(at);
    } else {
      const months = unit === "month" ? n : 12 * n;
      let month = Math.ceil((from.getUTCFullYear() * 12 + from.getUTCMonth()) / months) * months;
      for (let at; (at = Date.UTC(Math.floor(month / 12), month % 12, 1) / 1000) <= last; month += months) {
        if (at >= first) ticks.push(at);
      }
    }
    const cut = unit === "year" ? [0, 4] : unit === "month" ? [0, 7] : sameYear ? [5, 10] : [0, 10];
    const labels = ticks.map((t) => isoDay(new Date(t * 1000)).slice(...cut));
    axis = { ticks, labels };
    if (ticks.length * (cut[1] - cut[0] + 3) * LABEL_PX <= width || ticks.length <= 1) return axis;
  }
  return axis;
}

// A line per product over the period's days (epoch seconds, UTC midnights), drawn by uPlot
// (axes, dates, a legend in each line's colour, values at the cursor). The keyboard reads
// it too: the arrow keys, Home and End move the cursor a day at a time, and the day's
// values are said in ``point``, a polite live region.
// ``unit``: what the values count, written on the value axis ({ label, whole: counts only }).
function lineChart(holder, point, days, series, name, unit) {
  for (const old of state.charts.filter((c) => c.root.parentNode === holder)) old.destroy();
  state.charts = state.charts.filter((c) => document.body.contains(c.root));
  holder.replaceChildren();
  const day = (seconds) => isoDay(new Date(seconds * 1000));
  let axis = null;
  const say = (index) => {
    point.textContent = index == null ? "" : `${day(days[index])}: ` +
      series.map((s) => `${s.name} ${s.values[index]}`).join(", ");
  };
  const chart = new uPlot({
    width: Math.max(240, holder.clientWidth || 320),
    height: 200,
    tzDate: (seconds) => uPlot.tzDate(new Date(seconds * 1000), "Etc/UTC"),
    series: [{ label: "Day", value: (u, seconds) => (seconds == null ? "" : day(seconds)) },
             ...series.map((s, i) => ({ label: s.name, ...lineStyle(i) }))],
    // The legend names the lines; the values at the cursor are said in ``point``, so the
    // legend never shows placeholders ("--") while the cursor is away.
    legend: { live: false, markers: { dash: (u, i) => (u.series[i].dash ? "dashed" : "solid") } },
    axes: [{
      space: 40,
      splits: (u) => {
        axis = dateAxis(days[0], days[days.length - 1], u.bbox.width / devicePixelRatio);
        holder.dataset.axis = axis.labels.join(" "); // what is drawn, for the tests
        return axis.ticks;
      },
      values: () => axis.labels,
    }, { label: unit.label, labelSize: 20, size: 48,
         ...(unit.whole ? { incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000] } : {}) }],
    hooks: { setCursor: [(u) => { if (u.cursor.idx != null) say(u.cursor.idx); }] },
  }, [days, ...series.map((s) => s.values)], holder);
  state.charts.push(chart);
  let index = days.length - 1;
  holder.tabIndex = 0;
  holder.setAttribute("role", "group");
  holder.setAttribute("aria-label", `${name}: arrow keys read it day by day`);
  holder.onkeydown = (event) => {
    const moves = { ArrowLeft: index - 1, ArrowRight: index + 1, Home: 0, End: days.length - 1 };
    if (!(event.key in moves)) return;
    event.preventDefault();
    index = Math.min(days.length - 1, Math.max(0, moves[event.key]));
    const top = Math.max(0, ...series.map((s) => s.values[index]));
    chart.setCursor({ left: chart.valToPos(days[index], "x"), top: chart.valToPos(top, "y") });
    say(index);
  };
  new ResizeObserver(() => chart.setSize({ width: Math.max(240, holder.clientWidth), height: 200 })).observe(holder);
  say(null);
}

// Billable so far, day by day, for every model: per usage, the resources (users or
// devices) that had become billable by each day's end; up to today for a running period.
function renderTrend(report) {
  const start = Date.parse(report.startDate);
  const end = Math.min(Date.parse(report.endDate), tomorrow().getTime());
  const days = [];
  for (let at = start; at < end; at += DAY) days.push(at / 1000);
  const series = report.usages.map((usage) => {
    const dates = usage.resources.map((r) => Date.parse(r.date)).sort((a, b) => a - b);
    let seen = 0;
    return { name: usage.name, values: days.map((seconds) => {
      while (seen < dates.length && dates[seen] < seconds * 1000 + DAY) seen++;
      return seen;
    }) };
  });
  if (days.length) lineChart($("#trend-chart"), $("#trend-point"), days, series, "Billable so far, day by day",
                               { label: "users and devices", whole: true });
}

// Per day and product, what the model bills: the peak (concurrent) or the hours (hourly).
function renderPeaks(report) {
  const hourly = report.model === "hourly";
  const products = report.products.filter((p) => p.peak > 0);
  const days = products.length ? products[0].days.map((d) => Date.parse(d.date) / 1000) : [];
  const series = products.map((p) => ({
    name: p.name, values: p.days.map((d) => (hourly ? Number(d.loggedInHours) : d.peak)) }));
  const name = hourly ? "Hours logged in per day, per product (hourly usage)" : "Daily peak per product (concurrent usage)";
  $("#peaks-caption").textContent = name;
  if (days.length) {
    lineChart($("#peaks-chart"), $("#peaks-point"), days, series, name,
              hourly ? { label: "hours", whole: false } : { label: "users at the peak", whole: true });
  }
}

// ------------------------------------------------------------------ explanations and the catalog

const REASONS = {
  "unknown.user": "No event of this user was received.",
  "not.logged.in": "They did not log in during the period.",
  "no.license": "They held no license of it while logged in during the period.",
};

function span(interval, still) {
  return `${when(interval.start)}${interval.end ? " to " + when(interval.end) : ", " + still}`;
}

// Why a resource is billed, as the explain route says it, in sentences.
async function explain(name) {
  clearMessages();
  const params = { startDate: state.params.startDate, endDate: state.params.endDate, userId: name };
  if (state.params.asOf) params.asOf = state.params.asOf;
  const found = await api(`${REPORT}/explain`, params);
  const lines = [];
  if (found.closed) {
    lines.push(`This period is closed: this explains the report kept when it was closed, ${when(found.closed.closedAt)}, ` +
               "with the events received by then. What arrived since is in the amendments.");
  }
  if (!found.billed) lines.push(REASONS[found.reason]);
  for (const family of found.families) {
    lines.push(family.charge
      ? `${family.family}: billed ${family.charge}, the highest product of the family held while logged in ` +
        `(held from ${span(family.holding, "still held")}).`
      : `${family.family}: nothing billed. ${REASONS[family.reason]}`);
  }
  if (found.firstBillableLogin) {
    lines.push(`First billable login ${when(found.firstBillableLogin)}, in the session from ` +
               `${span(found.session, "still open")}.`);
  }
  lines.push(`Logged in ${found.loggedInHours} hours in the period.`);
  $("#explanation-title").textContent = `Why ${found.displayName} ${found.billed ? "is" : "is not"} billed, ` +
    `${found.startDate.slice(0, 10)} to ${lastDay(found.endDate)}`;
  $("#explanation-lines").replaceChildren(...lines.map((line) => cell("li", line)));
  const panel = $("#explanation");
  panel.hidden = false;
  panel.focus();
}

function renderCatalog(catalog) {
  const billed = { named: "named (each user who logs in)", concurrent: "concurrent (the peak of users logged in)",
                   hourly: "hourly (hours logged in)" };
  $("#catalog tbody").replaceChildren(...catalog.entities.map((product) => {
    const row = document.createElement("tr");
    row.append(cell("td", product.name), cell("td", product.kind), cell("td", product.family || "—"),
               cell("td", product.kind === "device" ? "per device active" : billed[product.billedAs]));
    return row;
  }));
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
  // A partner's client that reads only the overviews of the organizations trusting its own
  // sees those alone: the report, events and periods are for clients that read reports.
  for (const part of document.querySelectorAll("[data-reader]")) {
    if (part.id !== "report") part.hidden = !readsReports();
    else if (!readsReports()) part.hidden = true;
  }
  if (!readsReports() && !state.permissions.includes(PARTNER_PERMISSION)) {
    show("Missing permission: this client reads neither reports (billing:subscription:view) nor the billing of " +
         "organizations that trust yours (affiliateOrganization:clientBilling:view).");
  } else if (readsReports()) {
    applyPreset();
    $("#preset").focus(); // the keyboard goes on from the period, not from the top of the page
    loadReport();
  }
  // The organization's name in the header (Genesys Cloud's route, which any token may read).
  api("/api/v2/organizations/me")
    .then((org) => {
      $("#who").textContent = `${org.name} · ${org.licensingModel} model`;
      return setUpBilling(org.id);
    })
    .catch((error) => {
      if (!$("#who").textContent) $("#who").textContent = `client ${clientId}`;
      else if (error.message !== "session expired") reportError(error);
    });
});
// A table wider than its box: the box says it scrolls sideways, and takes the keyboard's
// focus so that the arrow keys scroll it.
for (const box of document.querySelectorAll(".table-box")) {
  const mark = () => {
    const scrolls = box.scrollWidth > box.clientWidth + 1;
    box.classList.toggle("scrolls", scrolls);
    if (scrolls) {
      box.tabIndex = 0;
      box.setAttribute("role", "region");
      box.setAttribute("aria-label", "Table, scrolls sideways");
    } else {
      box.removeAttribute("tabindex");
      box.removeAttribute("role");
      box.removeAttribute("aria-label");
    }
  };
  const watch = new ResizeObserver(mark);
  watch.observe(box);
  watch.observe(box.firstElementChild);
}

// ------------------------------------------------------------------ closing a period, the closed ones

const PERIODS = "/api/v2/billing/periods";

async function closePeriod() {
  clearMessages();
  const { startDate, endDate } = state.params;
  const title = $("#report-title").textContent;
  if (!window.confirm(`Close ${title}? Its billable usage report is kept as it is now, for good: ` +
                      "events and voids that come later are shown as its amendments, never in it.")) return;
  try {
    await api(PERIODS, undefined, { startDate, endDate });
    await loadReport(); // which clears the messages: say it after
    if ($("#closed-panel").open) await loadClosed();
    show(`Closed ${title}: its report is kept as it is now.`, "info");
  } catch (error) {
    reportError(error);
  }
}

async function loadClosed() {
  const found = await api(PERIODS);
  const rows = found.entities.map((closed) => {
    const row = document.createElement("tr");
    const open = cell("button", "Show", "link");
    open.type = "button";
    open.setAttribute("aria-label", `Show the closed period ${closed.startDate.slice(0, 10)} to ${lastDay(closed.endDate)}`);
    open.addEventListener("click", () => {
      $("#preset").value = "custom";
      $("#start").value = closed.startDate.slice(0, 10);
      $("#end").value = closed.endDate.slice(0, 10);
      $("#as-of").value = "";
      loadReport();
    });
    const holder = document.createElement("td");
    holder.append(open);
    row.append(cell("td", closed.startDate.slice(0, 10)), cell("td", closed.endDate.slice(0, 10)),
               cell("td", when(closed.closedAt)), cell("td", closed.closedBy), holder);
    return row;
  });
  $("#closed tbody").replaceChildren(...rows);
  $("#closed").hidden = rows.length === 0;
  $("#closed-note").textContent = rows.length ? `${rows.length} closed period(s), earliest first.`
    : "No period is closed yet. A period that is over can be closed from its report.";
}

$("#close-period").addEventListener("click", () => closePeriod());
$("#closed-panel").addEventListener("toggle", () => {
  if ($("#closed-panel").open) loadClosed().catch(reportError);
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
$("#explanation-close").addEventListener("click", () => { $("#explanation").hidden = true; });

// ------------------------------------------------------------------ what was bought, used and charged

const OVERVIEW = "/api/v2/billing/trusteebillingoverview";
const CHARGES = `${REPORT}/charges`;
const TRUSTORS = "/api/v2/orgauthorization/trustors";
const PARTNER_PERMISSION = "affiliateOrganization:clientBilling:view";
const READ_PERMISSIONS = ["billing:subscription:view", "billing:subscription:read"];
const MONTH = new Intl.DateTimeFormat("en-US", { month: "long", year: "numeric", timeZone: "UTC" });

function readsReports() { return READ_PERMISSIONS.some((p) => state.permissions.includes(p)); }

// The organizations whose overview this client reads (its own, those that trust its own),
// and the billing periods: the running month and the twelve before it.
async function setUpBilling(ownId) {
  const partner = state.permissions.includes(PARTNER_PERMISSION);
  if (!readsReports() && !partner) return;
  const orgs = readsReports() ? [{ id: ownId, name: "Your organization" }] : [];
  if (partner) {
    const found = await api(TRUSTORS, { pageSize: "500" });
    orgs.push(...found.entities.map((t) => ({ id: t.id, name: t.organization.name })));
  }
  state.ownId = ownId;
  $("#billing-panel").hidden = false;
  if (!orgs.length) {
    $("#billing-choice").hidden = true;
    $("#billing-note").textContent = "No organization trusts yours with its billing yet.";
    return;
  }
  $("#billing-choice").hidden = false;
  $("#billing-org").replaceChildren(...orgs.map((org) => new Option(org.name, org.id)));
  $("#billing-org-label").hidden = orgs.length < 2;
  const now = new Date();
  $("#billing-month").replaceChildren(...Array.from({ length: 13 }, (_, index) => new Option(
    MONTH.format(utc(now.getUTCFullYear(), now.getUTCMonth() - index)) + (index ? "" : " (running)"), String(index))));
  await loadBilling();
}

async function loadBilling() {
  const orgId = $("#billing-org").value, index = $("#billing-month").value;
  const load = state.billingLoads = (state.billingLoads || 0) + 1;
  const note = $("#billing-note");
  note.textContent = "Loading…";
  let overview, bill = null;
  try {
    overview = await api(`${OVERVIEW}/${encodeURIComponent(orgId)}`, { billingPeriodIndex: index });
    if (orgId === state.ownId && readsReports()) {
      bill = await api(CHARGES, { startDate: overview.billingPeriodStartDate, endDate: overview.billingPeriodEndDate });
    }
  } catch (error) {
    if (load !== state.billingLoads) return;
    $("#commitment-figure").hidden = $("#commitments").hidden = true;
    note.textContent = error.status === 404
      ? "No subscription is set for this organization: an administrator sets one with “billable subscriptions set”."
      : error.message;
    return;
  }
  if (load !== state.billingLoads) return;
  renderCommitments(overview, bill);
}

function renderCommitments(overview, bill) {
  const running = Date.parse(overview.billingPeriodEndDate) > Date.now();
  const over = (u) => Math.max(0, Number(u.usageQuantity) - Number(u.prepayQuantity));
  $("#billing-note").textContent = `${overview.name}: ${overview.subscriptionType.replaceAll("_", " ").toLowerCase()}, ` +
    `${overview.currency}, ${MONTH.format(new Date(overview.billingPeriodStartDate))}` +
    (overview.closed ? ` (closed ${when(overview.closed.closedAt)}: its kept figures)` : running ? ", still running: so far" : "") +
    (bill ? "." : ". Charges are shown to the organization's own clients.");
  renderCommitmentChart(overview.usages);
  const charged = new Map((bill ? bill.products : []).map((p) => [p.name, p]));
  const rows = overview.usages.map((u) => {
    const row = document.createElement("tr");
    row.dataset.product = u.name;
    const charge = charged.get(u.name);
    const cost = cell("td", charge ? `${money(charge.total, overview.currency)}` : "—", "number");
    if (charge) cost.append(cell("div", charge.explanation, "muted explanation-line"));
    row.append(cell("td", u.name), cell("td", number(u.usageQuantity), "number"), cell("td", number(u.prepayQuantity), "number"),
               cell("td", over(u) ? number(over(u)) : "—", over(u) ? "number overage" : "number"), cost);
    return row;
  });
  $("#commitments tbody").replaceChildren(...rows);
  const foot = [];
  if (bill) {
    const line = (label, amount, id) => {
      const row = document.createElement("tr");
      row.id = id;
      const head = cell("th", label);
      head.scope = "row";
      head.colSpan = 4;
      row.append(head, cell("td", money(amount, bill.currency), "number"));
      return row;
    };
    foot.push(line("Subtotal", bill.subtotal, "charges-subtotal"));
    if (Number(bill.minimumTopUp)) foot.push(line(`Top-up to the minimum monthly amount of ${money(bill.minimumMonthlyAmount, bill.currency)}`,
                                                  bill.minimumTopUp, "charges-top-up"));
    foot.push(line(running ? "Total, estimated so far" : "Total", bill.total, "charges-total"));
    if (bill.unpricedUsages.length) {
      const row = document.createElement("tr");
      const said = cell("td", "Used, not in the subscription, not charged: " +
                        bill.unpricedUsages.map((u) => `${u.name} ${number(u.usage)}`).join(", "), "muted");
      said.colSpan = 5;
      row.append(said);
      foot.push(row);
    }
  }
  $("#commitments tfoot").replaceChildren(...foot);
  $("#commitments").hidden = false;
}

function money(amount, currency) { return `${amount} ${currency}`; }

// Per product a bar of its usage, the part past what was prepaid in another colour, and a
// line where the commitment ends.
function renderCommitmentChart(usages) {
  const width = 420, bar = 18, gap = 10, label = 90, room = 150;
  const height = Math.max(bar, usages.length * (bar + gap));
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, width: "100%", role: "img",
                             "aria-label": "Usage per product against what was prepaid" });
  usages.forEach((u, i) => {
    const used = Number(u.usageQuantity), prepaid = Number(u.prepayQuantity);
    const scale = (width - label - room) / Math.max(1, used, prepaid);
    const y = i * (bar + gap);
    const within = Math.min(used, prepaid) * scale;
    chart.append(svg("text", { x: 0, y: y + 13 }, u.name),
                 svg("rect", { x: label, y, width: Math.max(1, within), height: bar, fill: "#0072b2", rx: 3 }));
    if (used > prepaid) {
      chart.append(svg("rect", { x: label + within, y, width: (used - prepaid) * scale, height: bar, fill: "#d55e00",
                                 class: "overage-bar", rx: 3 }));
    }
    chart.append(svg("line", { x1: label + prepaid * scale, x2: label + prepaid * scale, y1: y - 3, y2: y + bar + 3,
                               stroke: "#1d2430", "stroke-width": 2, class: "committed-line" }),
                 svg("text", { x: label + Math.max(used, prepaid) * scale + 6, y: y + 13, class: "bar-value" },
                     `${number(used)} of ${number(prepaid)} committed` +
                     (used > prepaid ? `, ${number(used - prepaid)} over` : "")));
  });
  $("#commitment-chart").replaceChildren(chart);
  $("#commitment-figure").hidden = usages.length === 0;
}

$("#billing-org").addEventListener("change", () => { clearMessages(); loadBilling(); });
$("#billing-month").addEventListener("change", () => { clearMessages(); loadBilling(); });

// ------------------------------------------------------------------ alerts, their state, the last deliveries

const ALERTS = "/api/v2/billing/alerts";
const WEBHOOKS = "/api/v2/billing/webhooks";
const MANAGE_ALERTS = "billing:alerts:manage";
const MEASURE_WORDS = { billableUsage: "billable usage", concurrentPeak: "concurrent peak", loggedInHours: "hours logged in" };

async function loadAlerts() {
  const found = (await api(ALERTS)).entities;
  const rows = [];
  for (const alert of found) {
    const thresholds = alert.thresholds.map((t) => t.quantity || `${t.percent}% of prepaid`);
    const lines = alert.lines.length ? alert.lines : [null];
    for (const line of lines) {
      const row = document.createElement("tr");
      const state = !line ? "Not evaluated yet" : line.state === "triggered" ? `Triggered ${when(line.since)}` : "Below";
      row.append(cell("td", alert.name || alert.id.slice(0, 8)), cell("td", line ? line.product : alert.product || "every product"),
                 cell("td", MEASURE_WORDS[alert.measure] || alert.measure),
                 cell("td", line ? (line.line === null ? "no prepaid quantity" : number(line.line)) : thresholds.join(", "), "number"),
                 cell("td", line ? number(line.value) : "—", "number"),
                 cell("td", state, line && line.state === "triggered" ? "triggered" : ""));
      rows.push(row);
    }
  }
  $("#alerts tbody").replaceChildren(...rows);
  $("#alerts").hidden = rows.length === 0;
  $("#alerts-note").textContent = found.length ? `${found.length} alert(s), each line where it stands this month.`
    : "No alert is set. An administrator sets them with “billable alerts create” or the API.";
  if (!state.permissions.includes(MANAGE_ALERTS)) return; // webhooks and deliveries are the managers' to read
  const sent = [];
  for (const hook of (await api(WEBHOOKS)).entities) {
    const deliveries = (await api(`${WEBHOOKS}/${hook.id}/deliveries`, { pageSize: "10" })).entities;
    sent.push(...deliveries.map((d) => ({ ...d, url: hook.url })));
  }
  sent.sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  $("#deliveries tbody").replaceChildren(...sent.slice(0, 20).map((d) => {
    const row = document.createElement("tr");
    const answers = d.attempts.map((a) => a.status === null ? "no answer" : String(a.status)).join(", ") || "not sent yet";
    row.append(cell("td", when(d.createdAt)), cell("td", `${d.type} (${d.body.data.product})`), cell("td", d.url),
               cell("td", d.state, `delivery-${d.state}`), cell("td", answers));
    return row;
  }));
  $("#deliveries").hidden = $("#deliveries-title").hidden = sent.length === 0;
}

$("#alerts-panel").addEventListener("toggle", () => {
  if ($("#alerts-panel").open) loadAlerts().catch(reportError);
});
