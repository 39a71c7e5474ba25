// Staff pages: a "select all" box over a list of people (hidden where this script does not run:
// the pages work without it, one tick at a time). It is not a form field: only the people are sent.
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

  document.addEventListener("DOMContentLoaded", () => {
    document.querySelectorAll("input[data-select-all]").forEach(setUp);
  });
})();
