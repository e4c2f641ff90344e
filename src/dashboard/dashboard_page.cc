#include "dashboard/dashboard_page.h"

namespace beacon::dashboard {

const std::string& DashboardPage() {
  static const std::string kPage = R"HTML(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Beacon registry</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 0; background: #f6f7f9; color: #1d232b; }
  header { background: #1d3557; color: #fff; padding: 10px 20px; display: flex;
           align-items: baseline; gap: 16px; }
  header h1 { font-size: 18px; margin: 0; }
  #status { font-size: 12px; opacity: .85; }
  #status.down { color: #ffb4a2; opacity: 1; }
  main { padding: 12px 20px; display: grid; gap: 16px; }
  section { background: #fff; border: 1px solid #dde1e6; border-radius: 6px; padding: 8px 14px; }
  h2 { font-size: 15px; margin: 6px 0 8px; }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #eef0f3;
           font-variant-numeric: tabular-nums; }
  th { font-size: 12px; color: #5b6673; font-weight: 600; }
  .lease-left.low { color: #c1121f; font-weight: 600; }
  .meta { font-size: 12px; color: #5b6673; }
  #event-list { list-style: none; padding: 0; margin: 0; max-height: 340px; overflow-y: auto; }
  #event-list li { padding: 3px 0; border-bottom: 1px solid #eef0f3; }
  .kind { display: inline-block; min-width: 150px; font-weight: 600; }
  .kind.registered, .kind.renewed_after_expiry { color: #2a9d8f; }
  .kind.deregistered { color: #8d6a9f; }
  .kind.expired { color: #c1121f; }
  .kind.updated { color: #e76f51; }
  .when { color: #5b6673; display: inline-block; min-width: 96px; margin-right: 8px; }
  .empty { color: #5b6673; font-style: italic; }
</style>
</head>
<body>
<header><h1>Beacon registry</h1><span id="status">connecting…</span></header>
<main>
<section id="services">
  <h2>Services</h2>
  <table><thead><tr><th>service</th><th>version</th><th>watchers</th><th>instances</th></tr></thead>
  <tbody id="service-rows"></tbody></table>
</section>
<section id="instances-section">
  <h2>Live instances <span id="instance-count" class="meta"></span></h2>
  <table id="instances"><thead><tr><th>service</th><th>id</th><th>address</th><th>metadata</th>
    <th>registered since</th><th>lease left</th><th>heartbeats</th></tr></thead>
  <tbody id="instance-rows"></tbody></table>
</section>
<section id="events">
  <h2>Recent events</h2>
  <ol id="event-list"></ol>
</section>
</main>
<script>
"use strict";
const MAX_EVENTS = 200;
let seq = 0;
let receivedAt = performance.now();
let events = [];

function esc(s) {
  return String(s).replace(/[&<>"']/g, c => ({"&": "&amp;", "<": "&lt;", ">": "&gt;",
                                             '"': "&quot;", "'": "&#39;"}[c]));
}
function clock(msAgo) {
  return new Date(Date.now() - msAgo).toLocaleTimeString();
}
function age(ms) {
  const s = Math.floor(ms / 1000);
  if (s < 60) return s + " s";
  if (s < 3600) return Math.floor(s / 60) + " min " + (s % 60) + " s";
  return Math.floor(s / 3600) + " h " + Math.floor((s % 3600) / 60) + " min";
}
function setStatus(text, down) {
  const el = document.getElementById("status");
  el.textContent = text;
  el.className = down ? "down" : "";
}

function render(doc) {
  receivedAt = performance.now();
  const services = doc.services;
  document.getElementById("service-rows").innerHTML = services.length === 0
    ? '<tr><td colspan="4" class="empty">no services registered</td></tr>'
    : services.map(s => `<tr class="service" data-service="${esc(s.name)}">` +
        `<td>${esc(s.name)}</td><td>${s.version}</td><td>${s.watchers}</td>` +
        `<td>${s.instance_count}</td></tr>`).join("");
  const rows = [];
  for (const s of services) {
    for (const i of s.instances) {
      const meta = Object.entries(i.metadata).map(([k, v]) => esc(k) + "=" + esc(v)).join(", ");
      rows.push(`<tr class="instance" data-service="${esc(s.name)}" data-id="${esc(i.id)}">` +
        `<td>${esc(s.name)}</td><td>${esc(i.id)}</td><td>${esc(i.address)}</td>` +
        `<td class="meta">${meta}</td>` +
        `<td>${clock(i.registered_ms_ago)} <span class="meta">(${age(i.registered_ms_ago)} ago)</span></td>` +
        `<td class="lease-left" data-left="${i.lease_left_ms}" data-ttl="${doc.ttl_ms}"></td>` +
        `<td class="heartbeats">${i.heartbeats}</td></tr>`);
    }
  }
  document.getElementById("instance-rows").innerHTML = rows.length === 0
    ? '<tr><td colspan="7" class="empty">no live instances</td></tr>' : rows.join("");
  document.getElementById("instance-count").textContent = "(" + rows.length + ")";
  tick();

  for (const e of doc.events) {
    e.at = Date.now() - e.ms_ago;
    events.push(e);
  }
  if (events.length > MAX_EVENTS) events = events.slice(events.length - MAX_EVENTS);
  document.getElementById("event-list").innerHTML = events.length === 0
    ? '<li class="empty">no events yet</li>'
    : events.slice().reverse().map(e =>
        `<li class="event" data-kind="${esc(e.kind)}" data-service="${esc(e.service)}" ` +
        `data-instance="${esc(e.instance_id)}">` +
        `<span class="when">${new Date(e.at).toLocaleTimeString()}</span>` +
        `<span class="kind ${esc(e.kind)}">${esc(e.kind.replace(/_/g, " "))}</span> ` +
        `${esc(e.service)}/${esc(e.instance_id)} <span class="meta">${esc(e.address)}</span>` +
        (e.reason ? ` <span class="reason">: ${esc(e.reason)}</span>` : "") + `</li>`).join("");
}

// Lease time left counts down locally between changes (no request).
function tick() {
  const elapsed = performance.now() - receivedAt;
  for (const td of document.querySelectorAll("td.lease-left")) {
    const left = Math.max(0, Number(td.dataset.left) - elapsed);
    td.textContent = (left / 1000).toFixed(1) + " s";
    td.classList.toggle("low", left < Number(td.dataset.ttl) / 3);
  }
}
setInterval(tick, 100);

// Long poll on the registry's change stream: each answer carries the events
// since `seq` and the services as they are now.
async function follow() {
  let wait = 0;
  for (;;) {
    try {
      const r = await fetch(`/v1/events?after=${seq}&wait_ms=${wait}`, {cache: "no-store"});
      if (r.status === 503) { await new Promise(ok => setTimeout(ok, 1000)); continue; }
      if (!r.ok) throw new Error("HTTP " + r.status);
      const doc = await r.json();
      if (doc.seq < seq) events = [];  // the registry restarted
      seq = doc.seq;
      render(doc);
      setStatus("live · change " + seq, false);
      wait = 25000;
    } catch (err) {
      setStatus("disconnected (" + err.message + "); retrying", true);
      wait = 0;
      await new Promise(ok => setTimeout(ok, 1000));
    }
  }
}
follow();
</script>
</body>
</html>
)HTML";
  return kPage;
}

}  // namespace beacon::dashboard
