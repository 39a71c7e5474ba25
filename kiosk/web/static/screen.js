// The visitor screen: listens to /events and shows each outcome, then the idle screen again.
// Sentences come from the page's catalogue (kiosk/messages.py, in the page's language);
// everything from the stream is put in as text, never as HTML. A visitor's language (/?lang=en)
// lasts until data.language_ms after the last result, then the page is the venue's language again.
// A "declare" event asks the health declaration's questions one at a time (two large buttons); the
// answers go to POST /declaration, and the check-in's outcome follows on the stream as any other.
"use strict";

(function () {
  const data = JSON.parse(document.getElementById("screen-data").textContent);
  const messages = data.messages;
  const body = document.body;
  const resultIcon = document.getElementById("result-icon");
  const resultText = document.getElementById("result-text");
  const occupancyEl = document.getElementById("occupancy");
  const marksEl = document.getElementById("marks");
  const RECONNECT_MS = 10000;
  const ICONS = { check_in: "✔", check_out: "✔", refused: "✘", error: "!" };
  let capacity = data.capacity;
  let status = {};
  let connected = true;
  let idleTimer = null;
  let languageTimer = null;
  let round = null;             // the declaration being asked: token, questions, answers, timer
  const declareProgress = document.getElementById("declare-progress");
  const declareQuestion = document.getElementById("declare-question");
  const answerYes = document.getElementById("answer-yes");
  const answerNo = document.getElementById("answer-no");

  function template(code) {
    return messages[code] !== undefined ? messages[code] : messages.unknown_format;
  }

  function say(code, values) {
    return template(code).replace(/\{(\w+)\}/g, (whole, key) => (values && key in values ? String(values[key]) : whole));
  }

  // The sentence with each value (a masked name, a time) in a span of its own that never breaks.
  function showSentence(el, code, values) {
    el.replaceChildren();
    for (const [i, part] of template(code).split(/\{(\w+)\}/).entries()) {
      if (i % 2 === 0) {
        if (part) el.appendChild(document.createTextNode(part));
      } else {
        const value = document.createElement("span");
        value.className = "value";
        value.textContent = values && part in values ? String(values[part]) : "{" + part + "}";
        el.appendChild(value);
      }
    }
  }

  function showOccupancy(occupancy, cap) {
    if (typeof cap === "number") capacity = cap;
    if (occupancy === null || occupancy === undefined) return;
    occupancyEl.textContent = capacity
      ? say("screen_occupancy_capacity", { occupancy: occupancy, capacity: capacity })
      : say("screen_occupancy", { occupancy: occupancy });
  }

  function showOutcome(outcome, receivedAt) {
    endRound();
    body.classList.remove("is-idle", "is-check_in", "is-check_out", "is-refused", "is-error", "is-declare");
    body.classList.add("is-" + outcome.kind);
    resultIcon.textContent = ICONS[outcome.kind] || "";
    showSentence(resultText, outcome.code, outcome.values);
    // How long from the kiosk's publishing to the page showing it (same machine's clock).
    body.dataset.latencyMs = String(Math.round(receivedAt - outcome.published_at * 1000));
    showOccupancy(outcome.occupancy, outcome.capacity);
    clearTimeout(idleTimer);
    idleTimer = setTimeout(showIdle, data.result_ms);
    keepLanguage();
  }

  // The shared screen is not one visitor's: another language than the venue's lasts from the
  // switch or the last result for data.language_ms, then the page is reloaded without ?lang=.
  function keepLanguage() {
    if (data.language === data.default_language) return;
    clearTimeout(languageTimer);
    languageTimer = setTimeout(() => location.replace(location.pathname), data.language_ms);
  }

  function showIdle() {
    body.classList.remove("is-check_in", "is-check_out", "is-refused", "is-error", "is-declare");
    body.classList.add("is-idle");
  }

  // -- the health declaration ------------------------------------------------------------------
  function showDeclare(declare) {
    endRound();
    clearTimeout(idleTimer);
    round = { token: declare.token, questions: declare.questions, answers: {}, index: 0,
              answerMs: declare.answer_ms, timer: null };
    body.classList.remove("is-idle", "is-check_in", "is-check_out", "is-refused", "is-error");
    body.classList.add("is-declare");
    body.dataset.declare = "asking";
    ask();
    keepLanguage();
  }

  function ask() {
    const question = round.questions[round.index];
    declareProgress.textContent = say("declare_progress", { n: round.index + 1, count: round.questions.length });
    declareQuestion.textContent = data.language === "en" ? question.en : question.vi;
    declareQuestion.dataset.question = question.id;
    answerYes.disabled = answerNo.disabled = false;
    clearTimeout(round.timer);
    round.timer = setTimeout(timedOut, round.answerMs);
  }

  function answer(value) {
    if (!round || answerYes.disabled) return;
    round.answers[round.questions[round.index].id] = value;
    round.index += 1;
    if (round.index < round.questions.length) {
      ask();
    } else {
      send();
    }
  }

  function send() {
    clearTimeout(round.timer);
    answerYes.disabled = answerNo.disabled = true;
    declareQuestion.textContent = say("declare_sending");
    body.dataset.declare = "sent";
    const sent = round;
    fetch("/declaration", {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRFToken": body.dataset.csrf, "Accept": "application/json" },
      body: JSON.stringify({ token: sent.token, answers: sent.answers }),
    }).then((r) => {
      if (!r.ok && round === sent) finish("declare_expired");
    }).catch(() => { if (round === sent) finish("declare_expired"); });
    // The outcome (in, or refused) follows on the stream; without one in a while, start over.
    round.timer = setTimeout(() => finish("declare_expired"), 10000);
  }

  function timedOut() { finish("declare_timeout"); }

  function finish(code) {
    showOutcome({ kind: "refused", code: code, values: {}, occupancy: null, published_at: Date.now() / 1000 },
                Date.now());
  }

  function endRound() {
    if (round) clearTimeout(round.timer);
    round = null;
    delete body.dataset.declare;
  }

  answerYes.addEventListener("click", () => answer(true));
  answerNo.addEventListener("click", () => answer(false));

  function mark(level, text) {
    const el = document.createElement("span");
    el.className = "mark mark-" + level;
    el.textContent = text;
    marksEl.appendChild(el);
  }

  function showMarks() {
    marksEl.replaceChildren();
    if (!connected) mark("bad", say("screen_connection_lost"));
    if (status.error) mark("bad", say(status.error));
    if (status.broker_connected === false) {
      mark("warn", status.outbox ? say("status_broker_offline", { outbox: status.outbox })
                                 : say("status_broker_offline_empty", {}));
    }
    if (status.printer && status.printer !== "ok") mark("warn", say("status_printer"));
    if (status.clock_synced === false) mark("warn", say("status_clock_unsynced"));
  }

  function listen() {
    const events = new EventSource("/events");
    // data-stream tells whoever looks at the page (tests, a technician's devtools) if it is live.
    events.addEventListener("open", () => { connected = true; body.dataset.stream = "open"; showMarks(); });
    events.addEventListener("error", () => {
      connected = false;
      body.dataset.stream = "lost";
      showMarks();
      // The browser retries by itself after a network error, but gives up after a refusal
      // (e.g. 503: too many screens open): try again later then.
      if (events.readyState === EventSource.CLOSED) setTimeout(listen, RECONNECT_MS);
    });
    events.addEventListener("outcome", (e) => showOutcome(JSON.parse(e.data), Date.now()));
    events.addEventListener("declare", (e) => showDeclare(JSON.parse(e.data)));
    events.addEventListener("status", (e) => {
      status = Object.assign(status, JSON.parse(e.data));
      showMarks();
    });
    events.addEventListener("occupancy", (e) => {
      const o = JSON.parse(e.data);
      showOccupancy(o.occupancy, o.capacity);
    });
    events.addEventListener("signals", (e) => {
      document.dispatchEvent(new CustomEvent("kiosk-signals", { detail: JSON.parse(e.data) }));
    });
  }

  // After every deferred script (the simulator's panel listens to signals too).
  document.addEventListener("DOMContentLoaded", listen);
  keepLanguage();
})();
