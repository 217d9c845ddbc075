// The trainer's page: the desks' table kept current from /trainer/status.json, and the
// forms sent without leaving the page (a path being typed is not lost). Text goes in
// through textContent only: names are the trainees' own.
"use strict";
(function () {
  var EVERY = 2500;
  var NAMELESS = "（名前まだ）";

  function put(element, text) {
    if (element && element.textContent !== text) element.textContent = text;
  }

  function flag(element, name, on) {
    if (element) element.classList.toggle(name, Boolean(on));
  }

  function notice(text, error) {
    var box = document.getElementById("notice");
    put(box, text);
    flag(box, "error", error);
    flag(box, "ok", !error && text);
  }

  function list(cell, items) {
    var joined = items.join("\n");
    if (!cell || cell.dataset.shown === joined) return;
    cell.dataset.shown = joined;
    var ul = document.createElement("ul");
    items.forEach(function (item) {
      var li = document.createElement("li");
      li.textContent = item;
      ul.appendChild(li);
    });
    cell.replaceChildren(ul);
  }

  function faults(cell, desk) {
    if (!cell) return;
    var text = cell.querySelector(".broken");
    put(text, desk.broken_text);
    flag(text, "on", desk.broken_text !== "なし");
    cell.querySelectorAll("button[data-kind]").forEach(function (button) {
      var kind = button.dataset.kind;
      var on = kind === "reader" ? desk.broken.reader_unplugged : desk.broken[kind];
      button.value = kind + ":" + (on ? "off" : "on");
      button.setAttribute("aria-pressed", on ? "true" : "false");
    });
  }

  function render(status) {
    var scenario = status.scenario;
    put(document.getElementById("scenario-title"),
        scenario ? "「" + scenario.title + "」" : "研修は行われていません");
    put(document.getElementById("scenario-since"), scenario ? "（" + scenario.since + " から）" : "");
    put(document.getElementById("busy"), status.busy || "");
    var service = document.getElementById("service-state");
    put(service, status.service.text);
    flag(service, "on", status.service.text !== "なし");
    if (status.report_of) put(document.getElementById("report-of"), status.report_of);
    status.desks.forEach(function (desk) {
      var row = document.getElementById("desk-" + desk.code);
      if (!row) return;
      put(row.querySelector("td.trainee"), desk.trainee || NAMELESS);
      put(row.querySelector("td.case"), desk.case_text);
      put(row.querySelector("td.score"), desk.score.text);
      list(row.querySelector("td.mistakes"), desk.mistakes);
      var process = row.querySelector("td.process");
      put(process, desk.process.text);
      flag(process, "down", desk.process.down || !desk.process.connected);
      faults(row.querySelector("td.faults"), desk);
    });
  }

  var timer = null;
  function poll() {
    clearTimeout(timer);
    fetch("/trainer/status.json", { headers: { Accept: "application/json" }, cache: "no-store" })
      .then(function (response) {
        if (response.status === 401) {
          location.href = "/trainer/login";
          return null;
        }
        return response.json();
      })
      .then(function (status) { if (status) render(status); })
      .catch(function () { notice("研修室のサーバーにつながりません（再試行中）", true); })
      .finally(function () { timer = setTimeout(poll, EVERY); });
  }

  function send(event) {
    event.preventDefault();
    var form = event.target;
    var data = new FormData(form);
    if (event.submitter && event.submitter.name) data.append(event.submitter.name, event.submitter.value);
    var buttons = form.querySelectorAll("button");
    buttons.forEach(function (b) { b.disabled = true; });
    notice("送信中…", false);
    fetch(form.action, {
      method: "POST",
      body: new URLSearchParams(data),
      headers: { Accept: "application/json" },
    })
      .then(function (response) {
        return response.json().catch(function () {
          return { ok: false, message: "サーバーの応答を読めません（" + response.status + "）" };
        });
      })
      .then(function (answer) { notice(answer.message, !answer.ok); })
      .catch(function () { notice("研修室のサーバーにつながりません", true); })
      .finally(function () {
        buttons.forEach(function (b) { b.disabled = false; });
        poll();
      });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form.act").forEach(function (form) {
      form.addEventListener("submit", send);
    });
    timer = setTimeout(poll, EVERY);
  });
})();
