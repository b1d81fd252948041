// Progressive enhancement only: every page and chart works without this file.
// Hovering or focusing a chart mark shows its <title> text in a caption line
// under the chart, which also works on touch screens where tooltips do not.
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("svg.chart").forEach(function (svg) {
    var caption = document.createElement("p");
    caption.className = "chart-caption";
    caption.setAttribute("aria-live", "polite");
    svg.insertAdjacentElement("afterend", caption);
    svg.addEventListener("mouseover", function (event) {
      var title = event.target.querySelector && event.target.querySelector("title");
      if (title) { caption.textContent = title.textContent; }
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
