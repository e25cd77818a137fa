/* Charts of the HQ dashboard pages (ECharts, loaded from node_modules; no map tiles: stores are
   drawn on longitude/latitude axes). The data is the page's #dash-data JSON. Animations are off
   and labels thinned on narrow screens so that phones draw them at once. */
(function () {
  "use strict";

  function chartOn(id) {
    var element = document.getElementById(id);
    if (!element || !window.echarts) { return null; }
    var chart = window.echarts.init(element, null, {renderer: "canvas"});
    window.addEventListener("resize", function () { chart.resize(); });
    return chart;
  }

  function narrow(chart) { return chart.getWidth() < 500; }

  function base(chart) {
    return {
      animation: false,
      grid: {left: 8, right: 8, top: 28, bottom: 8, containLabel: true},
      tooltip: {trigger: "axis"},
      textStyle: {fontSize: narrow(chart) ? 10 : 12}
    };
  }

  function salesAndOrders(chart, dates, sales, orders) {
    var option = base(chart);
    option.legend = {top: 0, data: [gettextLabel("sales"), gettextLabel("orders")]};
    option.xAxis = {type: "category", data: dates, axisLabel: {hideOverlap: true}};
    option.yAxis = [
      {type: "value", splitNumber: 3, axisLabel: {hideOverlap: true}},
      {type: "value", splitNumber: 3, splitLine: {show: false}}
    ];
    option.series = [
      {name: gettextLabel("sales"), type: "bar", data: sales, itemStyle: {color: "#206bc4"}},
      {name: gettextLabel("orders"), type: "line", yAxisIndex: 1, data: orders, symbol: "none",
       itemStyle: {color: "#f76707"}}
    ];
    chart.setOption(option);
  }

  var labels = {};
  function gettextLabel(key) { return labels[key] || key; }

  function draw() {
    var source = document.getElementById("dash-data");
    if (!source || !window.echarts) { return; }
    var data = JSON.parse(source.textContent);
    labels = data.labels || {};

    var trend = chartOn("dash-trend");
    if (trend) { salesAndOrders(trend, data.trend.dates, data.trend.sales, data.trend.orders); }

    var days = chartOn("dash-store-days");
    if (days) { salesAndOrders(days, data.dates, data.sales, data.orders); }

    var channels = chartOn("dash-channels");
    if (channels) {
      channels.setOption({
        animation: false,
        tooltip: {trigger: "item"},
        series: [{type: "pie", radius: ["45%", "75%"], data: data.channels,
                  label: {show: !narrow(channels), formatter: "{b}: {d}%"}}]
      });
    }

    var map = chartOn("dash-map");
    if (map) {
      var values = data.map.map(function (point) { return point.value[2]; })
        .filter(function (value) { return value !== null; });
      var low = values.length ? Math.min.apply(null, values) : 0;
      var high = values.length ? Math.max.apply(null, values) : 1;
      var colours = ["#d63939", "#f59f00", "#2fb344"];
      if (data.good === "down") { colours = colours.slice().reverse(); }
      if (data.good === "none") { colours = ["#cfe2ff", "#206bc4"]; }
      map.setOption({
        animation: false,
        grid: {left: 8, right: 8, top: 8, bottom: 48, containLabel: true},
        tooltip: {trigger: "item", formatter: function (item) {
          var value = item.value[2];
          return item.name + "<br>" + data.kpi + ": " +
            (value === null ? "—" : value.toLocaleString(undefined, {maximumFractionDigits: 1}) + (data.unit ? " " + data.unit : ""));
        }},
        xAxis: {type: "value", scale: true, name: "lon", axisLabel: {hideOverlap: true}},
        yAxis: {type: "value", scale: true, name: "lat"},
        visualMap: {type: "continuous", dimension: 2, min: low, max: high === low ? low + 1 : high,
                    orient: "horizontal", left: "center", bottom: 0, itemHeight: 120,
                    calculable: false, inRange: {color: colours}, text: [data.kpi, ""]},
        series: [{type: "scatter", symbolSize: narrow(map) ? 12 : 16, data: data.map}]
      });
      map.on("click", function (item) { if (item.data && item.data.url) { window.location.href = item.data.url; } });
    }

    var hours = chartOn("dash-hours");
    if (hours) {
      var option = base(hours);
      option.xAxis = {type: "category", data: data.hours, axisLabel: {hideOverlap: true}};
      option.yAxis = {type: "value", splitNumber: 3};
      option.series = [{type: "bar", data: data.net, itemStyle: {color: "#206bc4"}}];
      hours.setOption(option);
    }

    var categories = chartOn("dash-categories");
    if (categories) {
      categories.setOption({
        animation: false,
        tooltip: {trigger: "item"},
        series: [{type: "pie", radius: ["40%", "70%"], data: data.categories,
                  label: {show: !narrow(categories)}}]
      });
    }

    var item = chartOn("dash-item");
    if (item) { salesAndOrders(item, data.dates, data.net, data.quantity); }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
