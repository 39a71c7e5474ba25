// Staff pages: a "select all" box over a list of people (hidden where this script does not run:
// the pages work without it, one tick at a time). It is not a form field: only the people are sent.
// While staff wait for a one-time code, what became of its text (the number goes in the POST
// body, never a URL); a text that failed opens "without a code" with the reason the kiosk suggests.
// Every page keeps its line of who inside is flagged by their health declaration up to date.
"use strict";

(function () {
  function setUp(all) {
    const form = all.form;
    const boxes = () => Array.from(form.querySelectorAll('input[type="checkbox"][name="' + all.dataset.selectAll + '"]'));
    const sync = () => {
      const ticked = boxes().filter((box) => box.checked).length;
      all.checked = ticked > 0 && ticked === boxes().length;
      all.indeterminate = ticked > 0 && ticked < boxes().length;
    };
    all.addEventListener("change", () => {
      for (const box of boxes()) box.checked = all.checked;
      sync();
    });
    form.addEventListener("change", (e) => { if (e.target !== all) sync(); });
    sync();
    all.closest("[hidden]")?.removeAttribute("hidden");
  }

  const POLL_MS = 3000, POLL_FOR_MS = 120000;

  function pollDelivery(line) {
    const form = line.closest("form");
    const started = Date.now();
    const ask = () => {
      const body = new URLSearchParams({ phone: form.elements.phone.value });
      fetch(line.dataset.poll, { method: "POST", body, credentials: "same-origin",
                                 headers: { "X-CSRFToken": form.elements.csrf_token.value } })
        .then((r) => (r.ok ? r.json() : null))
        .then((answer) => {
          if (answer && answer.text) line.textContent = answer.text;
          if (answer && answer.state === "failed") {
            const without = document.getElementById("without");
            if (without) without.open = true;
            const reason = form.querySelector(`input[name="reason"][value="${answer.reason || "not_delivered"}"]`);
            if (reason && !form.querySelector('input[name="reason"]:checked')) reason.checked = true;
          }
          if (answer && answer.state === "queued" && Date.now() - started < POLL_FOR_MS) setTimeout(ask, POLL_MS);
        })
        .catch(() => { if (Date.now() - started < POLL_FOR_MS) setTimeout(ask, POLL_MS); });
    };
    setTimeout(ask, POLL_MS);
  }

  const FLAGGED_MS = 15000;

  function pollFlagged(line) {
    const link = line.querySelector("a");
    const ask = () => {
      fetch(line.dataset.pollFlagged, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then((r) => (r.ok ? r.json() : null))
        .then((answer) => {
          if (answer) {
            link.textContent = answer.text;
            line.hidden = !answer.n;
          }
        })
        .catch(() => {})
        .finally(() => setTimeout(ask, FLAGGED_MS));
    };
    setTimeout(ask, FLAGGED_MS);
  }

  document.addEventListener("DOMContentLoaded", () => {
    document.querySelectorAll("input[data-select-all]").forEach(setUp);
    document.querySelectorAll("[data-poll]").forEach(pollDelivery);
    document.querySelectorAll("[data-poll-flagged]").forEach(pollFlagged);
  });
})();
