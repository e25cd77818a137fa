// The store's "today" chart: gross sales per local hour (bars) against the forecast spread
// over the hours (a line), the running hour highlighted. Drawn again after each HTMX refresh.
(function () {
  "use strict";
  var chart = null;

  function draw() {
    var element = document.getElementById("today-chart");
    var source = document.getElementById("today-chart-data");
    if (!element || !source || !window.echarts) { return; }
    var data = JSON.parse(source.textContent);
    if (chart) { chart.dispose(); chart = null; }
    if (!data.hours || !data.hours.length) {
      element.classList.add("d-none");
      return;
    }
    var narrow = element.clientWidth < 500;
    var hasExpected = data.hours.some(function (row) { return row.expected !== null; });
    chart = window.echarts.init(element);
    var series = [{
      name: data.labels.sales,
      type: "bar",
      barMaxWidth: 28,
      data: data.hours.map(function (row) {
        return {
          value: Number(row.gross),
          itemStyle: {color: row.is_current ? "#f59f00" : "#206bc4"}
        };
      })
    }];
    if (hasExpected) {
      series.push({
        name: data.labels.expected,
        type: "line",
        smooth: true,
        symbol: "none",
        lineStyle: {width: 2, type: "dashed", color: "#667382"},
        itemStyle: {color: "#667382"},
        data: data.hours.map(function (row) { return row.expected === null ? null : Number(row.expected); })
      });
    }
    chart.setOption({
      animation: false,
      grid: {left: 4, right: 8, top: 28, bottom: 4, containLabel: true},
      legend: {top: 0, left: 0, itemWidth: 14, textStyle: {fontSize: narrow ? 11 : 12}},
      tooltip: {trigger: "axis", axisPointer: {type: "shadow"}},
      xAxis: {
        type: "category",
        data: data.hours.map(function (row) { return narrow ? row.label.slice(0, 2) : row.label; }),
        axisLabel: {hideOverlap: true, fontSize: narrow ? 10 : 12}
      },
      yAxis: {type: "value", splitNumber: narrow ? 3 : 5, axisLabel: {fontSize: narrow ? 10 : 12}},
      series: series
    });
  }

  document.addEventListener("DOMContentLoaded", draw);
  // The refreshed body brings new chart data (an outerHTML swap: the old element is gone).
  document.addEventListener("htmx:afterSettle", draw);
  window.addEventListener("resize", function () { if (chart) { chart.resize(); } });
})();
