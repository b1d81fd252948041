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
