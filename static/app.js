// Progressive enhancement only: every page and chart works without this file.
// Each chart mark (point, bar, heatmap cell) carries a <title>; hovering or
// focusing a mark shows that text in a caption line under the chart, which
// also works on touch screens where tooltips do not. A chart is one Tab stop
// (its first mark, tabindex="0" from the server); the arrow keys, Home and End
// move between its marks, so the details on hover are reachable by keyboard.
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("svg.chart").forEach(function (svg) {
    var marks = Array.prototype.slice.call(svg.querySelectorAll("[tabindex]"));
    if (!marks.length) { return; }
    var caption = document.createElement("p");
    caption.className = "chart-caption";
    caption.setAttribute("aria-live", "polite");
    svg.insertAdjacentElement("afterend", caption);
    function show(mark) {
      var title = mark && mark.querySelector && mark.querySelector("title");
      if (title) { caption.textContent = title.textContent; }
    }
    svg.addEventListener("mouseover", function (event) { show(event.target); });
    svg.addEventListener("focusin", function (event) { show(event.target); });
    svg.addEventListener("keydown", function (event) {
      var index = marks.indexOf(event.target);
      if (index < 0) { return; }
      var next = {ArrowRight: index + 1, ArrowDown: index + 1, ArrowLeft: index - 1, ArrowUp: index - 1,
                  Home: 0, End: marks.length - 1}[event.key];
      if (next === undefined) { return; }
      event.preventDefault();
      next = Math.max(0, Math.min(marks.length - 1, next));
      marks[index].setAttribute("tabindex", "-1");
      marks[next].setAttribute("tabindex", "0");
      marks[next].focus();
    });
  });
});

// While a sync runs, poll its status and show the progress; when it ends,
// reload so the page shows the new numbers (or the failure). Without this
// script, a <noscript> refresh does the same every few seconds.
document.addEventListener("DOMContentLoaded", function () {
  var box = document.querySelector(".sync-status");
  if (!box || !window.fetch) { return; }
  var state = box.getAttribute("data-sync-state");
  if (state !== "queued" && state !== "running") { return; }
  var url = box.getAttribute("data-status-url");
  var text = box.querySelector(".sync-progress-text");
  var bar = box.querySelector(".sync-progress");
  function poll() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (status) {
        if (!status) { return window.setTimeout(poll, 5000); }
        if (status.state !== "queued" && status.state !== "running") {
          window.location.reload();
          return;
        }
        if (text && status.text) { text.textContent = status.text; }
        if (bar && status.total) {
          bar.max = status.total;
          bar.value = Math.min(status.done, status.total);
        }
        window.setTimeout(poll, 1500);
      })
      .catch(function () { window.setTimeout(poll, 5000); });
  }
  window.setTimeout(poll, 1000);
});
