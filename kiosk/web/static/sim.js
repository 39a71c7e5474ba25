// The simulator's panel: the mock lights, buzzer and relay, and a drop zone that puts an image in
// front of the image-folder camera (POST /sim/present, with the CSRF token in a header).
"use strict";

(function () {
  const data = JSON.parse(document.getElementById("screen-data").textContent);
  const messages = data.messages;
  const drop = document.getElementById("drop");
  const input = document.getElementById("sim-file");
  const result = document.getElementById("sim-result");

  document.addEventListener("kiosk-signals", (e) => {
    for (const [name, on] of Object.entries(e.detail)) {
      const device = document.querySelector('.device[data-device="' + name + '"]');
      if (!device) continue;
      device.classList.toggle("is-absent", on === null);
      device.classList.toggle("is-on", on === true);
    }
  });

  function tell(text, ok) {
    result.textContent = text;
    result.classList.toggle("is-bad", !ok);
  }

  function present(file) {
    if (!file) return tell(messages.sim_no_file, false);
    if (file.size > data.max_upload_bytes) {
      return tell(messages.web_too_large.replace("{mb}", String(Math.floor(data.max_upload_bytes / 1048576))), false);
    }
    const form = new FormData();
    form.append("image", file, file.name || "image");
    // The answer in the page's language (the screen's language is the page's, never a cookie).
    fetch("/sim/present?" + new URLSearchParams({ [data.language_arg]: data.language }), {
      method: "POST",
      body: form,
      credentials: "same-origin",
      headers: { "X-CSRFToken": document.body.dataset.csrf, "Accept": "application/json" },
    })
      .then((r) => r.json().then((answer) => tell(answer.message, r.ok)))
      .catch(() => tell(messages.sim_upload_failed, false));
  }

  input.addEventListener("change", () => { present(input.files[0]); input.value = ""; });
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("is-over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("is-over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("is-over");
    present(e.dataTransfer.files[0]);
  });
})();
