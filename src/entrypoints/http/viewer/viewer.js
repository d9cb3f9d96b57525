// The viewer: searches the events its link may show, opens one, and checks that it is in
// the signed log, against the verifier key the link's host put in the URL's fragment.

import { fragmentCredentials, searchFilters, searchParams } from "./query.js";
import { fromBase64, toBase64, verifyConsistency, verifyProof } from "./proofs.js";
import { chooseLanguage, translator } from "./messages.js";

const { token, verifierKey, witnessKeys, title, exports, language } =
  fragmentCredentials(location.hash);
const chosen = chooseLanguage(language, navigator.languages);
const t = translator(chosen);
const numbers = new Intl.NumberFormat(chosen.locale);
// Everything the page shows follows from its fragment, which a host swaps to show another
// link (the next customer's, another language); browsers navigate to a new fragment
// without loading the page again, so it is loaded again here, rather than going on
// showing the first link's events.
window.addEventListener("hashchange", () => location.reload());
const $ = (id) => document.getElementById(id);
let cursor = null;
let summaries = 0;  // the latest summary asked for: an earlier one answering late is dropped

class ApiError extends Error {
  constructor(status, body, retryAfter) {
    super(body?.error?.message || `HTTP ${status}`);
    this.status = status; this.code = body?.error?.code; this.retryAfter = retryAfter;
    this.requestId = body?.error?.request_id;
  }
}

async function call(path, options = {}) {
  const headers = { Authorization: `Bearer ${token}` };
  if (options.body) headers["Content-Type"] = "application/json";
  try {
    return await fetch(`/api/v1${path}`, { ...options, headers });
  } catch {
    throw new ApiError(0, { error: { message: "network" } });
  }
}

async function api(path, options) {
  const response = await call(path, options);
  const body = await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, body, response.headers.get("Retry-After"));
  return body;
}

function explain(error) {
  if (error.status === 401) return t("expired");
  if (error.status === 429) return t("tooMany", Number(error.retryAfter) || 0);
  if (error.status === 400 || error.status === 422) return t("refused", error.message);
  if (error.status === 409) return error.message;
  if (error.code === "query_timeout") return t("tooBroad");
  if (error.status === 0) return t("unreachable");
  return t("failed", error.requestId);
}

function status(text, isError = false) {
  $("status").textContent = text;
  $("status").classList.toggle("error", isError);
}

// The reader's time zone, named: an audit trail's times are compared across people.
function localTime(iso) {
  return new Date(iso).toLocaleString(chosen.locale, { timeZoneName: "short" });
}

function timeCell(iso) {
  const time = document.createElement("time");
  time.dateTime = iso;
  time.textContent = localTime(iso);
  time.title = `${iso} (UTC)`;
  return time;
}

// Where it came from: the address, and where geo enrichment located it.
function origin(event) {
  const address = event.context?.ip_address || "";
  const geo = event.geo;
  const place = geo ? [geo.city, geo.country_code].filter(Boolean).join(", ") : "";
  return place ? `${address} (${place})` : address;
}

// Auditrail's own records of changes to the workspace (keys, settings, integrations) sit
// among the application's events; readers are told which is which, since no client can
// send an action under this prefix.
const RECORD_PREFIX = "auditrail.";

function actionCell(action) {
  if (!action.startsWith(RECORD_PREFIX)) return action;
  const label = document.createElement("span");
  label.className = "record";
  label.textContent = t("recordLabel");
  label.title = t("recordNote");
  const cell = document.createDocumentFragment();
  cell.append(action, " ", label);
  return cell;
}

function row(event) {
  const tr = document.createElement("tr");
  tr.tabIndex = 0;
  tr.dataset.id = event.id;
  const target = event.targets?.[0];
  const cells = [timeCell(event.occurred_at), actionCell(event.action),
    event.actor.name || event.actor.id, target ? (target.name || target.id) : "", origin(event)];
  for (const content of cells) {
    const td = document.createElement("td");
    td.append(content);
    tr.append(td);
  }
  tr.addEventListener("click", () => open(event.id, tr));
  tr.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); open(event.id, tr); } });
  return tr;
}

// What a search holds most of: the actions it matches most, each a shortcut to those
// events alone. Counted by the server; a failure leaves the list out, never the search.
async function summarize(form) {
  const asked = ++summaries;
  const params = new URLSearchParams({ group_by: "action", limit: "5", ...searchFilters(form) });
  let groups = [];
  try {
    groups = (await api(`/events/stats?${params}`)).groups;
  } catch { /* no summary */ }
  if (asked !== summaries) return;
  $("top-actions").replaceChildren(...groups.map((group) => {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "facet";
    button.append(actionCell(group.value), ` ${numbers.format(group.count)}`);
    button.addEventListener("click", () => {
      $("search").elements.action.value = group.value;
      $("search").elements.action.focus();  // the button goes with the summary it was in
      search();
    });
    return button;
  }));
  $("summary").hidden = groups.length < 2;  // one action alone says nothing the list does not
}

async function search(more = false) {
  const form = Object.fromEntries(new FormData($("search")));
  if (!more) {
    cursor = null;
    $("events").tBodies[0].replaceChildren();
    summarize(form);
  }
  status(t("loading"));
  $("more").hidden = true;
  try {
    const page = await api(`/events?${searchParams(form, cursor)}`);
    const body = $("events").tBodies[0];
    body.append(...page.data.map(row));
    $("events").hidden = body.rows.length === 0;
    cursor = page.next_cursor || null;
    $("more").hidden = !page.has_more;
    status(body.rows.length === 0 ? t("noMatch") : t("showing", body.rows.length, page.total_count));
    if (!performance.getEntriesByName("auditrail:first-page").length) {
      performance.mark("auditrail:first-page");  // what make bench-viewer measures
    }
  } catch (error) {
    status(explain(error), true);
  }
}

// The row an event was opened from: closing the event returns the reader there, rather
// than to the top of the page (a keyboard or screen-reader user would lose their place).
let opener = null;

function close() {
  $("detail").hidden = true;
  if (opener?.isConnected) opener.focus();
}

async function open(id, from) {
  opener = from;
  const detail = $("detail");
  detail.hidden = false;
  $("fields").replaceChildren();
  $("by-actor").hidden = true;  // until this event's actor is known
  $("signed-note").hidden = true;  // until this event is verified
  verification(t("checking"), "");
  try {
    const event = await api(`/events/${encodeURIComponent(id)}`);
    $("detail-title").replaceChildren(actionCell(event.action));
    $("by-actor").dataset.actor = event.actor.id;
    $("by-actor").textContent = t("allBy", event.actor.name || event.actor.id);
    $("by-actor").hidden = false;
    for (const [name, value] of Object.entries(event)) {
      const dt = document.createElement("dt"); dt.textContent = name;
      const dd = document.createElement("dd");
      if (name.endsWith("_at") && typeof value === "string") dd.append(timeCell(value));
      else dd.textContent = typeof value === "object" && value !== null ? JSON.stringify(value, null, 2) : String(value);
      $("fields").append(dt, dd);
    }
    detail.focus();
    await verify(event);
  } catch (error) {
    verification(explain(error), "warn");
  }
}

// A link made while the log had witnesses pins their keys too: the event is then checked
// in the tree they cosigned, and without their cosignatures the page says so.
async function verify(event, attempt = 0, witnesses = witnessKeys) {
  if (!verifierKey) return verification(t("noKey"), "warn");
  if (event.status !== "processed") return verification(t("pending"), "");
  const cosigned = witnesses.length ? `?witnesses=${witnesses.length}` : "";
  let proof;
  try {
    proof = await api(`/events/${encodeURIComponent(event.id)}/proof${cosigned}`);
  } catch (error) {
    const soon = error.code === "not_checkpointed" || (error.code === "not_cosigned" && error.retryAfter);
    if (soon && attempt < 10) {
      verification(t(witnesses.length ? "awaitingWitnesses" : "awaitingCheckpoint"), "");
      setTimeout(() => verify(event, attempt + 1, witnesses), 1000 * Number(error.retryAfter || 2));
      return;
    }
    if (witnesses.length && ["not_checkpointed", "not_cosigned"].includes(error.code)) {
      return verify(event, 0, []).then(() => uncosigned(error.message));
    }
    return verification(t("unverifiable", explain(error)), "warn");
  }
  try {
    if (proof.event_id !== event.id) throw new Error("the proof is for another event");
    const checkpoint = await verifyProof(proof, verifierKey, [], witnesses).catch(async (error) => {
      if (!error.message.startsWith("no signature by")) throw error;
      // the key was rotated
      return verifyProof(proof, verifierKey, await rotationNotes(), witnesses);
    });
    await extendsWhatWasSeen(checkpoint);
    const signed = await api(`/log/checkpoints/${checkpoint.treeSize}`).catch(() => null);
    const when = signed ? localTime(signed.created_at) : null;
    verification(t("verified", when, checkpoint.treeSize, checkpoint.cosignedBy), "ok");
    $("note").textContent = proof.checkpoint;
    $("signed-note").hidden = false;
  } catch (error) {
    verification(t("notVerified", error.message), "warn");
  }
}

// Verified by the log's signature alone, where the link asked for its witnesses' too.
function uncosigned(reason) {
  const element = $("verification");
  if (element.className !== "ok") return;  // the plain check failed: its warning stands
  verification(t("uncosigned", element.textContent, reason), "warn");
}

// The largest checkpoint this browser verified of each log is kept (localStorage): on every
// later check the log must extend it, so a history rewritten - or shown differently -
// since the reader's last visit is named, whatever key signed it.
async function extendsWhatWasSeen(checkpoint) {
  const slot = `auditrail:checkpoint:${checkpoint.origin}`;
  let seen = null;
  try {
    seen = JSON.parse(localStorage.getItem(slot) || "null");
  } catch {
    return;  // no storage in this frame: nothing kept, nothing to compare with
  }
  if (seen && Number.isSafeInteger(seen.size) && seen.size > 0 && typeof seen.root === "string") {
    const when = localTime(seen.at);
    if (seen.size > checkpoint.treeSize) {
      throw new Error(t("shrunk", checkpoint.treeSize, seen.size, when));
    }
    const root = fromBase64(seen.root);
    const proof = seen.size === checkpoint.treeSize ? { proof: [] }
      : await api(`/log/consistency?from_size=${seen.size}&to_size=${checkpoint.treeSize}`);
    if (!await verifyConsistency(seen.size, checkpoint.treeSize, root, checkpoint.rootHash,
      proof.proof.map(fromBase64))) {
      throw new Error(t("diverged", when));
    }
    if (seen.size === checkpoint.treeSize) return;
  }
  try {
    localStorage.setItem(slot, JSON.stringify({ size: checkpoint.treeSize,
      root: toBase64(checkpoint.rootHash), at: new Date().toISOString() }));
  } catch { /* storage full or refused: checked this time, not kept */ }
}

// Every rotation note the log publishes: each is checked against the key before it.
async function rotationNotes() {
  const key = await api("/log/key").catch(() => null);
  return (key?.previous_keys || []).map((k) => k.rotation).filter((n) => typeof n === "string");
}

async function exportResults() {
  const form = Object.fromEntries(new FormData($("export")));
  const button = $("export").querySelector("button");
  button.disabled = true;
  exportStatus(t("preparing"));
  try {
    let job = await api("/exports", { method: "POST", body: JSON.stringify({
      format: form.format, filters: searchFilters(Object.fromEntries(new FormData($("search")))) }) });
    const deadline = Date.now() + 15 * 60 * 1000;
    while (job.status === "queued" || job.status === "running") {
      if (Date.now() > deadline) throw new Error(t("exportSlow"));
      await new Promise((resolve) => setTimeout(resolve, 1000));
      job = await api(`/exports/${encodeURIComponent(job.id)}`);
    }
    if (job.status !== "completed") throw new Error(t("exportEnded", job.status, job.error));
    await download(job);
  } catch (error) {
    exportStatus(error instanceof ApiError ? explain(error) : error.message, true);
  } finally {
    button.disabled = false;
  }
}

async function download(job) {
  // HEAD follows the redirect to the signed file link without fetching the file; the
  // browser then downloads it to disk itself, however large.
  const response = await call(`/exports/${encodeURIComponent(job.id)}/download`, { method: "HEAD" });
  if (!response.ok) throw new ApiError(response.status, null, response.headers.get("Retry-After"));
  const link = document.createElement("a");
  link.href = response.url;
  link.download = "";
  link.textContent = t("downloadAgain");
  link.id = "export-file";
  exportStatus(t("exported", job.row_count, Math.ceil(job.size_bytes / 1024)));
  $("export-status").append(link);
  const issued = Date.now();
  link.addEventListener("click", (e) => {
    if (Date.now() - issued < 60_000) return;  // signed links live minutes: ask for a fresh one
    e.preventDefault();
    download(job).catch((error) => exportStatus(explain(error), true));
  });
  link.click();
}

function exportStatus(text, isError = false) {
  $("export-status").textContent = text;
  $("export-status").classList.toggle("error", isError);
}

function verification(text, kind) {
  const element = $("verification");
  element.textContent = text;
  element.className = kind;
}

// The page's own words, in the language chosen; then what the link's host named it.
function localize() {
  document.documentElement.lang = chosen.language;
  for (const element of document.querySelectorAll("[data-text]")) element.textContent = t(element.dataset.text);
  for (const element of document.querySelectorAll("[data-label]")) element.setAttribute("aria-label", t(element.dataset.label));
  for (const element of document.querySelectorAll("[data-placeholder]")) element.placeholder = t(element.dataset.placeholder);
  if (title) { $("title").textContent = title; document.title = title; }
  delete document.documentElement.dataset.translating;
}

localize();
$("search").addEventListener("submit", (e) => { e.preventDefault(); search(); });
$("more").addEventListener("click", () => search(true));
$("export").hidden = !exports;
$("export").addEventListener("submit", (e) => { e.preventDefault(); exportResults(); });
$("close").addEventListener("click", close);
$("detail").addEventListener("keydown", (e) => { if (e.key === "Escape") close(); });
// Readers see actors' names but search by id: from an event, its actor's whole trail
// (within what the link allows), the other search fields cleared.
$("by-actor").addEventListener("click", () => {
  $("search").reset();
  $("search").elements.actor_id.value = $("by-actor").dataset.actor;
  $("detail").hidden = true;
  $("search").elements.actor_id.focus();  // where the search now stands, not a hidden button
  search();
});
if (!token) status(t("incomplete"), true);
else search();
